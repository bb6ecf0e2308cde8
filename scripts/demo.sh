#!/usr/bin/env bash
# Installs the dependencies, builds the release preset and runs the demo: the
# demo scenario with bitmap dispatch against polling, then one run with its
# trace (an NMI IPI from the sending APIC to the handler). Extra arguments are
# passed to both fredsim commands.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${FREDSIM_JOBS:-2}"
./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target fredsim_cli

fredsim=./build/release/tools/fredsim/fredsim
scenario=scenarios/demo.toml

echo "== fredsim compare $scenario $*"
"$fredsim" compare "$scenario" "$@"
echo
echo "== fredsim run $scenario --trace=text $*   (the path of every NMI, then the summary)"
"$fredsim" run "$scenario" --trace=text "$@"
