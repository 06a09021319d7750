"""Loaders that must not run code, writers that must not follow planted symlinks, and
commands that must not replace what they did not make (issue 15): the language
model's checkpoint, word vectors (tsunagu's directories, gensim pickles), the
tokenized-corpus cache, heads, transformer pre-training."""

import json
import os
import pickle
import random
import shutil
import types
from pathlib import Path

import numpy
import pytest
import torch

from tsunagu.cli import main
from tsunagu.embeddings import Word2VecSettings, load_keyed_vectors, read_meta, train_embeddings
from tsunagu.errors import ModelLoadError, OutputExistsError, PathConflictError, UnsafeFileError
from tsunagu.heads import make_head
from tsunagu.language_model import LMSettings, train_language_model
from tsunagu.wordvectors import read_word_vectors

TOPICS = {
    "sports": "野球 投手 打者 捕手 審判 球場".split(),
    "food": "寿司 ラーメン 刺身 天ぷら 豆腐 納豆".split(),
}
TOPIC_OF = {w: t for t, words in TOPICS.items() for w in words}
W2V = dict(vector_size=16, window=3, min_count=2, epochs=10, sample=0.0, workers=1)
LM = dict(embed_size=8, hidden_size=16, batch_size=4, bptt=8, min_count=1, epochs=1, threads=1)


class PlantedCode:
    """Unpickling this creates ``marker``: a stand-in for any code an attacker wants run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


# Tiny models: one torch thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = random.Random(0)
    lines = ["と".join(rng.sample(TOPICS[rng.choice(sorted(TOPICS))], 4)) + "。" for _ in range(150)]
    path = tmp_path_factory.mktemp("corpus") / "topics.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def vectors(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("vec") / "v"
    train_embeddings(corpus, out, Word2VecSettings(**W2V), cache_dir=tmp_path_factory.mktemp("cache"),
                     progress=False)
    return out


def _sentences(n=60, seed=0):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(12)]
    return [rng.sample(words, 5) for _ in range(n)]


# -- the language model's checkpoint ---------------------------------------------------

@pytest.mark.parametrize("how", ["raw pickle", "torch.save"])
def test_a_pickle_planted_as_the_lm_checkpoint_is_not_run(tmp_path, how):
    out = tmp_path / "lm"
    marker = tmp_path / "marker"
    partial = tmp_path / "lm.partial"
    partial.mkdir()
    checkpoint = partial / "checkpoint.pt"
    if how == "raw pickle":
        checkpoint.write_bytes(pickle.dumps(PlantedCode(marker)))
    else:
        torch.save({"settings": PlantedCode(marker)}, checkpoint)
    assert not marker.exists()
    with pytest.raises(ModelLoadError,
                       match=r"could run code, so it was refused.*never code\. Delete .*lm\.partial"):
        train_language_model(_sentences(), [], out, LMSettings(**LM), progress=False)
    assert not marker.exists(), "the planted pickle ran"
    assert not out.exists() and checkpoint.exists()
    # The fix the message gives works.
    shutil.rmtree(partial)
    meta = train_language_model(_sentences(), [], out, LMSettings(**LM), progress=False)
    assert meta["training"]["epochs_done"] == 1 and not marker.exists()


def test_received_weights_holding_code_are_refused(tmp_path):
    """A model directory or pipeline from someone else: model.pt, a head file and the
    BiLSTM classifier's bytes are read with weights_only, so planted code never runs."""
    from tsunagu.components.bilstm import BiLSTMClassifier, deserialize
    from tsunagu.heads import Head
    from tsunagu.language_model import load_language_model

    marker = tmp_path / "marker"
    out = tmp_path / "lm"
    train_language_model(_sentences(), [], out, LMSettings(**LM), progress=False)
    torch.save({"settings": PlantedCode(marker), "state": {}}, out / "model.pt")
    with pytest.raises(ModelLoadError, match=r"model\.pt .*could run code, so it was refused"):
        load_language_model(out)
    torch.save({"config": PlantedCode(marker)}, tmp_path / "head.pt")
    with pytest.raises(ModelLoadError, match="head.pt"):
        Head.from_disk(tmp_path / "head.pt")
    module = BiLSTMClassifier(hidden_width=4, depth=1, dropout=0.0, pooling="max", ensemble_size=1,
                              freeze_embeddings=True, seed=0)
    with pytest.raises(ModelLoadError, match="could run code, so it was refused"):
        deserialize(module, pickle.dumps({"format": "tsunagu-bilstm-1", "dims": PlantedCode(marker)}), "cpu")
    assert not marker.exists(), "planted code ran"


