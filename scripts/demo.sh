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

if [ ! -f "$scenario" ]; then
  echo "demo: $scenario does not exist yet (the command line and the demo scenario" \
       "are still being written); running the fredsim command without arguments." >&2
  exec "$fredsim"
fi

echo "== fredsim compare $scenario $*"
"$fredsim" compare "$scenario" "$@"
echo
echo "== fredsim run $scenario --trace=text $*"
"$fredsim" run "$scenario" --trace=text "$@"
