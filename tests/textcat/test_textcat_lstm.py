"""The BiLSTM text classifier: architecture, component, serialization, bad input, spacy train."""

import json
import random
import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.training import Example

from tsunagu.callbacks import create_vectors_from_package
from tsunagu.components.architectures import torch_module
from tsunagu.corpora import read_corpus, sample_corpus_path
from tsunagu.errors import ConfigError, LabelError
from tsunagu.training import DocBinCorpus

from conftest import REPO

# Frozen embeddings: fine-tuning 20,000 x 300 vectors costs more than the LSTM here.
TINY = {"hidden_width": 32, "dropout": 0.1, "freeze_embeddings": True}


def blank_with_vectors():
    nlp = spacy.blank("ja", config={"nlp": {"tokenizer": {"@tokenizers": "tsunagu.JapaneseTokenizer.v1"}}})
    return create_vectors_from_package("ja_ginza")(nlp)


@pytest.fixture(scope="module")
def sample_examples():
    nlp = blank_with_vectors()
    records = list(read_corpus(sample_corpus_path()))
    labels = sorted({r.label for r in records})
    examples = [Example.from_dict(nlp.make_doc(r.text), {"cats": {l: float(l == r.label) for l in labels}})
                for r in records]
    random.Random(0).shuffle(examples)
    return nlp, examples[:240], examples[240:]


def train(nlp, examples, epochs, batch=16):
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(epochs):
        random.Random(0).shuffle(examples)
        for i in range(0, len(examples), batch):
            nlp.update(examples[i:i + batch], sgd=optimizer)
    return nlp


@pytest.fixture(scope="module")
def trained(sample_examples):
    vocab_nlp, train_set, _ = sample_examples
    nlp = blank_with_vectors()
    nlp.add_pipe("tsunagu_textcat_lstm", name="textcat_lstm", config={"model": TINY})
    train_set = [Example(nlp.make_doc(eg.reference.text), eg.reference) for eg in train_set]
    return train(nlp, train_set, epochs=8)


def test_architecture_and_component_register_through_entry_points():
    from importlib.metadata import entry_points

    names = {(ep.group, ep.name) for g in ("spacy_architectures", "spacy_factories", "spacy_readers",
                                          "spacy_batchers") for ep in entry_points(group=g)}
    assert ("spacy_architectures", "tsunagu.TextCatBiLSTM.v1") in names
    assert ("spacy_factories", "tsunagu_textcat_lstm") in names
    assert ("spacy_readers", "tsunagu.DocBinCorpus.v1") in names
    assert ("spacy_batchers", "tsunagu.batch_by_length.v1") in names
    assert spacy.registry.architectures.get("tsunagu.TextCatBiLSTM.v1")


def test_training_on_the_sample_learns_the_categories(trained, sample_examples):
    _, _, held_out = sample_examples
    examples = [Example(trained.make_doc(eg.reference.text), eg.reference) for eg in held_out]
    scores = trained.evaluate(examples)
    # 6 balanced categories: chance is about 0.17
    assert scores["cats_macro_f"] > 0.6, scores
    assert scores["cats_micro_f"] > 0.6 and "cats_score" in scores


def test_probabilities_attention_and_batch_order(trained):
    texts = ["野球の試合で逆転勝ちした", "新しいスマホのアプリが頻繁に落ちて困る。更新を待ちたい。", "株価", ""]
    batch = list(trained.pipe(texts))
    for text, doc in zip(texts, batch):
        alone = trained(text)
        assert sorted(doc.cats) == sorted(trained.get_pipe("textcat_lstm").labels)
        assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-5)
        # the batch is sorted by length inside the model; results come back in order
        assert [alone.cats[k] for k in doc.cats] == pytest.approx(list(doc.cats.values()), abs=1e-5)
        assert len(doc._.attention) == len(doc)
        if len(doc):
            assert sum(doc._.attention) == pytest.approx(1.0, abs=1e-5)
            assert min(doc._.attention) >= 0.0
    assert batch[0].cats["sports"] == max(batch[0].cats.values())
    # an empty document reads as one padding token: a prediction, no crash in torch
    assert batch[-1]._.attention == [] and batch[-1].cats


def test_to_disk_round_trip_and_int8_inference(trained, tmp_path, sample_examples):
    _, _, held_out = sample_examples
    trained.to_disk(tmp_path / "model")
    texts = [eg.reference.text for eg in held_out]
    before = [d.cats for d in trained.pipe(texts)]
    loaded = spacy.load(tmp_path / "model")
    after = [d.cats for d in loaded.pipe(texts)]
    for a, b in zip(before, after):
        assert list(a.values()) == pytest.approx(list(b.values()), abs=1e-6)

    import torch

    int8 = spacy.load(tmp_path / "model", config={"components.textcat_lstm.quantize": True})
    quantized = [d.cats for d in int8.pipe(texts)]
    module = torch_module(int8.get_pipe("textcat_lstm").model)
    assert isinstance(module.int8_copy().members[0].lstm, torch.ao.nn.quantized.dynamic.LSTM)
    top = lambda cats: max(cats, key=cats.get)  # noqa: E731
    agreement = numpy.mean([top(a) == top(b) for a, b in zip(before, quantized)])
    assert agreement >= 0.9
    assert max(abs(a[k] - b[k]) for a, b in zip(before, quantized) for k in a) < 0.1


