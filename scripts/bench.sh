#!/usr/bin/env bash
# Installs the dependencies, builds the release preset and runs every Google
# Benchmark program under bench/ (host speed; bench/README.md tells how to read
# them). Extra arguments go to every program, e.g. --benchmark_filter=Bitmap or
# --benchmark_repetitions=5 --benchmark_report_aggregates_only=true.
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
