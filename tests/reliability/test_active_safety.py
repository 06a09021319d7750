"""The label store and the `tsunagu al` commands with bad input and unsafe paths
(issue 15): exports that would overwrite data, malformed import lines, lone
surrogates, locked and corrupt databases, missing folders."""

import os
import sqlite3

import pytest

from .conftest import run_unprivileged

from tsunagu.active import ActiveLearningError
from tsunagu.active.store import LabelStore
from tsunagu.cli import main
from tsunagu.corpora import Record, read_jsonl
from tsunagu.errors import OutputExistsError, PathConflictError


@pytest.fixture
def db(tmp_path):
    """A label store with session "s" (labels a, b) and two labels, whose source is
    tmp_path/source.jsonl."""
    path = tmp_path / "labels.db"
    source = tmp_path / "source.jsonl"
    source.write_text('{"id": "e1", "text": "one"}\n{"id": "e2", "text": "two"}\n', encoding="utf-8")
    with LabelStore(path) as store:
        s = store.open_session("s", ["a", "b"], source=str(source))
        store.annotate(s, "e1", "one", "a")
        store.annotate(s, "e2", "two", "b")
    return path


def _labels(path, session="s"):
    with LabelStore(path) as store:
        return {a.example_id: a.labels for a in store.labels(store.session(session))}


# -- al export ---------------------------------------------------------------------------

