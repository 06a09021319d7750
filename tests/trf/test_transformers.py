"""Transformers: WordPiece over Sudachi, masked-LM pre-training with resumption, the
checked TransformerModel architecture, AdamW without decay on biases/LayerNorm,
similarity from the transformer, and the errors for bad models and inputs."""

import json

import numpy
import pytest

pytest.importorskip("spacy_transformers", reason="needs the transformers extra: pip install tsunagu[transformers]")

import spacy  # noqa: E402
import torch  # noqa: E402
from spacy.training import Example  # noqa: E402

from tsunagu.corpora import read_jsonl, sample_corpus_path  # noqa: E402
from tsunagu.errors import ConfigError, ModelLoadError, ModelNotFoundError, SequenceTooLongError  # noqa: E402
from tsunagu.trf.pretrain import PretrainSettings, pretrain  # noqa: E402
from tsunagu.trf.wordpiece import (  # noqa: E402
    SPECIAL_TOKENS, japanese_bert_tokenizer, split_words, sudachi_word_splitter, train_wordpiece,
    wordpiece_ids)

TINY = dict(vocab_size=1500, hidden_size=32, layers=1, heads=2, intermediate_size=64, max_length=32,
            max_position=64, batch_size=8, save_steps=3, valid_percent=10, learning_rate=1e-3)


def sample_texts():
    return [r.text for r in read_jsonl(sample_corpus_path())]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("trf") / "bert"
    meta = pretrain(sample_texts(), out, PretrainSettings(max_steps=6, **TINY), source="sample", progress=False)
    return out, meta


def test_wordpiece_ids_match_the_saved_tokenizer(tmp_path):
    texts = sample_texts()
    splitter = sudachi_word_splitter("A")
    words = [split_words(splitter, t) for t in texts]
    vocab = train_wordpiece(words, tmp_path, vocab_size=2500)
    lines = vocab.read_text(encoding="utf-8").splitlines()
    assert tuple(lines[: len(SPECIAL_TOKENS)]) == SPECIAL_TOKENS
    assert any(line.startswith("##") for line in lines), "no word-internal pieces learnt"
    tokenizer = japanese_bert_tokenizer(vocab)
    for text, doc_words in zip(texts[:30], words):
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == wordpiece_ids(tokenizer, doc_words)
    ids = [i for w in words for i in wordpiece_ids(tokenizer, w)]
    assert sum(i == tokenizer.unk_token_id for i in ids) / len(ids) < 0.01


