#!/usr/bin/env bash
# Times this checkout against another one, side by side in one run on one
# machine (docs/benchmarks.md "Before and after, target by target"):
#
#   scripts/bench-against.sh OLD_CHECKOUT [RUNS]
#
# Both checkouts must be built (cmake --preset release; the targets fredsim_cli,
# dispatch_bench, vmx_bench and event_queue_bench). For each whole-process
# workload the old and the new `fredsim run FILE -q --json /dev/null` run
# alternately RUNS times (default 5), each on its own checkout's scenario file
# (the file format moves with the code; a workload the old checkout lacks uses
# the new one's file), and the medians of CPU time (user + sys, from getrusage)
# and wall time are printed, with the ratio of the fastest CPU times (the runs
# a loaded host disturbed least). Then each benchmark program runs old, new, old, new
# with 3 repetitions a run, and the median CPU time of each case is printed (a
# broadcast's per destination). Prints Markdown tables; needs python3.
# FREDSIM_NEW_BUILD=build/pgo times this checkout's profile-guided build
# (scripts/build-pgo.sh) instead of its release preset's; the old checkout's
# is always build/release.
set -euo pipefail
new="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
old="${1:?usage: scripts/bench-against.sh OLD_CHECKOUT [RUNS]}"
old="$(cd "$old" && pwd)"
runs="${2:-5}"
new_build="${FREDSIM_NEW_BUILD:-build/release}"
build_of() {  # tree
  if [[ "$1" == "$new" ]]; then echo "$new/$new_build"; else echo "$1/build/release"; fi
}
for tree in "$old" "$new"; do
  [[ -x "$(build_of "$tree")/tools/fredsim/fredsim" ]] ||
    { echo "error: $(build_of "$tree")/tools/fredsim/fredsim: not built" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat >"$work/whole.py" <<'PY'
import os, resource, statistics, subprocess, sys, time
old, new, runs, new_build = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

def file_in(tree, rel):
    path = os.path.join(tree, rel)
    return path if os.path.exists(path) else os.path.join(new, rel)

def once(tree, rel):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    build = os.path.join(new, new_build) if tree == new else os.path.join(tree, "build/release")
    subprocess.run([os.path.join(build, "tools/fredsim/fredsim"), "run",
                    file_in(tree, rel), "-q", "--json", "/dev/null"], check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall

print("| workload | old CPU s | new CPU s | old wall s | new wall s | CPU new/old | fastest new/old |")
print("|---|---|---|---|---|---|---|")
for rel in ["scenarios/kut-apic-multiple-nmi.toml", "scenarios/kut-apic-pending-nmi.toml",
            "bench/storm-2m.toml"]:
    got = {old: [], new: []}
    for _ in range(runs):
        for tree in (old, new):  # alternately, so that both see the same load
            got[tree].append(once(tree, rel))
    oc, ow = (statistics.median(x[i] for x in got[old]) for i in (0, 1))
    nc, nw = (statistics.median(x[i] for x in got[new]) for i in (0, 1))
    # On a loaded host the fastest run of each is the one least disturbed.
    fastest = min(x[0] for x in got[new]) / min(x[0] for x in got[old])
    print(f"| {rel} | {oc:.4f} | {nc:.4f} | {ow:.4f} | {nw:.4f} | {nc / oc:.2f} | {fastest:.2f} |")
PY
python3 "$work/whole.py" "$old" "$new" "$runs" "$new_build"

cat >"$work/bench.py" <<'PY'
import glob, json, statistics, sys
work, prog = sys.argv[1], sys.argv[2]

def times(side):
    out = {}
    for path in sorted(glob.glob(f"{work}/{side}-{prog}-*.json")):
        for b in json.load(open(path))["benchmarks"]:
            if b.get("run_type") == "iteration":
                scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
                out.setdefault(b["run_name"], []).append(b["cpu_time"] * scale)
    return {k: statistics.median(v) for k, v in out.items()}

o, n = times("old"), times("new")
for name in n:
    if name in o:
        # A broadcast's time per destination (every CPU but the sender).
        per = int(name.split("/")[1]) - 1 if name.startswith("BM_BroadcastNmi/") else 1
        what = f"{name}, per destination" if per > 1 else name
        print(f"| {prog} {what} | {o[name] / per:.0f} | {n[name] / per:.0f} | "
              f"{n[name] / o[name]:.2f} |")
PY
echo
echo "| benchmark | old CPU ns | new CPU ns | new/old |"
echo "|---|---|---|---|"
bench() {  # program filter
  for i in 1 2; do
    for side in old new; do
      tree="$old"
      [[ "$side" == new ]] && tree="$new"
      "$(build_of "$tree")/bench/$1" --benchmark_filter="$2" --benchmark_repetitions=3 \
        --benchmark_min_time=0.2 --benchmark_format=json >"$work/$side-$1-$i.json" 2>/dev/null
    done
  done
  python3 "$work/bench.py" "$work" "$1"
}
bench vmx_bench 'BM_NmiGuestVmExit'
bench dispatch_bench 'BM_EndToEnd_Bitmap/8$|BM_BroadcastNmi/(8|4096)$'
bench event_queue_bench 'BM_ScheduleAndPop'
