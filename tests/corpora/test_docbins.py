"""`tsunagu corpus to-spacy`, the DocBin reader and the length batcher for spacy train."""

import json
import random
from collections import Counter

import pytest
import spacy
from spacy.tokens import DocBin

from tsunagu.corpora import Record, sample_corpus_path
from tsunagu.docbins import corpus_to_docbins, split_records
from tsunagu.errors import ConfigError, CorpusError, OutputExistsError
from tsunagu.training import DocBinCorpus, batch_by_length


def _docs(path):
    return list(DocBin().from_disk(path).get_docs(spacy.blank("ja").vocab))


def test_to_spacy_writes_a_stratified_split_with_one_hot_cats(cli, tmp_path):
    out = tmp_path / "sample"
    proc = cli("corpus", "to-spacy", sample_corpus_path(), out, "--no-progress")
    assert "total          240      30      30" in proc.stdout
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    labels = ["economy", "food", "movies", "sports", "technology", "travel"]
    assert meta["labels"] == labels and meta["seed"] == 0
    ids = {}
    for name, per_label in (("train", 40), ("dev", 5), ("test", 5)):
        docs = _docs(out / f"{name}.spacy")
        counts = Counter(max(d.cats, key=d.cats.get) for d in docs)
        assert counts == {label: per_label for label in labels}
        for doc in docs:
            assert sorted(doc.cats) == labels and sorted(doc.cats.values()) == [0.0] * 5 + [1.0]
            assert doc[0].lemma_ and doc[0].tag_  # tokenized by Sudachi, not parsed
            assert not doc.has_annotation("DEP")
        ids[name] = {d.user_data["id"] for d in docs}
    assert not ids["train"] & ids["dev"] and not ids["train"] & ids["test"] and not ids["dev"] & ids["test"]
    assert not list(tmp_path.glob("sample/.*"))  # no temporary files left


def test_split_is_by_id_seeded_and_independent_of_reading_order():
    records = [Record(f"doc-{i}", "x", (("a", "b", "c")[i % 3],)) for i in range(300)]
    first = split_records(records, (0.8, 0.1, 0.1), seed=0)
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    again = split_records(shuffled, (0.8, 0.1, 0.1), seed=0)
    other = split_records(records, (0.8, 0.1, 0.1), seed=1)
    ids = lambda parts, name: [r.id for r in parts[name]]  # noqa: E731
    assert ids(first, "test") == ids(again, "test") and ids(first, "train") == ids(again, "train")
    assert set(ids(first, "test")) != set(ids(other, "test"))
    assert [len(first[n]) for n in ("train", "dev", "test")] == [240, 30, 30]
    assert Counter(r.label for r in first["dev"]) == {"a": 10, "b": 10, "c": 10}


def test_multilabel_records_need_the_flag(tmp_path):
    corpus = tmp_path / "multi.jsonl"
    rows = [{"id": str(i), "text": f"今日は{i}回目の試合です。", "labels": ["sports", "news"][: 1 + i % 2]}
            for i in range(20)]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    with pytest.raises(CorpusError, match="several labels.*--multilabel"):
        corpus_to_docbins(corpus, tmp_path / "out", progress=False)
    summary = corpus_to_docbins(corpus, tmp_path / "out", multilabel=True, progress=False)
    assert summary.labels == ["news", "sports"]
    docs = [d for name in ("train", "dev", "test") for d in _docs(tmp_path / "out" / f"{name}.spacy")]
    assert len(docs) == 20
    assert any(d.cats == {"news": 1.0, "sports": 1.0} for d in docs)
    assert any(d.cats == {"news": 0.0, "sports": 1.0} for d in docs)


def test_unlabelled_or_empty_corpora_and_bad_options_are_clear_errors(cli, tmp_path):
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text('{"id": "a", "text": "ラベルなし"}\n{"id": "b", "text": "x", "label": "l"}\n',
                          encoding="utf-8")
    with pytest.raises(CorpusError, match=r"1 record\(s\) have no label \(first: a\).*--label-field"):
        corpus_to_docbins(unlabelled, tmp_path / "o1", progress=False)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"id": "a", "text": "  ", "label": "x"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="no documents with text"):
        corpus_to_docbins(empty, tmp_path / "o2", progress=False)
    with pytest.raises(ConfigError, match="summing to 1"):
        corpus_to_docbins(sample_corpus_path(), tmp_path / "o3", fractions=(0.8, 0.3, 0.1))
    (tmp_path / "o4").mkdir()
    (tmp_path / "o4" / "train.spacy").write_bytes(b"")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        corpus_to_docbins(sample_corpus_path(), tmp_path / "o4")
    proc = cli("corpus", "to-spacy", unlabelled, tmp_path / "o5", check=False)
    assert proc.returncode == 1 and "error: 1 record(s) have no label" in proc.stderr


def test_docbin_reader_keeps_the_stored_tokens_and_hides_the_labels(tmp_path):
    nlp = spacy.blank("ja")
    words = ["東京", "で", "試合", "が", "あっ", "た"]
    docbin = DocBin(store_user_data=True)
    for n in (6, 0, 3):
        doc = spacy.tokens.Doc(nlp.vocab, words=words[:n], lemmas=words[:n] if n else None)
        doc.cats = {"sports": 1.0, "food": 0.0}
        docbin.add(doc)
    docbin.to_disk(tmp_path / "train.spacy")
    examples = list(DocBinCorpus(tmp_path / "train.spacy")(nlp))
    assert len(examples) == 2  # the empty document is skipped, as spaCy's reader does
    for eg in examples:
        assert eg.predicted.cats == {} and eg.reference.cats["sports"] == 1.0
        assert [t.text for t in eg.predicted] == [t.text for t in eg.reference]
        assert [t.lemma_ for t in eg.predicted] == words[:len(eg.predicted)]
    assert len(list(DocBinCorpus(tmp_path, limit=1)(nlp))) == 1
    with pytest.raises(CorpusError, match="No DocBin"):
        DocBinCorpus(tmp_path / "missing.spacy")


def test_length_batches_are_bounded_and_similar():
    lengths = [random.Random(i).randint(1, 60) for i in range(500)] + [500]
    items = [list(range(n)) for n in lengths]
    batches = list(batch_by_length(items, 600, window=200, rng=random.Random(0)))
    assert sorted(len(x) for b in batches for x in b) == sorted(lengths)
    for batch in batches:
        longest = max(len(x) for x in batch)
        assert len(batch) == 1 or longest * len(batch) <= 600
    assert [len(b) for b in batches if max(map(len, b)) == 500] == [1]
    # sorted within a window: a batch's documents differ in length by little
    assert sum(max(map(len, b)) - min(map(len, b)) for b in batches) / len(batches) < 10
    # max_length (the model's truncation) caps what a long document counts for
    capped = list(batch_by_length(items, 600, window=1000, max_length=30))
    assert all(min(30, max(map(len, b))) * len(b) <= 600 for b in capped)
    assert 1 < [len(b) for b in capped if max(map(len, b)) == 500][0] <= 20
