#!/usr/bin/env bash
# Writes every output fredsim makes of the scenarios in scenarios/ into one
# directory, so that two builds can be compared with `diff -r`:
#
#   ./scripts/outputs.sh /tmp/before            # with build/release/tools/fredsim/fredsim
#   ... change the code, rebuild ...
#   ./scripts/outputs.sh /tmp/after && diff -r /tmp/before /tmp/after
#
# Per scenario: the result JSON, the JSONL and text traces, the Chrome trace, the
# ftrace lines, compare's JSON and the readable summary (stderr kept apart). Then the
# sweep's table. A refactor must leave all of them byte-identical. A file over
# 64 MB is kept as its size and SHA-256 (FILE.sha256).
# Usage: outputs.sh OUTDIR [FREDSIM]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="${1:?usage: outputs.sh OUTDIR [FREDSIM]}"
fredsim="${2:-build/release/tools/fredsim/fredsim}"
if [ ! -x "$fredsim" ]; then
  echo "outputs.sh: $fredsim is not built (cmake --build --preset release)" >&2
  exit 2
fi
mkdir -p "$out"

for scenario in scenarios/*.toml; do
  name="$(basename "$scenario" .toml)"
  d="$out/$name"
  mkdir -p "$d"
  # Exit statuses are part of the output: a scenario may fail expectations on purpose.
  set +e
  "$fredsim" run "$scenario" --json "$d/result.json" --trace=jsonl --trace-out "$d/trace.jsonl" \
    --chrome-trace "$d/chrome.json" --ftrace "$d/ftrace.txt" >"$d/summary.txt" 2>"$d/stderr.txt"
  echo "run $?" >"$d/status.txt"
  "$fredsim" run "$scenario" --quiet --trace=text --trace-out "$d/trace.txt" >/dev/null 2>&1
  echo "text $?" >>"$d/status.txt"
  "$fredsim" compare "$scenario" --json "$d/compare.json" >"$d/compare.txt" 2>&1
  echo "compare $?" >>"$d/status.txt"
  set -e
  # The long loops (the kvm-unit-tests translations run 100,000 iterations) write
  # traces of hundreds of MB: keep each such file as its size and SHA-256, which
  # still tell whether two builds wrote the same bytes.
  for f in "$d"/*; do
    if [ "$(stat -c %s "$f")" -gt $((64 << 20)) ]; then
      printf '%s bytes, sha256 %s\n' "$(stat -c %s "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)" >"$f.sha256"
      rm "$f"
    fi
  done
done

# The dispatch study on a small grid (the committed docs/sweep/ table is the full one).
"$fredsim" sweep --out "$out/sweep" --handlers 1,8 --plot none >"$out/sweep.txt" 2>&1 || echo "sweep $?" >>"$out/sweep.txt"
rm -f "$out/sweep/sweep.png"
# The sweep names its output directory: make that line the same for any OUTDIR.
sed -i "s#$out/#OUTDIR/#g" "$out/sweep.txt"
echo "outputs written to $out"
