"""Several annotators on one session (tsunagu.active.team): overlap, leases, undo,
resume, review, the final labels, and agreement computed from the answers."""

import json
import threading

import numpy as np
import pytest

from tsunagu.active.agreement import agreement, format_report
from tsunagu.active.errors import ActiveLearningError
from tsunagu.active.store import LabelStore
from tsunagu.active.strategies import Margin
from tsunagu.active.team import ReviewSession, TeamSession, UnknownExample
from tsunagu.corpora import read_jsonl

LABELS = ["pos", "neg"]
IDS = [f"e{i}" for i in range(12)]
TEXTS = [f"文{i}はとても良い。" if i % 2 else f"文{i}はひどい。" for i in range(12)]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class MajorityModel:
    labels = LABELS

    def __init__(self):
        self.train_labels = []

    def fit(self, texts, labels):
        self.train_labels = list(labels)
        return self

    def predict_proba(self, texts):
        p = np.array([self.train_labels.count(l) + 1.0 for l in LABELS])
        return np.tile(p / p.sum(), (len(texts), 1))

    def doc_vectors(self, texts):
        return np.ones((len(texts), 2))


@pytest.fixture
def store(tmp_path):
    with LabelStore(tmp_path / "labels.db") as s:
        yield s


def team(store, overlap=1, clock=None, **kw):
    session = store.open_session("t", LABELS)
    return TeamSession(store, session, IDS, TEXTS, strategy=Margin(0), overlap=overlap,
                       clock=clock or Clock(), log=lambda m: None, **kw)


def test_overlap_two_gives_each_example_to_two_different_annotators(store):
    t = team(store, overlap=2)
    seen = {"ann": [], "bob": [], "cyd": []}
    for _ in range(40):
        for name in seen:
            eid = t.next(name, "tab")
            if eid is not None:
                assert eid not in seen[name], "an annotator got an example twice"
                seen[name].append(eid)
                assert t.answer(name, "tab", eid, "pos") == "saved"
    per_example = {e: sum(e in got for got in seen.values()) for e in IDS}
    assert set(per_example.values()) == {2}
    assert t.next("ann", "tab") is None and not t.open
    answers = store.answers(store.session("t"))
    assert len(answers) == 24 and len({(a.example_id, a.annotator) for a in answers}) == 24


def test_leases_keep_concurrent_annotators_and_tabs_apart(store):
    clock = Clock()
    t = team(store, overlap=1, clock=clock, lease_seconds=60)
    a1, a2, b = t.next("ann", "tab1"), t.next("ann", "tab2"), t.next("bob", "x")
    assert len({a1, a2, b}) == 3
    assert t.next("ann", "tab1") == a1          # a reload of the same tab: the same example
    clock.now = 61                              # ann's tabs went quiet: their leases expire
    assert t.next("bob", "y") in (a1, a2)
    # An answer after its lease expired is kept, once.
    assert t.answer("ann", "tab1", a1, "neg") == "saved"
    assert t.answer("ann", "tab2", a1, "pos") == "already answered"
    assert [a.label for a in store.answers(store.session("t"), a1)] == ["neg"]


