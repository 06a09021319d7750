"""word2vec embeddings: tokenization cache, training, spaCy serving, bad input."""

import json
import random

import numpy
import pytest
import spacy

import tsunagu
from tsunagu import ConfigError, CorpusError, ModelNotFoundError
from tsunagu.errors import ModelLoadError
from tsunagu.corpora import read_jsonl, sample_corpus_path
from tsunagu.embeddings import (
    EmbeddingsError,
    Word2VecSettings,
    load_keyed_vectors,
    load_spacy_vocab,
    read_meta,
    train_embeddings,
)
from tsunagu.tokenized import keys_of_text, tokenize_corpus
from tsunagu.vectorkeys import token_key


TOPICS = {
    "sports": "野球 投手 打者 捕手 審判 球場 監督 三振 得点 試合".split(),
    "food": "寿司 ラーメン 刺身 天ぷら 味噌 醤油 豆腐 納豆 うどん 蕎麦".split(),
    "computer": "パソコン 画面 電池 アプリ 回線 キーボード 端末 充電 メモリ 通信".split(),
    "travel": "温泉 旅館 観光 空港 新幹線 切符 景色 宿泊 旅行 名所".split(),
}
TOPIC_OF = {w: t for t, words in TOPICS.items() for w in words}


@pytest.fixture(scope="module")
def topic_corpus(tmp_path_factory):
    """Sentences whose content words all come from one topic, so that a word's
    contexts are its own topic's words: its nearest neighbours must be too."""
    rng = random.Random(0)
    lines = []
    for _ in range(600):
        words = rng.sample(TOPICS[rng.choice(sorted(TOPICS))], 6)
        lines.append("と".join(words) + "。")
    path = tmp_path_factory.mktemp("topics") / "topics.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SMALL = dict(vector_size=24, window=4, min_count=2, epochs=15, sample=0.0, workers=2)