def test_pretrained_directory_loads_with_auto_classes(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    out, meta = tiny_bert
    assert meta["steps"] == 6 and meta["finished"]
    assert meta["data"]["train_blocks"] > 0 and numpy.isfinite(meta["valid_mlm_loss"])
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert type(tokenizer).__name__ == "BertJapaneseTokenizer"
    assert tokenizer.word_tokenizer.__class__.__name__ == "SudachiTokenizer"
    model = AutoModel.from_pretrained(out)
    enc = tokenizer("東京都に住んでいます。", return_tensors="pt")
    hidden = model(**enc).last_hidden_state
    assert hidden.shape == (1, enc["input_ids"].shape[1], TINY["hidden_size"])


def test_pretraining_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / "bert"
    first = pretrain(sample_texts(), out, PretrainSettings(max_steps=4, **TINY), source="s", progress=False)
    assert first["steps"] == 4
    blocks_mtime = (out / "blocks.npz").stat().st_mtime_ns
    second = pretrain(sample_texts(), out, PretrainSettings(max_steps=7, **TINY), source="s", progress=False)
    assert second["steps"] == 7
    assert second["runs"][-1]["resumed_from"] == "checkpoint-4"
    assert (out / "blocks.npz").stat().st_mtime_ns == blocks_mtime, "the corpus was tokenized again"
    with pytest.raises(ConfigError, match="other model or data settings"):
        pretrain(sample_texts(), out, PretrainSettings(max_steps=9, **{**TINY, "hidden_size": 64}),
                 source="s", progress=False)
    latest = out / "checkpoints" / "checkpoint-7"
    (latest / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(ModelLoadError, match="checkpoint-7 is corrupt.*resume from checkpoint-6"):
        pretrain(sample_texts(), out, PretrainSettings(max_steps=9, **TINY), source="s", progress=False)


def test_pretrain_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="longer than the model's 64 positions"):
        PretrainSettings(**{**TINY, "max_length": 128}).validate()
    with pytest.raises(ConfigError, match="not divisible"):
        PretrainSettings(**{**TINY, "heads": 3}).validate()
    with pytest.raises(ConfigError, match="no text"):
        pretrain(["", "  "], tmp_path / "empty", PretrainSettings(max_steps=1, **TINY), progress=False)


def _ja_textcat(model_dir, **model_options):
    nlp = spacy.blank("ja", config={"nlp": {"tokenizer": {"@tokenizers": "tsunagu.JapaneseTokenizer.v1"}}})
    spans = model_options.pop("get_spans", {"@span_getters": "spacy-transformers.strided_spans.v1",
                                            "window": 16, "stride": 12})
    nlp.add_pipe("transformer", config={"model": {
        "@architectures": "tsunagu.TransformerModel.v1", "name": str(model_dir), "get_spans": spans,
        "tokenizer_config": {"use_fast": False}, **model_options}})
    nlp.add_pipe("textcat", config={"model": {
        "@architectures": "spacy.TextCatReduce.v1", "exclusive_classes": True, "use_reduce_first": False,
        "use_reduce_last": False, "use_reduce_max": False, "use_reduce_mean": True, "nO": None,
        "tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0,
                    "pooling": {"@layers": "reduce_mean.v1"}}}})
    nlp.add_pipe("tsunagu_trf_similarity")
    return nlp


def _sentiment_examples(nlp):
    records = [r for r in read_jsonl(sample_corpus_path()) if r.meta.get("sentiment") in ("positive", "negative")]
    examples = []
    for r in records[:40]:
        doc = nlp.make_doc(r.text)
        pos = r.meta["sentiment"] == "positive"
        examples.append(Example.from_dict(doc, {"cats": {"POS": float(pos), "NEG": float(not pos)}}))
    return examples


def test_japanese_transformer_textcat_trains_and_round_trips(tiny_bert, tmp_path):
    model_dir, _ = tiny_bert
    nlp = _ja_textcat(model_dir, gradient_checkpointing=True)
    examples = _sentiment_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    assert nlp.get_pipe("transformer").model.transformer.is_gradient_checkpointing
    losses = []
    for _ in range(12):
        step = {}
        nlp.update(examples, sgd=optimizer, losses=step)
        losses.append(step["textcat"])
    assert losses[-1] < losses[0], losses
    texts = [e.reference.text for e in examples[:5]] + ["長い文書" * 40]  # > window: several windows
    before = [d.cats for d in nlp.pipe(texts)]
    doc = nlp(texts[-1])
    assert len(doc._.trf_data.wordpieces.input_ids) > 1, "a long document was not cut into windows"
    assert doc.vector.shape == (TINY["hidden_size"],) and -1 <= doc.similarity(nlp(texts[0])) <= 1
    nlp.to_disk(tmp_path / "pipe")
    loaded = spacy.load(tmp_path / "pipe")
    after = [d.cats for d in loaded.pipe(texts)]
    for a, b in zip(before, after):
        assert a.keys() == b.keys()
        assert all(abs(a[k] - b[k]) < 1e-5 for k in a)


