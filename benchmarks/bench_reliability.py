"""Bad input at scale: the properties of ``tests/reliability/test_property.py`` with
many more examples.

Every corpus reader is fed arbitrary JSON values, records with random field types
and colliding ids, arbitrary bytes (as text lines, JSONL lines, files of a text
folder, Livedoor articles) and random or mangled DocBins; each input goes through
``apply_corpus`` with a blank pipeline. Counted, per property and in all: inputs
tried (shrinking runs included), records generated (by the test's own definition
of a record), written, rejected, records lost and records duplicated (both must
be 0), corrupt DocBins refused whole. Prints the JSON and writes it to ``--out``;
exits 1 if a property fails or anything is lost or duplicated.

    nice -n 10 python benchmarks/bench_reliability.py [--examples 2000] [--only jsonl] \\
        [--out benchmarks/out/reliability.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings

from tsunagu.atomic import write_atomically

REPO = Path(__file__).resolve().parents[1]
PROPERTY_TESTS = REPO / "tests" / "reliability" / "test_property.py"


def load_properties(examples: int, derandomize: bool):
    # The test module picks its settings profile when it is imported.
    settings.register_profile(
        "tsunagu-bench", max_examples=examples, deadline=None, database=None, print_blob=True,
        derandomize=derandomize, suppress_health_check=list(HealthCheck))
    os.environ["TSUNAGU_HYPOTHESIS_PROFILE"] = "tsunagu-bench"
    spec = importlib.util.spec_from_file_location("tsunagu_bench_properties", PROPERTY_TESTS)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per property (default 2000)")
    parser.add_argument("--only", default="", help="run the properties whose name contains this")
    parser.add_argument("--derandomize", action="store_true", help="the same examples on every run")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "reliability.json")
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples must be a positive integer")

    module = load_properties(args.examples, args.derandomize)
    tally: Counter = module.TALLY
    results = {}
    started = time.perf_counter()
    for prop in module.PROPERTIES:
        name = prop.__name__.removeprefix("test_")
        if args.only not in name:
            continue
        before = Counter(tally)
        t0 = time.perf_counter()
        failure = None
        try:
            prop()
        except Exception as e:  # a failing property is a result to report, not a crash
            failure = "".join(traceback.format_exception_only(type(e), e)).strip()
            traceback.print_exc()
        counts = tally - before
        results[name] = {
            "inputs tried": counts["inputs"],
            "records generated": counts["records"],
            "written": counts["written"],
            "rejected": counts["rejected"],
            "records lost": counts["lost"],
            "records duplicated": counts["duplicated"],
            "corrupt blobs refused": counts["corrupt blobs refused"],
            "seconds": round(time.perf_counter() - t0, 1),
            "passed": failure is None,
            **({"failure": failure} if failure else {}),
        }
        print(f"{name}: {json.dumps(results[name], ensure_ascii=False)}", file=sys.stderr, flush=True)

    if not results:
        parser.error(f"no property name contains {args.only!r}")
    total = {key: sum(r[key] for r in results.values())
             for key in ("inputs tried", "records generated", "written", "rejected", "records lost",
                         "records duplicated", "corrupt blobs refused")}
    summary = {
        "examples per property": args.examples,
        "seconds": round(time.perf_counter() - started, 1),
        "total": total,
        "all passed": all(r["passed"] for r in results.values()),
        "properties": results,
    }
    text = json.dumps(summary, indent=1, ensure_ascii=False)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out, (text + "\n").encode("utf-8"))
    ok = summary["all passed"] and total["records lost"] == 0 and total["records duplicated"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
