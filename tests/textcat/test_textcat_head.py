"""The BiLSTM classifier with a large-output head (``model.head``): learning a task
with hundreds of labels, label counts, top_k, serialization, the unchanged default,
row-sparse optimizer updates, `spacy train`, and clear errors for bad settings."""

import random

import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.vectors import Vectors
from thinc.api import SGD, Adam, PyTorchShim, RAdam

from tsunagu.components.architectures import torch_module
from tsunagu.components.sparse_rows import SparseRowsShim, lazy_adam_update
from tsunagu.errors import ConfigError
from tsunagu.heads import HierarchicalSoftmax, NegativeSampling

from conftest import cats_accuracy, predict_cats, spacy_train, start_training, textcat_nlp

N_LABELS = 300
SMALL = {"hidden_width": 32, "dropout": 0.0, "pooling": "max", "freeze_embeddings": True}


# Tiny models: one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Task:
    """N labels, each with its own word "k{i}" (a random vector); a document is
    that word among 0-3 filler words. Labels are skewed (p ∝ 1 / (1 + i / 30)),
    so that counts differ: the most frequent label ~10x the rarest."""

    def __init__(self, n_labels=N_LABELS, seed=0):
        self.nlp = spacy.blank("xx")
        rng = numpy.random.default_rng(seed)
        self.keys = [f"k{i}" for i in range(n_labels)]
        self.fillers = [f"f{i}" for i in range(40)]
        words = self.keys + self.fillers
        strings = self.nlp.vocab.strings
        self.nlp.vocab.vectors = Vectors(strings=strings, name="synthetic",
                                         data=rng.normal(size=(len(words), 32)).astype("float32"),
                                         keys=[strings.add(w) for w in words])
        self.labels = [f"L{i}" for i in range(n_labels)]
        weights = 1.0 / (1.0 + numpy.arange(n_labels) / 30.0)
        self.p = weights / weights.sum()
        self.rng = random.Random(seed)
        self.np_rng = numpy.random.default_rng(seed + 1)

    def words(self, y):
        words = [self.rng.choice(self.fillers) for _ in range(self.rng.randint(0, 3))]
        words.insert(self.rng.randint(0, len(words)), self.keys[y])
        return words

    def examples(self, n, vocab=None):
        vocab = vocab or self.nlp.vocab
        out = []
        for y in self.np_rng.choice(len(self.labels), size=n, p=self.p):
            words = self.words(y)
            # Only the positive label: with exclusive classes the absent ones are 0.
            out.append(Example.from_dict(Doc(vocab, words=words), {"cats": {self.labels[y]: 1.0}}))
        return out


@pytest.fixture(scope="module")
def task():
    return Task()


@pytest.fixture(scope="module")
def data(task):
    return task.examples(4000), task.examples(300)


def make_nlp(task, model=None, **component):
    return textcat_nlp(task.nlp.vocab, {**SMALL, **(model or {})}, **component)


def train(nlp, examples, steps, batch=64, learn_rate=0.01):
    optimizer = start_training(nlp, examples, learn_rate)
    losses = []
    for step in range(steps):
        i = (step * batch) % len(examples)
        losses.append(nlp.update(examples[i:i + batch], sgd=optimizer)["textcat"])
    return losses