@pytest.fixture(scope="module")
def topic_vectors(topic_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("vec") / "topics"
    # One worker: gensim's per-epoch loss depends on the worker threads' timing
    # (gensim issue #2743), and the loss curve is asserted below.
    train_embeddings(topic_corpus, out, Word2VecSettings(**{**SMALL, "workers": 1}),
                     cache_dir=tmp_path_factory.mktemp("cache"), progress=False)
    return out


def _content_neighbours(kv, word, n=5):
    return [w for w, _ in kv.most_similar(word, topn=n + 2) if w in TOPIC_OF][:n]


@pytest.mark.parametrize("sg, hs, negative", [(True, False, 5), (False, False, 5),
                                              (True, True, 0), (False, True, 0)])
def test_neighbours_come_from_the_same_topic(topic_corpus, tmp_path, sg, hs, negative):
    out = tmp_path / "v"
    meta = train_embeddings(topic_corpus, out, Word2VecSettings(sg=sg, hs=hs, negative=negative, **SMALL),
                            cache_dir=tmp_path / "cache", progress=False)
    assert meta["settings"]["sg"] == sg and meta["settings"]["hs"] == hs
    kv = load_keyed_vectors(out)
    for probe in ("野球", "寿司", "パソコン", "温泉"):
        neighbours = _content_neighbours(kv, probe)
        assert len(neighbours) == 5
        assert all(TOPIC_OF[w] == TOPIC_OF[probe] for w in neighbours), (probe, neighbours)


def test_output_directory_holds_gensim_spacy_meta_and_plot(topic_vectors):
    meta = read_meta(topic_vectors)
    assert meta["key"] == "lemma" and meta["split_mode"] == "C" and meta["dim"] == 24
    assert meta["corpus"]["documents"] == 600 and meta["corpus"]["tokens"] == 600 * 12
    losses = meta["training"]["loss_per_epoch"]
    assert len(losses) == 15 and losses[-1] < losses[0]
    kv = load_keyed_vectors(topic_vectors)
    vocab = load_spacy_vocab(topic_vectors)
    assert vocab.vectors.shape == (len(kv), 24)
    row = vocab.vectors.key2row[vocab.strings["野球"]]
    assert numpy.allclose(vocab.vectors.data[row], kv["野球"])
    assert (topic_vectors / "training_loss.png").stat().st_size > 1000


def test_tokenized_corpus_is_cached_per_corpus_and_key(topic_corpus, tmp_path):
    first = tokenize_corpus(topic_corpus, cache_dir=tmp_path, workers=2, progress=False)
    again = tokenize_corpus(topic_corpus, cache_dir=tmp_path, workers=1, progress=False)
    assert not first.cached and again.cached and again.path == first.path
    assert again.tokens == first.tokens == 600 * 12
    assert first.path.read_text(encoding="utf-8").splitlines()[0].count(" ") == 11
    by_orth = tokenize_corpus(topic_corpus, key="orth", cache_dir=tmp_path, progress=False)
    assert by_orth.path != first.path and not by_orth.cached
    copy = tmp_path / "changed.txt"
    copy.write_text(topic_corpus.read_text(encoding="utf-8") + "野球と投手。\n", encoding="utf-8")
    changed = tokenize_corpus(copy, cache_dir=tmp_path, progress=False)
    assert not changed.cached and changed.tokens == first.tokens + 4
    assert not list(tmp_path.glob("*.tmp"))


def test_parallel_and_serial_tokenization_agree(tmp_path):
    a = tokenize_corpus(sample_corpus_path(), cache_dir=tmp_path / "a", workers=2, progress=False)
    b = tokenize_corpus(sample_corpus_path(), cache_dir=tmp_path / "b", workers=1, progress=False)
    assert a.path.read_bytes() == b.path.read_bytes()


@pytest.mark.parametrize("key", ["lemma", "norm", "orth"])
def test_training_keys_equal_pipeline_token_keys(nlp, key):
    # Vectors trained on Sudachi's keys must be found from spaCy's tokens.
    for record in list(read_jsonl(sample_corpus_path()))[:40]:
        doc = nlp.make_doc(record.text)
        from_doc = [k for k in (token_key(t, key) for t in doc) if k is not None]
        from_sudachi = [k for line in keys_of_text(record.text, key, "C") for k in line]
        assert from_doc == from_sudachi


def test_vectors_served_in_the_pipeline(topic_vectors, tmp_path):
    nlp = tsunagu.load(vectors=topic_vectors)
    assert nlp.pipe_names[-1] == "token_vectors"
    assert nlp.vocab.vectors.shape == (20000, 300)  # GiNZA's own, untouched for its tok2vec
    doc = nlp("野球の投手が寿司を食べた。ｘｙｚｚ")
    yakyu, toushu, sushi = doc[0], doc[2], doc[4]
    assert yakyu._.vector_key == "野球" and yakyu.has_vector and yakyu.vector.shape == (24,)
    assert yakyu.similarity(toushu) > yakyu.similarity(sushi) + 0.2
    oov = doc[-1]
    assert not oov.has_vector and not oov.vector.any()
    sports, food = nlp("打者と捕手と審判"), nlp("刺身と豆腐と納豆")
    assert nlp("監督と球場").similarity(sports) > nlp("監督と球場").similarity(food)
    assert numpy.allclose(sports[0:1].vector, sports[0].vector)
    assert doc.has_vector and not nlp("ｘｙｚｚ").has_vector
    # Saved and reloaded, with spaCy alone (the factory is found by entry point).
    nlp.to_disk(tmp_path / "pipe")
    again = spacy.load(tmp_path / "pipe")("野球の投手")
    assert numpy.allclose(again[0].vector, yakyu.vector)


def test_vectors_use_their_split_mode(topic_corpus, tmp_path):
    out = tmp_path / "a"
    # One worker: gensim's per-epoch loss depends on the worker threads' timing
    # (gensim issue #2743), and the loss curve is asserted below.
    train_embeddings(topic_corpus, out, Word2VecSettings(**{**SMALL, "workers": 1}), split_mode="A",
                     cache_dir=tmp_path / "c", progress=False)
    nlp = tsunagu.load(vectors=out)
    assert nlp.get_pipe("compound_splitter").split_mode == "A"


def test_empty_and_too_small_corpora(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no tokens"):
        train_embeddings(empty, tmp_path / "o", Word2VecSettings(**SMALL), cache_dir=tmp_path, progress=False)
    small = tmp_path / "small.txt"
    small.write_text("猫が好き。\n犬も好き。\n" * 3, encoding="utf-8")
    with pytest.raises(EmbeddingsError, match="min_count=10.*lower --min-count"):
        train_embeddings(small, tmp_path / "o", Word2VecSettings(**{**SMALL, "min_count": 10}),
                         cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "o").exists()


def test_bad_settings():
    with pytest.raises(ConfigError, match="no output layer"):
        Word2VecSettings(negative=0, hs=False).validate()
    with pytest.raises(ConfigError, match="dim"):
        Word2VecSettings(vector_size=0).validate()


def test_missing_and_corrupt_vectors_directories(topic_vectors, tmp_path):
    with pytest.raises(ModelNotFoundError, match="tsunagu embed train"):
        tsunagu.load(vectors=tmp_path / "nope")
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(topic_vectors, broken)
    (broken / "meta.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="corrupt"):
        read_meta(broken)
    shutil.rmtree(broken)
    shutil.copytree(topic_vectors, broken)
    for f in (broken / "spacy_vocab").glob("vectors*"):
        f.write_bytes(b"garbage")
    (broken / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="retrain"):
        load_spacy_vocab(broken)
    with pytest.raises(ModelLoadError, match="vectors.npy.*retrain"):
        load_keyed_vectors(broken)
    meta = json.loads((topic_vectors / "meta.json").read_text(encoding="utf-8"))
    (broken / "meta.json").write_text(json.dumps({**meta, "format": "other"}), encoding="utf-8")
    with pytest.raises(ModelNotFoundError, match="does not describe"):
        read_meta(broken)


def test_embed_cli_on_the_shipped_sample(cli, tmp_path):
    out = tmp_path / "vec"
    train = cli("embed", "train", sample_corpus_path(), "-o", out, "--cbow", "--dim", "20",
                "--min-count", "2", "--epochs", "3", "--cache-dir", tmp_path / "cache",
                "--no-progress")
    assert "tokenized 300 documents" in train.stdout and "trained CBOW" in train.stdout
    cached = cli("embed", "train", sample_corpus_path(), "-o", out, "--cbow", "--dim", "20",
                 "--min-count", "2", "--epochs", "3", "--cache-dir", tmp_path / "cache",
                 "--no-progress", "--overwrite")
    assert "(cached)" in cached.stdout
    info = cli("embed", "info", out).stdout
    assert "x 20 dims" in info and "key: lemma" in info and "CBOW" in info
    similar = cli("embed", "similar", out, "試合", "-n", "3").stdout
    assert similar.startswith("nearest to 試合:") and len(similar.strip().splitlines()) == 4
    inflected = cli("embed", "similar", out, "美味しかった", check=False)
    assert "2 tokens" in inflected.stderr or "nearest to" in inflected.stdout
    unknown = cli("embed", "similar", out, "ｘｙｚｚｚ", check=False)
    assert unknown.returncode == 1 and "not in the vocabulary" in unknown.stderr
    missing = cli("embed", "info", tmp_path / "nothing", check=False)
    assert missing.returncode == 1 and "tsunagu embed train" in missing.stderr
