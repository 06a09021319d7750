"""Readers turn every malformed record into a reject with its location and reason,
and go on; no two items they yield share an id."""

import json
import os
from pathlib import Path

import pytest

from .conftest import run_unprivileged
import spacy
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from tsunagu.batch import apply_corpus
from tsunagu.corpora import (
    Record,
    RejectedRecord,
    guess_format,
    read_docbin,
    read_jsonl,
    read_livedoor,
    read_text_dir,
    read_text_lines,
)
from tsunagu.errors import CorpusError

NLP = spacy.blank("xx")


def _jsonl(path: Path, *lines) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n"
                              for line in lines))
    return path


def _items(path, **options):
    return list(read_jsonl(path, on_error="reject", **options))


def _rejects(items):
    return {i.id: i.reason for i in items if isinstance(i, RejectedRecord)}


def test_meta_that_is_not_an_object_is_a_reject_and_the_job_goes_on(tmp_path):
    # On main this was a TypeError (dict(meta)) that killed `tsunagu apply`.
    path = _jsonl(tmp_path / "c.jsonl", '{"id": "a", "text": "一", "meta": [1, 2]}',
                  '{"id": "b", "text": "二", "meta": "x"}', '{"id": "c", "text": "三", "meta": null}',
                  '{"id": "d", "text": "四", "meta": {"k": 1}}')
    items = _items(path)
    assert _rejects(items) == {"a": "meta must be an object (got array [1, 2]) (at c.jsonl:1)",
                               "b": 'meta must be an object (got string "x") (at c.jsonl:2)'}
    assert [(r.id, dict(r.meta)) for r in items if isinstance(r, Record)] == [("c", {}), ("d", {"k": 1})]
    report = apply_corpus(NLP, path, tmp_path / "out.jsonl", progress=False)
    assert (report.written, report.rejected) == (2, 2)


def test_ids_are_strings_or_integers_and_anything_else_is_rejected(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", '{"id": 7, "text": "a"}', '{"id": "s", "text": "a"}',
                  '{"id": null, "text": "a"}', '{"text": "a"}', '{"id": 1.5, "text": "a"}',
                  '{"id": true, "text": "a"}', '{"id": [1], "text": "a"}', '{"id": {"k": 1}, "text": "a"}',
                  '{"id": 1e400, "text": "a"}')
    items = _items(path)
    assert [r.id for r in items if isinstance(r, Record)] == ["7", "s", "c.jsonl:3", "c.jsonl:4"]
    assert _rejects(items) == {
        "c.jsonl:5": "id must be a string or an integer (got number 1.5)",
        "c.jsonl:6": "id must be a string or an integer (got boolean true)",
        "c.jsonl:7": "id must be a string or an integer (got array [1])",
        "c.jsonl:8": 'id must be a string or an integer (got object {"k": 1})',
        "c.jsonl:9": "id must be a string or an integer (got number Infinity)",
    }


def test_ids_that_collide_after_normalisation_reject_the_later_record(tmp_path):
    # On main, "1" after 1 was skipped without a word (as done, by apply's resume).
    path = _jsonl(tmp_path / "c.jsonl", '{"id": "x", "text": "a"}', '{"id": 1, "text": "a"}',
                  '{"id": "y", "text": "a"}', '{"id": "1", "text": "b"}', '{"id": "x", "text": "c"}',
                  '{"id": 1, "text": "d"}')
    items = _items(path)
    assert [r.id for r in items if isinstance(r, Record)] == ["x", "1", "y"]
    assert _rejects(items) == {
        "c.jsonl:4": "duplicate id (id '1' of line 4 collides with the id 1 of line 2 after "
                     "normalisation to text)",
        "c.jsonl:5": "duplicate id (id 'x' of line 5 collides with the id 'x' of line 1)",
        "c.jsonl:6": "duplicate id (id 1 of line 6 collides with the id 1 of line 2)",
    }
    out = tmp_path / "out.jsonl"
    report = apply_corpus(NLP, path, out, progress=False)
    assert (report.written, report.rejected) == (3, 3)
    rejected = [json.loads(line)["id"] for line in (tmp_path / "out.jsonl.rejects.jsonl").open()]
    assert rejected == ["c.jsonl:4", "c.jsonl:5", "c.jsonl:6"]


def test_a_reject_id_is_unique_even_when_a_record_took_its_location(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", '{"id": "c.jsonl:3", "text": "a"}',
                  '{"id": "c.jsonl:4", "text": "a"}', "{broken", '{"text": "no id: its default id is taken"}',
                  '{"id": "c.jsonl:3#2", "text": "a"}')
    items = _items(path)
    ids = [i.id for i in items]
    assert len(ids) == len(set(ids)) == 5
    assert _rejects(items) == {
        "c.jsonl:3#2": "invalid JSON (Expecting property name enclosed in double quotes at column 2) "
                       "(at c.jsonl:3)",
        "c.jsonl:4#2": "duplicate id (the default id 'c.jsonl:4' of line 4, which has no id, is the id "
                       "of line 2) (at c.jsonl:4)",
        "c.jsonl:5": "duplicate id (id 'c.jsonl:3#2' of line 5 collides with the id 'c.jsonl:3#2' of "
                     "line 3)",
    }
    # The same file gives the same ids: what a resumed job relies on.
    assert [i.id for i in _items(path)] == ids


