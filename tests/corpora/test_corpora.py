"""Streaming readers: stable ids, labels, bad records raised or rejected."""

import json
import types
from collections import Counter

import pytest
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from tsunagu import CorpusError
from tsunagu.corpora import (
    Record,
    RejectedRecord,
    guess_format,
    read_corpus,
    read_docbin,
    read_jsonl,
    read_livedoor,
    read_text_dir,
    read_text_lines,
    sample_corpus_path,
)


def test_text_lines_ids_skip_blank_lines(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_text("一行目。\n\n  \n三番目の文書。\n", encoding="utf-8")
    records = list(read_text_lines(path))
    assert [(r.id, r.text) for r in records] == [("docs.txt:1", "一行目。"), ("docs.txt:4", "三番目の文書。")]


def test_non_utf8_line_is_rejected_or_raised(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_bytes("良い。\n".encode() + b"\xff\xfebad\n" + "悪い。\n".encode())
    items = list(read_text_lines(path, on_error="reject"))
    assert isinstance(items[1], RejectedRecord) and items[1].id == "docs.txt:2"
    assert "UTF-8" in items[1].reason
    assert [r.text for r in items if isinstance(r, Record)] == ["良い。", "悪い。"]
    with pytest.raises(CorpusError, match="docs.txt:2: not valid UTF-8"):
        list(read_text_lines(path))


def test_jsonl_fields_and_label_forms(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [
        {"id": 7, "text": "一", "label": "a", "meta": {"src": "x"}, "extra": 1},
        {"text": "二", "labels": ["a", "b"]},
        {"id": "c", "text": "三", "labels": {"a": 0.9, "b": 0.1}},
        {"id": "d", "text": "四", "meta": {"sentiment": "positive"}},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    records = list(read_jsonl(path))
    assert [r.id for r in records] == ["7", "c.jsonl:2", "c", "d"]
    assert [r.labels for r in records] == [("a",), ("a", "b"), ("a",), ()]
    assert records[0].meta == {"src": "x", "extra": 1} and records[0].label == "a"
    by_sentiment = list(read_jsonl(path, label_field="meta.sentiment"))
    assert by_sentiment[3].labels == ("positive",)


def test_jsonl_bad_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "text": "良い"}\n{broken\n[1, 2]\n{"id": "nt"}\n'
                    '{"id": "bl", "text": "x", "labels": 5}\n', encoding="utf-8")
    items = list(read_jsonl(path, on_error="reject"))
    reasons = {i.id: i.reason for i in items if isinstance(i, RejectedRecord)}
    assert reasons["bad.jsonl:2"].startswith("invalid JSON")
    assert "not an object" in reasons["bad.jsonl:3"]
    assert "no 'text'" in reasons["nt"]
    assert "labels must be" in reasons["bl"]
    with pytest.raises(CorpusError, match="bad.jsonl:2: invalid JSON"):
        list(read_jsonl(path))


def test_readers_stream(tmp_path):
    # A bad line far down the file does not stop the first records from arriving.
    path = tmp_path / "big.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(20000):
            f.write(json.dumps({"id": i, "text": f"文書{i}"}, ensure_ascii=False) + "\n")
        f.write("{not json\n")
    reader = read_jsonl(path)
    assert isinstance(reader, types.GeneratorType)
    assert next(reader).id == "0"
    with pytest.raises(CorpusError):
        for _ in reader:
            pass


def test_text_directory(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("二つ目", encoding="utf-8")
    (tmp_path / "sub" / "a.txt").write_text("\ufeff入れ子", encoding="utf-8")
    (tmp_path / "skip.md").write_text("無視", encoding="utf-8")
    records = list(read_text_dir(tmp_path))
    assert [(r.id, r.text) for r in records] == [("b.txt", "二つ目"), ("sub/a.txt", "入れ子")]
    assert guess_format(tmp_path) == "dir"


def _fake_livedoor(root):
    for cat, n in (("sports-watch", 2), ("it-life-hack", 1)):
        d = root / cat
        d.mkdir(parents=True)
        (d / "LICENSE.txt").write_text("licence", encoding="utf-8")
        for i in range(n):
            (d / f"{cat}-{100 + i}.txt").write_text(
                f"http://news.livedoor.com/article/detail/{100 + i}/\n2012-01-0{i + 1}T00:00:00+0900\n"
                f"{cat}の見出し{i}\n本文の一行目。\n\n本文の二行目。\n", encoding="utf-8")
    (root / "it-life-hack" / "it-life-hack-999.txt").write_text("壊れた記事", encoding="utf-8")


def test_livedoor_layout(tmp_path):
    _fake_livedoor(tmp_path / "text")
    assert guess_format(tmp_path) == "livedoor" and guess_format(tmp_path / "text") == "livedoor"
    items = list(read_livedoor(tmp_path, on_error="reject"))
    records = [i for i in items if isinstance(i, Record)]
    assert [r.id for r in records] == ["it-life-hack/it-life-hack-100",
                                       "sports-watch/sports-watch-100", "sports-watch/sports-watch-101"]
    first = records[1]
    assert first.labels == ("sports-watch",)
    assert first.text == "sports-watchの見出し0\n本文の一行目。\n本文の二行目。"
    assert first.meta["url"].endswith("/100/") and first.meta["title"] == "sports-watchの見出し0"
    assert [i.id for i in items if isinstance(i, RejectedRecord)] == ["it-life-hack/it-life-hack-999"]
    titles = [r.text for r in read_livedoor(tmp_path, fields="title", on_error="reject")
              if isinstance(r, Record)]
    assert titles[0] == "it-life-hackの見出し0"
    with pytest.raises(CorpusError, match="found: it-life-hack, sports-watch"):
        list(read_livedoor(tmp_path, categories=["nope"]))


def test_real_livedoor_corpus(livedoor_dir):
    counts = Counter(r.label for r in read_livedoor(livedoor_dir, fields="title"))
    assert sum(counts.values()) == 7367
    assert counts["sports-watch"] == 900 and counts["livedoor-homme"] == 511
    assert len(counts) == 9


def test_docbin_round_trip(tmp_path):
    vocab = Vocab()
    db = DocBin(store_user_data=True)
    a = Doc(vocab, words=["良い", "日"])
    a.cats = {"pos": 1.0, "neg": 0.0}
    a.user_data["id"] = "doc-a"
    db.add(a)
    db.add(Doc(vocab, words=["無名"]))
    db.to_disk(tmp_path / "c.spacy")
    records = list(read_docbin(tmp_path / "c.spacy"))
    assert [(r.id, r.labels) for r in records] == [("doc-a", ("pos",)), ("c.spacy:1", ())]
    assert records[0].text == "良い 日 "
    (tmp_path / "bad.spacy").write_bytes(b"garbage")
    with pytest.raises(CorpusError, match="not a readable spaCy DocBin"):
        list(read_docbin(tmp_path / "bad.spacy"))


def test_missing_and_wrong_inputs(tmp_path):
    with pytest.raises(CorpusError, match="Corpus not found"):
        list(read_corpus(tmp_path / "nope.jsonl"))
    with pytest.raises(CorpusError, match="str or Path"):
        list(read_corpus(42))
    with pytest.raises(CorpusError, match="Unknown corpus format"):
        list(read_corpus(tmp_path, format="xml"))
    (tmp_path / "a.txt").write_text("文", encoding="utf-8")
    with pytest.raises(CorpusError, match="on_error"):
        list(read_text_lines(tmp_path / "a.txt", on_error="ignore"))


def test_shipped_sample_corpus():
    records = list(read_corpus(sample_corpus_path()))
    assert len(records) == 300
    assert len({r.id for r in records}) == 300
    by_label = Counter(r.label for r in records)
    assert len(by_label) == 6 and set(by_label.values()) == {50}
    sentiment = Counter((r.label, r.meta["sentiment"]) for r in records)
    assert set(sentiment.values()) == {25}
    assert all(isinstance(r.text, str) and 10 < len(r.text) < 200 for r in records)
