"""Models over spaCy and the simulated loop (on the shipped 300-document sample)."""

import csv
import json

import numpy as np
import pytest
import spacy

from tsunagu.active import ActiveLearningError
from tsunagu.active.models import BowTextcat, DocCache, PipelineClassifier
from tsunagu.active.simulate import (SimulationSettings, area_under_curve, labels_to_reach,
                                     run_simulations, split_records)
from tsunagu.cli import main
from tsunagu.errors import ConfigError
from tsunagu.corpora import read_corpus, sample_corpus_path


@pytest.fixture(scope="module")
def sample():
    recs = [r for r in read_corpus(sample_corpus_path())]
    parts = split_records(recs, (0.7, 0.0, 0.3), seed=0)
    labels = sorted({r.label for r in recs})
    return parts["train"], parts["test"], labels


@pytest.fixture(scope="module")
def cache():
    return DocCache(spacy.blank("ja"))  # no vectors: hashed bag-of-words doc vectors


def accuracy(model, recs):
    return float(np.mean(np.array(model.predict([r.text for r in recs])) == np.array([r.label for r in recs])))


def test_split_is_stratified_and_reproducible(sample):
    recs = list(read_corpus(sample_corpus_path()))
    a, b = split_records(recs, (0.8, 0.1, 0.1), seed=3), split_records(list(reversed(recs)), (0.8, 0.1, 0.1), seed=3)
    assert [r.id for r in a["test"]] == [r.id for r in b["test"]]
    assert {r.label for r in a["test"]} == {r.label for r in recs} and len(a["test"]) == 30
    assert not {r.id for r in a["train"]} & {r.id for r in a["test"]}
    with pytest.raises(ConfigError, match="summing to 1"):  # the split of `corpus to-spacy` (tsunagu.splits)
        split_records(recs, (0.5, 0.1))


def test_bow_textcat_learns_and_retrains_from_scratch(sample, cache):
    train, test, labels = sample
    m = BowTextcat(labels, cache=cache, seed=0)
    assert np.allclose(m.predict_proba(["x", "y"]), 1 / len(labels))  # unfitted: uniform
    m.fit([r.text for r in train], [r.label for r in train])
    p = m.predict_proba([r.text for r in test])
    assert p.shape == (len(test), len(labels)) and np.allclose(p.sum(axis=1), 1, atol=1e-4)
    # chance is 1/6. Over the split seeds 0-7 of the 70/30 split it is 0.48-0.68 (mean
    # 0.55); 0.6 held for the split seed 0 of the former `al simulate` rule only.
    assert accuracy(m, test) > 0.45
    # refitting on two examples forgets the rest (from scratch, not fine-tuning)
    m.fit([train[0].text, train[1].text], [train[0].label, train[1].label])
    assert accuracy(m, test) < 0.5
    assert m.doc_vectors([r.text for r in test[:3]]).shape == (3, 1024)
    with pytest.raises(ActiveLearningError, match="not one of"):
        m.fit(["a"], ["nolabel"])


def test_pipeline_classifier_retrains_a_saved_textcat(sample, tmp_path, cache):
    train, test, labels = sample
    nlp = spacy.blank("ja")
    nlp.add_pipe("textcat", config={"model": {"@architectures": "spacy.TextCatBOW.v3",
                                              "exclusive_classes": True, "ngram_size": 1,
                                              "no_output_layer": False, "length": 2 ** 14}})
    nlp.to_disk(tmp_path / "pipe")
    m = PipelineClassifier(tmp_path / "pipe", labels, epochs=8, seed=0)
    assert np.allclose(m.predict_proba(["x"]), 1 / len(labels))
    m.fit([r.text for r in train], [r.label for r in train])
    assert accuracy(m, test) > 0.6
    c = m.clone(seed=1).fit([r.text for r in train[:20]], [r.label for r in train[:20]])
    assert c.train_texts == [r.text for r in train[:20]] and m.fitted
    with pytest.raises(ActiveLearningError, match="no spaCy pipeline"):
        PipelineClassifier(tmp_path / "missing", labels)