@pytest.mark.parametrize("head,options", [("hierarchical", None), ("negative", {"n_samples": 5})])
def test_a_head_learns_hundreds_of_labels_from_the_label_counts(task, data, head, options):
    train_set, test_set = data
    nlp = make_nlp(task, {"head": head, "head_options": options}, top_k=5)
    losses = train(nlp, train_set, steps=250)
    component = nlp.get_pipe("textcat")
    module = torch_module(component.model)
    output = module.members[0].output
    assert isinstance(output, HierarchicalSoftmax if head == "hierarchical" else NegativeSampling)
    assert isinstance(component.model.layers[0].shims[0], SparseRowsShim)
    # Label counts come from the training examples, in the component's label order.
    gold = numpy.array([component.labels.index(next(iter(eg.reference.cats))) for eg in train_set])
    counts = numpy.bincount(gold, minlength=len(component.labels))
    assert module.dims["counts"].tolist() == counts.tolist()
    if head == "hierarchical":  # Huffman: the most frequent label sits higher in the tree
        depth = (output.path_signs != 0).sum(1)
        assert depth[counts.argmax()] < depth[counts.argmin()]
    else:  # negatives are drawn from counts ** 0.75
        expected = counts ** 0.75 / (counts ** 0.75).sum()
        assert numpy.allclose(output.noise.numpy(), expected, atol=1e-6)
    assert numpy.mean(losses[-20:]) < 0.5 * numpy.mean(losses[:5])
    cats = predict_cats(nlp, test_set)
    # 300 labels: chance ~0.003, the most frequent label ~0.01
    assert cats_accuracy(cats, test_set) > 0.6
    for c in cats:
        assert len(c) == 5
        values = list(c.values())
        assert values == sorted(values, reverse=True)
        assert 0.0 < values[-1] and sum(values) <= 1.0 + 1e-5
    # top_k = 0: every label, a distribution
    component.top_k = 0
    doc = component(Doc(nlp.vocab, words=task.words(0)))
    assert len(doc.cats) == N_LABELS
    assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-4)
    assert max(doc.cats, key=doc.cats.get) == "L0"


def test_top_k_keeps_the_scores_and_replaces_earlier_predictions(task, data):
    train_set, test_set = data
    nlp = make_nlp(task, {"head": "hierarchical"}, top_k=3)
    train(nlp, train_set, steps=60)
    component = nlp.get_pipe("textcat")
    doc = Doc(nlp.vocab, words=task.words(7))
    doc.cats["other_component"] = 1.0
    component(doc)
    first = dict(doc.cats)
    component.top_k = 0
    all_labels = component(Doc(nlp.vocab, words=[t.text for t in doc])).cats
    top3 = sorted(all_labels, key=all_labels.get, reverse=True)[:3]
    assert list(first) == ["other_component"] + top3
    assert [first[k] for k in top3] == pytest.approx([all_labels[k] for k in top3], abs=1e-6)
    # a second prediction replaces this component's labels, leaves the others
    component.top_k = 1
    component(doc)
    assert list(doc.cats) == ["other_component", top3[0]]
    # spaCy's scorer reads an absent label as 0: the same argmax scores as with every label
    examples = [Example(Doc(nlp.vocab, words=[t.text for t in eg.predicted]), eg.reference)
                for eg in test_set[:100]]
    scores = {}
    for k in (0, 1):
        component.top_k = k
        scores[k] = nlp.evaluate(examples)
    for key in ("cats_micro_f", "cats_macro_f", "cats_macro_p", "cats_macro_r"):
        assert scores[1][key] == pytest.approx(scores[0][key]), key
    assert scores[0]["cats_micro_f"] > 0.05


def test_scores_with_top_k_are_spacys_scores(task):
    """The linear-time scorer used with top_k against spaCy's Scorer.score_cats, on
    hand-made predictions with ties, zeros, unseen labels and unannotated documents."""
    from spacy.scorer import Scorer

    rng = random.Random(0)
    nlp = make_nlp(task, top_k=3)
    component = nlp.get_pipe("textcat")
    labels = [f"L{i}" for i in range(40)]
    for label in labels:
        component.add_label(label)
    examples = []
    for i in range(120):
        words = task.words(rng.randrange(40))
        predicted, reference = Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words)
        for label in rng.sample(labels[:30], 3):  # L30.. are never predicted
            predicted.cats[label] = rng.choice([0.0, 0.1, 0.25, 0.5, rng.random()])
        if i % 10:  # every tenth document is not annotated
            reference.cats = {rng.choice(labels[:35] if i % 3 else list(predicted.cats)): 1.0}
        examples.append(Example(predicted, reference))
    fast = component._score_sparse(examples, component._label_index())
    assert component.score(examples) == fast  # score() takes this path with top_k
    slow = Scorer.score_cats(examples, "cats", labels=labels, multi_label=False)
    assert list(fast) == list(slow)
    for key, value in slow.items():
        if key.endswith("auc") or key == "cats_auc_per_type":
            continue
        assert fast[key] == value, key  # the same PRFScore arithmetic: the same floats
    assert fast["cats_macro_auc"] == pytest.approx(slow["cats_macro_auc"], abs=1e-12)
    assert fast["cats_auc_per_type"].keys() == slow["cats_auc_per_type"].keys()
    for label, auc in slow["cats_auc_per_type"].items():
        assert (auc is None) == (fast["cats_auc_per_type"][label] is None), label
        if auc is not None:
            assert fast["cats_auc_per_type"][label] == pytest.approx(auc, abs=1e-12), label
    assert 0.0 < fast["cats_micro_f"] < 1.0 and 0.0 < fast["cats_macro_auc"] < 1.0


