"""Sentence and document polarity by composition (tsunagu.polarity): labels, shifters,
removal, negation, contrast, the shipped threshold. A tiny lexicon written here,
GiNZA's parse from the session ``nlp`` fixture."""

import json

import pytest
import spacy
from spacy.tokens import Doc

from tsunagu.components.polarity import PolarityScorer
from tsunagu.loading import default_config_path
from tsunagu.polarity import NEUTRAL_THRESHOLD, document_label, document_score, label, read_profile
from tsunagu.serialize import doc_to_dict

# A hand-made lexicon (fewer than 1,000 entries): its scores are used as written.
LEXICON = """word\tpos\tscore\tlabel
素晴らしい\t*\t0.9\tpositive
美味しい\ta\t0.8\tpositive
最高\t*\t0.9\tpositive
好調\t*\t0.7\tpositive
嬉しい\t*\t0.7\tpositive
失礼\t*\t-0.6\tnegative
残念\t*\t-0.7\tnegative
不安\t*\t-0.7\tnegative
低迷\t*\t-0.6\tnegative
悪い\ta\t-0.8\tnegative
会議\t*\t0.05\tpositive
開く\t*\t0.05\tpositive
東京\t*\t0.1\tpositive
"""


@pytest.fixture(scope="module")
def lexicon_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lexicon") / "tiny.tsv"
    path.write_text(LEXICON, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scorer(lexicon_file):
    def make(**config):
        return PolarityScorer("polarity", [str(lexicon_file)], **config)
    return make


@pytest.fixture(scope="module")
def parse(nlp):
    """Parse once with the session pipeline; each test rescores a copy of the parse."""
    cache = {}

    def run(text, pipe):
        if text not in cache:
            cache[text] = nlp(text).to_bytes()
        return pipe(Doc(nlp.vocab).from_bytes(cache[text]))
    return run


@pytest.fixture(scope="module")
def default(scorer):
    return scorer()


def test_labels_of_each_kind(parse, default):
    positive = parse("この映画は素晴らしい。", default)
    negative = parse("店員の態度が失礼だった。", default)
    factual = parse("本日、東京で会議が開かれた。", default)
    for doc, expected in ((positive, "positive"), (negative, "negative"), (factual, "neutral")):
        sent = next(doc.sents)
        assert sent._.polarity_label == expected, (doc.text, sent._.polarity_reasons)
        assert doc._.polarity_label == expected
    assert positive._.polarity > 0 > negative._.polarity
    assert parse("明日は月曜日だ。", default)._.polarity_label == "neutral"  # no evidence at all


def test_mixed_sentence_follows_the_clause_after_the_contrast(parse, default, scorer):
    doc = parse("料理は最高だが、店員が失礼だ。", default)
    assert doc._.polarity < 0
    assert parse("店員は失礼だが、料理は最高だ。", default)._.polarity > 0
    # Mixed evidence is weaker than either side alone: the label is neutral or follows the sign.
    assert doc._.polarity_label == label(doc._.polarity) in ("neutral", "negative")
    assert abs(doc._.polarity) < abs(parse("店員が失礼だ。", default)._.polarity)
    flat = parse("料理は最高だが、店員が失礼だ。", scorer(disable_rules=["contrast", "main_clause"]))
    assert flat._.polarity > doc._.polarity  # the contrast rule is what makes it negative


@pytest.mark.parametrize("text, expected, rule", [
    ("売上高が減少しました。", "negative", "change:減少-"),
    ("損失が減少しました。", "positive", "change:減少-"),
    ("コストが上昇した。", "negative", "change:上昇+"),
    ("売上高は92億円（同1.7％減）となりました。", "negative", "numeric:減-"),
    ("赤字を解消した。", "positive", "removal:解消-"),
    ("不安が高まっている。", "negative", "change:高まる+"),
])
def test_shifters_take_their_polarity_from_the_quantity(parse, default, text, expected, rule):
    doc = parse(text, default)
    assert doc._.polarity_label == expected, next(doc.sents)._.polarity_reasons
    reasons = next(doc.sents)._.polarity_reasons
    assert rule in reasons[0]["rules"]


def test_without_the_profile_business_quantities_are_unknown(parse, scorer):
    doc = parse("売上高が減少しました。", scorer(profiles=[]))
    assert doc._.polarity_label == "neutral"
    assert read_profile("business").direction("経常利益") == 1  # longest listed suffix: 利益


def test_negation_and_double_negation(parse, default, scorer):
    assert parse("このラーメンは美味しい。", default)._.polarity > 0
    negated = parse("このラーメンは美味しくない。", default)
    assert negated._.polarity < 0
    assert [t._.negated for t in negated if t.text == "美味しく"] == [True]
    assert parse("美味しくないわけではない。", default)._.polarity > 0
    assert parse("このラーメンは美味しくない。", scorer(disable_rules=["negation"]))._.polarity > 0


def test_document_label_follows_its_sentences(parse, default):
    doc = parse("結末は残念だった。本日は東京で会議が開かれた。", default)
    sents = list(doc.sents)
    assert [s._.polarity_label for s in sents] == ["negative", "neutral"]
    assert doc._.polarity_label == "negative"
    assert doc._.polarity == pytest.approx(sents[0]._.polarity)  # the neutral one does not pull
    neutral = parse("本日は東京で会議が開かれた。明日は月曜日だ。", default)
    assert neutral._.polarity_label == "neutral"
    assert document_label([0.05, -0.02], 0.1) == "neutral"
    assert document_label([0.5, -0.3, 0.0], 0.1) == "positive"
    assert document_score([0.5, -0.3, 0.01], 0.1) == pytest.approx(0.1)
    record = json.loads(json.dumps(doc_to_dict(doc, "d")))
    assert record["polarity_label"] == "negative"
    assert [s["polarity_label"] for s in record["sents"]] == ["negative", "neutral"]


def test_threshold_is_read_from_the_shipped_settings(scorer, parse):
    config = spacy.util.load_config(default_config_path())["components"]["polarity"]
    assert config["neutral_threshold"] == NEUTRAL_THRESHOLD
    assert config["scorer"] == "composition"
    assert scorer().neutral_threshold == NEUTRAL_THRESHOLD
    assert label(NEUTRAL_THRESHOLD * 0.99) == "neutral" and label(NEUTRAL_THRESHOLD + 1e-9) == "positive"
    strict = parse("この映画は素晴らしい。", scorer(neutral_threshold=0.99))
    assert strict._.polarity_label == "neutral" and strict._.polarity > 0


def test_landed_mean_scorer_and_bad_settings(parse, scorer):
    doc = parse("このラーメンは美味しくない。", scorer(scorer="mean"))
    assert doc._.polarity == pytest.approx(-0.8)  # the raw lexicon score, negated
    with pytest.raises(Exception, match="scorer"):
        scorer(scorer="vote")
    with pytest.raises(Exception, match="disable_rules"):
        scorer(disable_rules=["sarcasm"])


def test_large_lexicons_are_put_on_a_quantile_scale():
    from tsunagu.lexicons.lexicon import Lexicon
    from tsunagu.polarity import Prior

    # 2,000 entries, two positive for each negative, on a spin model's small scale.
    entries = {(f"w{i}", "*"): (i + 1) * 1e-5 * (1 if i % 3 else -1) for i in range(2000)}
    prior = Prior(Lexicon(entries), min_quantile=0.5)
    assert prior("w1999") == pytest.approx(1.0)  # the most confident entry
    assert prior("w3") == 0.0  # below the cut
    assert prior("w1998") < 0 and prior("w1998") == pytest.approx(-1999 / 2000)
    assert prior.balance == pytest.approx(667 / 1333)  # n_negative / n_positive
    small = Prior(Lexicon({("良い", "*"): 0.7}), min_quantile=0.5)
    assert small("良い") == 0.7 and small.balance == 1.0
