"""Saved models that were cut short or damaged (an interrupted copy, a full disk) are
reported as ``ModelLoadError`` naming the file and the fix, never as a bare
ValueError from deep inside torch, numpy or safetensors (issue 15): the language
model, heads, the BiLSTM classifier's weights, word vectors and transformers."""

import random
import shutil

import numpy
import pytest
import spacy
import torch

from tsunagu.errors import ModelLoadError
from tsunagu.language_model import LMSettings, load_language_model, train_language_model

LM = dict(embed_size=8, hidden_size=16, batch_size=4, bptt=8, min_count=1, epochs=1, threads=1)


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# Tiny models: one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    rng = random.Random(0)
    words = [f"w{i}" for i in range(12)]
    out = tmp_path_factory.mktemp("lm") / "model"
    train_language_model([rng.sample(words, 5) for _ in range(60)], [], out, LMSettings(**LM),
                         meta={"key": "orth", "split_mode": "C"}, progress=False)
    return out


@pytest.mark.parametrize("name", ["model.pt", "vocab.tsv", "meta.json"])
def test_a_truncated_language_model_names_the_file_and_the_fix(lm_dir, tmp_path, name):
    broken = tmp_path / "model"
    shutil.copytree(lm_dir, broken)
    truncate(broken / name, 0.4)
    with pytest.raises(ModelLoadError, match=rf"{name} of the language model .* copy the model directory "
                                             r"again, or retrain it"):
        load_language_model(broken)
    nlp = spacy.blank("xx")
    with pytest.raises(ModelLoadError, match=name):
        nlp.add_pipe("tsunagu_language_model", config={"model": str(broken)})


def test_a_truncated_head_file(tmp_path):
    from tsunagu.heads import Head, make_head

    path = tmp_path / "head.pt"
    make_head("hierarchical", 8, 20, counts=list(range(1, 21))).to_disk(path)
    assert Head.from_disk(path).n_classes == 20
    truncate(path)
    with pytest.raises(ModelLoadError, match=r"head\.pt is not a tsunagu head file or is corrupt.*re-train"):
        Head.from_disk(path)


def _bilstm(**settings):
    from tsunagu.components.bilstm import BiLSTMClassifier

    return BiLSTMClassifier(hidden_width=4, depth=1, dropout=0.0, pooling="max", ensemble_size=1,
                            freeze_embeddings=True, seed=0, **settings)


def test_truncated_bilstm_weights(tmp_path):
    from tsunagu.components.bilstm import deserialize, serialize

    module = _bilstm()
    module.build(n_vectors=10, width=4, n_labels=3, vectors=numpy.ones((10, 4), dtype="float32"))
    path = tmp_path / "model"
    path.write_bytes(serialize(module))
    restored = deserialize(_bilstm(), path.read_bytes(), "cpu")
    assert torch.equal(restored.members[0].output.weight, module.members[0].output.weight)
    truncate(path)
    with pytest.raises(ModelLoadError, match=r"BiLSTM text classifier .*truncated or corrupt.*re-train"):
        deserialize(_bilstm(), path.read_bytes(), "cpu")
    other = {"format": "tsunagu-bilstm-1", "dims": {"n_vectors": 10}, "settings": {}, "state": {}}
    import io

    buffer = io.BytesIO()
    torch.save(other, buffer)
    with pytest.raises(ModelLoadError, match="do not fit the saved shapes"):
        deserialize(_bilstm(), buffer.getvalue(), "cpu")


@pytest.fixture(scope="module")
def vectors_dir(tmp_path_factory):
    from gensim.models import Word2Vec

    from tsunagu.embeddings import save_vectors

    rng = random.Random(0)
    words = [f"w{i}" for i in range(20)]
    model = Word2Vec([rng.sample(words, 6) for _ in range(100)], vector_size=8, min_count=1, epochs=2,
                     workers=1, seed=0)
    out = tmp_path_factory.mktemp("vec") / "v"
    save_vectors(model, out, {"key": "orth", "split_mode": "C"})
    return out


@pytest.mark.parametrize("name", ["vectors.npy", "vocab.json", "spacy_vocab/vectors", "meta.json"])
def test_truncated_word_vectors(vectors_dir, tmp_path, name):
    from tsunagu.embeddings import load_keyed_vectors, load_spacy_vocab

    broken = tmp_path / "v"
    shutil.copytree(vectors_dir, broken)
    truncate(broken / name, 0.3)
    load = load_spacy_vocab if name.startswith("spacy_vocab") else load_keyed_vectors
    with pytest.raises(ModelLoadError, match=r"(?i)copy the directory again or retrain the vectors"):
        load(broken)
    if name != "vectors.npy" and name != "vocab.json":
        with pytest.raises(ModelLoadError):
            spacy.blank("xx").add_pipe("tsunagu_vectors", config={"path": str(broken)})


def test_a_truncated_transformer(tmp_path):
    pytest.importorskip("spacy_transformers")
    from spacy.training import Example
    from transformers import BertConfig, BertModel

    from tsunagu.trf.wordpiece import SPECIAL_TOKENS, japanese_bert_tokenizer

    model_dir = tmp_path / "bert"
    model_dir.mkdir()
    vocab = model_dir / "vocab.txt"
    vocab.write_text("\n".join([*SPECIAL_TOKENS, *"東京都に住んでいます。"]) + "\n", encoding="utf-8")
    japanese_bert_tokenizer(vocab, model_max_length=32).save_pretrained(str(model_dir))
    config = BertConfig(vocab_size=len(SPECIAL_TOKENS) + 11, hidden_size=8, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=16, max_position_embeddings=32)
    BertModel(config).save_pretrained(str(model_dir), safe_serialization=True)
    truncate(model_dir / "model.safetensors")
    nlp = spacy.blank("xx")
    nlp.add_pipe("transformer", config={"model": {
        "@architectures": "tsunagu.TransformerModel.v1", "name": str(model_dir),
        "get_spans": {"@span_getters": "spacy-transformers.doc_spans.v1"},
        "tokenizer_config": {"use_fast": False}}})
    with pytest.raises(ModelLoadError, match=r"model\.safetensors.*truncated.*copy the model directory again"):
        nlp.initialize(lambda: [Example.from_dict(nlp.make_doc("東京"), {})])
