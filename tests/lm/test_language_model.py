"""The LSTM language model with each head, its CLI, its spaCy component, resuming and
bad input."""

import json
import math

import pytest
import spacy
import torch

from tsunagu.corpora import read_corpus, sample_corpus_path
from tsunagu.errors import ConfigError, ModelLoadError, ModelNotFoundError
from tsunagu.language_model import (CHECKPOINT_FORMAT, LanguageModelError, LMSettings, LSTMLanguageModel, Vocabulary,
                                    load_language_model, perplexity, stream_of, train_language_model)
from tsunagu.tokenized import keys_of_text

TINY = dict(embed_size=24, hidden_size=48, batch_size=8, bptt=20, min_count=1, threads=1)


@pytest.fixture(scope="module")
def sentences():
    return [s for r in read_corpus(sample_corpus_path()) for s in keys_of_text(r.text, "orth", "C")]


@pytest.fixture(scope="module")
def trained(sentences, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "model"
    meta = train_language_model(sentences[:270], sentences[270:], out, LMSettings(epochs=6, **TINY),
                                meta={"key": "orth", "split_mode": "C"}, progress=False)
    return out, meta


def test_training_beats_an_untrained_model_and_uniform(trained, sentences):
    out, meta = trained
    model, vocab, saved_meta = load_language_model(out)
    assert saved_meta["valid_perplexity"] == pytest.approx(meta["valid_perplexity"])
    train_stream = stream_of(sentences[:270], vocab)
    learned = perplexity(model, train_stream)
    fresh = LSTMLanguageModel(len(vocab), model.settings, counts=vocab.counts).eval()
    assert learned < perplexity(fresh, train_stream) / 3
    assert meta["valid_perplexity"] < len(vocab)
    assert meta["training"]["loss_per_epoch"][-1] < meta["training"]["loss_per_epoch"][0]


@pytest.mark.parametrize("head,options", [("full", {}), ("negative", {"n_samples": 8}), ("nce", {}),
                                          ("sampled", {"n_samples": 64}), ("hierarchical", {"tree": "balanced"})])
def test_every_head_trains_a_language_model(head, options, sentences, tmp_path):
    meta = train_language_model(sentences[:270], sentences[270:], tmp_path / head,
                                LMSettings(head=head, head_options=options, epochs=3, **TINY), progress=False)
    assert math.isfinite(meta["valid_perplexity"]) and meta["valid_perplexity"] < meta["vocabulary"]


def test_component_scores_tokens_and_documents(trained, sentences, tmp_path):
    out, _ = trained
    nlp = spacy.blank("ja")
    nlp.add_pipe("tsunagu_language_model", config={"model": str(out)})
    text = "".join(sentences[3])
    doc = nlp(text)
    assert all(t._.surprisal is not None and t._.surprisal >= 0 for t in doc)
    shuffled = nlp("".join(reversed([t.text for t in doc])))
    # A sentence the model was trained on is far likelier than its tokens reversed.
    assert doc._.perplexity < shuffled._.perplexity
    docs = list(nlp.pipe([text, "", "未知語ばかりの文ですけれども"]))
    assert docs[0]._.perplexity == pytest.approx(doc._.perplexity, rel=1e-4)
    assert math.isfinite(docs[1]._.perplexity)  # an empty document: only </s> is predicted
    nlp.to_disk(tmp_path / "pipeline")
    again = spacy.load(tmp_path / "pipeline")
    assert again(text)._.perplexity == pytest.approx(doc._.perplexity, rel=1e-4)


def test_cli_train_and_eval(cli, tmp_path):
    out = tmp_path / "cli-lm"
    result = cli("lm", "train", str(sample_corpus_path()), "-o", str(out), "--head", "negative",
                 "--head-option", "n_samples=8", "--embed-size", "16", "--hidden-size", "32",
                 "--min-count", "1", "--epochs", "1", "--batch-size", "8", "--no-progress",
                 "--valid-percent", "10", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert "held-out perplexity" in result.stdout
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["settings"]["head"] == "negative" and meta["settings"]["head_options"] == {"n_samples": 8}
    result = cli("lm", "eval", str(out), str(sample_corpus_path()))
    assert result.returncode == 0 and result.stdout.startswith("perplexity ")
    bad = cli("lm", "train", str(sample_corpus_path()), "-o", str(out), "--head-option", "oops",
              check=False)
    assert bad.returncode == 1 and "KEY=VALUE" in bad.stderr


def test_interrupted_training_resumes(sentences, tmp_path, monkeypatch):
    settings = LMSettings(epochs=2, **TINY)
    calls = {"n": 0}
    real_step = torch.optim.Adam.step

    def interrupting_step(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 40:  # in the second epoch (30 batches per epoch)
            raise KeyboardInterrupt
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", interrupting_step)
    with pytest.raises(KeyboardInterrupt):
        train_language_model(sentences[:270], sentences[270:], tmp_path / "m", settings, progress=False)
    checkpoint = tmp_path / "m.partial" / "checkpoint.pt"
    assert checkpoint.exists() and not (tmp_path / "m").exists()
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)
    meta = train_language_model(sentences[:270], sentences[270:], tmp_path / "m", settings, progress=False)
    assert meta["training"]["epochs_done"] == 2 and not checkpoint.parent.exists()
    # Other settings must not silently continue someone else's checkpoint.
    checkpoint.parent.mkdir()
    torch.save({"format": CHECKPOINT_FORMAT, "settings": "{}", "vocab": []}, checkpoint)
    with pytest.raises(LanguageModelError, match="belongs to other settings"):
        train_language_model(sentences[:270], sentences[270:], tmp_path / "m", settings, progress=False,
                             overwrite=True)


def test_bad_input(tmp_path, sentences, trained):
    with pytest.raises(ConfigError, match="head must be one of"):
        LMSettings(head="softmax").validate()
    with pytest.raises(LanguageModelError, match="too few"):
        train_language_model([["a", "b"]], [], tmp_path / "x", LMSettings(min_count=1), progress=False)
    with pytest.raises(ModelNotFoundError, match="model.pt missing"):
        load_language_model(tmp_path / "nothing")
    out, _ = trained
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("vocab.tsv", "meta.json"):
        (broken / name).write_bytes((out / name).read_bytes())
    (broken / "model.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(ModelLoadError, match="model.pt .*corrupt or incompatible.*retrain"):
        load_language_model(broken)
    with pytest.raises(LanguageModelError, match="starts with <unk>"):
        Vocabulary(["a", "b"], [1, 1])
