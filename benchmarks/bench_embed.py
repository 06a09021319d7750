"""word2vec embeddings on the Livedoor corpus: speed against plain libraries, and quality.

In one run:
  1. Tokenization docs/s: ``tsunagu.tokenized.tokenize_corpus`` (parallel Sudachi,
     writing the cached corpus file) against a plain single-process SudachiPy loop
     producing the same keys.
  2. Training words/s on the same pre-tokenized file with the same settings:
     ``tsunagu.embeddings.train_word2vec`` (what ``tsunagu embed train`` runs, with its
     progress callback) against plain ``gensim.models.Word2Vec(corpus_file=...)``.
  3. Quality: vectors trained on 80% of the articles; each article's vector is the
     mean of its tokens' vectors; nearest-centroid accuracy over the 9 categories on
     the held-out 20%, for skip-gram / CBOW x negative sampling / hierarchical
     softmax, with training time. Nearest neighbours of a fixed word list.

    python benchmarks/bench_embed.py [--epochs 5] [--dim 100] [--speed-epochs 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy

from tsunagu.corpora import read_livedoor
from tsunagu.embeddings import Word2VecSettings, train_word2vec
from tsunagu.tokenized import keys_of_text, sudachi_tokenizer, tokenize_corpus
from tsunagu.vectorkeys import morpheme_key

LIVEDOOR = Path(__file__).resolve().parents[2] / "shared" / "data" / "livedoor" / "text"
PROBES = ["野球", "映画", "スマートフォン", "結婚", "電池", "監督", "美味しい", "女子"]


def is_test(record_id: str) -> bool:
    """A fixed 80/10/10-style split by article: 20% held out, by id hash."""
    return int(hashlib.md5(record_id.encode()).hexdigest(), 16) % 10 >= 8


def plain_sudachi_loop(texts: list[str]) -> tuple[float, int]:
    tokenizer = sudachi_tokenizer("C")
    start = time.perf_counter()
    tokens = 0
    for text in texts:
        for line in text.splitlines():
            if line.strip():
                tokens += sum(1 for m in tokenizer.tokenize(line) if morpheme_key(m, "lemma"))
    return time.perf_counter() - start, tokens


def plain_gensim(corpus_file: Path, settings: Word2VecSettings) -> float:
    from gensim.models import Word2Vec

    start = time.perf_counter()
    model = Word2Vec(corpus_file=str(corpus_file), compute_loss=settings.compute_loss,
                     **settings.gensim_kwargs())
    seconds = time.perf_counter() - start
    return model.corpus_total_words * settings.epochs / seconds


def ours(corpus_file: Path, settings: Word2VecSettings) -> float:
    _, stats = train_word2vec(corpus_file, settings, progress=True)
    return stats.words_per_second


def doc_vector(kv, keys: list[str], weights=None) -> numpy.ndarray:
    rows = [kv.key_to_index[k] for k in keys if k in kv.key_to_index]
    if not rows:
        return numpy.zeros(kv.vector_size, dtype="float32")
    if weights is None:
        v = kv.vectors[rows].mean(axis=0)
    else:
        v = (kv.vectors[rows] * weights[rows, None]).sum(axis=0) / len(rows)
    return v / (numpy.linalg.norm(v) or 1.0)


def sif_weights(kv, a: float = 1e-3) -> numpy.ndarray:
    """Smooth inverse frequency, a / (a + p(w)) (Arora, Liang & Ma, ICLR 2017)."""
    counts = numpy.array([kv.get_vecattr(w, "count") for w in kv.index_to_key], dtype="float64")
    return (a / (a + counts / counts.sum())).astype("float32")


def nearest_centroid_accuracy(kv, train_docs, test_docs, weights=None) -> float:
    labels = sorted({label for label, _ in train_docs})
    centroids = numpy.stack([
        numpy.mean([doc_vector(kv, keys, weights) for label, keys in train_docs if label == c], axis=0)
        for c in labels
    ])
    centroids /= numpy.linalg.norm(centroids, axis=1, keepdims=True)
    correct = 0
    for label, keys in test_docs:
        correct += labels[int(numpy.argmax(centroids @ doc_vector(kv, keys, weights)))] == label
    return correct / len(test_docs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--speed-epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--parts", default="tokenize,speed,quality",
                    help="comma-separated subset of tokenize,speed,quality")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if not LIVEDOOR.is_dir():
        sys.exit(f"Livedoor corpus not found at {LIVEDOOR}")
    records = list(read_livedoor(LIVEDOOR))
    texts = [r.text for r in records]
    print(f"Livedoor: {len(records)} articles (title + body), {args.workers} workers")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. tokenization
        tok = tokenize_corpus(LIVEDOOR, cache_dir=tmp / "cache", workers=args.workers, progress=False)
        if "tokenize" in parts:
            plain_s, plain_tokens = plain_sudachi_loop(texts)
            assert tok.tokens == plain_tokens, (tok.tokens, plain_tokens)
            print(f"tokenize: plain Sudachi loop {len(texts) / plain_s:.0f} docs/s "
                  f"({plain_tokens / plain_s:,.0f} tokens/s); tsunagu tokenize_corpus "
                  f"{tok.documents / tok.seconds:.0f} docs/s incl. writing the file; "
                  f"ratio {plain_s / tok.seconds:.2f}; {tok.tokens:,} tokens")

        # 2. training speed, same file and settings (loss off, then on), interleaved
        for compute_loss in ((False, True) if "speed" in parts else ()):
            speed = Word2VecSettings(vector_size=args.dim, epochs=args.speed_epochs,
                                     workers=args.workers, compute_loss=compute_loss)
            plain_runs, our_runs = [], []
            for i in range(args.repeats):
                # Alternate which goes first, so warm-up and drift hit both alike.
                if i % 2 == 0:
                    plain_runs.append(plain_gensim(tok.path, speed))
                    our_runs.append(ours(tok.path, speed))
                else:
                    our_runs.append(ours(tok.path, speed))
                    plain_runs.append(plain_gensim(tok.path, speed))
            med_plain, med_ours = statistics.median(plain_runs), statistics.median(our_runs)
            print(f"train ({speed.name}, dim {args.dim}, {args.speed_epochs} epochs, "
                  f"compute_loss={compute_loss}, {args.repeats} runs each): plain gensim median "
                  f"{med_plain:,.0f} words/s, tsunagu median {med_ours:,.0f} words/s, ratio of medians "
                  f"{med_ours / med_plain:.3f}, ratio of bests {max(our_runs) / max(plain_runs):.3f} "
                  f"(all: {[round(x) for x in plain_runs]} / {[round(x) for x in our_runs]})")

        if "quality" not in parts:
            return
        # 3. quality
        train_path = tmp / "train.jsonl"
        with open(train_path, "w", encoding="utf-8") as f:
            for r in records:
                if not is_test(r.id):
                    f.write(json.dumps({"id": r.id, "text": r.text}, ensure_ascii=False) + "\n")
        train_tok = tokenize_corpus(train_path, cache_dir=tmp / "cache", workers=args.workers,
                                    progress=False)
        docs = [(r.label, [k for line in keys_of_text(r.text, "lemma", "C") for k in line], is_test(r.id))
                for r in records]
        train_docs = [(label, keys) for label, keys, test in docs if not test]
        test_docs = [(label, keys) for label, keys, test in docs if test]
        print(f"quality: trained on {len(train_docs)} articles ({train_tok.tokens:,} tokens), "
              f"tested on {len(test_docs)}; dim {args.dim}, window 5, min_count 5, {args.epochs} epochs")
        print("| model | training s | words/s | accuracy, mean | accuracy, SIF-weighted mean |")
        print("|---|---|---|---|---|")
        neighbours = {}
        for sg in (True, False):
            for hs in (False, True):
                settings = Word2VecSettings(sg=sg, hs=hs, negative=0 if hs else 5, vector_size=args.dim,
                                            epochs=args.epochs, workers=args.workers)
                model, stats = train_word2vec(train_tok.path, settings, progress=False)
                acc = nearest_centroid_accuracy(model.wv, train_docs, test_docs)
                sif = nearest_centroid_accuracy(model.wv, train_docs, test_docs, sif_weights(model.wv))
                print(f"| {settings.name} | {stats.seconds:.1f} | {stats.words_per_second:,.0f} | "
                      f"{acc:.3f} | {sif:.3f} |")
                if sg and not hs:
                    neighbours = {p: [w for w, _ in model.wv.most_similar(p, topn=6)]
                                  for p in PROBES if p in model.wv.key_to_index}
        print("nearest neighbours (skip-gram, negative sampling):")
        for probe, words in neighbours.items():
            print(f"- {probe}: {'、'.join(words)}")


if __name__ == "__main__":
    main()
