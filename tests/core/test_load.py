"""tsunagu.load(): GiNZA's analysis from the shipped config, overrides, errors."""

import pytest
import spacy
from spacy.language import Language

import tsunagu
from tsunagu import ConfigError, ModelNotFoundError, UnknownComponentError

from conftest import shared_pipeline

SENTENCES = [
    "銀座でランチをご一緒しましょう。",
    "東京都庁で国際会議が開催された。",
    "新しいスマートフォンは電池の持ちが悪くて残念だ。",
]


def test_load_returns_a_language_with_ginza_components(nlp):
    assert isinstance(nlp, Language)
    assert nlp.lang == "ja"
    assert nlp.pipe_names == ["tok2vec", "parser", "ner", "morphologizer",
                              "compound_splitter", "bunsetu_recognizer", "polarity"]
    assert nlp.vocab.vectors.shape == (20000, 300)


def test_analysis_has_every_layer(nlp):
    doc = nlp("銀座でランチをご一緒しましょう。")
    assert [t.text for t in doc][:3] == ["銀座", "で", "ランチ"]
    shi = doc[6]
    assert shi.lemma_ == "する" and shi.pos_ == "AUX"
    assert doc[0]._.reading == "ギンザ"
    assert shi._.inflection.startswith("サ行変格")
    assert doc[5].dep_ == "ROOT" and doc[0].head.i == 5
    assert [s.text for s in doc._.bunsetu] == ["銀座で", "ランチを", "ご一緒しましょう。"]
    assert [(e.text, e.label_) for e in doc.ents] == [("銀座", "City")]


def test_same_analysis_as_plain_ja_ginza(nlp):
    ginza = spacy.load("ja_ginza")
    for text in SENTENCES:
        ours, theirs = nlp(text), ginza(text)
        assert [(t.text, t.lemma_, t.tag_, t.pos_, t.dep_, t.head.i) for t in ours] == \
               [(t.text, t.lemma_, t.tag_, t.pos_, t.dep_, t.head.i) for t in theirs]
        assert [(e.text, e.label_) for e in ours.ents] == [(e.text, e.label_) for e in theirs.ents]


def test_split_mode_selects_the_token_unit():
    text = "東京都庁で国際会議が開催された。"
    short = shared_pipeline("A")(text)  # tsunagu.load(split_mode="A"), once per session
    long = tsunagu.load(split_mode="C")(text)
    assert "都庁" in [t.text for t in short] and "国際" in [t.text for t in short]
    assert len(short) > len(long)
    assert short.text == long.text == text


def test_config_overrides_like_spacy_load():
    nlp = tsunagu.load(config={"nlp.batch_size": 7}, disable=["ner"])
    assert nlp.batch_size == 7
    assert "ner" in nlp.disabled
    assert not nlp("東京へ行く。").ents
    nested = tsunagu.load(config={"nlp": {"batch_size": 9}})
    assert nested.batch_size == 9


def test_saved_pipeline_round_trips(nlp, tmp_path):
    nlp.to_disk(tmp_path / "pipe")
    again = tsunagu.load(tmp_path / "pipe")
    plain = spacy.load(tmp_path / "pipe")  # entry points, no tsunagu-specific loading
    for text in SENTENCES:
        expected = [(t.text, t.dep_, t.ent_type_) for t in nlp(text)]
        assert [(t.text, t.dep_, t.ent_type_) for t in again(text)] == expected
        assert [(t.text, t.dep_, t.ent_type_) for t in plain(text)] == expected


def test_text_over_sudachis_byte_limit(nlp):
    sentence = "今日は晴れて気持ちが良い。"
    text = sentence * 2000  # about 78,000 bytes; Sudachi alone refuses > 49,149
    doc = nlp.make_doc(text)
    assert doc.text == text
    assert len(doc) == len(nlp.make_doc(sentence)) * 2000


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"split_mode": "D"}, ConfigError, ["split_mode", "A, B, C"]),
        ({"disable": ["nope"]}, UnknownComponentError, ["nope", "tok2vec, parser"]),
        ({"config": {"componentz.ner.x": 1}}, ConfigError, ["componentz.ner", "components.ner"]),
        ({"config": {"nlp.batch_size": "abc"}}, ConfigError, ["batch_size", "integer"]),
        ({"config": {"nlp.tokenizer.split_mode": "Z"}}, ConfigError, ["'A', 'B' or 'C'"]),
        ({"config": "nlp.batch_size=3"}, ConfigError, ["dict of overrides"]),
    ],
)
def test_bad_settings_raise_errors_that_name_the_fix(kwargs, error, words):
    with pytest.raises(error) as info:
        tsunagu.load(**kwargs)
    for word in words:
        assert word in str(info.value)


def _config_with(tmp_path, old, new):
    text = tsunagu.default_config_path().read_text(encoding="utf-8").replace(old, new)
    path = tmp_path / "pipeline.cfg"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_model_package_names_the_install_command(tmp_path):
    path = _config_with(tmp_path, 'ginza = "ja_ginza"', 'ginza = "ja_ginza_not_installed"')
    with pytest.raises(ModelNotFoundError, match="pip install ja_ginza_not_installed"):
        tsunagu.load(path)


def test_unknown_factory_is_named(tmp_path):
    path = _config_with(tmp_path, 'factory = "bunsetu_recognizer"', 'factory = "no_such_factory"')
    with pytest.raises(UnknownComponentError, match="no_such_factory"):
        tsunagu.load(path)


def test_pipeline_name_without_section(tmp_path):
    path = _config_with(tmp_path, '"polarity"]', '"polarity","extra"]')
    with pytest.raises(UnknownComponentError, match=r"\[components.extra\]"):
        tsunagu.load(path)


def test_missing_pipeline_path():
    with pytest.raises(ModelNotFoundError, match="nlp.to_disk"):
        tsunagu.load("/no/such/pipeline")
