#!/usr/bin/env bash
# Installs the dependencies, builds the fredsim command and runs the sensitivity
# study: `fredsim sensitivity`, writing sensitivity.csv, sensitivity.json,
# sensitivity.gp and (with gnuplot installed) sensitivity.png into sensitivity/
# (or FREDSIM_SENSITIVITY_OUT). docs/benchmarks.md shows its output, made by
# FREDSIM_SENSITIVITY_OUT=docs/sensitivity ./scripts/sensitivity.sh.
# Extra arguments go to fredsim sensitivity (fredsim sensitivity --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${FREDSIM_JOBS:-2}"
./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target fredsim_cli
exec ./build/release/tools/fredsim/fredsim sensitivity \
  --out "${FREDSIM_SENSITIVITY_OUT:-sensitivity}" "$@"
