"""The BiLSTM classifier's bag-of-words branch (``model.bow``): it reads the tokens
past ``max_length`` and words without a vector, serialization and int8 inference
with it, the unchanged default, the hashing, row-sparse updates and bad settings."""

import random

import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vectors import Vectors
from thinc.api import Adam, PyTorchShim, fix_random_seed

from tsunagu.components.architectures import bow_features, torch_module
from tsunagu.components.sparse_rows import SparseRowsShim
from tsunagu.errors import ConfigError

from conftest import cats_accuracy, predict_cats, start_training, textcat_nlp

MAX_LENGTH = 6
SMALL = {"hidden_width": 16, "dropout": 0.0, "pooling": "attention", "freeze_embeddings": True,
         "max_length": MAX_LENGTH}
BOW = {"bow": True, "bow_buckets": 2 ** 14}


# Tiny models: one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Task:
    """4 labels. A document is MAX_LENGTH random filler words (with vectors), then the
    label's key word "k{y}" (no vector: out of the vectors' vocabulary), then 0-2 more
    fillers. The LSTM reads only the first MAX_LENGTH tokens, which say nothing about
    the label: without the bag of words the classifier is at chance (0.25)."""

    def __init__(self, seed=0):
        self.nlp = spacy.blank("xx")
        rng = numpy.random.default_rng(seed)
        self.fillers = [f"f{i}" for i in range(30)]
        strings = self.nlp.vocab.strings
        self.nlp.vocab.vectors = Vectors(strings=strings, name="synthetic",
                                         data=rng.normal(size=(len(self.fillers), 16)).astype("float32"),
                                         keys=[strings.add(w) for w in self.fillers])
        self.labels = [f"L{i}" for i in range(4)]
        self.rng = random.Random(seed)

    def examples(self, n):
        out = []
        for _ in range(n):
            y = self.rng.randrange(len(self.labels))
            words = [self.rng.choice(self.fillers) for _ in range(MAX_LENGTH)] + [f"k{y}"]
            words += [self.rng.choice(self.fillers) for _ in range(self.rng.randint(0, 2))]
            cats = {label: float(j == y) for j, label in enumerate(self.labels)}
            out.append(Example.from_dict(Doc(self.nlp.vocab, words=words), {"cats": cats}))
        return out


@pytest.fixture(scope="module")
def task():
    return Task()


@pytest.fixture(scope="module")
def data(task):
    return task.examples(800), task.examples(200)


def make_nlp(task, model=None, **component):
    return textcat_nlp(task.nlp.vocab, {**SMALL, **(model or {})}, **component)


def train(nlp, examples, epochs=3, batch=32, learn_rate=0.01):
    optimizer = start_training(nlp, examples, learn_rate)
    for _ in range(epochs):
        for i in range(0, len(examples), batch):
            nlp.update(examples[i:i + batch], sgd=optimizer)
    return nlp


@pytest.fixture(scope="module")
def trained(task, data):
    return train(make_nlp(task, BOW), data[0])


def test_bow_reads_the_tokens_past_max_length(task, data, trained):
    _, test_set = data
    with_bow = cats_accuracy(predict_cats(trained, test_set), test_set)
    without = cats_accuracy(predict_cats(train(make_nlp(task), data[0]), test_set), test_set)
    # 4 balanced labels: chance is 0.25. The key word is past max_length and has no
    # vector: only the bag of words sees it, by its own hash.
    assert with_bow > 0.9, (with_bow, without)
    assert without < 0.5, (with_bow, without)
    assert with_bow > without + 0.4


def test_round_trip_int8_and_attention(trained, data, tmp_path):
    _, test_set = data
    before = predict_cats(trained, test_set)
    trained.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    after = predict_cats(loaded, test_set)
    for a, b in zip(before, after):
        assert list(a.values()) == pytest.approx(list(b.values()), abs=1e-7)
    module = torch_module(loaded.get_pipe("textcat").model)
    assert module.settings()["bow"] is True and len(module.bows) == 1
    assert torch.equal(module.bows[0].weight, torch_module(trained.get_pipe("textcat").model).bows[0].weight)

    int8 = spacy.load(tmp_path / "model", config={"components.textcat.quantize": True})
    quantized = predict_cats(int8, test_set)
    copy = torch_module(int8.get_pipe("textcat").model).int8_copy()
    assert isinstance(copy.members[0].lstm, torch.ao.nn.quantized.dynamic.LSTM)
    assert type(copy.bows[0]) is torch.nn.EmbeddingBag  # the bag of words stays float
    assert cats_accuracy(quantized, test_set) > 0.9
    assert max(abs(a[k] - b[k]) for a, b in zip(before, quantized) for k in a) < 0.1

    doc = loaded(" ".join(t.text for t in test_set[0].predicted))
    weights = doc._.attention
    assert len(weights) == len(doc) and sum(weights) == pytest.approx(1.0, abs=1e-5)
    assert weights[MAX_LENGTH:] == [0.0] * (len(doc) - MAX_LENGTH)  # past max_length: unread

    # a saved bag of words with a config without one (or another size): named, not a torch error
    with pytest.raises(ConfigError, match=r"bow = True \(saved\) vs False \(config\)"):
        spacy.load(tmp_path / "model", config={"components.textcat.model.bow": False})
    with pytest.raises(ConfigError, match=r"bow_buckets = 16384 \(saved\) vs 1024 \(config\)"):
        spacy.load(tmp_path / "model", config={"components.textcat.model.bow_buckets": 1024})