def test_ensemble_averages_members_and_multilabel_uses_sigmoids(sample_examples):
    import torch

    _, train_set, _ = sample_examples
    nlp = blank_with_vectors()
    nlp.add_pipe("tsunagu_textcat_lstm", config={"exclusive_classes": False, "model": {
        **TINY, "ensemble_size": 2, "pooling": "max", "freeze_embeddings": True, "max_length": 8}})
    train(nlp, [Example(nlp.make_doc(eg.reference.text), eg.reference) for eg in train_set[:64]], epochs=1)
    component = nlp.get_pipe("tsunagu_textcat_lstm")
    module = torch_module(component.model)
    assert len(module.members) == 2 and len(module.embeddings) == 1  # frozen: one shared table
    assert not module.embeddings[0].weight.requires_grad
    doc = nlp("映画の主演俳優が新作の撮影について語った。公開は来年の春になる予定だという。")
    assert doc._.attention is None  # max pooling: no attention
    assert sum(doc.cats.values()) != pytest.approx(1.0, abs=1e-3)
    assert all(0.0 < v < 1.0 for v in doc.cats.values())
    # the output is the mean of the members' sigmoids over the first max_length tokens
    rows = nlp.vocab.vectors.find(keys=doc.to_array("NORM")[:8])
    ids = torch.tensor([[r if r >= 0 else module.oov_row for r in rows]])
    module.eval()
    with torch.no_grad():
        logits, _ = module(ids, torch.tensor([8]))
    expected = torch.sigmoid(logits).mean(dim=0)[0].numpy()
    assert list(doc.cats.values()) == pytest.approx(expected.tolist(), abs=1e-5)
    # max_length: the tokens past the 8th change nothing
    prefix = component(doc[:8].as_doc())
    assert list(prefix.cats.values()) == pytest.approx(list(doc.cats.values()), abs=1e-6)


def test_unknown_labels_and_broken_exclusive_cats_are_clear_errors(trained):
    doc = trained.make_doc("明日は雨が降るでしょう")
    unknown = Example.from_dict(doc, {"cats": {"weather": 1.0}})
    with pytest.raises(LabelError, match=r"'weather'.*does not know; its labels are economy, food"):
        trained.update([unknown])
    with pytest.raises(LabelError, match="'weather'"):
        trained.evaluate([unknown])
    two = Example.from_dict(trained.make_doc("試合と映画"), {"cats": {"sports": 1.0, "movies": 1.0}})
    with pytest.raises(LabelError, match="exactly one label.*exclusive_classes = false"):
        trained.update([two])


def test_vectors_other_than_the_trained_ones_are_a_clear_error(trained, tmp_path):
    trained.get_pipe("textcat_lstm").to_disk(tmp_path / "textcat")
    blank = spacy.blank("ja")
    component = blank.add_pipe("tsunagu_textcat_lstm", name="textcat_lstm", config={"model": TINY})
    with pytest.raises(ConfigError, match=r"trained with the vectors '.*' \(20000 x 300.* are '.*' \(0 x 0"):
        component.from_disk(tmp_path / "textcat", exclude=["vocab"])
    # other model settings: named, not a shape error from torch
    wide = blank_with_vectors().add_pipe("tsunagu_textcat_lstm", config={"model": {**TINY, "hidden_width": 64}})
    with pytest.raises(ConfigError, match=r"hidden_width = 32 \(saved\) vs 64 \(config\)"):
        wide.from_disk(tmp_path / "textcat", exclude=["vocab"])
    # vectors swapped after loading: caught before torch sees a row
    other = blank_with_vectors()
    other.add_pipe("tsunagu_textcat_lstm", name="textcat_lstm", config={"model": TINY}).from_disk(
        tmp_path / "textcat", exclude=["vocab"])
    from spacy.vectors import Vectors

    other.vocab.vectors = Vectors(strings=other.vocab.strings, shape=(10, 300), name="other")
    with pytest.raises(ConfigError, match="'other' \\(10 x 300"):
        other("試合")


def test_initialize_needs_vectors_and_two_labels(sample_examples):
    _, train_set, _ = sample_examples
    nlp = spacy.blank("ja")
    nlp.add_pipe("tsunagu_textcat_lstm", config={"model": TINY})
    examples = [Example(nlp.make_doc(eg.reference.text), eg.reference) for eg in train_set[:8]]
    with pytest.raises(ConfigError, match=r"no word vectors.*\[initialize\] vectors = \"ja_ginza\""):
        nlp.initialize(lambda: examples)
    one = blank_with_vectors()
    one.add_pipe("tsunagu_textcat_lstm", config={"model": TINY})
    single = [Example.from_dict(one.make_doc("試合"), {"cats": {"sports": 1.0}})]
    with pytest.raises(LabelError, match="at least two labels"):
        one.initialize(lambda: single)
    with pytest.raises(ConfigError, match="exclusive_classes = False but its model"):
        blank_with_vectors().add_pipe("tsunagu_textcat_lstm", config={
            "exclusive_classes": False, "model": {"exclusive_classes": True}})


