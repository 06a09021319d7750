"""The annotation session: in-process with piped input, and end to end through a
pseudo-terminal (pexpect): label, undo, skip, quit, resume; the database holds
exactly the answers given."""

import io
import sys
import time

import numpy as np

from tsunagu.active.session import AnnotationSession
from tsunagu.active.store import LabelStore
from tsunagu.active.strategies import Margin
from tsunagu.corpora import sample_corpus_path

LABELS = ["sports", "food", "tech"]


class TinyModel:
    """Predicts the majority label of what it was fitted on; counts fits."""

    labels = LABELS
    fits = 0

    def __init__(self):
        self.train_texts, self.train_labels = [], []

    def fit(self, texts, labels):
        TinyModel.fits += 1
        self.train_texts, self.train_labels = list(texts), list(labels)
        return self

    def predict_proba(self, texts):
        counts = np.array([self.train_labels.count(l) + 1.0 for l in LABELS])
        rng = np.random.default_rng(len(texts))
        p = counts / counts.sum() + rng.random((len(texts), 3)) * 0.01
        return p / p.sum(axis=1, keepdims=True)

    def doc_vectors(self, texts):
        return np.ones((len(texts), 2))

    def clone(self, seed=0):
        return TinyModel()


def test_piped_session_labels_undoes_skips_and_retrains(tmp_path):
    ids = [f"d{i}" for i in range(30)]
    texts = [f"text number {i}" for i in range(30)]
    out = io.StringIO()
    with LabelStore(tmp_path / "l.db") as store:
        s = store.open_session("p", LABELS)
        TinyModel.fits = 0
        sess = AnnotationSession(store, s, ids, texts, model_factory=TinyModel, strategy=Margin(),
                                 annotator="pipe", retrain_every=2, batch=5,
                                 input=io.StringIO("1\n2\nu\n3\nx\ns\n1\n\n2\nq\n"), output=out)
        counts = sess.run()
        log = out.getvalue()
        shown = [line[4:] for line in log.splitlines() if line.startswith("id: ")]
        # 1 labels shown[0]; 2 labels shown[1]; u (on shown[2]) undoes it, shows shown[1]
        # again; 3 relabels it; then shown[2] is back: x is not a key (same example
        # again), s skips it; 1 labels; an empty line does nothing; 2 labels; q quits
        assert shown[3] == shown[1] and shown[4] == shown[5] == shown[2] and shown[7] == shown[8]
        assert len(set(shown)) == 6
        got = {a.example_id: a.label for a in store.labels(s)}
        assert got == {shown[0]: "sports", shown[1]: "tech", shown[6]: "sports", shown[8]: "food"}
        assert [a.example_id for a in store.current(s) if a.action == "skip"] == [shown[5]]
        assert counts["labelled"] == 4 and counts["skipped"] == 1
        assert "undone: label food" in log and "keys: 1-3" in log
        assert sess.retrainer.rounds >= 1 and TinyModel.fits >= 1


PEXPECT_ENV = {"PYTHONUNBUFFERED": "1", "TERM": "dumb"}


def _spawn(pexpect, tmp_path, source, *extra):
    import os

    env = dict(os.environ, **PEXPECT_ENV)
    args = ["-m", "tsunagu", "annotate", "demo", "--source", str(source), "--db", str(tmp_path / "ann.db"),
            "--annotator", "tester", "--retrain-every", "3", "--batch", "10", *extra]
    return pexpect.spawn(sys.executable, args, encoding="utf-8", timeout=60, env=env,
                         dimensions=(40, 200))


def _answer(child, key):
    """Wait for an example, send one key (no Enter: the terminal is in cbreak mode)."""
    child.expect(r"── (.*?) ──\r?\nid: (\S+)\r?\n")
    header, eid = child.match.group(1), child.match.group(2)
    child.expect("> ")
    screen = header + "\n" + child.before
    child.send(key)
    return eid, screen


def test_terminal_session_end_to_end(tmp_path):
    import pexpect  # in the test extra: this test must run, not skip
    source = tmp_path / "src.jsonl"
    lines = sample_corpus_path().read_text(encoding="utf-8").splitlines()[:60]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    given = {}

    child = _spawn(pexpect, tmp_path, source, "--labels", ",".join(LABELS), "--strategy", "margin")
    e1, _ = _answer(child, "1")
    given[e1] = "sports"
    e2, _ = _answer(child, "2")
    given[e2] = "food"
    e3, _ = _answer(child, "u")                  # on e3's screen: undo e2's label
    child.expect("undone: label food of " + e2)
    e2b, _ = _answer(child, "3")  # e2 shown again, relabelled
    given[e2] = "tech"
    assert e2b == e2
    skipped, _ = _answer(child, "s")             # then e3 again, skipped
    assert skipped == e3
    # keep labelling until the background model has been trained and shows a prediction
    saw_prediction = False
    for _ in range(20):
        time.sleep(0.25)  # give the background retraining a moment (it never blocks input)
        eid, screen = _answer(child, "2")
        given[eid] = "food"
        if "model trained on" in screen and "prediction: " in screen and "prediction: -" not in screen:
            saw_prediction = True
            break
    assert saw_prediction
    _answer(child, "q")
    child.expect("saved (\\d+) labels and 1 skips")
    assert int(child.match.group(1)) == len(given)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    # resume: stored examples never come back; new labels add to the old ones
    child = _spawn(pexpect, tmp_path, source)  # labels come from the session
    child.expect(f"resuming: {len(given)} labels, 1 skips")
    seen = []
    for key, label in (("1", "sports"), ("3", "tech")):
        eid, _ = _answer(child, key)
        assert eid not in given and eid != skipped
        given[eid] = label
        seen.append(eid)
    _answer(child, "u")
    child.expect("undone: label tech of " + seen[-1])
    del given[seen[-1]]
    _answer(child, "q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    with LabelStore(tmp_path / "ann.db") as store:
        s = store.session("demo")
        assert {a.example_id: a.label for a in store.labels(s)} == given
        assert all(a.annotator == "tester" for a in store.history(s))
        assert [a.example_id for a in store.current(s) if a.action == "skip"] == [skipped]
        assert sum(a.undone is not None for a in store.history(s)) == 2
        assert store.integrity_check() == "ok"
