"""Peak memory of `tsunagu apply` against document length, before and after
processing long texts in pieces (issue 15).

Each measurement is a fresh process that loads the default pipeline and applies it
to one document of N characters (Livedoor articles joined, paragraphs kept), and
reports its peak resident memory (``ru_maxrss``). "before" is the same code with
pieces and the per-call character budget switched off (``piece_chars`` and
``batch_chars`` larger than the text), which is what main did; "small job" is 64
Livedoor titles, the reference the issue's bar (<= 1.5x) is stated against.

    python benchmarks/bench_longdocs.py [--lengths 1000 5000 20000 60000 200000 1000000]
        [--before-max 60000] [--out benchmarks/out/longdocs.json] [--plot benchmarks/plots/longdoc_memory.png]

    python benchmarks/bench_longdocs.py --throughput 60 [--repeats 2]
        docs/s on whole Livedoor articles, 1 process, with the bounded batches
        against the old unbounded ones (interleaved, in one process)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIVEDOOR = REPO.parent / "shared" / "data" / "livedoor" / "text"

CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
import tsunagu
from tsunagu.batch import apply_pipeline
from tsunagu.corpora import Record, read_livedoor

mode, n, livedoor = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "small":
    records = [r for _, r in zip(range(64), read_livedoor(livedoor, fields="title"))]
else:
    text, parts = "", []
    for r in read_livedoor(livedoor, fields="body"):
        parts.append(r.text)
        if sum(map(len, parts)) + 2 * len(parts) >= n:
            break
    text = "\n\n".join(parts)[:n]
    records = [Record("long", text)]
nlp = tsunagu.load()
nlp("準備。")  # load everything lazy before the baseline
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
options = {}
if mode == "before":
    options = {"piece_chars": n + 1, "batch_chars": n + 1}
with tempfile.TemporaryDirectory() as tmp:
    start = time.perf_counter()
    report = apply_pipeline(nlp, records, Path(tmp) / "o.jsonl", progress=False,
                            max_chars=max(n, 1000) + 1, **options)
    seconds = time.perf_counter() - start
assert report.written == len(records), report
print(json.dumps({"mode": mode, "chars": sum(len(r.text) for r in records), "loaded_mb": loaded / 1024,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": seconds}))
"""


def measure(mode: str, n: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(n), str(LIVEDOOR)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return {"mode": mode, "chars": n, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def plot(rows: list[dict], small: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for mode, style in (("before", "o--"), ("after", "s-")):
        pts = [(r["chars"], r["peak_mb"]) for r in rows if r["mode"] == mode and "peak_mb" in r]
        if pts:
            ax.plot(*zip(*pts), style, label={"before": "whole text at once (before)",
                                               "after": "in pieces, joined (after)"}[mode])
    ax.axhline(small["peak_mb"], color="grey", lw=1, label=f"small job: 64 titles ({small['peak_mb']:.0f} MB)")
    ax.axhline(1.5 * small["peak_mb"], color="grey", lw=1, ls=":", label="1.5 x small job")
    ax.set_xscale("log")
    ax.set_xlabel("document length (characters)")
    ax.set_ylabel("peak resident memory (MB)")
    ax.set_title("tsunagu apply, default pipeline, one document")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def throughput(n: int, repeats: int) -> None:
    import statistics
    import tempfile

    import tsunagu
    from tsunagu.batch import apply_pipeline
    from tsunagu.corpora import read_livedoor

    by_cat: dict = {}
    for r in read_livedoor(LIVEDOOR, fields="title+body"):
        by_cat.setdefault(r.label, []).append(r)
    records = [recs[i] for i in range(n) for recs in by_cat.values() if i < len(recs)][:n]
    chars = sum(len(r.text) for r in records)
    nlp = tsunagu.load()
    nlp("準備。")
    speeds: dict = {"bounded (default)": [], "unbounded (before)": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for name, options in (("bounded (default)", {}),
                                  ("unbounded (before)", {"piece_chars": 10 ** 9, "batch_chars": 10 ** 9})):
                start = time.perf_counter()
                apply_pipeline(nlp, records, Path(tmp) / "o.jsonl", overwrite=True, progress=False, **options)
                speeds[name].append(len(records) / (time.perf_counter() - start))
    print(f"{len(records)} Livedoor articles, {chars:,} characters, 1 process, {repeats} interleaved repeats")
    for name, values in speeds.items():
        print(f"  {name:<20} {statistics.median(values):.2f} docs/s (median; {', '.join(f'{v:.2f}' for v in values)})")
    ratio = statistics.median(speeds["bounded (default)"]) / statistics.median(speeds["unbounded (before)"])
    print(f"  ratio bounded / unbounded: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1000, 5000, 20000, 60000, 200000, 1000000])
    parser.add_argument("--before-max", type=int, default=60000,
                        help="longest text measured the old way (a 999k-character one was OOM-killed at 19 GB)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "longdocs.json")
    parser.add_argument("--plot", type=Path, default=REPO / "benchmarks" / "plots" / "longdoc_memory.png")
    parser.add_argument("--throughput", type=int, default=0, metavar="N",
                        help="instead: docs/s on N whole articles, bounded against unbounded batches")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not LIVEDOOR.is_dir():
        sys.exit(f"needs the Livedoor corpus at {LIVEDOOR}")
    if args.throughput:
        throughput(args.throughput, args.repeats)
        return
    started = time.time()
    small = measure("small", 0)
    print(f"small job: {small}", flush=True)
    rows = []
    for n in args.lengths:
        for mode in (("before", "after") if n <= args.before_max else ("after",)):
            row = measure(mode, n)
            rows.append(row)
            ratio = f"{row['peak_mb'] / small['peak_mb']:.2f}x small job" if "peak_mb" in row else ""
            print(f"{mode:>6} {n:>9,} chars: {row} {ratio}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"small": small, "rows": rows, "seconds": time.time() - started}, indent=1))
    plot(rows, small, args.plot)
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