def test_adamw_spares_biases_and_layernorm_weights():
    from thinc.api import registry

    opt = registry.resolve({"o": {"@optimizers": "tsunagu.AdamW.v1", "learn_rate": 0.1,
                                  "weight_decay": 0.5}})["o"]
    shrink = 1 - 0.1 * 0.5
    names = {"encoder.layer.0.attention.self.query.weight": True,
             "encoder.layer.0.attention.self.query.bias": False,
             "encoder.layer.0.output.LayerNorm.weight": False,
             "W": True, "b": False}
    for i, (name, decays) in enumerate(names.items()):
        shape = (3, 4) if name.endswith("weight") and "LayerNorm" not in name or name == "W" else (4,)
        weights = numpy.ones(shape, dtype="f")
        new, _ = opt((i, name), weights.copy(), numpy.zeros(shape, dtype="f"))
        expected = shrink if decays else 1.0
        assert numpy.allclose(new, expected), (name, new.ravel()[:3])
    assert opt.L2 == 0.5, "the decay rate was not restored after an exempt parameter"


def test_model_directory_errors(tiny_bert, tmp_path):
    import shutil

    model_dir, _ = tiny_bert
    with pytest.raises(ModelNotFoundError, match="never downloads"):
        _ja_textcat("bert-base-japanese")
    with pytest.raises(ModelNotFoundError, match="no installed Python package"):
        _ja_textcat("package:no_such_model_package/model")
    no_tok = tmp_path / "no-tokenizer"
    shutil.copytree(model_dir, no_tok, ignore=shutil.ignore_patterns("vocab.txt", "tokenizer_config.json",
                                                                      "checkpoints"))
    with pytest.raises(ModelLoadError, match="has no tokenizer"):
        _ja_textcat(no_tok)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(model_dir, corrupt, ignore=shutil.ignore_patterns("checkpoints"))
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    nlp = _ja_textcat(corrupt)
    with pytest.raises(ModelLoadError, match="corrupt"):
        nlp.initialize(lambda: _sentiment_examples(nlp))


def test_sequences_longer_than_the_positions(tiny_bert):
    model_dir, _ = tiny_bert
    whole_doc = {"@span_getters": "spacy-transformers.doc_spans.v1"}
    nlp = _ja_textcat(model_dir, get_spans=dict(whole_doc))
    nlp.initialize(lambda: _sentiment_examples(nlp))
    long_text = "今日は晴れて気持ちが良い。" * 20
    with pytest.raises(SequenceTooLongError, match=r"longer than the model's 64 positions.*smaller window"):
        nlp(long_text)
    nlp = _ja_textcat(model_dir, get_spans=dict(whole_doc), on_overflow="truncate")
    nlp.initialize(lambda: _sentiment_examples(nlp))
    with pytest.warns(UserWarning, match="dropped"):
        doc = nlp(long_text)
    assert set(doc.cats) == {"POS", "NEG"}


def test_mixed_precision_is_a_noop_with_a_warning_on_cpu(tiny_bert):
    model_dir, _ = tiny_bert
    with pytest.warns(UserWarning, match="mixed_precision needs a CUDA GPU"):
        nlp = _ja_textcat(model_dir, mixed_precision=True)
    assert not nlp.get_pipe("transformer").model.layers[0].shims[0]._mixed_precision


def test_cli_pretrain(cli, tmp_path):
    corpus = sample_corpus_path()
    out = tmp_path / "cli-bert"
    args = ["transformer", "pretrain", corpus, "-o", out, "--max-steps", "3", "--vocab-size", "1200",
            "--hidden-size", "32", "--layers", "1", "--heads", "2", "--intermediate-size", "64",
            "--max-length", "32", "--max-position", "64", "--batch-size", "4", "--no-progress", "--threads", "1"]
    proc = cli(*args)
    assert "3 steps" in proc.stdout and "finished" in proc.stdout
    assert json.loads((out / "tsunagu-pretrain.json").read_text())["steps"] == 3
    bad = cli(*args[:-2], "--max-length", "128", check=False)
    assert bad.returncode != 0 and "positions" in bad.stderr