def test_export_refuses_an_existing_file_without_overwrite(db, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    out.write_text("keep me\n", encoding="utf-8")
    assert main(["al", "export", "s", str(out), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already exists" in err and "--overwrite" in err
    assert out.read_text(encoding="utf-8") == "keep me\n"
    assert main(["al", "export", "s", str(out), "--db", str(db), "--overwrite"]) == 0
    assert [r.id for r in read_jsonl(out)] == ["e1", "e2"]


@pytest.mark.parametrize("target", ["db", "hardlink", "wal", "source"])
def test_export_never_writes_over_the_store_or_the_source(db, tmp_path, capsys, target):
    source = tmp_path / "source.jsonl"
    before_source = source.read_bytes()
    if target == "db":
        out = db
    elif target == "hardlink":
        out = tmp_path / "looks-new.jsonl"
        os.link(db, out)
    elif target == "wal":
        out = tmp_path / "labels.db-wal"
    else:
        out = source
    rc = main(["al", "export", "s", str(out), "--db", str(db), "--overwrite"])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("error: ") and "destroy the input" in err
    assert source.read_bytes() == before_source
    assert _labels(db) == {"e1": ["a"], "e2": ["b"]}  # the store is intact and readable
    with LabelStore(db) as store:
        assert store.integrity_check() == "ok"


def test_export_library_call_refuses_too(db, tmp_path):
    with LabelStore(db) as store:
        s = store.session("s")
        with pytest.raises(PathConflictError):
            store.export_jsonl(s, db, overwrite=True)
        (tmp_path / "x.jsonl").write_text("old", encoding="utf-8")
        with pytest.raises(OutputExistsError):
            store.export_jsonl(s, tmp_path / "x.jsonl")
        assert (tmp_path / "x.jsonl").read_text(encoding="utf-8") == "old"


def test_export_does_not_write_through_a_planted_temporary_name(db, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    for name in ("out.jsonl.tmp", ".out.jsonl.tmp", f"out.jsonl.{os.getpid()}.tmp"):
        (tmp_path / name).symlink_to(victim)
    assert main(["al", "export", "s", str(out), "--db", str(db)]) == 0
    assert victim.read_text(encoding="utf-8") == "precious"
    assert [r.id for r in read_jsonl(out)] == ["e1", "e2"]


# -- al import ---------------------------------------------------------------------------

BAD_IMPORT = [
    '{"id": "x1", "text": "good one", "label": "a"}',
    '{"id": "x2", "text": "broken", ',                      # 2: invalid JSON
    '',                                                     # 3: blank (not a record)
    '["a", "list"]',                                        # 4: not an object
    '{"id": "x5", "label": "a"}',                           # 5: no text
    '{"id": "x1", "text": "again", "label": "b"}',          # 6: duplicate id
    '{"id": "x7", "text": "unknown label", "label": "zzz"}',  # 7: label not in the session
    '{"id": "x8", "text": 42, "label": "a"}',               # 8: text not a string
    '{"id": "x9", "text": "good two", "label": "b"}',
    '{"id": "x10", "text": "no label here"}',               # 10: unlabelled
]


def test_import_reports_every_malformed_line_and_goes_on(tmp_path, capsys):
    db = tmp_path / "l.db"
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(BAD_IMPORT) + "\n", encoding="utf-8")
    assert main(["al", "import", "s", str(src), "--db", str(db), "--labels", "a,b"]) == 0
    out, err = capsys.readouterr()
    assert "imported 2 labels; 0 already labelled (kept), 1 duplicate id(s)" in out
    assert "1 without labels, 5 rejected" in out
    rejected = [line for line in err.splitlines() if line.startswith("rejected ")]
    assert len(rejected) == 5
    for lineno, reason in ((2, "invalid JSON"), (4, "not an object"), (5, "no 'text'"),
                           (7, "not among the session's"), (8, "not a string")):
        assert any(f"in.jsonl:{lineno}" in line and reason in line for line in rejected), (lineno, err)
    assert any(line.startswith("duplicate in.jsonl:6") and "'x1'" in line for line in err.splitlines())
    assert _labels(db) == {"x1": ["a"], "x9": ["b"]}  # the first x1 counts, not the later one


def test_import_report_is_returned_by_the_store(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(BAD_IMPORT) + "\n", encoding="utf-8")
    items = list(read_jsonl(path, on_error="reject"))
    with LabelStore(tmp_path / "l.db") as store:
        s = store.open_session("s", ["a", "b"])
        store.annotate(s, "x9", "good two", "b")
        report = store.import_records(s, items)
    assert report.imported == 1 and report.kept == 1 and report.unlabelled == 1
    assert [where for where, _ in report.duplicates] == ["in.jsonl:6"]
    assert len(report.rejected) == 5 and report.skipped == 8


def test_duplicates_passed_to_the_store_directly_are_counted_once(tmp_path):
    records = [Record("1", "t1", ("a",)), Record("1", "t1 again", ("b",)), Record("2", "t2", ("b",)),
               Record("1", "t1 thrice", ("a",))]
    with LabelStore(tmp_path / "l.db") as store:
        s = store.open_session("s", ["a", "b"])
        report = store.import_records(s, records)
        assert report.imported == 2 and len(report.duplicates) == 2 and report.skipped == 2
        assert {a.example_id: a.text for a in store.labels(s)} == {"1": "t1", "2": "t2"}


def test_import_twice_counts_what_is_already_there(tmp_path, capsys):
    db = tmp_path / "l.db"
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "1", "text": "t1", "label": "a"}\n{"id": "2", "text": "t2", "label": "b"}\n'
                   '{"id": "2", "text": "t2", "label": "b"}\n', encoding="utf-8")
    assert main(["al", "import", "s", str(src), "--db", str(db)]) == 0
    assert "imported 2 labels; 0 already labelled (kept), 1 duplicate" in capsys.readouterr().out
    assert main(["al", "import", "s", str(src), "--db", str(db)]) == 0
    assert "imported 0 labels; 2 already labelled (kept), 1 duplicate" in capsys.readouterr().out
    with LabelStore(db) as store:
        assert len(store.history(store.session("s"))) == 2


def test_import_with_every_line_rejected_is_an_error(tmp_path, capsys):
    db = tmp_path / "l.db"
    with LabelStore(db) as store:
        store.open_session("s", ["a", "b"])
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "1", "text": "t", "label": "x"}\nnot json\n', encoding="utf-8")
    assert main(["al", "import", "s", str(src), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "rejected in.jsonl:1 (id 1): labels ['x']" in err and "rejected in.jsonl:2: invalid JSON" in err
    assert "error: none of the records" in err
    assert _labels(db) == {}


def test_lone_surrogates_are_rejected_not_a_crash(tmp_path, capsys):
    db = tmp_path / "l.db"
    src = tmp_path / "in.jsonl"
    # "\ud800" is valid JSON (an escape) but no UTF-8 text: SQLite and sha256 need UTF-8.
    src.write_text('{"id": "bad\\ud800id", "text": "t1", "label": "a"}\n'
                   '{"id": "2", "text": "bad \\ud800 text", "label": "a"}\n'
                   '{"id": "3", "text": "t3", "label": "b", "note\\udfff": "extra \\ud800 key"}\n'
                   '{"id": "4", "text": "t4", "labels": ["a", "b\\ud800"]}\n'
                   '{"id": "5", "text": "t5", "label": "a"}\n', encoding="utf-8")
    assert main(["al", "import", "s", str(src), "--db", str(db), "--labels", "a,b"]) == 0
    out, err = capsys.readouterr()
    assert "imported 2 labels" in out and "3 rejected" in out
    assert "rejected in.jsonl:1 (id bad\\ud800id): the id is not valid Unicode" in err
    assert "rejected in.jsonl:2 (id 2): the text is not valid Unicode" in err
    assert "rejected in.jsonl:4 (id 4): a label is not valid Unicode" in err
    # extra keys are not stored, so they cannot hurt: that line is imported
    assert _labels(db) == {"3": ["b"], "5": ["a"]}


def test_annotate_api_refuses_a_lone_surrogate(tmp_path):
    with LabelStore(tmp_path / "l.db") as store:
        s = store.open_session("s", ["a", "b"])
        with pytest.raises(ActiveLearningError, match="not valid Unicode"):
            store.annotate(s, "e", "x\ud800", "a")
        assert store.history(s) == []


def test_import_of_a_new_session_with_surrogate_labels_does_not_crash(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "1", "text": "t1", "label": "a"}\n{"id": "2", "text": "t2", "label": "b"}\n'
                   '{"id": "3", "text": "t3", "label": "c\\ud800"}\n', encoding="utf-8")
    assert main(["al", "import", "s", str(src), "--db", str(tmp_path / "l.db")]) == 0
    assert _labels(tmp_path / "l.db") == {"1": ["a"], "2": ["b"]}


# -- locked, corrupt, foreign, missing ---------------------------------------------------

def test_a_held_lock_reads_as_in_use_not_corrupt(db):
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(ActiveLearningError) as e:
            LabelStore(db, timeout=0.2)
        assert str(e.value) == (f"the label store {db} is in use by another process (locked); close "
                                "the other session or wait, then run the command again")
        assert "corrupt" not in str(e.value)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_lock_taken_while_the_store_is_open_reads_as_in_use(db):
    with LabelStore(db, timeout=0.2) as store:
        s = store.session("s")
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(ActiveLearningError, match="in use by another process"):
                store.annotate(s, "e3", "three", "a")
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.annotate(s, "e3", "three", "a")  # the store is usable once the lock goes
    assert _labels(db) == {"e1": ["a"], "e2": ["b"], "e3": ["a"]}


def test_random_bytes_are_not_a_label_store(tmp_path, capsys):
    bad = tmp_path / "bad.db"
    data = os.urandom(8192)
    bad.write_bytes(data)
    assert main(["al", "sessions", "--db", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad} is not a tsunagu label store, or it is corrupt")
    assert err.count("\n") == 1 and "in use" not in err
    assert bad.read_bytes() == data  # left as it was


def test_someone_elses_sqlite_file_is_left_alone(tmp_path, capsys):
    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    assert main(["al", "import", "s", str(tmp_path / "x.jsonl"), "--db", str(other)]) == 1  # no input
    src = tmp_path / "x.jsonl"
    src.write_text('{"id": "1", "text": "t", "label": "a"}\n{"id": "2", "text": "u", "label": "b"}\n',
                   encoding="utf-8")
    capsys.readouterr()
    assert main(["al", "import", "s", str(src), "--db", str(other)]) == 1
    assert "is an SQLite database but not a tsunagu label store" in capsys.readouterr().err
    conn = sqlite3.connect(other)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["users"]
    conn.close()


def test_missing_folder_is_named_with_the_fix(tmp_path, capsys):
    src = tmp_path / "x.jsonl"
    src.write_text('{"id": "1", "text": "t", "label": "a"}\n{"id": "2", "text": "u", "label": "b"}\n',
                   encoding="utf-8")
    db = tmp_path / "no" / "such" / "l.db"
    assert main(["al", "import", "s", str(src), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err == (f"error: cannot create the label store {db}: the folder {db.parent} does not "
                   "exist; create it or give another --db\n")
    assert not (tmp_path / "no").exists()
    under_a_file = src / "l.db"  # the "folder" is a file
    assert main(["al", "import", "s", str(src), "--db", str(under_a_file)]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_unwritable_folder_is_named_with_the_fix(shared_tmp):
    folder = shared_tmp / "ro"
    folder.mkdir()
    folder.chmod(0o555)

    def open_store():
        with pytest.raises(ActiveLearningError, match=f"cannot open the label store {folder / 'l.db'}"):
            LabelStore(folder / "l.db")
        return True

    assert run_unprivileged(open_store)


def test_export_into_a_missing_folder_is_a_clear_error(db, tmp_path, capsys):
    out = tmp_path / "missing" / "out.jsonl"
    assert main(["al", "export", "s", str(out), "--db", str(db)]) == 1
    assert f"the folder {out.parent} does not exist" in capsys.readouterr().err


class _Majority:
    """A stand-in classifier: uniform probabilities, no training cost."""

    labels = ["a", "b"]

    def fit(self, texts, labels):
        return self

    def predict_proba(self, texts):
        import numpy as np

        return np.full((len(texts), 2), 0.5)

    def doc_vectors(self, texts):
        import numpy as np

        return np.ones((len(texts), 2))


def test_a_session_survives_a_locked_store_and_asks_again(tmp_path):
    import io

    from tsunagu.active.session import AnnotationSession
    from tsunagu.active.strategies import Margin

    db = tmp_path / "l.db"
    other = sqlite3.connect(db, isolation_level=None)

    class Keys:
        """Answers "1" twice, then "q"; the other process lets go after the first."""

        def __init__(self):
            self.keys = ["1\n", "1\n", "q\n"]

        def readline(self):
            if len(self.keys) == 2:
                other.execute("ROLLBACK")
            return self.keys.pop(0)

    out = io.StringIO()
    with LabelStore(db, timeout=0.2) as store:
        s = store.open_session("s", ["a", "b"])
        other.execute("BEGIN EXCLUSIVE")
        try:
            session = AnnotationSession(store, s, ["e1", "e2"], ["one", "two"], model_factory=_Majority,
                                        strategy=Margin(), retrain_every=0, input=Keys(), output=out)
            session.run()
        finally:
            if other.in_transaction:
                other.execute("ROLLBACK")
            other.close()
        log = out.getvalue()
        assert "not saved: the label store" in log and "in use by another process" in log
        shown = [line[4:] for line in log.splitlines() if line.startswith("id: ")]
        assert shown[0] == shown[1]  # the unsaved example comes back
        assert {a.example_id: a.label for a in store.labels(s)} == {shown[0]: "a"}
