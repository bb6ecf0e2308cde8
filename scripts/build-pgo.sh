#!/usr/bin/env bash
# Builds fredsim with GCC's profile-guided optimisation into build/pgo (or the
# directory given as $1): an instrumented build, training runs, then the build
# users run, which GCC lays out for the paths those runs took. The fredsim
# command ends up in build/pgo/tools/fredsim/fredsim, the benchmark programs in
# build/pgo/bench/. Its results, traces and every other output are those of the
# release preset's build, byte for byte; it is faster on the simulator's hot
# path (docs/benchmarks.md, item 15, has the figures). For long studies and
# storms; the release preset stays the default build.
#
# The training runs: every scenario under scenarios/ (each must meet its
# expectations), the storms under bench/ (bare metal, and through VM exits),
# and one `compare` (the polling path). Code they do not reach keeps the
# ordinary -O3 optimisation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir="${1:-build/pgo}"
jobs="${FREDSIM_JOBS:-2}"
bench="${FREDSIM_PGO_BENCH:-ON}"
profiles="$dir/pgo-profile"

configure() {
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFREDSIM_WERROR=ON \
    -DFREDSIM_BUILD_TESTS=OFF -DFREDSIM_BUILD_BENCH="$bench" -DFREDSIM_STATIC_CLI=ON \
    -DFREDSIM_PGO="$1" -DFREDSIM_PGO_DIR="$PWD/$profiles" >/dev/null
}

echo "== build-pgo: instrumented build ($dir)"
rm -rf "$profiles"
configure generate
cmake --build "$dir" -j "$jobs" --target fredsim_cli

echo "== build-pgo: training runs"
fredsim="$dir/tools/fredsim/fredsim"
for s in scenarios/*.toml bench/*.toml; do
  if ! "$fredsim" run "$s" -q --json /dev/null; then
    echo "build-pgo: $s failed its expectations under the instrumented build" >&2
    exit 1
  fi
done
"$fredsim" compare scenarios/storm.toml >/dev/null

echo "== build-pgo: optimised build"
configure use
cmake --build "$dir" -j "$jobs"

# The same scenarios again, now through the optimised build: each must still
# meet its expectations.
for s in scenarios/*.toml; do
  if ! "$fredsim" run "$s" -q --json /dev/null; then
    echo "build-pgo: $s failed its expectations under the optimised build" >&2
    exit 1
  fi
done
echo "build-pgo: $fredsim"