def test_to_disk_round_trip_gives_identical_predictions(task, data, tmp_path):
    train_set, test_set = data
    nlp = make_nlp(task, {"head": "negative", "head_options": {"n_samples": 4}, "ensemble_size": 2,
                          "pooling": "attention"}, top_k=4)
    train(nlp, train_set[:1000], steps=15)
    before = predict_cats(nlp, test_set[:50])
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("textcat").top_k == 4
    after = predict_cats(loaded, test_set[:50])
    assert after == before  # the same labels, in the same order, with the same floats
    module = torch_module(loaded.get_pipe("textcat").model)
    assert module.head == "negative" and module.head_options["n_samples"] == 4
    assert isinstance(loaded.get_pipe("textcat").model.layers[0].shims[0], SparseRowsShim)
    # component bytes, into a pipeline built from the same config
    fresh = make_nlp(task, {"head": "negative", "head_options": {"n_samples": 4},
                            "ensemble_size": 2, "pooling": "attention"}, top_k=4)
    fresh.get_pipe("textcat").from_bytes(nlp.get_pipe("textcat").to_bytes())
    assert predict_cats(fresh, test_set[:50]) == before
    # and it trains on after loading
    optimizer = loaded.resume_training()
    assert loaded.update(train_set[:32], sgd=optimizer)["textcat"] > 0
    assert predict_cats(loaded, test_set[:50]) != before
    # a config without the head (or with another) cannot take these weights
    with pytest.raises(ConfigError, match=r"head = 'negative' \(saved\) vs None \(config\)"):
        spacy.load(tmp_path / "model", config={"components.textcat.model.head": None,
                                                "components.textcat.model.head_options": None})
    with pytest.raises(ConfigError, match=r"head = 'negative' \(saved\) vs 'sampled' \(config\)"):
        spacy.load(tmp_path / "model", config={"components.textcat.model.head": "sampled"})
    with pytest.raises(ConfigError, match=r"head_options.power = 0.75 \(saved\) vs 0.5 \(config\)"):
        spacy.load(tmp_path / "model", config={"components.textcat.model.head_options.power": 0.5})
    # options of training only may change: the same model, trained on with 8 samples
    eight = spacy.load(tmp_path / "model",
                       config={"components.textcat.model.head_options.n_samples": 8})
    assert predict_cats(eight, test_set[:50]) == before
    assert torch_module(eight.get_pipe("textcat").model).members[0].output.n_samples == 8


