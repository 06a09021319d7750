"""The SQLite label store: transactions, undo, history, export/import, kill -9."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from tsunagu.active import ActiveLearningError
from tsunagu.active.store import LabelStore, text_hash
from tsunagu.corpora import Record, read_docbin, read_jsonl
from tsunagu.tokenizer import SUDACHI_MAX_BYTES, tokenizer_only_nlp


@pytest.fixture
def store(tmp_path):
    with LabelStore(tmp_path / "labels.db") as s:
        yield s


def test_wal_full_sync_and_sessions(store, tmp_path):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    s = store.open_session("news", ["a", "b", "c"], source="x.jsonl")
    assert s.labels == ["a", "b", "c"]
    assert store.open_session("news").id == s.id            # reopened without labels
    with pytest.raises(ActiveLearningError, match="has labels a,b,c"):
        store.open_session("news", ["a", "b"])
    with pytest.raises(ActiveLearningError, match="needs its labels"):
        store.open_session("new")
    with pytest.raises(ActiveLearningError, match="keys 1-9"):
        store.open_session("big", [str(i) for i in range(10)])
    store.open_session("other", ["x", "y"])
    assert [x.name for x in store.sessions()] == ["news", "other"]


def test_annotate_undo_keeps_history(store):
    s = store.open_session("s", ["a", "b"])
    store.annotate(s, "e1", "text one", "a", annotator="ann")
    store.annotate(s, "e2", "text two", "b", annotator="ann")
    store.skip(s, "e3", "text three", annotator="ann")
    store.annotate(s, "e1", "text one", "b", annotator="bob")   # relabel by another annotator
    assert {a.example_id: a.label for a in store.labels(s)} == {"e1": "b", "e2": "b"}
    undone = store.undo(s, annotator="ann")                       # ann's latest: the skip
    assert (undone.example_id, undone.action) == ("e3", "skip")
    undone = store.undo(s, annotator="bob")
    assert (undone.example_id, undone.label) == ("e1", "b")
    assert {a.example_id: a.label for a in store.labels(s)} == {"e1": "a", "e2": "b"}
    hist = store.history(s)
    assert len(hist) == 4 and sum(a.undone is not None for a in hist) == 2
    assert hist[0].text_hash == text_hash("text one") and hist[0].annotator == "ann"
    with pytest.raises(ActiveLearningError):
        store.annotate(s, "e9", "t", "zzz")
    assert store.counts(s) == {"labelled": 2, "skipped": 0, "rows": 4, "a": 1, "b": 1}
    store.undo(s), store.undo(s)
    assert store.undo(s) is None and store.labels(s) == []


def test_changed_source_is_detected(store):
    s = store.open_session("s", ["a", "b"])
    store.annotate(s, "e1", "old text", "a")
    store.annotate(s, "e2", "same", "b")
    assert store.changed(s, {"e1": "new text", "e2": "same", "e3": "x"}) == ["e1"]


def test_export_jsonl_docbin_and_import(store, tmp_path):
    s = store.open_session("s", ["スポーツ", "食べ物"])
    store.annotate(s, "e1", "試合に勝った。", "スポーツ", annotator="a1")
    store.annotate(s, "e2", "寿司が美味しい。", "食べ物", annotator="a1")
    store.skip(s, "e3", "どうでもいい。")
    n = store.export_jsonl(s, tmp_path / "out.jsonl")
    recs = list(read_jsonl(tmp_path / "out.jsonl"))
    assert n == 2 and [(r.id, r.text, r.label) for r in recs] == [
        ("e1", "試合に勝った。", "スポーツ"), ("e2", "寿司が美味しい。", "食べ物")]
    assert recs[0].meta["annotator"] == "a1"
    store.export_docbin(s, tmp_path / "out.spacy")
    docs = list(read_docbin(tmp_path / "out.spacy"))
    assert [(r.id, r.text, r.labels) for r in docs] == [(r.id, r.text, r.labels) for r in recs]
    assert not list(tmp_path.glob("*.tmp"))
    # import into another session: labels kept unless overwrite
    t = store.open_session("t", ["スポーツ", "食べ物"])
    store.annotate(t, "e1", "試合に勝った。", "食べ物")
    report = store.import_records(t, recs)
    assert (report.imported, report.kept) == (1, 1)
    assert {a.example_id: a.label for a in store.labels(t)} == {"e1": "食べ物", "e2": "食べ物"}
    report = store.import_records(t, recs, overwrite=True)
    assert (report.imported, report.kept) == (1, 1)
    assert {a.example_id: a.label for a in store.labels(t)} == {"e1": "スポーツ", "e2": "食べ物"}
    # a record with labels the session lacks is rejected with the reason; the rest goes in
    report = store.import_records(t, [Record("z", "x", ("other",)), Record("y", "y", ("食べ物",))])
    assert report.imported == 1 and report.rejected == [("z", "labels ['other'] are not among the "
                                                         "session's ['スポーツ', '食べ物']")]


def test_docbin_export_tokenizes_texts_longer_than_sudachi_accepts(store, tmp_path):
    # The default export pipeline is tokenizer_only_nlp(): tsunagu's long-text
    # tokenizer, where spacy.blank("ja") raised SudachiError ("Input is too long").
    s = store.open_session("long", ["a", "b"])
    long_text = "東京都庁で国際会議が開催された。\n" * 1100  # 55,000 bytes
    assert len(long_text.encode("utf-8")) > SUDACHI_MAX_BYTES
    store.annotate(s, "long", long_text, "a")
    store.annotate(s, "short", "短い。", "b")
    assert store.export_docbin(s, tmp_path / "out.spacy") == 2
    docs = {d.user_data["id"]: d for d in DocBin().from_disk(tmp_path / "out.spacy").get_docs(Vocab())}
    long_doc = docs["long"]
    assert long_doc.text == long_text and long_doc.cats == {"a": 1.0, "b": 0.0}
    # Sudachi's tokens all through the text, cut only at sentence ends
    reference = tokenizer_only_nlp()("東京都庁で国際会議が開催された。\n")
    assert [t.text for t in long_doc] == [t.text for t in reference] * 1100
    assert long_doc[0].tag_ and long_doc[-2].lemma_ == "。"
    assert [r.text for r in read_docbin(tmp_path / "out.spacy")] == [long_text, "短い。"]


def test_not_a_database(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ActiveLearningError, match="not a tsunagu label store, or it is corrupt"):
        LabelStore(bad)


WRITER = r"""
import sys
from tsunagu.active.store import LabelStore
store = LabelStore(sys.argv[1])
s = store.open_session("kill", ["a", "b", "c"])
i = 0
while True:
    eid = f"ex{i}"
    store.annotate(s, eid, "テキスト" * (i % 50 + 1), "abc"[i % 3], annotator="w")
    if i % 7 == 3:
        store.undo(s, "w")
        print(f"undo {eid}", flush=True)
    else:
        print(f"ack {eid}", flush=True)
    i += 1