def test_concurrent_threads_lose_no_answer_and_duplicate_none(store, tmp_path):
    db = tmp_path / "threads.db"
    with LabelStore(db, timeout=30, threads=True) as s:
        t = team(s, overlap=2)
        errors = []

        def annotator(name):
            try:
                for _ in range(30):
                    eid = t.next(name, "tab")
                    if eid is None:
                        return
                    assert t.answer(name, "tab", eid, LABELS[len(eid) % 2]) == "saved"
            except Exception as e:  # pragma: no cover - the assertion below reports it
                errors.append(e)

        threads = [threading.Thread(target=annotator, args=(f"a{i}",)) for i in range(5)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors
        answers = s.answers(s.session("t"))
        pairs = [(a.example_id, a.annotator) for a in answers]
        assert len(pairs) == len(set(pairs)) == 24
        assert all(n == 2 for n in {e: sum(p[0] == e for p in pairs) for e in IDS}.values())


def test_skip_is_not_a_label_and_undo_shows_the_example_again(store):
    t = team(store, overlap=1)
    first = t.next("ann")
    assert t.answer("ann", "", first, None) == "saved"       # ann skips it
    assert t.next("bob") == first                          # so bob gets it
    second = t.next("ann")
    t.answer("ann", "", second, "pos")
    undone = t.undo("ann")
    assert undone.example_id == second and undone.labels == ["pos"]
    assert t.next("ann") == second                         # shown again
    t.answer("ann", "", second, "neg")
    assert store.answers(store.session("t"), second)[0].labels == ["neg"]
    assert [a.undone is not None for a in store.history(store.session("t")) if a.example_id == second] == [True, False]
    assert t.undo("nobody") is None


def test_restart_resumes_from_the_store(store):
    t = team(store, overlap=2)
    done = []
    for _ in range(5):
        eid = t.next("ann")
        t.answer("ann", "", eid, "pos")
        done.append(eid)
    t2 = team(store, overlap=2)
    got = set()
    while (eid := t2.next("ann")) is not None:
        got.add(eid)
        t2.answer("ann", "", eid, "neg")
    assert got == set(IDS) - set(done)
    assert t2.view(None, "ann")["progress"]["yours"] == 12


def test_bad_requests_are_refused_clearly(store):
    t = team(store)
    with pytest.raises(UnknownExample, match="no example 'zzz'"):
        t.answer("ann", "", "zzz", "pos")
    eid = t.next("ann")
    with pytest.raises(ActiveLearningError, match="not one of the session's labels"):
        t.answer("ann", "", eid, "meh")
    with pytest.raises(ActiveLearningError, match="needs a name"):
        t.next("  ")
    with pytest.raises(ActiveLearningError, match="64 printable"):
        t.next("x\n")
    assert store.answers(store.session("t")) == []


def test_retraining_in_the_background_ranks_and_predicts(store):
    t = team(store, overlap=1, model_factory=MajorityModel, retrain_every=3)
    for _ in range(3):
        eid = t.next("ann")
        t.answer("ann", "", eid, "neg")
    assert t.retrainer.wait_idle(10)
    view = t.view(t.next("ann"), "ann")
    assert view["model"]["trained_on"] == 3
    assert view["example"]["prediction"]["label"] == "neg"
    t.close()


def two_annotators_disagreeing(store):
    t = team(store, overlap=2)
    plan = {"ann": lambda i: "pos" if i % 2 else "neg", "bob": lambda i: "pos" if i % 3 else "neg"}
    for name, rule in plan.items():
        while (eid := t.next(name)) is not None:
            t.answer(name, "", eid, rule(int(eid[1:])))
    return t


def test_agreement_from_two_annotators(store):
    from sklearn.metrics import cohen_kappa_score

    two_annotators_disagreeing(store)
    report = agreement(store, store.session("t"))
    a = ["pos" if i % 2 else "neg" for i in range(12)]
    b = ["pos" if i % 3 else "neg" for i in range(12)]
    assert report.annotators == ["ann", "bob"] and report.overlapping == 12
    assert report.pairs[0].shared == 12 and report.pairs[0].agreed == sum(x == y for x, y in zip(a, b))
    assert report.pairs[0].kappa == pytest.approx(cohen_kappa_score(a, b))
    # two annotators, no missing answers: alpha is close to kappa but not equal to it
    assert report.alpha is not None and -1 <= report.alpha <= 1 and report.alpha != report.pairs[0].kappa
    disagree = {d.example_id for d in report.disagreements}
    assert disagree == {f"e{i}" for i in range(12) if a[i] != b[i]}
    assert report.confusion["pos"]["neg"] == report.confusion["neg"]["pos"] == len(disagree)
    text = format_report(report)
    assert "Cohen's kappa" in text and "ann / bob" in text
    json.dumps(report.to_dict())


def test_agreement_undefined_cases_say_why(store):
    t = team(store, overlap=1)
    eid = t.next("ann")
    t.answer("ann", "", eid, "pos")
    report = agreement(store, store.session("t"))
    assert report.alpha is None and "two annotators" in report.alpha_note and report.pairs == []


def test_review_decides_and_export_writes_final_labels(store, tmp_path):
    two_annotators_disagreeing(store)
    session = store.session("t")
    review = ReviewSession(store, session, log=lambda m: None)
    disagreements = set(review.answers)
    first = review.next("rev")
    assert first in disagreements
    view = review.view(first, "rev")
    assert set(view["example"]["answers"]) == {"ann", "bob"}
    assert review.answer("rev", "", first, "pos") == "saved"
    second = review.next("rev")
    review.answer("rev", "", second, "neg")
    assert review.undo("rev").example_id == second
    assert review.next("rev") == second                        # shown again after undo
    review.answer("rev", "", second, "pos")
    n = store.export_jsonl(session, tmp_path / "out.jsonl")
    recs = {r.id: r for r in read_jsonl(tmp_path / "out.jsonl")}
    ties = store.ties(session)
    # two annotators: every disagreement is a tie unless reviewed
    assert {t.example_id for t in ties} == disagreements - {first, second}
    assert n == 12 - len(ties)
    assert recs[first].label == "pos" and recs[first].meta["decided_by"] == "review"
    assert recs[first].meta["reviewer"] == "rev"
    assert {a["annotator"] for a in recs[first].meta["answers"]} == {"ann", "bob"}
    agreed = next(e for e in recs if e not in disagreements)
    assert recs[agreed].meta["decided_by"] == "majority" and len(recs[agreed].meta["answers"]) == 2
    reviews = [r for r in store.conn.execute("SELECT example_id, undone FROM reviews")]
    assert len(reviews) == 3 and sum(u is not None for _, u in reviews) == 1   # history kept


def test_majority_of_three(store, tmp_path):
    session = store.open_session("m", LABELS)
    for name, label in (("a", "pos"), ("b", "pos"), ("c", "neg")):
        store.annotate(session, "x", "テキスト", label, name)
    (final,) = store.final_labels(session)
    assert (final.label, final.decided_by, len(final.answers)) == ("pos", "majority", 3)


def test_schema_1_store_is_upgraded(tmp_path):
    import sqlite3

    db = tmp_path / "old.db"
    with LabelStore(db) as s:
        s.annotate(s.open_session("o", LABELS), "x", "t", "pos")
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE reviews")
    conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with LabelStore(db) as s:
        assert s.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "2"
        assert [a.label for a in s.labels(s.session("o"))] == ["pos"]
        assert s.reviews(s.session("o")) == {}
