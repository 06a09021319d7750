"""tsunagu polarity adapt (issue 17 part 2): corpus links, silver labels, self-training,
resuming, and clear errors on corpora too small to adapt to."""

import itertools
import json

import pytest

from tsunagu.errors import CorpusError
from tsunagu.polarity import adapt as adapt_module
from tsunagu.polarity.adapt import adapt, corpus_lexicon

PLACES = ["当期は", "前期に比べ", "国内では", "海外では"]
QUANTITIES = ["売上高", "営業利益", "受注", "販売", "経常利益"]
UP = ["が増加しました。", "が大幅に改善しました。", "が好調に推移しました。"]
DOWN = ["が減少しました。", "が悪化しました。", "が低迷しました。"]


def write_corpus(path, n_places=4):
    texts = ["".join(p) for p in itertools.product(PLACES[:n_places], QUANTITIES, UP + DOWN)]
    with open(path, "w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"t{i}", "text": text}, ensure_ascii=False) + "\n")
    return texts


def test_an_empty_corpus_is_a_clear_error(tmp_path):
    corpus = tmp_path / "empty.jsonl"
    corpus.write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match="no text to adapt to"):
        adapt(corpus, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_tiny_corpus_is_a_clear_error(tmp_path):
    corpus = tmp_path / "tiny.jsonl"
    write_corpus(corpus, n_places=1)  # 30 sentences
    with pytest.raises(CorpusError, match=r"30 distinct sentences; adapting needs at least 100"):
        adapt(corpus, tmp_path / "out", progress=False)


def test_the_corpus_network_keeps_the_lexicon_sign_where_the_corpus_agrees(nlp):
    docs = [nlp(t) for t in ["安くて美味しい。", "高いが美味しい。", "安くて便利だ。"]]
    lexicon, linked, moved = corpus_lexicon(docs)
    assert linked >= 3
    assert lexicon.score("美味しい") > 0 and lexicon.score("便利") > 0


def test_adapt_writes_a_pipeline_and_resumes(tmp_path, monkeypatch):
    import tsunagu

    corpus = tmp_path / "reports.jsonl"
    write_corpus(corpus)
    out = tmp_path / "adapted"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    real_train = adapt_module._train_round
    monkeypatch.setattr(adapt_module, "_train_round", interrupted)
    with pytest.raises(KeyboardInterrupt):
        adapt(corpus, out, rounds=1, max_epochs=3, progress=False)
    assert not out.exists()
    work = tmp_path / "adapted.adapt-work"
    assert (work / "sentences.spacy").is_file()

    monkeypatch.setattr(adapt_module, "_train_round", real_train)
    messages = []
    result = adapt(corpus, out, rounds=1, max_epochs=3, progress=False, log=messages.append)
    assert any("reusing the parse of 120 sentences" in m for m in messages)
    assert not work.exists()
    meta = json.loads((out / "tsunagu_polarity.json").read_text())
    assert meta["kind"] == "adapted" and meta["best_round"] == 1 and meta["sentences"] == 120
    assert result.rounds[0]["silver"] > 40
    assert (out / "lexicon.tsv").is_file()

    nlp = tsunagu.load(polarity=out)
    good = nlp("当期は売上高が増加しました。")
    bad = nlp("当期は売上高が減少しました。")
    assert good._.polarity > 0 > bad._.polarity
    for doc in (good, bad):  # labels follow the mixed score and the shipped threshold
        s = doc._.polarity
        assert doc._.polarity_label == ("neutral" if abs(s) < 0.3 else "positive" if s > 0 else "negative")
    # neutral as the default scorer: below the shipped threshold, or without evidence
    assert meta["neutral_threshold"] == pytest.approx(0.3) and meta["neutral_without_evidence"]
    factual = nlp("明日は月曜日だ。")
    assert not any(t._.polarity is not None for t in factual)
    assert factual._.polarity_label == "neutral" and next(factual.sents)._.polarity_label == "neutral"


def test_the_command_refuses_an_existing_output(cli, tmp_path):
    corpus = tmp_path / "reports.jsonl"
    write_corpus(corpus)
    (tmp_path / "adapted").mkdir()
    proc = cli("polarity", "adapt", corpus, "-o", tmp_path / "adapted", check=False)
    assert proc.returncode != 0
    assert "exists" in proc.stderr and "--overwrite" in proc.stderr