def test_every_reject_carries_its_location(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", '{"id": "nt"}', '{"id": "bl", "text": "x", "labels": 5}',
                  '{"id": "m", "text": "x", "meta": 3}', b"\xff", "[]", '"s"', "{",
                  '{"id": 0.5, "text": "x"}',
                  '{"id": "deep", "text": "x", "meta": {"a": ' + "[" * 200 + "]" * 200 + "}}")
    rejects = [i for i in _items(path) if isinstance(i, RejectedRecord)]
    assert len(rejects) == 9
    for n, reject in enumerate(rejects, 1):
        assert reject.location == f"c.jsonl:{n}"
        assert reject.id == reject.location or reject.reason.endswith(f"(at c.jsonl:{n})"), reject
    # The text before " (" is the kind of fault, one per kind in the batch report.
    assert rejects[0].reason == "record has no 'text' field (at c.jsonl:1)"
    assert rejects[1].reason == "labels must be a string, a list of strings or a dict of scores " \
                                "(got number 5) (at c.jsonl:2)"
    assert rejects[8].reason == "record is nested deeper than 100 levels (at c.jsonl:9)"


def test_raise_mode_names_the_location(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", '{"id": "m", "text": "x", "meta": 3}')
    with pytest.raises(CorpusError, match=r"^c.jsonl:1: meta must be an object \(got number 3\) \(id 'm'\)$"):
        list(read_jsonl(path))


def test_numbers_and_nesting_json_cannot_hold_or_write_back_are_rejected(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", '{"id": ' + "9" * 5000 + ', "text": "a"}',
                  "[" * 5000 + "]" * 5000,
                  '{"text": "a", "meta": {"x": ' + "[" * 950 + "]" * 950 + "}}")
    reasons = list(_rejects(_items(path)).values())
    assert reasons[0].startswith("invalid JSON (Exceeds the limit (4300 digits)")
    assert reasons[1] == "invalid JSON (nested too deeply to parse)"
    assert reasons[2] == "record is nested deeper than 100 levels"
    # What is not too deep is written back: a job does not die in its writer.
    report = apply_corpus(NLP, path, tmp_path / "out.jsonl", progress=False)
    assert (report.written, report.rejected) == (0, 3)


def test_lone_surrogates_are_kept_in_ids_and_meta(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", r'{"id": "a\ud800", "text": "良い", "meta": {"k\udc80": "\udfff"}}',
                  r'{"id": "t", "text": "bad \ud800"}')
    first, second = _items(path)
    assert first.id == "a\ud800" and dict(first.meta) == {"k\udc80": "\udfff"}
    assert second.text == "bad \ud800"  # the text is the consumer's to reject
    out = tmp_path / "out.jsonl"
    report = apply_corpus(NLP, path, out, progress=False)
    assert (report.written, report.rejected) == (1, 1)
    row = json.loads(out.read_bytes().decode("utf-8"))
    assert row["id"] == "a\ud800" and row["meta"] == {"k\udc80": "\udfff"}


def test_a_text_of_the_wrong_type_is_passed_on(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", '{"id": "n", "text": 5}', '{"id": "l", "text": ["a"]}',
                  '{"id": "z", "text": null}')
    assert [(r.id, r.text) for r in _items(path)] == [("n", 5), ("l", ["a"]), ("z", None)]


def test_byte_order_marks_and_whitespace_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\n\xef\xbb\xbf\n \r\n\xef\xbb\xbf{"text": "b"}\r\n')
    assert [r.id for r in _items(path)] == ["c.jsonl:1", "c.jsonl:4"]
    txt = tmp_path / "c.txt"
    txt.write_bytes(b"\xef\xbb\xbfa\n\x1c\n\xef\xbb\xbf\n\xe3\x80\x80\nb")
    assert [(r.id, r.text) for r in read_text_lines(txt)] == [("c.txt:1", "a"), ("c.txt:5", "b")]


def test_records_stay_backward_compatible():
    reject = RejectedRecord("x", "why")
    assert (reject.id, reject.reason, reject.location) == ("x", "why", None)
    assert Record("a", "t", ("l",), {"k": 1}) == Record("a", "t", ("l",), {"k": 1}, location="f:1")


# -- text folders and Livedoor: files that cannot be read --------------------------------


def test_text_dir_rejects_what_it_cannot_read(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "ok.txt").write_text("良い", encoding="utf-8")
    (root / "bad.txt").write_bytes(b"\xff")
    (root / "gone.txt").symlink_to(root / "nowhere.txt")
    os.mkfifo(root / "sub" / "pipe.txt")  # reading it would block the job forever
    if Path("/proc/self/mem").is_file():
        (root / "io.txt").symlink_to("/proc/self/mem")  # a regular file whose read fails (EIO)
    items = list(read_text_dir(root, on_error="reject"))
    rejects = _rejects(items)
    assert [r.id for r in items if isinstance(r, Record)] == ["ok.txt"]
    assert rejects["bad.txt"].startswith("not valid UTF-8")
    assert rejects["gone.txt"] == "a symbolic link to nothing (its target is missing)"
    assert rejects["sub/pipe.txt"].startswith("not a regular file")
    if "io.txt" in rejects:
        assert rejects["io.txt"] == "cannot read the file (Input/output error)"
    assert all(r.location == r.id for r in items)


def test_text_dir_rejects_unreadable_files_and_folders(shared_tmp):
    root = shared_tmp / "in"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "a.txt").write_text("a", encoding="utf-8")
    (root / "secret.txt").write_text("s", encoding="utf-8")
    (root / "ok.txt").write_text("o", encoding="utf-8")
    for p in (root, root / "ok.txt"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    (root / "secret.txt").chmod(0)
    (root / "locked").chmod(0)
    rejects = run_unprivileged(lambda: _rejects(read_text_dir(root, on_error="reject")))
    assert rejects == {"locked/": "cannot list the folder (Permission denied); its files are not read",
                       "secret.txt": "cannot read the file (Permission denied)"}


def _article(path: Path, title="見出し") -> None:
    path.write_text(f"http://news.livedoor.com/article/detail/1/\n2012-01-01T00:00:00+0900\n{title}\n"
                    "本文。\n", encoding="utf-8")


def test_livedoor_rejects_what_it_cannot_read_and_reads_a_category_once(tmp_path):
    (tmp_path / "peachy").mkdir()
    _article(tmp_path / "peachy" / "peachy-1.txt")
    (tmp_path / "peachy" / "peachy-2.txt").write_bytes(b"\xff")
    os.mkfifo(tmp_path / "peachy" / "peachy-3.txt")
    assert guess_format(tmp_path) == "livedoor"
    items = list(read_livedoor(tmp_path, categories=["peachy", "peachy/"], on_error="reject"))
    assert [i.id for i in items] == ["peachy/peachy-1", "peachy/peachy-2", "peachy/peachy-3"]
    assert isinstance(items[0], Record) and items[0].labels == ("peachy",)
    assert _rejects(items)["peachy/peachy-3"].startswith("not a regular file")
    with pytest.raises(CorpusError, match="categories must be a list"):
        list(read_livedoor(tmp_path, categories="peachy"))


# -- DocBin ------------------------------------------------------------------------------


def test_docbin_ids_meta_and_cats_of_wrong_types(tmp_path):
    db = DocBin(store_user_data=True)
    for user, cats in (({"id": 1}, {"a": 0.9, "b": "high", "c": True}), ({"id": "1"}, {}),
                       ({"id": 2.5}, {}), ({"meta": [1]}, {}), ({}, {}), ({"id": "c.spacy:5"}, {}),
                       ({"id": 0}, {})):
        doc = Doc(Vocab(), words=["語"])
        doc.user_data.update(user)
        doc.cats = cats
        db.add(doc)
    db.to_disk(tmp_path / "c.spacy")
    items = list(read_docbin(tmp_path / "c.spacy", on_error="reject"))
    assert [(r.id, r.labels) for r in items if isinstance(r, Record)] == \
        [("1", ("a",)), ("c.spacy:4", ()), ("c.spacy:5", ()), ("0", ())]
    assert _rejects(items) == {
        "c.spacy:1": "duplicate id (id '1' of document 1 collides with the id 1 of document 0 after "
                     "normalisation to text)",
        "c.spacy:2": "id must be a string or an integer (got number 2.5)",
        "c.spacy:3": "meta must be a dict (got tuple [1])",  # msgpack reads lists as tuples
    }


def test_a_corrupt_docbin_is_refused_whole_naming_the_file(tmp_path):
    import zlib

    import srsly

    (tmp_path / "junk.spacy").write_bytes(b"\x00\x01garbage")
    with pytest.raises(CorpusError, match="junk.spacy is not a readable spaCy DocBin"):
        list(read_docbin(tmp_path / "junk.spacy", on_error="reject"))
    # Decompresses and unpacks, but its arrays are not a document's.
    db = DocBin(store_user_data=True)
    db.add(Doc(Vocab(), words=["a", "b"]))
    msg = srsly.msgpack_loads(zlib.decompress(db.to_bytes()))
    msg["lengths"] = b"\x05\x00"
    (tmp_path / "bent.spacy").write_bytes(zlib.compress(srsly.msgpack_dumps(msg)))
    with pytest.raises(CorpusError, match="bent.spacy is not a readable spaCy DocBin"):
        list(read_docbin(tmp_path / "bent.spacy", on_error="reject"))
