import pickle

import pytest

from tsunagu.errors import ConfigError
from tsunagu.tokenizer import SUDACHI_MAX_BYTES, LongTextJapaneseTokenizer, split_for_sudachi, tokenizer_only_nlp


@pytest.mark.parametrize("text", [
    "短い文。" * 5000,
    "改行だけの行\n" * 8000,
    "句点のない非常に長い文" * 3000,
    "混在。\nとても" * 4000 + "最後",
])
def test_pieces_fit_sudachi_and_rebuild_the_text(text):
    pieces = list(split_for_sudachi(text, 40000))
    assert "".join(pieces) == text
    assert all(0 < len(p.encode("utf-8")) <= 40000 for p in pieces)
    assert len(pieces) > 1


def test_cuts_fall_after_sentence_ends_when_possible():
    pieces = list(split_for_sudachi("これは文です。" * 10000, 40000))
    assert all(p.endswith("。") for p in pieces)


def test_tokenizer_pickles_and_keeps_settings(nlp):
    tok = pickle.loads(pickle.dumps(nlp.tokenizer))
    assert tok.chunk_bytes == nlp.tokenizer.chunk_bytes
    text = "長い文書です。" * 4000
    assert len(text.encode()) > SUDACHI_MAX_BYTES
    assert tok(text).text == text


def test_long_text_keeps_sudachi_sub_tokens_aligned(nlp):
    text = "東京都庁で国際会議が開催された。" * 1100  # 52,800 bytes
    doc = nlp.tokenizer(text)
    assert len(doc.user_data["sub_tokens"]) == len(doc)
    # GiNZA's compound splitter reads them: splitting must work on long texts too.
    splitter = nlp.get_pipe("compound_splitter")
    before = splitter.split_mode
    splitter.split_mode = "A"
    try:
        assert [t.text for t in splitter(nlp.tokenizer(text))][:3] == ["東京", "都庁", "で"]
    finally:
        splitter.split_mode = before


def test_tokenizer_only_nlp_is_blank_japanese_with_the_long_text_tokenizer():
    nlp = tokenizer_only_nlp("A")
    assert nlp.lang == "ja" and nlp.pipe_names == []
    assert isinstance(nlp.tokenizer, LongTextJapaneseTokenizer) and nlp.tokenizer.split_mode == "A"
    assert nlp.config["nlp"]["tokenizer"]["@tokenizers"] == "tsunagu.JapaneseTokenizer.v1"
    text = "東京都庁で国際会議が開催された。" * 1100  # 52,800 bytes
    assert len(text.encode()) > SUDACHI_MAX_BYTES
    assert nlp(text).text == text
    assert [t.text for t in tokenizer_only_nlp()("東京都庁で")] == ["東京都庁", "で"]  # C by default
    shared = tokenizer_only_nlp().vocab
    assert tokenizer_only_nlp(vocab=shared).vocab is shared
    with pytest.raises(ConfigError, match="split_mode"):
        tokenizer_only_nlp("D")


def test_every_tokenizer_only_pipeline_is_tokenizer_only_nlp():
    from tsunagu.active.models import DocCache, load_tokenizer_nlp

    cache = DocCache()  # the active-learning models' documents
    for nlp in (load_tokenizer_nlp(None), load_tokenizer_nlp("no_such_package"), cache.nlp):
        assert isinstance(nlp.tokenizer, LongTextJapaneseTokenizer) and nlp.pipe_names == []
        assert nlp.tokenizer.split_mode == "C"
    assert cache.has_vectors  # over ja_ginza's vocabulary, with its vectors
    assert cache.docs(["長い文書です。" * 2400])[0].text == "長い文書です。" * 2400
