"""Polarity lexicons (TSV) and the tsunagu_polarity component: negation, contrast,
sentence and document scores, overrides, bad files."""

import json

import pytest
import spacy

import tsunagu
from tsunagu.lexicons.lexicon import Lexicon, LexiconError, read_lexicon, write_lexicon
from tsunagu.serialize import doc_to_dict

LEXICON = """# test lexicon
# source: written for the tests
word\tpos\tscore\tlabel
美味しい\ta\t0.8\tpositive
最高\t*\t0.9\tpositive
高い\ta\t-0.3\tnegative
良い\ta\t0.7\tpositive
失礼\t*\t-0.6\tnegative
悪い\ta\t-0.8\tnegative
残念\t*\t-0.7\tnegative
good\ta\t0.7\tpositive
bad\ta\t-0.7\tnegative
"""


@pytest.fixture(scope="module")
def lexicon_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("lex") / "ja.tsv"
    path.write_text(LEXICON, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scorer(lexicon_path):
    def build(**config):
        nlp = tsunagu.load()
        nlp.add_pipe("tsunagu_polarity", config={"lexicons": [str(lexicon_path)], **config})
        return nlp
    return build


@pytest.fixture(scope="module")
def nlp_polarity(scorer):
    return scorer()


def test_read_and_write_round_trip(lexicon_path, tmp_path):
    lex = read_lexicon(lexicon_path)
    assert len(lex) == 9 and lex.header == ["test lexicon", "source: written for the tests"]
    assert lex.score("美味しい", "ADJ") == 0.8
    assert lex.score("最高", "NOUN") == 0.9  # the * entry
    assert lex.score("美味しい", "NOUN") == 0.8  # any POS as the last resort
    assert lex.score("未知", "NOUN") is None
    write_lexicon(lex, tmp_path / "out.tsv")
    again = read_lexicon(tmp_path / "out.tsv")
    assert again.entries == lex.entries and again.header == lex.header


@pytest.mark.parametrize("line, message", [
    ("良い\ta\t0.7", "expected 4 tab-separated columns"),
    ("良い\tadj\t0.7\tpositive", "pos must be one of"),
    ("良い\ta\tgood\tpositive", "is not a number"),
    ("良い\ta\t1.5\tpositive", "outside [-1, 1]"),
    ("良い\ta\t0.7\tnice", "label must be"),
    ("良い\ta\t-0.7\tpositive", "disagrees with score"),
])
def test_bad_lexicon_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.tsv"
    path.write_text("# header\nword\tpos\tscore\tlabel\n悪い\ta\t-0.8\tnegative\n" + line + "\n",
                    encoding="utf-8")
    with pytest.raises(LexiconError, match=rf"bad.tsv:4: .*{message.replace('[', '.').replace(']', '.')}"):
        read_lexicon(path)


def test_non_utf8_and_missing_lexicons(tmp_path):
    path = tmp_path / "latin.tsv"
    path.write_bytes(b"word\tpos\tscore\tlabel\nna\xefve\ta\t0.1\tpositive\n")
    with pytest.raises(LexiconError, match="latin.tsv:2: not valid UTF-8"):
        read_lexicon(path)
    with pytest.raises(LexiconError, match="Lexicon not found"):
        read_lexicon(tmp_path / "none.tsv")


def test_japanese_negation_flips_the_predicate(nlp_polarity, scorer):
    plain = nlp_polarity("このラーメンは美味しい。")
    negated = nlp_polarity("このラーメンは美味しくない。")
    assert plain._.polarity > 0 and negated._.polarity < 0
    assert [t._.negated for t in negated if t.text == "美味しく"] == [True]
    assert nlp_polarity("悪くはない。")._.polarity > 0
    assert nlp_polarity("良い天気ではない。")._.polarity < 0
    ignoring = scorer(negation=False)
    assert ignoring("このラーメンは美味しくない。")._.polarity > 0  # what ignoring negation gives


def test_contrast_clause_weighs_more(nlp_polarity, scorer):
    text = "料理は最高だが、店員が失礼だ。"
    assert nlp_polarity(text)._.polarity < 0
    assert scorer(contrast_weight=1.0)(text)._.polarity > 0  # a plain mean says positive
    assert nlp_polarity("値段は高いが、味は最高だ。")._.polarity > 0


def test_sentence_and_document_scores(nlp_polarity):
    doc = nlp_polarity("結末は残念だった。でも料理は美味しい。特にない。")
    sents = list(doc.sents)
    assert sents[0]._.polarity < 0 and sents[1]._.polarity > 0 and sents[2]._.polarity == 0.0
    assert doc._.polarity == pytest.approx((sents[0]._.polarity + sents[1]._.polarity) / 2)
    record = json.loads(json.dumps(doc_to_dict(doc, "d")))
    assert record["polarity"] == pytest.approx(doc._.polarity)
    assert record["sents"][0]["polarity"] < 0
    assert any(t["negated"] is False for t in record["tokens"])


def test_user_lexicon_listed_last_overrides(lexicon_path, tmp_path):
    user = tmp_path / "user.tsv"
    user.write_text("word\tpos\tscore\tlabel\n高い\ta\t0.5\tpositive\n", encoding="utf-8")
    nlp = tsunagu.load()
    nlp.add_pipe("tsunagu_polarity", config={"lexicons": [str(lexicon_path), str(user)]})
    assert nlp("性能が高い。")._.polarity > 0


def test_english_negation_without_a_parser(lexicon_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("tsunagu_polarity", config={"lexicons": [str(lexicon_path)]})
    assert nlp("the food was good")._.polarity > 0
    assert nlp("the food was not good")._.polarity < 0
    assert nlp("good start but bad ending")._.polarity < 0


def test_saved_pipeline_keeps_the_merged_lexicon(nlp_polarity, tmp_path):
    nlp_polarity.to_disk(tmp_path / "pipe")
    again = spacy.load(tmp_path / "pipe")
    text = "このラーメンは美味しくない。"
    doc = again(text)
    # 美味しい +0.8 in the test lexicon, negated; the sentence as the pipeline before saving.
    assert [t._.polarity for t in doc if t._.polarity is not None] == [pytest.approx(-0.8)]
    assert doc._.polarity == pytest.approx(nlp_polarity(text)._.polarity) and doc._.polarity < 0


def test_bad_configuration(lexicon_path):
    nlp = spacy.blank("en")
    with pytest.raises(Exception, match="contrast_weight"):
        nlp.add_pipe("tsunagu_polarity", config={"lexicons": [str(lexicon_path)], "contrast_weight": 0})
    with pytest.raises(LexiconError):
        spacy.blank("en").add_pipe("tsunagu_polarity", config={"lexicons": ["/no/such.tsv"]})
    assert Lexicon().score("x") is None
