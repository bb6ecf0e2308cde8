#!/usr/bin/env bash
# Installs the dependencies, builds the fredsim command and runs the dispatch
# study: `fredsim sweep`, writing sweep.csv, sweep.json and (with gnuplot or
# python3-matplotlib installed) sweep.png into sweep/ (or FREDSIM_SWEEP_OUT).
# Extra arguments go to fredsim sweep (fredsim sweep --help lists them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${FREDSIM_JOBS:-2}"
./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target fredsim_cli
exec ./build/release/tools/fredsim/fredsim sweep --out "${FREDSIM_SWEEP_OUT:-sweep}" "$@"