def test_spacy_train_with_the_shipped_config_and_entry_points_only(cli, tmp_path):
    """One end-to-end run: to-spacy, then `python -m spacy train` (no --code), load, predict.
    spaCy runs in a fresh interpreter, which has not imported tsunagu: it must find
    tsunagu's registered functions through the entry points alone."""
    data = tmp_path / "data"
    cli("corpus", "to-spacy", sample_corpus_path(), data, "--no-progress")
    out = tmp_path / "training"
    proc = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(REPO / "configs" / "lstm_livedoor_title.cfg"),
         "-o", str(out), "--paths.train", str(data / "train.spacy"), "--paths.dev", str(data / "dev.spacy"),
         "--training.max_epochs", "3", "--training.eval_frequency", "5",
         "--components.textcat_lstm.model.hidden_width", "16",
         "--components.textcat_lstm.model.ensemble_size", "1"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CATS_MACRO_F" in proc.stdout
    nlp = spacy.load(out / "model-best")
    assert nlp.pipe_names == ["textcat_lstm"]
    doc = nlp("円安で輸出企業の株価が上がった")
    assert len(doc.cats) == 6 and len(doc._.attention) == len(doc)
    scores = nlp.evaluate(list(DocBinCorpus(data / "test.spacy")(nlp)))
    assert 0.0 <= scores["cats_macro_f"] <= 1.0
    # `spacy package` finds tsunagu as the pipeline's requirement through the entry points
    (tmp_path / "pkg").mkdir()
    proc = subprocess.run([sys.executable, "-m", "spacy", "package", str(out / "model-best"),
                           str(tmp_path / "pkg"), "--name", "lstm_test", "--version", "0.0.1",
                           "--build", "none"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    meta = json.loads((tmp_path / "pkg" / "ja_lstm_test-0.0.1" / "meta.json").read_text(encoding="utf-8"))
    assert any(r.startswith("tsunagu") for r in meta["requirements"])


def test_threads_follow_the_config_or_the_free_cpus():
    import torch

    from tsunagu.components.textcat_lstm import available_cpus, configure_threads, idle_cpus

    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1 == torch.get_num_threads()
        assert 1 <= idle_cpus() <= available_cpus()
        assert configure_threads(0) <= available_cpus()
        with pytest.raises(ConfigError, match="n_threads"):
            configure_threads(-1)
    finally:
        torch.set_num_threads(before)


def test_vectors_from_tsunagu_embed_train(tmp_path, sample_examples):
    from tsunagu.callbacks import create_vectors_from_embeddings
    from tsunagu.embeddings import Word2VecSettings, read_meta, train_embeddings

    out = tmp_path / "vectors"
    train_embeddings(sample_corpus_path(), out, Word2VecSettings(
        vector_size=16, window=3, min_count=1, epochs=2, sample=0.0, workers=1),
        cache_dir=tmp_path / "cache", progress=False)
    nlp = spacy.blank("ja", config={"nlp": {"tokenizer": {"@tokenizers": "tsunagu.JapaneseTokenizer.v1"}}})
    create_vectors_from_embeddings(str(out))(nlp)
    assert nlp.vocab.vectors.shape == (read_meta(out)["vectors"], 16)
    nlp.add_pipe("tsunagu_textcat_lstm", config={"model": {**TINY, "attr": "LEMMA"}})
    _, train_set, _ = sample_examples
    examples = [Example(nlp.make_doc(eg.reference.text), eg.reference) for eg in train_set[:48]]
    train(nlp, examples, epochs=1)
    doc = examples[0].predicted
    rows = nlp.vocab.vectors.find(keys=doc.to_array("LEMMA"))
    assert (rows >= 0).mean() > 0.8  # lemma keys, as the vectors were trained on
    assert len(nlp(doc.text).cats) == 6


def test_active_learning_retrains_the_lstm_component(trained, sample_examples, tmp_path):
    """The annotation loop's `--model DIR` works with this component, not only textcat."""
    from tsunagu.active.models import PipelineClassifier

    _, train_set, held_out = sample_examples
    labels = sorted(trained.get_pipe("textcat_lstm").labels)
    trained.to_disk(tmp_path / "lstm")
    model = PipelineClassifier(tmp_path / "lstm", labels, epochs=8, seed=0)
    texts = [eg.reference.text for eg in train_set]
    gold = [max(eg.reference.cats, key=eg.reference.cats.get) for eg in train_set]
    model.fit(texts, gold)
    probs = model.predict_proba([eg.reference.text for eg in held_out])
    assert probs.shape == (len(held_out), len(labels))
    truth = [labels.index(max(eg.reference.cats, key=eg.reference.cats.get)) for eg in held_out]
    assert (probs.argmax(1) == truth).mean() > 0.4  # 6 balanced classes: chance 0.17