def test_curve_helpers():
    assert area_under_curve([0, 10, 20], [0.5, 0.7, 0.7]) == pytest.approx((6 + 7) / 20)
    curve = [{"labels": 10, "accuracy": 0.5}, {"labels": 20, "accuracy": 0.8}, {"labels": 30, "accuracy": 0.9}]
    assert labels_to_reach(curve, 0.75) == 20 and labels_to_reach(curve, 0.95) is None


def test_simulation_outputs_and_resume(sample, cache, tmp_path):
    train, test, labels = sample
    settings = SimulationSettings(seed_size=20, batch=20, budget=60, seeds=[0, 1], stop_set_size=50)
    factory = lambda seed: BowTextcat(labels, cache=cache, seed=seed, min_updates=50,  # noqa: E731
                                      length=2 ** 14)
    args = ([r.text for r in train], [r.label for r in train], [r.text for r in test],
            [r.label for r in test], labels, ["random", "margin"], settings, tmp_path)
    summary = run_simulations(*args, model_factory=factory)
    for name in ("curves.csv", "learning_curve.csv", "learning_curve.png", "summary.json", "config.json"):
        assert (tmp_path / name).stat().st_size > 0
    rows = list(csv.DictReader(open(tmp_path / "learning_curve.csv")))
    assert [int(r["labels"]) for r in rows if r["strategy"] == "margin"] == [20, 40, 60]
    curves = list(csv.DictReader(open(tmp_path / "curves.csv")))
    assert len(curves) == 2 * 2 * 3 and {r["seed"] for r in curves} == {"0", "1"}
    m = summary["strategies"]["margin"]
    assert len(m["mean"]) == 3 and 0 < m["auc_mean"] <= 1 and m["labels_to_target"]
    # chance is 1/6; over the split seeds 0-7 this reference is 0.45-0.56 (0.61 for the
    # split seed 0 of the former `al simulate` rule, the only one the old bound 0.6 held for)
    assert summary["reference_accuracy"] > 0.4
    # a second run reuses the finished runs (no refit: the factory would fail)
    before = (tmp_path / "runs" / "margin__seed0.json").stat().st_mtime_ns
    again = run_simulations(*args, model_factory=lambda seed: 1 / 0)
    assert again["strategies"]["margin"]["mean"] == m["mean"]
    assert (tmp_path / "runs" / "margin__seed0.json").stat().st_mtime_ns == before
    # other settings in the same directory are refused
    settings.batch = 10
    with pytest.raises(ActiveLearningError, match="other data or settings"):
        run_simulations(*args, model_factory=factory)


def test_cli_simulate_export_import(tmp_path, capsys):
    out = tmp_path / "sim"
    rc = main(["al", "simulate", "--gold", str(sample_corpus_path()), "--strategy", "entropy",
               "--seed-size", "20", "--batch", "20", "--budget", "40", "--seeds", "0",
               "--split", "0.7,0.0,0.3", "--no-reference", "-o", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "entropy: AUC" in text and (out / "learning_curve.png").exists()
    assert main(["al", "simulate", "--gold", str(sample_corpus_path()), "--strategy", "bogus",
                 "-o", str(out)]) == 1
    db = tmp_path / "l.db"
    assert main(["al", "import", "imp", str(sample_corpus_path()), "--db", str(db)]) == 0
    assert main(["al", "export", "imp", str(tmp_path / "x.jsonl"), "--db", str(db)]) == 0
    exported = [json.loads(l) for l in open(tmp_path / "x.jsonl", encoding="utf-8")]
    assert len(exported) == 300 and exported[0]["label"] == "sports"
    assert main(["al", "sessions", "--db", str(db)]) == 0
    assert "imp: 300 labelled" in capsys.readouterr().out