"""


def test_kill_minus_9_loses_no_acknowledged_label(tmp_path):
    db = tmp_path / "kill.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    acked, undone = [], []
    deadline = time.time() + 30
    while len(acked) < 120 and time.time() < deadline:
        line = proc.stdout.readline()
        kind, _, eid = line.strip().partition(" ")
        (acked if kind == "ack" else undone).append(eid)
    os.kill(proc.pid, signal.SIGKILL)  # mid-write: the writer never waits between labels
    proc.wait()
    rest = proc.stdout.read().split()  # acks printed before the kill but not read yet
    acked += [rest[i + 1] for i in range(0, len(rest) - 1, 2) if rest[i] == "ack"]
    undone += [rest[i + 1] for i in range(0, len(rest) - 1, 2) if rest[i] == "undo"]
    assert len(acked) >= 120

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with LabelStore(db) as store:
        assert store.integrity_check() == "ok"
        labels = {a.example_id: a for a in store.labels(store.session("kill"))}
        # every acknowledged label is there, with the right label and text hash
        for eid in acked:
            i = int(eid[2:])
            assert labels[eid].label == "abc"[i % 3]
            assert labels[eid].text_hash == text_hash("テキスト" * (i % 50 + 1))
        # undone ones are not labels; at most one label beyond the acknowledged ones
        # (committed just before the kill, not yet printed)
        assert not set(undone) & set(labels)
        assert len(set(labels) - set(acked)) <= 1
        history = store.history(store.session("kill"))
        assert all(a.text and a.labels for a in history)  # no half-written row
