"""Skip-gram in PyTorch with any large-output head (``tsunagu.heads``).

The model of Mikolov et al. (2013): each centre word w has an input vector v_w;
each context word c within a window of w is predicted from it, maximising
log p(c | w) where p is given by the head applied to h = v_w. With the
``negative`` head this is SGNS exactly as in word2vec,
log σ(u_c·v_w) + Σ_k log σ(-u_{n_k}·v_w); with ``hierarchical`` it is word2vec's
hierarchical softmax over a Huffman tree; ``full``, ``nce`` and ``sampled`` are
the other members of the family, on the same data.

Data as in word2vec: frequent words are subsampled, each kept with probability
min(1, sqrt(t/f) + t/f) for relative frequency f (the formula of word2vec's C code),
and each centre draws its window size uniformly from 1..window, so near words count
more. Pairs are generated with numpy for a whole epoch at once (one offset at a
time, masked at sentence boundaries), shuffled, and fed in mini-batches with
sparse gradients (SparseAdam), so no Python loop runs per word.

gensim's C implementation is the reference: ``benchmarks/bench_skipgram.py``
trains both on the same tokenized file and compares time and vector quality.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy
import torch
from torch import nn

from .errors import ConfigError
from .heads import HEADS, make_head
from .parallel import torch_threads

PathLike = Union[str, Path]


@dataclass
class SkipGramSettings:
    head: str = "negative"
    head_options: dict = field(default_factory=lambda: {"n_samples": 5})
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    sample: float = 1e-3
    epochs: int = 1
    batch_size: int = 4096
    lr: float = 0.01
    seed: int = 1
    threads: Optional[int] = None

    def validate(self) -> "SkipGramSettings":
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {', '.join(HEADS)}, not {self.head!r}.")
        for name in ("vector_size", "window", "min_count", "epochs", "batch_size"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ConfigError(f"{name} must be a positive integer, not {value!r}.")
        if self.sample < 0 or self.lr <= 0:
            raise ConfigError("sample must be >= 0 and lr > 0.")
        return self


@dataclass
class Corpus:
    """A tokenized corpus as arrays: word ids and the sentence each token belongs to."""

    words: list[str]
    counts: numpy.ndarray  # (V,)
    ids: numpy.ndarray  # (N,) int64
    sentence: numpy.ndarray  # (N,) int64


def read_corpus_file(path: PathLike, min_count: int) -> Corpus:
    """A tokenized corpus file (one sentence per line, space-separated keys, as
    ``tsunagu.tokenized.tokenize_corpus`` writes); words under ``min_count`` dropped."""
    from collections import Counter

    with open(path, encoding="utf-8") as f:
        lines = [line.split() for line in f]
    counter = Counter(w for line in lines for w in line)
    words = [w for w, c in counter.most_common() if c >= min_count]
    if not words:
        raise ConfigError(f"No word of {path} occurs {min_count} times.")
    index = {w: i for i, w in enumerate(words)}
    ids, sentence = [], []
    for s, line in enumerate(lines):
        kept = [index[w] for w in line if w in index]
        ids.extend(kept)
        sentence.extend([s] * len(kept))
    return Corpus(words, numpy.array([counter[w] for w in words], dtype="int64"),
                  numpy.array(ids, dtype="int64"), numpy.array(sentence, dtype="int64"))


def epoch_pairs(corpus: Corpus, window: int, sample: float, rng: numpy.random.Generator):
    """(centre, context) id arrays for one epoch: subsampled, random window sizes,
    never across a sentence boundary, shuffled."""
    ids, sentence = corpus.ids, corpus.sentence
    if sample > 0:
        freq = corpus.counts / corpus.counts.sum()
        keep_p = numpy.minimum(1.0, numpy.sqrt(sample / freq) + sample / freq)
        keep = rng.random(len(ids)) < keep_p[ids]
        ids, sentence = ids[keep], sentence[keep]
    reach = rng.integers(1, window + 1, size=len(ids))  # each centre's window
    centres, contexts = [], []
    for d in range(1, window + 1):
        same = sentence[:-d] == sentence[d:]
        right = same & (reach[:-d] >= d)  # centre i, context i+d
        left = same & (reach[d:] >= d)  # centre i+d, context i
        centres += [ids[:-d][right], ids[d:][left]]
        contexts += [ids[d:][right], ids[:-d][left]]
    centre, context = numpy.concatenate(centres), numpy.concatenate(contexts)
    order = rng.permutation(len(centre))
    return centre[order], context[order]


class SkipGram(nn.Module):
    def __init__(self, vocab_size: int, settings: SkipGramSettings, counts) -> None:
        super().__init__()
        d = settings.vector_size
        self.input = nn.Embedding(vocab_size, d, sparse=True)
        nn.init.uniform_(self.input.weight, -0.5 / d, 0.5 / d)  # word2vec's initialisation
        options = {"sparse": True, **settings.head_options} if settings.head != "full" else {}
        self.head = make_head(settings.head, d, vocab_size, counts=counts, **options)

    def loss(self, centre: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.head.loss(self.input(centre), context)


def train_skipgram(corpus_file: PathLike, settings: SkipGramSettings, progress: bool = True):
    """Train on a tokenized corpus file; returns gensim ``KeyedVectors`` (so every
    tool that reads word2vec vectors reads these) and training figures."""
    from gensim.models import KeyedVectors

    settings.validate()
    torch.manual_seed(settings.seed)
    rng = numpy.random.default_rng(settings.seed)
    started = time.perf_counter()
    with torch_threads(settings.threads):
        corpus = read_corpus_file(corpus_file, settings.min_count)
        model = SkipGram(len(corpus.words), settings, torch.as_tensor(corpus.counts, dtype=torch.float64))
        # Embedding-like tables get sparse gradients (SparseAdam); the rest (the full
        # softmax's linear layer, NCE's log Z) dense ones.
        sparse = [model.input.weight]
        if settings.head != "full":
            sparse += [model.head.weight, model.head.bias]
        dense = [p for p in model.parameters() if p.requires_grad and all(p is not q for q in sparse)]
        optimizers = [torch.optim.SparseAdam(sparse, lr=settings.lr)]
        if dense:
            optimizers.append(torch.optim.Adam(dense, lr=settings.lr))
        bar = None
        losses, pairs_seen = [], 0
        for epoch in range(settings.epochs):
            centre, context = epoch_pairs(corpus, settings.window, settings.sample, rng)
            n_batches = math.ceil(len(centre) / settings.batch_size)
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=n_batches, unit="batch", desc=f"skip-gram epoch {epoch + 1}",
                           dynamic_ncols=True)
            total = 0.0
            centre_t, context_t = torch.from_numpy(centre), torch.from_numpy(context)
            for start in range(0, len(centre), settings.batch_size):
                for opt in optimizers:
                    opt.zero_grad(set_to_none=True)
                loss = model.loss(centre_t[start:start + settings.batch_size],
                                  context_t[start:start + settings.batch_size])
                loss.backward()
                for opt in optimizers:
                    opt.step()
                total += float(loss.detach())
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            losses.append(total / max(n_batches, 1))
            pairs_seen += len(centre)
        seconds = time.perf_counter() - started
    kv = KeyedVectors(settings.vector_size, count=len(corpus.words))
    kv.add_vectors(corpus.words, model.input.weight.detach().numpy())
    for word, count in zip(corpus.words, corpus.counts.tolist()):
        kv.set_vecattr(word, "count", count)
    stats = {"seconds": seconds, "pairs": pairs_seen, "pairs_per_second": pairs_seen / seconds,
             "words": int(len(corpus.ids)) * settings.epochs,
             "words_per_second": len(corpus.ids) * settings.epochs / seconds,
             "vocabulary": len(corpus.words), "loss_per_epoch": losses}
    return kv, stats
