"""The PyTorch skip-gram trainer: pair generation as word2vec does it, and vectors
that learn co-occurrence with every head."""

import numpy
import pytest

from tsunagu.errors import ConfigError
from tsunagu.skipgram import Corpus, SkipGramSettings, epoch_pairs, read_corpus_file, train_skipgram


def _corpus(sentences):
    words = sorted({w for s in sentences for w in s})
    index = {w: i for i, w in enumerate(words)}
    counts = numpy.bincount([index[w] for s in sentences for w in s], minlength=len(words))
    ids = numpy.array([index[w] for s in sentences for w in s])
    sentence = numpy.array([k for k, s in enumerate(sentences) for _ in s])
    return Corpus(words, counts, ids, sentence)


def test_pairs_stay_in_sentences_and_windows():
    corpus = _corpus([list("abcdef"), list("ghij")])
    rng = numpy.random.default_rng(0)
    seen = set()
    for _ in range(50):
        centre, context = epoch_pairs(corpus, window=2, sample=0, rng=rng)
        for c, x in zip(centre.tolist(), context.tolist()):
            a, b = corpus.words[c], corpus.words[x]
            same = (a in "abcdef") == (b in "abcdef")
            assert same and 1 <= abs(ord(a) - ord(b)) <= 2, (a, b)
            seen.add((a, b))
    # Every pair within distance 2 turns up, both ways; the near ones more often.
    assert {("a", "b"), ("b", "a"), ("a", "c"), ("j", "h")} <= seen
    centre, context = epoch_pairs(corpus, window=2, sample=0, rng=numpy.random.default_rng(1))
    distance = numpy.abs(centre - context)
    assert (distance == 1).sum() > (distance == 2).sum()


def test_subsampling_thins_frequent_words():
    corpus = _corpus([["the"] * 50 + ["cat", "dog"]] * 20)
    centre, _ = epoch_pairs(corpus, window=2, sample=1e-3, rng=numpy.random.default_rng(0))
    the = corpus.words.index("the")
    everything, _ = epoch_pairs(corpus, window=2, sample=0, rng=numpy.random.default_rng(0))
    assert (centre == the).sum() < 0.3 * (everything == the).sum()


@pytest.mark.parametrize("head,options", [("negative", {"n_samples": 5}), ("hierarchical", {}),
                                          ("nce", {"n_samples": 10}), ("sampled", {"n_samples": 20}),
                                          ("full", {})])
def test_vectors_learn_cooccurrence(head, options, tmp_path):
    """Two topics whose words only co-occur with each other: words end up closer to
    their own topic than to the other."""
    rng = numpy.random.default_rng(0)
    topics = [[f"a{i}" for i in range(8)], [f"b{i}" for i in range(8)]]
    lines = [" ".join(rng.choice(topics[k % 2], size=10)) for k in range(600)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kv, stats = train_skipgram(path, SkipGramSettings(head=head, head_options=options, vector_size=16,
                                                      min_count=1, sample=0, epochs=3, batch_size=256,
                                                      lr=0.02, threads=1), progress=False)
    assert stats["vocabulary"] == 16 and stats["pairs"] > 0
    within = numpy.mean([kv.similarity("a0", w) for w in topics[0][1:]])
    across = numpy.mean([kv.similarity("a0", w) for w in topics[1]])
    assert within > across + 0.3, (within, across)


def test_bad_settings_and_corpus(tmp_path):
    with pytest.raises(ConfigError, match="head must be one of"):
        SkipGramSettings(head="x").validate()
    with pytest.raises(ConfigError, match="window must be a positive integer"):
        SkipGramSettings(window=0).validate()
    path = tmp_path / "tiny.txt"
    path.write_text("a b c\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="occurs 5 times"):
        read_corpus_file(path, 5)
