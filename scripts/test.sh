#!/usr/bin/env bash
# Installs the dependencies, builds the release preset and runs every test.
# Exit status: ctest's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${FREDSIM_JOBS:-2}"
./scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$jobs"
exec ctest --preset release "$@"
