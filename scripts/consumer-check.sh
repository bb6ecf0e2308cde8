#!/usr/bin/env bash
# Checks that an installed fredsim works for an outside project: installs the
# release build into a temporary prefix, then configures, builds and runs
# tests/consumer against it with find_package(fredsim) / fredsim::fredsim.
# Builds the release preset first (a no-op when it is up to date): the install
# step needs every installed target, the command included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${FREDSIM_JOBS:-2}"
if [ ! -f build/release/CMakeCache.txt ]; then
  cmake --preset release
fi
cmake --build --preset release -j "$jobs"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fredsim-consumer.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "consumer-check: installing fredsim into $tmp/prefix"
cmake --install build/release --prefix "$tmp/prefix" >/dev/null

echo "consumer-check: building tests/consumer against the installed package"
cmake -S tests/consumer -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" -j "$jobs"
"$tmp/build/consumer"
echo "consumer-check: README.md's library example"
"$tmp/build/readme_example" >/dev/null
echo "consumer-check: the README example ran and its backtraces were handled"