def test_lm_checkpoint_is_written_beside_a_planted_symlink_not_through_it(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    partial = tmp_path / "lm.partial"
    partial.mkdir()
    (partial / "checkpoint.tmp").symlink_to(victim)  # the old fixed temporary name
    train_language_model(_sentences(), [], tmp_path / "lm", LMSettings(**LM), progress=False)
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert (tmp_path / "lm" / "model.pt").is_file()


def test_lm_train_refuses_an_existing_output_without_overwrite(tmp_path, corpus, capsys):
    out = tmp_path / "lm"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    args = ["lm", "train", str(corpus), "-o", str(out), "--embed-size", "8", "--hidden-size", "8",
            "--min-count", "1", "--batch-size", "4", "--bptt", "8", "--threads", "1", "--no-progress"]
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    with pytest.raises(OutputExistsError):
        train_language_model(_sentences(), [], out, LMSettings(**LM), progress=False)
    assert main(args + ["--overwrite"]) == 0
    assert (out / "model.pt").is_file() and not (out / "notes.txt").exists()


def test_lm_train_refuses_an_output_inside_its_corpus(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("猫が好き。\n", encoding="utf-8")
    assert main(["lm", "train", str(corpus), "-o", str(corpus / "model"), "--no-progress"]) == 1
    assert "inside the input directory" in capsys.readouterr().err
    assert main(["lm", "train", str(corpus / "a.txt"), "-o", str(tmp_path), "--overwrite",
                 "--no-progress"]) == 1
    assert "would be deleted" in capsys.readouterr().err
    assert (corpus / "a.txt").exists()


# -- word vectors ----------------------------------------------------------------------

def test_vectors_are_stored_in_a_format_that_runs_nothing(vectors):
    assert {"vectors.npy", "vocab.json", "meta.json", "spacy_vocab"} <= {p.name for p in vectors.iterdir()}
    assert not list(vectors.glob("*.kv*"))
    words = json.loads((vectors / "vocab.json").read_text(encoding="utf-8"))
    array = numpy.load(vectors / "vectors.npy", allow_pickle=False)
    assert array.shape == (len(words), 16) and array.dtype == numpy.float32
    assert read_meta(vectors)["version"] == 2
    for kv in (load_keyed_vectors(vectors), read_word_vectors(vectors)):
        assert kv.index_to_key == words and numpy.array_equal(kv.vectors, array)
        neighbours = [w for w, _ in kv.most_similar("野球", topn=8) if w in TOPIC_OF][:3]
        assert neighbours and all(TOPIC_OF[w] == "sports" for w in neighbours), neighbours


def test_embed_similar_reads_the_new_format(vectors, capsys):
    assert main(["embed", "similar", str(vectors), "寿司", "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nearest to 寿司:") and len(out.strip().splitlines()) == 4


def test_an_object_array_in_vectors_npy_is_not_unpickled(vectors, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(vectors, bad)
    marker = tmp_path / "marker"
    numpy.save(bad / "vectors.npy", numpy.array([PlantedCode(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(ModelLoadError, match="vectors.npy"):
        load_keyed_vectors(bad)
    assert not marker.exists()


def _gensim_vectors():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["a", "b", "c"], numpy.eye(3, dtype="float32"))
    return kv


def test_a_pickled_kv_file_is_refused_unless_trusted(tmp_path):
    path = tmp_path / "v.kv"
    _gensim_vectors().save(str(path))
    with pytest.raises(UnsafeFileError, match=r"pickle.*runs any code.*embed convert .*v\.kv --trust-pickle"):
        read_word_vectors(path)
    assert read_word_vectors(path, trust=True, limit=2).index_to_key == ["a", "b"]
    marker = tmp_path / "marker"
    planted = tmp_path / "planted.kv"
    planted.write_bytes(pickle.dumps(PlantedCode(marker)))
    with pytest.raises(UnsafeFileError):
        read_word_vectors(planted)
    assert not marker.exists()


def test_a_kv_file_converts_to_word2vec_binary(tmp_path, capsys):
    path = tmp_path / "v.kv"
    _gensim_vectors().save(str(path))
    assert main(["embed", "convert", str(path)]) == 1
    assert "--trust-pickle" in capsys.readouterr().err and not (tmp_path / "v.bin").exists()
    assert main(["embed", "convert", str(path), "--trust-pickle"]) == 0
    kv = read_word_vectors(tmp_path / "v.bin")
    assert kv.index_to_key == ["a", "b", "c"] and numpy.array_equal(kv.vectors, numpy.eye(3))
    assert main(["embed", "convert", str(path), "--trust-pickle"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_an_old_pickled_vectors_directory_is_refused_then_converted(vectors, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(vectors, old)
    kv = load_keyed_vectors(vectors)
    (old / "vectors.npy").unlink()
    (old / "vocab.json").unlink()
    kv.save(str(old / "vectors.kv"))  # what tsunagu wrote before the vectors format version 2
    with pytest.raises(UnsafeFileError, match=r"embed convert .*old --trust-pickle"):
        load_keyed_vectors(old)
    assert main(["embed", "similar", str(old), "野球"]) == 1
    assert "pickle" in capsys.readouterr().err
    assert main(["embed", "similar", str(old), "野球", "--trust-pickle"]) == 0
    capsys.readouterr()
    assert main(["embed", "convert", str(old), "--trust-pickle"]) == 0
    assert not list(old.glob("vectors.kv*"))
    again = load_keyed_vectors(old)
    assert again.index_to_key == kv.index_to_key and numpy.array_equal(again.vectors, kv.vectors)


def test_embed_train_refuses_an_existing_output_without_overwrite(corpus, vectors, tmp_path, capsys):
    out = tmp_path / "v"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    args = ["embed", "train", str(corpus), "-o", str(out), "--dim", "8", "--min-count", "2", "--epochs", "1",
            "--workers", "1", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / "cache").exists(), "refused only after tokenizing"
    assert main(args + ["--overwrite"]) == 0
    assert (out / "vectors.npy").is_file() and not (out / "notes.txt").exists()


def test_embed_train_refuses_an_output_inside_or_holding_its_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("猫が好き。\n", encoding="utf-8")
    with pytest.raises(PathConflictError, match="inside the input directory"):
        train_embeddings(corpus, corpus / "vectors", Word2VecSettings(**W2V), progress=False)
    with pytest.raises(PathConflictError, match="would be deleted"):
        train_embeddings(corpus / "a.txt", corpus, Word2VecSettings(**W2V), progress=False, overwrite=True)
    assert (corpus / "a.txt").exists()


def test_a_lone_surrogate_is_skipped_and_counted(tmp_path, corpus, capsys):
    jsonl = tmp_path / "c.jsonl"
    lines = [json.dumps({"id": str(i), "text": t}) for i, t in
             enumerate(corpus.read_text(encoding="utf-8").splitlines())]
    lines.insert(3, '{"id": "bad", "text": "野球\\ud800と寿司"}')  # valid JSON, not valid Unicode
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "v"
    assert main(["embed", "train", str(jsonl), "-o", str(out), "--dim", "8", "--min-count", "2",
                 "--epochs", "1", "--workers", "1", "--cache-dir", str(tmp_path / "cache"),
                 "--no-progress"]) == 0
    assert "skipped 1 records: 1 with text that is not valid Unicode" in capsys.readouterr().out
    meta = read_meta(out)
    assert meta["corpus"]["rejected"] == 1 and meta["corpus"]["documents"] == 150
    assert main(["lm", "train", str(jsonl), "-o", str(tmp_path / "lm"), "--embed-size", "8",
                 "--hidden-size", "8", "--min-count", "1", "--batch-size", "4", "--bptt", "8",
                 "--threads", "1", "--no-progress"]) == 0
    assert "skipped 1 records: 1 with text that is not valid Unicode" in capsys.readouterr().err


# -- caches and single files written through planted symlinks --------------------------

def test_tokenized_cache_is_not_written_through_planted_symlinks(corpus, tmp_path):
    from tsunagu.corpora import guess_format
    from tsunagu.tokenized import _digest, tokenize_corpus

    cache = tmp_path / "cache"
    cache.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    digest = _digest(corpus, guess_format(corpus), {}, "lemma", "C")
    # the old fixed temporary names of the token file and of its record
    (cache / f"tokens-{digest}.txt.{os.getpid()}.tmp").symlink_to(victim)
    (cache / f"tokens-{digest}.json.tmp").symlink_to(victim)
    result = tokenize_corpus(corpus, cache_dir=cache, workers=1, progress=False)
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert result.tokens > 0 and not result.path.is_symlink()
    assert tokenize_corpus(corpus, cache_dir=cache, workers=1, progress=False).cached


def test_a_head_is_saved_beside_a_planted_symlink_not_through_it(tmp_path):
    from tsunagu.heads import Head

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    (tmp_path / "head.pt.tmp").symlink_to(victim)
    head = make_head("full", 4, 5)
    head.to_disk(tmp_path / "head.pt")
    assert victim.read_text(encoding="utf-8") == "precious\n"
    loaded = Head.from_disk(tmp_path / "head.pt")
    assert torch.equal(loaded.linear.weight, head.linear.weight)


# -- transformer pre-training -----------------------------------------------------------

TRF = dict(vocab_size=300, hidden_size=16, layers=1, heads=2, intermediate_size=32, max_length=16,
           max_position=32, batch_size=4, save_steps=5, valid_percent=0)


def _texts():
    from tsunagu.corpora import read_jsonl, sample_corpus_path

    return [r.text for r in read_jsonl(sample_corpus_path())][:60]


def test_pretrain_refuses_an_output_that_is_not_its_run(tmp_path):
    pytest.importorskip("spacy_transformers")
    from tsunagu.trf.pretrain import PretrainSettings, pretrain

    out = tmp_path / "bert"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="not a `tsunagu transformer pretrain` run"):
        pretrain(_texts(), out, PretrainSettings(max_steps=1, **TRF), progress=False)
    with pytest.raises(OutputExistsError):
        pretrain(_texts(), out, PretrainSettings(max_steps=1, **TRF), progress=False, fresh=True)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"


def test_pretrain_files_are_not_written_through_planted_symlinks(tmp_path):
    pytest.importorskip("spacy_transformers")
    from transformers import BertConfig, BertForMaskedLM

    from tsunagu.trf.pretrain import PretrainSettings, _prepare_data, _save_final

    out = tmp_path / "bert"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    victim_dir = tmp_path / "victim-dir"
    victim_dir.mkdir()
    (victim_dir / "keep.txt").write_text("precious\n", encoding="utf-8")
    # the old fixed temporary names
    (out / "blocks.tmp.npz").symlink_to(victim)
    (out / ".final.tmp").symlink_to(victim_dir, target_is_directory=True)
    settings = PretrainSettings(max_steps=1, **TRF)
    tokenizer, train, _, _ = _prepare_data(_texts(), out, settings, progress=False)
    assert len(train) and (out / "blocks.npz").is_file()
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    _save_final(types.SimpleNamespace(model=BertForMaskedLM(config)), tokenizer, out)
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert [p.name for p in victim_dir.iterdir()] == ["keep.txt"]
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".save.")]