def test_default_is_unchanged_and_bow_only_adds_the_tables(task, data):
    train_set, test_set = data
    plain, bow = make_nlp(task, {"ensemble_size": 2}), make_nlp(task, {**BOW, "ensemble_size": 2})
    for nlp in (plain, bow):
        fix_random_seed(0)
        nlp.initialize(lambda: train_set[:64])
    a, b = (torch_module(n.get_pipe("textcat").model) for n in (plain, bow))
    assert a.bows is None and not any(k.startswith("bows") for k in a.state_dict())
    assert not set(a.settings()) & {"bow", "bow_buckets", "bow_ngrams"}
    assert type(plain.get_pipe("textcat").model.layers[0].shims[0]) is PyTorchShim
    assert type(bow.get_pipe("textcat").model.layers[0].shims[0]) is SparseRowsShim
    assert set(b.state_dict()) - set(a.state_dict()) == {"bows.0.weight", "bows.1.weight"}
    # One zero-initialized table per member; the members' own weights are those of bow = false
    # (no random numbers drawn for the tables), so the untrained models predict the same.
    assert b.bows[0].weight.shape == (2 ** 14, 4) and not b.bows[1].weight.any()
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert predict_cats(plain, test_set[:20]) == predict_cats(bow, test_set[:20])
    config = plain.config["components"]["textcat"]["model"]
    assert config["bow"] is False and config["bow_buckets"] == 2 ** 18 and config["bow_ngrams"] == 2


def test_bow_updates_only_the_rows_of_the_batch(task, data):
    train_set, _ = data
    nlp = make_nlp(task, {**BOW, "bow_ngrams": 1})
    fix_random_seed(0)
    nlp.initialize(lambda: train_set)
    model = nlp.get_pipe("textcat").model
    module = torch_module(model)
    batch = train_set[:16]
    nlp.update(batch, sgd=False)
    grad = module.bows[0].weight.grad
    assert grad is not None and grad.is_sparse
    keys = [eg.predicted.to_array("NORM") for eg in batch]
    features, _ = bow_features(keys, 2 ** 14, ngrams=1)
    assert set(grad.coalesce().indices()[0].tolist()) == set(features.tolist())
    model.finish_update(Adam(learn_rate=0.01))
    changed = set(module.bows[0].weight.abs().sum(1).nonzero()[:, 0].tolist())
    assert changed == set(features.tolist())  # lazy Adam: the other rows stay zero


def test_multilabel_ensemble_with_bow(task, data):
    train_set, test_set = data
    nlp = make_nlp(task, {**BOW, "ensemble_size": 2, "pooling": "max"}, exclusive_classes=False)
    train(nlp, train_set[:128], epochs=1)
    module = torch_module(nlp.get_pipe("textcat").model)
    assert len(module.bows) == 2 and module.bows[0].weight.abs().sum() > 0
    cats = predict_cats(nlp, test_set[:10])
    assert all(0.0 < v < 1.0 for c in cats for v in c.values())
    assert any(abs(sum(c.values()) - 1.0) > 1e-3 for c in cats)  # sigmoids, not a softmax


def test_hashing_is_vectorised_ordered_and_per_document():
    rng = numpy.random.default_rng(0)
    keys = [rng.integers(0, 2 ** 63, size=n, dtype="uint64") for n in (3, 0, 1, 4)]
    features, offsets = bow_features(keys, 1 << 20, ngrams=2)
    # unigrams then bigrams of each document, one after the other; none across documents
    assert offsets.tolist() == [0, 5, 5, 6] and len(features) == 6 + 7
    assert features.dtype == offsets.dtype == numpy.int64
    assert ((features >= 0) & (features < 1 << 20)).all()
    alone = [bow_features([k], 1 << 20)[0] for k in keys]
    assert numpy.array_equal(numpy.concatenate(alone), features)  # independent of the batch
    # a bigram is an ordered pair, and not one of the unigrams
    ab, ba = bow_features([keys[0][:2]], 1 << 20)[0], bow_features([keys[0][1::-1]], 1 << 20)[0]
    assert ab[2] != ba[2] and ab[2] not in ab[:2]
    uni, uni_offsets = bow_features(keys, 1 << 20, ngrams=1)
    assert uni_offsets.tolist() == [0, 3, 3, 4] and numpy.array_equal(uni[:3], features[:3])
    # fixed: the same buckets in every process and version (saved tables depend on them)
    assert bow_features([numpy.array([1, 2], dtype="uint64")], 1 << 18)[0].tolist() == \
        [76832, 218830, 90628]


def test_bad_bow_settings_are_clear_errors(task):
    with pytest.raises(ConfigError, match=r"bow = true and head = 'hierarchical' cannot be combined"):
        make_nlp(task, {**BOW, "head": "hierarchical"})
    with pytest.raises(ConfigError, match="bow_ngrams must be 1 .* or 2"):
        make_nlp(task, {**BOW, "bow_ngrams": 3})
    with pytest.raises(ConfigError, match="bow_buckets must be an integer >= 1"):
        make_nlp(task, {**BOW, "bow_buckets": 0})


def test_truncated_weights_in_a_saved_pipeline_name_the_component(trained, tmp_path):
    from tsunagu.errors import ModelLoadError

    trained.to_disk(tmp_path / "model")
    weights = tmp_path / "model" / "textcat" / "model"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="component 'textcat'.*truncated or corrupt"):
        spacy.load(tmp_path / "model")
