"""What the input fingerprint costs (issue 15): `tsunagu apply` reads and hashes the
whole input once at the start, so that a resume can refuse an input edited since
the interrupted run.

On the 7,367-article Livedoor corpus, in one run: the fingerprint alone (median of
--repeats), and the whole job it belongs to, `apply_corpus` over every article of
the corpus with the default pipeline (``--fields title`` by default: the full
title+body run takes about an hour on 2 cores; its length is estimated from
--body-sample articles and reported beside it).

    python benchmarks/bench_fingerprint.py [--fields title] [--repeats 5] [--body-sample 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import tsunagu
from tsunagu.batch import apply_corpus, apply_pipeline, fingerprint_input
from tsunagu.corpora import read_livedoor

LIVEDOOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "livedoor" / "text"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fields", default="title", choices=("title", "body", "title+body"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--body-sample", type=int, default=100)
    args = ap.parse_args()
    if not LIVEDOOR.is_dir():
        sys.exit(f"Livedoor corpus not found at {LIVEDOOR}")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fp = fingerprint_input(LIVEDOOR)
        times.append(time.perf_counter() - start)
    fingerprint = statistics.median(times)
    print(f"fingerprint of {LIVEDOOR}: {fp['files']} files, {fp['size'] / 1e6:.1f} MB, "
          f"median {fingerprint:.3f} s (min {min(times):.3f}, max {max(times):.3f})", flush=True)

    nlp = tsunagu.load()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = apply_corpus(nlp, LIVEDOOR, Path(tmp) / "out.jsonl", reader_options={"fields": args.fields},
                              n_process=2, progress=False)
        run = time.perf_counter() - start
        print(f"apply_corpus --fields {args.fields} --n-process 2: {report.written} documents in {run:.1f} s "
              f"(fingerprint included); fingerprint share {fingerprint / run:.2%}", flush=True)
        sample = [r for _, r in zip(range(args.body_sample), read_livedoor(LIVEDOOR, fields="title+body"))]
        start = time.perf_counter()
        apply_pipeline(nlp, sample, Path(tmp) / "body.jsonl", n_process=2, progress=False)
        per_doc = (time.perf_counter() - start) / len(sample)
        full = per_doc * report.written
        print(f"title+body: {1 / per_doc:.2f} docs/s on {len(sample)} articles -> about {full / 60:.0f} min "
              f"for the corpus; fingerprint share {fingerprint / full:.3%}")


if __name__ == "__main__":
    main()
