"""PyTorch skip-gram with tsunagu's heads against gensim's word2vec, same corpus, same run.

Livedoor articles (title + body), 80% for training (the split of bench_embed.py);
both trainers read the same tokenized file with the same settings (skip-gram,
dim 100, window 5, min_count 5, subsampling 1e-3). Reported per trainer: training
time, words/s, the ratio to gensim with the same output layer, and the quality
measure of bench_embed.py (nearest-centroid category accuracy of mean word vectors
on the held-out 20%).

    python benchmarks/bench_skipgram.py [--epochs 1] [--heads negative,hierarchical]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_embed import LIVEDOOR, is_test, nearest_centroid_accuracy  # noqa: E402

from tsunagu.corpora import read_livedoor  # noqa: E402
from tsunagu.skipgram import SkipGramSettings, train_skipgram  # noqa: E402
from tsunagu.tokenized import keys_of_text, tokenize_corpus  # noqa: E402

GENSIM_EQUIVALENT = {"negative": {"negative": 5, "hs": 0}, "hierarchical": {"negative": 0, "hs": 1}}
HEAD_OPTIONS = {"negative": {"n_samples": 5}, "nce": {"n_samples": 20}, "sampled": {"n_samples": 1024},
                "hierarchical": {}, "full": {}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--heads", default="negative,hierarchical")
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if not LIVEDOOR.is_dir():
        sys.exit(f"Livedoor corpus not found at {LIVEDOOR}")
    from gensim.models import Word2Vec

    records = list(read_livedoor(LIVEDOOR))
    docs = [(r.label, r.id, [k for line in keys_of_text(r.text, "lemma", "C") for k in line]) for r in records]
    train_docs = [(label, keys) for label, rid, keys in docs if not is_test(rid)]
    test_docs = [(label, keys) for label, rid, keys in docs if is_test(rid)]
    print(f"Livedoor: {len(train_docs)} training / {len(test_docs)} held-out articles; "
          f"{args.workers} threads; dim {args.dim}, window 5, min_count 5, {args.epochs} epoch(s)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "train.jsonl"
        with open(jsonl, "w", encoding="utf-8") as f:
            for r in records:
                if not is_test(r.id):
                    f.write(json.dumps({"id": r.id, "text": r.text}, ensure_ascii=False) + "\n")
        tok = tokenize_corpus(jsonl, cache_dir=Path(tmp) / "cache", workers=args.workers, progress=False)
        for head in args.heads.split(","):
            if head in GENSIM_EQUIVALENT:
                start = time.perf_counter()
                model = Word2Vec(corpus_file=str(tok.path), sg=1, vector_size=args.dim, window=5, min_count=5,
                                 sample=1e-3, epochs=args.epochs, workers=args.workers, seed=1,
                                 **GENSIM_EQUIVALENT[head])
                seconds = time.perf_counter() - start
                words = model.corpus_total_words * args.epochs
                acc = nearest_centroid_accuracy(model.wv, train_docs, test_docs)
                results.append((f"gensim ({head})", head, seconds, words / seconds, acc))
                print(f"  {results[-1][0]:<34} {seconds:7.1f} s  {words / seconds:>10,.0f} words/s  "
                      f"nearest-centroid {acc:.3f}", flush=True)
            settings = SkipGramSettings(head=head, head_options=HEAD_OPTIONS[head], vector_size=args.dim,
                                        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                        threads=args.workers)
            kv, stats = train_skipgram(tok.path, settings, progress=True)
            acc = nearest_centroid_accuracy(kv, train_docs, test_docs)
            results.append((f"tsunagu PyTorch ({head})", head, stats["seconds"], stats["words_per_second"], acc))
            print(f"  {results[-1][0]:<34} {stats['seconds']:7.1f} s  {stats['words_per_second']:>10,.0f} words/s  "
                  f"nearest-centroid {acc:.3f}", flush=True)
    print("\nratios (tsunagu PyTorch time / gensim time, same head):")
    gensim = {head: s for name, head, s, _, _ in results if name.startswith("gensim")}
    for name, head, seconds, _, acc in results:
        if name.startswith("tsunagu") and head in gensim:
            print(f"  {head}: {seconds / gensim[head]:.1f}x slower")


if __name__ == "__main__":
    main()
