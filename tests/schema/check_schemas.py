#!/usr/bin/env python3
"""Checks fredsim's real outputs against the JSON Schemas of docs/schema/.

Runs `fredsim` on every scenarios/*.toml, as written and under variants that
reach other record shapes (IDT delivery, kernel v5, panics, a run cut short),
and validates the result JSON, every JSONL trace record and the compare JSON
(docs/format.md). Stops at the first violation with the file, the line and the
JSON path. Exit status: 0 all valid, 1 a violation or a failed run, 77 (ctest's
skip) when the python3-jsonschema package is missing.

usage: check_schemas.py --fredsim BIN --root SOURCE_DIR --work DIR
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("check_schemas: python3-jsonschema is not installed "
          "(scripts/install-deps.sh installs it); skipped")
    sys.exit(77)

# Each variant: a name, the --set/limit arguments, the exit statuses it may have.
# A variant a scenario cannot take (exit 2, e.g. a key the variant sets that
# the scenario refuses) is skipped for that scenario; the plain run must not exit 2.
# A long loop (more NMIs than this in its plain run, such as the kvm-unit-tests
# translations' 100,000 iterations) is traced over its first part only: every
# traced variant stops (--max-cycles, exit 3) at the cycle that covers about
# this many NMIs. Its later iterations write records of the shapes the first
# ones show, millions of them; the other scenarios stay far below.
LONG_RUN_NMIS = 20_000

VARIANTS = [
    ("plain", [], {0, 1}),
    ("idt", ["--set", "system.delivery=idt", "--set", "system.nmi_source=false"], {0, 1}),
    ("v5", ["--set", "system.kernel=v5"], {0, 1}),
    ("panic", ["--set", "kernel.panic_on_unrecovered_nmi=true",
               "--set", "kernel.unknown_nmi_panic=true"], {0, 1}),
    ("cut", ["--max-cycles", "1500"], {0, 1, 3}),
]


class Violation(Exception):
    pass


def where(path):
    return "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in path)


def first_error(validator, instance):
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = jsonschema.exceptions.best_match(errors)
    return f"{where(e.absolute_path)}: {e.message}"


def pick_variant(variants, rec):
    """The variant whose constant fields (path) match the record and whose
    required fields it has most of."""
    def score(entry):
        schema, _ = entry
        props = schema.get("properties", {})
        consts = [k for k, p in props.items() if "const" in p and k != "event"]
        if any(rec.get(k) != props[k]["const"] for k in consts):
            return -1
        return sum(1 for k in schema.get("required", []) if k in rec)
    return max(variants, key=score)[1]


HEX = re.compile(r"^0x[0-9a-f]+$")


def canon(v):
    """A representative of a record that the trace schema cannot tell from it,
    so that records of one shape are validated once (a trace of a million NMIs
    then costs what its distinct shapes cost). The schema's integer bounds are
    minimum 0 and maxima 3, 255 and 4095, so integers are replaced by the
    smallest member of their class (<0, 0..3 each, 4..255, 256..4095, >=4096);
    hex strings by "0x0"; an array by whether its items are unique (the only
    array constraint) and the set of its items' representatives. Keep this in
    step with trace.schema.json."""
    if isinstance(v, dict):
        return {k: canon(x) for k, x in v.items()}
    if isinstance(v, list):
        reps = {json.dumps(canon(x), sort_keys=True) for x in v}
        unique = len({json.dumps(x, sort_keys=True) for x in v}) == len(v)
        return ["unique" if unique else "repeats", sorted(reps)]
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        if v < 0:
            return -1
        for bound in (4096, 256, 4):
            if v >= bound:
                return bound
        return v
    if isinstance(v, str) and HEX.match(v):
        return "0x0"
    return v


class Schemas:
    def __init__(self, schema_dir):
        def load(name):
            p = schema_dir / name
            with open(p, encoding="utf-8") as f:
                s = json.load(f)
            jsonschema.Draft7Validator.check_schema(s)
            return p, s

        def validator(name):
            p, s = load(name)
            resolver = jsonschema.RefResolver(base_uri=p.resolve().as_uri(), referrer=s)
            return jsonschema.Draft7Validator(s, resolver=resolver)

        self.result = validator("result.schema.json")
        self.compare = validator("compare.schema.json")
        self.trace = validator("trace.schema.json")
        # One validator per record type, so a bad record is reported against its
        # own type rather than as "valid under none of the oneOf branches".
        _, trace = load("trace.schema.json")
        # A type with variants (nmi_deliver by path, vm_entry_fail) keeps one
        # validator per variant, chosen by the record's discriminating fields.
        self.by_event = {}
        for branch in trace["oneOf"]:
            variants = branch.get("oneOf", [branch])
            self.by_event[branch["title"]] = [
                (v, jsonschema.Draft7Validator(dict(v, definitions=trace["definitions"])))
                for v in variants]
        self.seen = set()
        self.valid_shapes = set()

    def check_result(self, path, validator=None):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        err = first_error(validator or self.result, doc)
        if err:
            raise Violation(f"{path}: {err}")

    def check_trace(self, path):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise Violation(f"{path}:{n}: not JSON: {e}")
                event = rec.get("event") if isinstance(rec, dict) else None
                variants = self.by_event.get(event)
                if variants is None:
                    raise Violation(f"{path}:{n}: unknown record type {event!r} "
                                    f"(known: {', '.join(sorted(self.by_event))})")
                key = json.dumps(canon(rec), sort_keys=True)
                if key in self.valid_shapes:
                    continue
                v = pick_variant(variants, rec)
                err = first_error(v, rec) or first_error(self.trace, rec)
                if err:
                    raise Violation(f"{path}:{n}: {event}: {err}\n  record: {line.strip()}")
                self.valid_shapes.add(key)
                self.seen.add(event)


def run(cmd, allowed, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode not in allowed:
        return p.returncode, f"{what}: exit status {p.returncode}\n  {' '.join(cmd)}\n  {p.stderr.strip()}"
    return p.returncode, None


def long_run_cut(fredsim, sc, work):
    """The cycle that ends a long loop's traced runs (LONG_RUN_NMIS), or None."""
    res = work / f"{sc.stem}.untraced.json"
    proc = subprocess.run([fredsim, "run", str(sc), "--json", str(res), "--quiet"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if proc.returncode not in (0, 1):
        return None  # the plain variant reports it
    r = json.loads(res.read_text(encoding="utf-8"))
    received = sum(c["nmi_received"] for c in r["cpus"])
    if received <= LONG_RUN_NMIS:
        return None
    return max(1500, r["end_cycle"] * LONG_RUN_NMIS // received)


def check_shard_files(fredsim, root, schema_dir, work):
    """A sweep shard file and a suite shard record (docs/format.md "Sweep shard
    files", "Suite shard records") against their schemas; the count checked."""
    checked = 0
    sweep_dir = work / "sweep-shard"
    _, err = run([fredsim, "sweep", "--handlers", "1,3", "--mixes", "one,two", "--places",
                  "bare,guest", "--nmis", "10", "--set", "system.seed=2", "--shard", "1/2",
                  "--out", str(sweep_dir), "--plot", "none", "-q"], {0}, "sweep --shard")
    if err:
        raise Violation(err)
    record = work / "suite-shard.json"
    _, err = run([fredsim, "suite", str(root / "scenarios" / "unittests.cfg"), "--target", "fred",
                  "--shard", "1/3", "--shard-out", str(record), "-j", "2"], {0, 1},
                 "suite --shard")
    if err:
        raise Violation(err)
    for path, name in ((sweep_dir / "sweep.shard.json", "sweep-shard.schema.json"),
                       (record, "suite-shard.schema.json")):
        with open(schema_dir / name, encoding="utf-8") as f:
            schema = json.load(f)
        jsonschema.Draft7Validator.check_schema(schema)
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if not doc.get("points", doc.get("outcomes")):
            raise Violation(f"{path}: no points or outcomes to check")
        err = first_error(jsonschema.Draft7Validator(schema), doc)
        if err:
            raise Violation(f"{path}: {err}")
        checked += 1
    return checked


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fredsim", required=True)
    ap.add_argument("--root", required=True, type=pathlib.Path)
    ap.add_argument("--schemas", type=pathlib.Path, help="default: ROOT/docs/schema")
    ap.add_argument("--work", required=True, type=pathlib.Path)
    a = ap.parse_args()
    schemas = Schemas(a.schemas or a.root / "docs" / "schema")
    a.work.mkdir(parents=True, exist_ok=True)
    scenarios = sorted((a.root / "scenarios").glob("*.toml"))
    if not scenarios:
        print(f"check_schemas: no scenarios under {a.root / 'scenarios'}")
        return 1
    checked = 0
    try:
        for sc in scenarios:
            cut = long_run_cut(a.fredsim, sc, a.work)
            for name, args, allowed in VARIANTS:
                if cut is not None and "--max-cycles" not in args:
                    args = [*args, "--max-cycles", str(cut)]
                    allowed = allowed | {3}
                res = a.work / f"{sc.stem}.{name}.json"
                tr = a.work / f"{sc.stem}.{name}.jsonl"
                cmd = [a.fredsim, "run", str(sc), "--json", str(res), "--trace=jsonl",
                       "--trace-out", str(tr), "--quiet", *args]
                rc, err = run(cmd, allowed | ({2} if name != "plain" else set()), f"{sc.name} ({name})")
                if err:
                    print(f"check_schemas: {err}")
                    return 1
                if rc == 2:
                    print(f"check_schemas: {sc.name} ({name}): not applicable (bad input), skipped")
                    continue
                schemas.check_result(res)
                schemas.check_trace(tr)
                checked += 1
            cmp = a.work / f"{sc.stem}.compare.json"
            _, err = run([a.fredsim, "compare", str(sc), "--json", str(cmp), "--quiet"], {0, 1},
                         f"{sc.name} (compare)")
            if err:
                print(f"check_schemas: {err}")
                return 1
            schemas.check_result(cmp, schemas.compare)
            checked += 1
        checked += check_shard_files(a.fredsim, a.root, a.schemas or a.root / "docs" / "schema",
                                     a.work)
    except Violation as v:
        print(f"check_schemas: schema violation: {v}")
        return 1
    unseen = sorted(set(schemas.by_event) - schemas.seen)
    print(f"check_schemas: {checked} outputs of {len(scenarios)} scenarios valid; record types "
          f"seen: {', '.join(sorted(schemas.seen))}"
          + (f"; not reached by any scenario: {', '.join(unseen)}" if unseen else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