def test_default_is_the_dense_output_layer_and_the_full_head_matches_it(task, data, monkeypatch):
    train_set, test_set = data
    dense = make_nlp(task)
    component = dense.get_pipe("textcat")
    calls = []
    original = type(component).get_loss
    monkeypatch.setattr(type(component), "get_loss",
                        lambda self, examples, scores: calls.append(scores.shape) or original(
                            self, examples, scores))
    train(dense, train_set[:640], steps=10, learn_rate=0.005)
    module = torch_module(component.model)
    assert module.head is None and "counts" not in module.dims and "head" not in module.settings()
    assert isinstance(module.members[0].output, torch.nn.Linear)
    assert type(component.model.layers[0].shims[0]) is PyTorchShim
    # trained through get_loss's dense P - Y, over every label
    assert calls and all(shape == (64, len(component.labels)) for shape in calls)
    cats = predict_cats(dense, test_set[:40])
    assert all(len(c) == len(component.labels) and sum(c.values()) == pytest.approx(1.0, abs=1e-4)
               for c in cats)
    monkeypatch.undo()
    # head = "full": the same softmax, the same initial weights (same seed), and the
    # loss gradient fed back at the scale of P - Y (d_loss = number of documents).
    full = make_nlp(task, {"head": "full"})
    assert type(full.get_pipe("textcat").model.layers[0].shims[0]) is SparseRowsShim
    grads = []
    for nlp in (make_nlp(task), make_nlp(task, {"head": "full"})):
        nlp.initialize(lambda: train_set[:640])
        nlp.update(train_set[:64], sgd=False)  # no optimizer step: the gradients stay
        output = torch_module(nlp.get_pipe("textcat").model).members[0].output
        grads.append(getattr(output, "linear", output).weight.grad.clone())
    assert grads[0].abs().max() > 0
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-7)
    train(full, train_set[:640], steps=10, learn_rate=0.005)
    full_cats = predict_cats(full, test_set[:40])
    assert max(abs(a[k] - b[k]) for a, b in zip(cats, full_cats) for k in a) < 1e-4


def test_bad_settings_are_clear_errors(task):
    with pytest.raises(ConfigError,
                       match=r"head = 'hierarchical' needs exclusive classes.*head = null"):
        make_nlp(task, {"head": "hierarchical"}, exclusive_classes=False)
    with pytest.raises(ConfigError, match="needs exclusive classes"):
        make_nlp(task, {"head": "negative", "exclusive_classes": False}, exclusive_classes=False)
    with pytest.raises(ConfigError, match=r"Unknown head 'softmaxx'.*full, hierarchical, negative"):
        make_nlp(task, {"head": "softmaxx"})
    with pytest.raises(ConfigError, match="n_samples must be a positive integer"):
        make_nlp(task, {"head": "negative", "head_options": {"n_samples": 0}})
    with pytest.raises(ConfigError, match="unexpected keyword argument 'n_samples'"):
        make_nlp(task, {"head": "hierarchical", "head_options": {"n_samples": 5}})
    with pytest.raises(ConfigError, match="head_options .* but head is null"):
        make_nlp(task, {"head_options": {"n_samples": 5}})
    with pytest.raises(ConfigError, match="top_k must be an integer >= 0"):
        make_nlp(task, top_k=-1)
    # a head model cannot be trained through P - Y (spaCy's own textcat would try)
    nlp = make_nlp(task, {"head": "hierarchical"})
    examples = task.examples(8)
    nlp.initialize(lambda: examples)
    model = nlp.get_pipe("textcat").model
    probs, backprop = model.begin_update([eg.predicted for eg in examples])
    assert probs.shape == (8, len(nlp.get_pipe("textcat").labels))
    with pytest.raises(ConfigError, match="trained on the head's own loss"):
        backprop(probs)


def test_lazy_adam_on_rows_equals_thinc_adam_and_leaves_other_rows():
    torch.manual_seed(0)
    for decay in (True, False):
        settings = dict(learn_rate=0.01, L2=0.1, grad_clip=0.5, L2_is_weight_decay=decay,
                        use_averages=False)
        dense, lazy = Adam(**settings), Adam(**settings)
        start = torch.randn(6, 4)
        weights = start.numpy().copy()
        param = torch.nn.Parameter(start.clone())
        for _ in range(3):
            # every row touched, one twice: the update must equal dense Adam's
            index = torch.tensor([[0, 1, 2, 3, 4, 5, 2]])
            param.grad = sparse(index, torch.randn(7, 4), (6, 4))
            weights, _ = dense(("k", "w"), weights, param.grad.to_dense().numpy().copy())
            assert lazy_adam_update(lazy, ("k", "w"), param)
            assert numpy.allclose(param.data.numpy(), weights, atol=1e-6)
    before = param.data.clone()
    param.grad = sparse(torch.tensor([[1, 4]]), torch.randn(2, 4), (6, 4))
    assert lazy_adam_update(Adam(0.01), ("k", "w"), param)
    assert (param.data != before).any(1).tolist() == [False, True, False, False, True, False]
    # not Adam: not handled here (the shim falls back to thinc's dense update)
    assert not lazy_adam_update(RAdam(0.01), ("k", "w"), param)
    assert not lazy_adam_update(SGD(0.01), ("k", "w"), param)


