"""The quality price of each head: LSTM language-model perplexity on held-out
Livedoor text after equal training time.

Livedoor articles (title + body), surface tokens (SudachiPy, mode C); 5% of the
articles held out by id hash (``tsunagu lm train``'s split); vocabulary of the
``--max-vocab`` most frequent words. Each head trains the same LSTM (embed 128,
hidden 256) for ``--minutes`` of training time; perplexity is measured on the
first ``--valid-tokens`` held-out tokens with each head's normalised log p.

    python benchmarks/bench_lm.py [--minutes 4] [--heads full,hierarchical,negative,nce,sampled]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tsunagu.corpora import read_livedoor
from tsunagu.heldout import is_held_out
from tsunagu.language_model import LMSettings, train_language_model
from tsunagu.tokenized import keys_of_text

LIVEDOOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "livedoor" / "text"
HEAD_OPTIONS = {"negative": {"n_samples": 20}, "nce": {"n_samples": 50}, "sampled": {"n_samples": 1024}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--heads", default="full,hierarchical,negative,nce,sampled")
    ap.add_argument("--max-vocab", type=int, default=30_000)
    ap.add_argument("--valid-tokens", type=int, default=50_000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not LIVEDOOR.is_dir():
        sys.exit(f"Livedoor corpus not found at {LIVEDOOR}")
    start = time.perf_counter()
    train, valid = [], []
    for r in read_livedoor(LIVEDOOR):
        (valid if is_held_out(r.id, 5) else train).extend(keys_of_text(r.text, "orth", "C"))
    print(f"tokenized in {time.perf_counter() - start:.0f} s: {sum(map(len, train)):,} training tokens, "
          f"{sum(map(len, valid)):,} held-out; {args.minutes} min of training per head, {args.threads} threads")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for head in args.heads.split(","):
            settings = LMSettings(head=head, head_options=HEAD_OPTIONS.get(head, {}), max_vocab=args.max_vocab,
                                  epochs=100, minutes=args.minutes, threads=args.threads)
            meta = train_language_model(train, valid, Path(tmp) / head, settings, progress=True,
                                        valid_tokens=args.valid_tokens)
            t = meta["training"]
            rows.append((head, t["steps"], t["tokens_per_second"], meta["valid_perplexity"]))
            print(f"  {head:<13} {t['steps']:>6} steps  {t['tokens_per_second']:>8,.0f} tokens/s  "
                  f"held-out perplexity {meta['valid_perplexity']:8.1f}  (vocabulary {meta['vocabulary']:,}, "
                  f"{meta['valid_tokens']:,} tokens)", flush=True)
    print("\n| head | steps | training tokens/s | held-out perplexity |\n|---|---|---|---|")
    for head, steps, tps, ppl in rows:
        print(f"| {head} | {steps:,} | {tps:,.0f} | {ppl:.1f} |")


if __name__ == "__main__":
    main()
