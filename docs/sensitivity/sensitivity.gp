# fredsim sensitivity: how the saving of bitmap dispatch moves with each assumed cost at x0.5 and x2 (gnuplot 5).
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
  set terminal pngcairo size 900,720 font ",9"
} else {
  set terminal png size 900,720
}
set output "docs/sensitivity/sensitivity.png"
set termoption noenhanced
$t0 << EOD
0 "stop_check" 20765.0 20810.0
1 "mce_check" 20765.0 20810.0
2 "kgdb_check" 20765.0 20810.0
3 "backtrace_check" 20765.0 20810.0
4 "handler_call" 20150.0 22040.0
5 "ghes_check" 19780.0 22780.0
6 "device_check" 12080.0 38180.0
EOD
$t1 << EOD
0 "stop_check" 20765.0 20810.0
1 "mce_check" 20765.0 20810.0
2 "kgdb_check" 20765.0 20810.0
3 "backtrace_check" 20765.0 20810.0
4 "handler_call" 20150.0 22040.0
5 "ghes_check" 19780.0 22780.0
6 "device_check" 12080.0 38180.0
EOD
set multiplot layout 2,1
set grid x
set xlabel "simulated cycles saved per NMI (dashed: the default costs)"
set title "bare one, 64 handlers: cycles saved per NMI (bitmap vs polling)"
set yrange [-1:7]
set arrow 1 from 20780.0, graph 0 to 20780.0, graph 1 nohead dt 2
plot $t0 using (($3+$4)/2):1:3:4:($1-0.35):($1+0.35):ytic(2) with boxxyerrorbars fs solid 0.5 notitle
set title "guest one, 64 handlers: cycles saved per NMI (bitmap vs polling)"
set yrange [-1:7]
set arrow 1 from 20780.0, graph 0 to 20780.0, graph 1 nohead dt 2
plot $t1 using (($3+$4)/2):1:3:4:($1-0.35):($1+0.35):ytic(2) with boxxyerrorbars fs solid 0.5 notitle
unset multiplot