def test_the_shim_updates_sparse_rows_lazily_and_densifies_for_other_optimizers():
    torch.manual_seed(0)
    table = torch.nn.Embedding(6, 3, sparse=True)
    shim = SparseRowsShim(table)
    for name, optimizer in (("adam", Adam(0.1)), ("sgd", SGD(0.1, L2=0.0, grad_clip=0.0))):
        before = table.weight.data.clone()
        table(torch.tensor([0, 3, 3])).pow(2).sum().backward()
        grad = table.weight.grad.to_dense()
        shim.finish_update(optimizer)
        assert table.weight.grad is None or not table.weight.grad.is_sparse
        changed = (table.weight.data != before).any(1).tolist()
        assert changed == [True, False, False, True, False, False]
        if name == "sgd":  # densified, then thinc's w - lr * g
            assert torch.allclose(table.weight.data, before - 0.1 * grad)


def sparse(index, values, size):
    return torch.sparse_coo_tensor(index, values, size, check_invariants=True)


def test_spacy_train_with_a_head(task, data, tmp_path, capsys):
    """`spacy train` with model.head set, then spacy.load and predict."""
    train_set, test_set = data
    task.nlp.to_disk(tmp_path / "vectors")  # a pipeline holding the vectors
    known = {label for eg in train_set[:1500] for label in eg.reference.cats}
    test_set = [eg for eg in test_set if next(iter(eg.reference.cats)) in known]
    for name, examples in (("train", train_set[:1500]), ("dev", test_set[:100])):
        DocBin(docs=[eg.reference for eg in examples], store_user_data=False).to_disk(
            tmp_path / f"{name}.spacy")
    config = tmp_path / "head.cfg"
    config.write_text(SPACY_CONFIG, encoding="utf-8")
    out = tmp_path / "training"
    # On one torch thread (the module's one_torch_thread), as OMP_NUM_THREADS=1 would.
    spacy_train(config, out, "--paths.train", tmp_path / "train.spacy", "--paths.dev", tmp_path / "dev.spacy",
                "--paths.vectors", tmp_path / "vectors")
    assert "CATS_SCORE" in capsys.readouterr().out
    nlp = spacy.load(out / "model-last")
    assert torch_module(nlp.get_pipe("textcat").model).head == "hierarchical"
    examples = [Example(nlp.make_doc(eg.reference.text), eg.reference) for eg in test_set[:100]]
    docs = [nlp(eg.reference.text) for eg in examples[:5]]
    assert all(len(doc.cats) == 3 for doc in docs)
    assert nlp.evaluate(examples)["cats_micro_f"] > 0.3  # 300 labels


SPACY_CONFIG = """
[paths]
train = null
dev = null
vectors = null

[system]
seed = 0
gpu_allocator = null

[nlp]
lang = "xx"
pipeline = ["textcat"]
batch_size = 256

[components]

[components.textcat]
factory = "tsunagu_textcat_lstm"
exclusive_classes = true
n_threads = 1
top_k = 3

[components.textcat.model]
@architectures = "tsunagu.TextCatBiLSTM.v1"
hidden_width = 32
dropout = 0.0
pooling = "max"
freeze_embeddings = true
head = "hierarchical"

[components.textcat.model.head_options]
tree = "huffman"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}

[training]
seed = ${system.seed}
gpu_allocator = ${system.gpu_allocator}
dropout = 0.0
max_epochs = 0
max_steps = 150
eval_frequency = 75
patience = 0

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = 64

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.01
grad_clip = 1.0
L2 = 0.0
use_averages = false

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"
progress_bar = false

[initialize]
vectors = ${paths.vectors}
"""
