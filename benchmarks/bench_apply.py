"""Batch processing speed: ``tsunagu apply`` against plain spaCy on the same documents.

Peers, in the same run, on the same Livedoor titles:
  * ``spacy.load("ja_ginza").pipe(texts, n_process=N)`` (documents only, nothing written)
  * ``tsunagu`` ``apply_pipeline`` with the same N: the same analysis plus JSONL
    output, a rejects file and resumable checkpoints.
  * end to end on the command line, ``tsunagu apply`` against ``spacy apply``
    (both load the pipeline and write their output).
Prints docs/s and the ratio tsunagu / plain for 1 and 2 processes.

    python benchmarks/bench_apply.py [--docs 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import spacy

import tsunagu
from tsunagu.batch import apply_pipeline
from tsunagu.corpora import read_livedoor

LIVEDOOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "livedoor" / "text"


def take_titles(n: int):
    # Round-robin over categories so the subset is not one category's headlines.
    by_cat: dict[str, list] = {}
    for r in read_livedoor(LIVEDOOR, fields="title"):
        by_cat.setdefault(r.label, []).append(r)
    out, i = [], 0
    while len(out) < n:
        for recs in by_cat.values():
            if i < len(recs) and len(out) < n:
                out.append(recs[i])
        i += 1
    return out


def time_plain(nlp, texts, n_process, batch_size):
    start = time.perf_counter()
    n = sum(1 for _ in nlp.pipe(texts, n_process=n_process, batch_size=batch_size))
    assert n == len(texts)
    return len(texts) / (time.perf_counter() - start)


def time_tsunagu(nlp, records, n_process, batch_size, tmp: Path):
    out = tmp / f"apply-{n_process}.jsonl"
    start = time.perf_counter()
    report = apply_pipeline(nlp, records, out, n_process=n_process, batch_size=batch_size,
                            overwrite=True, progress=False)
    assert report.written == len(records)
    return len(records) / (time.perf_counter() - start)


def time_cli(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    if not LIVEDOOR.is_dir():
        sys.exit(f"Livedoor corpus not found at {LIVEDOOR}")
    records = take_titles(args.docs)
    texts = [r.text for r in records]
    plain_nlp = spacy.load("ja_ginza")
    our_nlp = tsunagu.load()
    print(f"{len(texts)} Livedoor titles, {sum(map(len, texts))} characters, "
          f"batch size {args.batch_size}, best of {args.repeats} (median in brackets)")
    results = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for n_process in (1, 2):
            plain, ours = [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                plain.append(time_plain(plain_nlp, texts, n_process, args.batch_size))
                ours.append(time_tsunagu(our_nlp, records, n_process, args.batch_size, tmp))
            ratio = max(ours) / max(plain)
            results[n_process] = (max(plain), max(ours), ratio)
            print(f"n_process={n_process}: plain nlp.pipe {max(plain):7.1f} docs/s "
                  f"[{statistics.median(plain):.1f}]  tsunagu apply {max(ours):7.1f} docs/s "
                  f"[{statistics.median(ours):.1f}]  ratio {ratio:.2f}")

        src = tmp / "titles.jsonl"
        src.write_text("".join(json.dumps({"id": r.id, "text": r.text}, ensure_ascii=False) + "\n"
                               for r in records), encoding="utf-8")
        ours_cli = time_cli([sys.executable, "-m", "tsunagu", "apply", src, tmp / "cli.jsonl",
                             "--no-progress", "--overwrite"])
        spacy_cli = time_cli([sys.executable, "-m", "spacy", "apply", "ja_ginza", src,
                              tmp / "cli.spacy", "--text-key", "text"])
        print(f"command line, end to end incl. loading (1 process): tsunagu apply {ours_cli:.1f} s, "
              f"spacy apply {spacy_cli:.1f} s, ratio of speeds {spacy_cli / ours_cli:.2f}")


if __name__ == "__main__":
    main()
