#!/usr/bin/env bash
# Installs the dependencies, builds the release preset and runs every Google
# Benchmark program under bench/ (host speed; bench/README.md tells how to read
# them). Extra arguments go to every program, e.g. --benchmark_filter=Bitmap or
# --benchmark_repetitions=5 --benchmark_report_aggregates_only=true.
# Then it times `fredsim run` on bench/storm-2m.toml as a whole process.
# FREDSIM_BENCH_OUT=DIR also writes each program's figures as DIR/NAME.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${FREDSIM_JOBS:-2}"
./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"

out="${FREDSIM_BENCH_OUT:-}"
[[ -n "$out" ]] && mkdir -p "$out"
for name in dispatch_bench mixed_bench cpu_bench apic_bench vmx_bench event_queue_bench; do
  echo "== $name"
  args=("$@")
  [[ -n "$out" ]] && args+=("--benchmark_out=$out/$name.json" "--benchmark_out_format=json")
  "./build/release/bench/$name" "${args[@]}"
done

# The command itself on the storm BM_Storm2M_Library runs through the library:
# process start, loading, 2,000,000 NMIs and the result JSON, best of 3 runs.
echo "== fredsim run bench/storm-2m.toml --json (whole process, best of 3)"
best=""
for _ in 1 2 3; do
  start=$(date +%s.%N)
  ./build/release/tools/fredsim/fredsim run bench/storm-2m.toml -q --json /dev/null
  end=$(date +%s.%N)
  t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
  if [[ -z "$best" ]] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best="$t"; fi
done
awk -v t="$best" 'BEGIN { printf "%s s wall, %.2f million NMIs per second, %.0f ns per NMI\n", t, 2 / t, t * 1e9 / 2e6 }'
