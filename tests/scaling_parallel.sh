#!/usr/bin/env bash
# scaling.parallel_sweep (docs/scaling.md): a small sweep run in 3 shards through
# GNU parallel, and once cell by cell from --list, each merged with
# `fredsim sweep --merge` and compared byte for byte with the unsharded run; then
# the suite SUITE_CFG in 3 shards, its TAP and JUnit merged and compared the same
# way. Exit 77 (skipped) without GNU parallel.
# Usage: scaling_parallel.sh FREDSIM WORKDIR SUITE_CFG
set -euo pipefail
fredsim_bin=$1
work=$2
suite_cfg=$3

if ! command -v parallel >/dev/null 2>&1; then
  echo "SKIPPED: GNU parallel is not installed (apt-get install parallel;" \
    "scripts/install-deps.sh installs it)"
  exit 77
fi

rm -rf "$work"
mkdir -p "$work/bin"
# The commands of --list call fredsim from PATH.
ln -s "$fredsim_bin" "$work/bin/fredsim"
export PATH="$work/bin:$PATH"
cd "$work"

opts=(--handlers 1,4 --mixes one,two --places bare,guest --set system.seed=3 --plot none)

# The same bytes: the files, and stdout with its directory names made alike.
same() {
  local a=$1 b=$2 f
  for f in sweep.csv sweep.json; do
    cmp "$a/$f" "$b/$f"
  done
  cmp <(sed "s|$a/|DIR/|g" "$a.out") <(sed "s|$b/|DIR/|g" "$b.out")
}

fredsim sweep "${opts[@]}" --nmis 10 --out whole -j 1 > whole.out

# Three shards, at most three at once.
parallel --will-cite --halt now,fail=1 -j 3 \
  fredsim sweep "${opts[@]}" --nmis 10 --shard {}/3 --out shard{} -q -j 1 ::: 1 2 3 > shards.log
fredsim sweep --merge shard3 shard1 shard2 --plot none --out merged > merged.out
same whole merged

# One command per cell.
fredsim sweep "${opts[@]}" --nmis 10 --out cells --list > cells.txt
parallel --will-cite --halt now,fail=1 < cells.txt > cells.log
fredsim sweep --merge cells/cell-* --plot none --out cells-merged > cells-merged.out
same whole cells-merged

# A shard of another sweep is refused.
fredsim sweep "${opts[@]}" --nmis 20 --shard 2/3 --out other -q > /dev/null
if fredsim sweep --merge shard1 other shard3 --plot none --out refused 2> refused.err; then
  echo "FAILED: a merge of shards of different sweeps was accepted" >&2
  exit 1
fi
grep -q "are shards of different sweeps: nmis is 10 in one, 20 in the other" refused.err

# The suite: 3 shards' records merged give the unsharded TAP, JUnit and status.
suite=(fredsim suite "$suite_cfg" --target fred -t)
status=0
"${suite[@]}" --junit whole.xml > whole.tap || status=$?
parallel --will-cite -j 3 \
  "${suite[@]}" --shard {}/3 --shard-out suite{}.json '>' suite{}.tap '||' true ::: 1 2 3
merged_status=0
"${suite[@]}" --junit merged.xml --merge suite2.json suite3.json suite1.json > merged.tap ||
  merged_status=$?
cmp whole.tap merged.tap
cmp whole.xml merged.xml
[ "$status" = "$merged_status" ]

echo "ok: $(wc -l < cells.txt) cells; 3 shards and the cell list, each merged through GNU" \
  "parallel, equal the unsharded run byte for byte; so do 3 suite shards' TAP and JUnit" \
  "($(grep -c '^ok' whole.tap) ok of $(sed -n 2p whole.tap))"
