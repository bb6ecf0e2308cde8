# fredsim sweep: dispatch cycles per NMI against LOCAL handlers (gnuplot 5).
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
  set terminal pngcairo size 1600,720 font ",9"
} else {
  set terminal png size 1600,720
}
set output "docs/sweep/sweep.png"
$p0_0 << EOD
1 2180.0
2 4200.0
4 4570.0
8 5040.0
16 7600.0
32 12720.0
64 22960.0
EOD
$p0_1 << EOD
1 2070.0
2 4090.0
4 4460.0
8 4930.0
16 7490.0
32 12610.0
64 22850.0
EOD
$p0_2 << EOD
1 2070.0
2 2070.0
4 2070.0
8 2070.0
16 2070.0
32 2070.0
64 2070.0
EOD
$p0_3 << EOD
1 2070.0
2 2070.0
4 2070.0
8 2070.0
16 2070.0
32 2070.0
64 2070.0
EOD
$p1_0 << EOD
4 2785.0
8 3020.0
16 4300.0
32 6860.0
64 11980.0
EOD
$p1_1 << EOD
4 2730.0
8 2965.0
16 4245.0
32 6805.0
64 11925.0
EOD
$p1_2 << EOD
4 1695.0
8 1695.0
16 1855.0
32 2175.0
64 2815.0
EOD
$p1_3 << EOD
4 1695.0
8 1695.0
16 1855.0
32 2175.0
64 2815.0
EOD
$p2_0 << EOD
2 6050.0
4 6420.0
8 6890.0
16 9450.0
32 14570.0
64 24810.0
EOD
$p2_1 << EOD
2 5940.0
4 6310.0
8 6780.0
16 9340.0
32 14460.0
64 24700.0
EOD
$p2_2 << EOD
2 4122.0
4 4159.0
8 4206.0
16 4462.0
32 4974.0
64 5998.0
EOD
$p2_3 << EOD
2 4122.0
4 4159.0
8 4206.0
16 4462.0
32 4974.0
64 5998.0
EOD
$p3_0 << EOD
1 2362.0
2 4382.0
4 4752.0
8 5222.0
16 7782.0
32 12902.0
64 23142.0
EOD
$p3_1 << EOD
1 2252.0
2 4272.0
4 4642.0
8 5112.0
16 7672.0
32 12792.0
64 23032.0
EOD
$p3_2 << EOD
1 2225.0
2 2225.0
4 2225.0
8 2225.0
16 2225.0
32 2225.0
64 2225.0
EOD
$p3_3 << EOD
1 2225.0
2 2225.0
4 2225.0
8 2225.0
16 2225.0
32 2225.0
64 2225.0
EOD
$p4_0 << EOD
1 3780.0
2 5800.0
4 6170.0
8 6640.0
16 9200.0
32 14320.0
64 24560.0
EOD
$p4_1 << EOD
1 3720.0
2 5740.0
4 6110.0
8 6580.0
16 9140.0
32 14260.0
64 24500.0
EOD
$p4_2 << EOD
1 3720.0
2 3720.0
4 3720.0
8 3720.0
16 3720.0
32 3720.0
64 3720.0
EOD
$p4_3 << EOD
1 3720.0
2 3720.0
4 3720.0
8 3720.0
16 3720.0
32 3720.0
64 3720.0
EOD
$p5_0 << EOD
4 5570.0
8 6040.0
16 8600.0
32 13720.0
64 23960.0
EOD
$p5_1 << EOD
4 5460.0
8 5930.0
16 8490.0
32 13610.0
64 23850.0
EOD
$p5_2 << EOD
4 3390.0
8 3390.0
16 3710.0
32 4350.0
64 5630.0
EOD
$p5_3 << EOD
4 3390.0
8 3390.0
16 3710.0
32 4350.0
64 5630.0
EOD
$p6_0 << EOD
2 7650.0
4 8020.0
8 8490.0
16 11050.0
32 16170.0
64 26410.0
EOD
$p6_1 << EOD
2 7590.0
4 7960.0
8 8430.0
16 10990.0
32 16110.0
64 26350.0
EOD
$p6_2 << EOD
2 5772.0
4 5809.0
8 5856.0
16 6112.0
32 6624.0
64 7648.0
EOD
$p6_3 << EOD
2 5772.0
4 5809.0
8 5856.0
16 6112.0
32 6624.0
64 7648.0
EOD
$p7_0 << EOD
1 3962.0
2 5982.0
4 6352.0
8 6822.0
16 9382.0
32 14502.0
64 24742.0
EOD
$p7_1 << EOD
1 3902.0
2 5922.0
4 6292.0
8 6762.0
16 9322.0
32 14442.0
64 24682.0
EOD
$p7_2 << EOD
1 3875.0
2 3875.0
4 3875.0
8 3875.0
16 3875.0
32 3875.0
64 3875.0
EOD
$p7_3 << EOD
1 3875.0
2 3875.0
4 3875.0
8 3875.0
16 3875.0
32 3875.0
64 3875.0
EOD
set multiplot layout 2,4 title "fredsim sweep: dispatch cycles per NMI"
set logscale x 2
set xtics (1,2,4,8,16,32,64,128,256)
set logscale y 10
set offsets graph 0.05, graph 0.05, 0, 0
set grid
set key top left box opaque
set xlabel "LOCAL handlers"
set ylabel "cycles per NMI"
set title "bare metal: one" noenhanced
plot $p0_0 using 1:2 with linespoints lw 3 dt 1 pt 4 ps 1.2 title "idt", $p0_1 using 1:2 with linespoints lw 1.5 dt 2 pt 5 ps 1.2 title "fred", $p0_2 using 1:2 with linespoints lw 3 dt 1 pt 6 ps 1.2 title "fred-nmisrc-v7", $p0_3 using 1:2 with linespoints lw 1.5 dt 2 pt 7 ps 1.2 title "fred-nmisrc-v5"
set title "bare metal: two" noenhanced
plot $p1_0 using 1:2 with linespoints lw 3 dt 1 pt 4 ps 1.2 title "idt", $p1_1 using 1:2 with linespoints lw 1.5 dt 2 pt 5 ps 1.2 title "fred", $p1_2 using 1:2 with linespoints lw 3 dt 1 pt 6 ps 1.2 title "fred-nmisrc-v7", $p1_3 using 1:2 with linespoints lw 1.5 dt 2 pt 7 ps 1.2 title "fred-nmisrc-v5"
set title "bare metal: unsourced10" noenhanced
plot $p2_0 using 1:2 with linespoints lw 3 dt 1 pt 4 ps 1.2 title "idt", $p2_1 using 1:2 with linespoints lw 1.5 dt 2 pt 5 ps 1.2 title "fred", $p2_2 using 1:2 with linespoints lw 3 dt 1 pt 6 ps 1.2 title "fred-nmisrc-v7", $p2_3 using 1:2 with linespoints lw 1.5 dt 2 pt 7 ps 1.2 title "fred-nmisrc-v5"
set title "bare metal: external10" noenhanced
plot $p3_0 using 1:2 with linespoints lw 3 dt 1 pt 4 ps 1.2 title "idt", $p3_1 using 1:2 with linespoints lw 1.5 dt 2 pt 5 ps 1.2 title "fred", $p3_2 using 1:2 with linespoints lw 3 dt 1 pt 6 ps 1.2 title "fred-nmisrc-v7", $p3_3 using 1:2 with linespoints lw 1.5 dt 2 pt 7 ps 1.2 title "fred-nmisrc-v5"
set title "guest (NMI exiting): one" noenhanced
plot $p4_0 using 1:2 with linespoints lw 3 dt 1 pt 4 ps 1.2 title "idt", $p4_1 using 1:2 with linespoints lw 1.5 dt 2 pt 5 ps 1.2 title "fred", $p4_2 using 1:2 with linespoints lw 3 dt 1 pt 6 ps 1.2 title "fred-nmisrc-v7", $p4_3 using 1:2 with linespoints lw 1.5 dt 2 pt 7 ps 1.2 title "fred-nmisrc-v5"
set title "guest (NMI exiting): two" noenhanced
plot $p5_0 using 1:2 with linespoints lw 3 dt 1 pt 4 ps 1.2 title "idt", $p5_1 using 1:2 with linespoints lw 1.5 dt 2 pt 5 ps 1.2 title "fred", $p5_2 using 1:2 with linespoints lw 3 dt 1 pt 6 ps 1.2 title "fred-nmisrc-v7", $p5_3 using 1:2 with linespoints lw 1.5 dt 2 pt 7 ps 1.2 title "fred-nmisrc-v5"
set title "guest (NMI exiting): unsourced10" noenhanced
plot $p6_0 using 1:2 with linespoints lw 3 dt 1 pt 4 ps 1.2 title "idt", $p6_1 using 1:2 with linespoints lw 1.5 dt 2 pt 5 ps 1.2 title "fred", $p6_2 using 1:2 with linespoints lw 3 dt 1 pt 6 ps 1.2 title "fred-nmisrc-v7", $p6_3 using 1:2 with linespoints lw 1.5 dt 2 pt 7 ps 1.2 title "fred-nmisrc-v5"
set title "guest (NMI exiting): external10" noenhanced
plot $p7_0 using 1:2 with linespoints lw 3 dt 1 pt 4 ps 1.2 title "idt", $p7_1 using 1:2 with linespoints lw 1.5 dt 2 pt 5 ps 1.2 title "fred", $p7_2 using 1:2 with linespoints lw 3 dt 1 pt 6 ps 1.2 title "fred-nmisrc-v7", $p7_3 using 1:2 with linespoints lw 1.5 dt 2 pt 7 ps 1.2 title "fred-nmisrc-v5"
unset multiplot
