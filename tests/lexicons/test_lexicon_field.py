"""The spin model's external field from word vectors, and reading word vectors."""

import sys

import numpy
import pytest
from gensim.models import KeyedVectors

from tsunagu import ModelNotFoundError
from tsunagu.lexicons.build import build_lexicon
from tsunagu.lexicons.field import vector_field
from tsunagu.lexicons.network import Network, embedding_network
from tsunagu.lexicons.spin import mean_field
from tsunagu.wordvectors import read_word_vectors


def _network():
    """Two linked clusters around the seeds, and an island no link reaches."""
    net = Network()
    for a, b, s in [("good", "nice", 1), ("nice", "fine", 1), ("good", "bad", -1), ("bad", "awful", 1),
                    ("awful", "grim", 1), ("lovely", "delightful", 1), ("dreadful", "horrid", 1), ("sea", "shore", 1)]:
        net.link(a, b, s)
    return net


def _vectors(words_with_axis):
    """2-D vectors: positive words along +x, negative along -x (a little y to tell them apart)."""
    kv = KeyedVectors(vector_size=2)
    words = list(words_with_axis)
    rows = [[sign * (1.0 + 0.1 * k), 0.2 * ((k % 3) - 1)] for k, (w, sign) in enumerate(words_with_axis.items())]
    kv.add_vectors(words, numpy.array(rows, dtype="float32"))
    return kv


POLAR = {"good": 1, "nice": 1, "fine": 1, "lovely": 1, "delightful": 1,
         "bad": -1, "awful": -1, "grim": -1, "dreadful": -1, "horrid": -1}


def test_field_orients_words_no_link_reaches_and_changes_the_fixed_point():
    net = _network()
    w, i = net.weights(), net.words
    seeds = {i["good"]: 1.0, i["bad"]: -1.0}
    plain = mean_field(w, seeds, beta=1.0).spins
    assert plain[i["lovely"]] == 0 and plain[i["dreadful"]] == 0  # an island: no evidence
    h = numpy.zeros(len(i))
    h[i["lovely"]], h[i["dreadful"]], h[i["fine"]] = 0.3, -0.3, -0.05
    x = mean_field(w, seeds, beta=1.0, field=h).spins
    assert x[i["lovely"]] > 0 and x[i["delightful"]] > 0  # the field, then the link
    assert x[i["dreadful"]] < 0 and x[i["horrid"]] < 0
    assert x[i["fine"]] < plain[i["fine"]]  # a weak contrary field lowers the spin...
    assert x[i["fine"]] > 0  # ...but the network's evidence still wins
    with pytest.raises(ValueError, match="field has shape"):
        mean_field(w, seeds, beta=1.0, field=numpy.zeros(3))


def test_vector_field_learns_from_seeds_and_confident_spins():
    net = _network()
    words, i = net.index_to_word, net.words
    kv = _vectors(POLAR)  # sea and shore have no vector
    seeds = {i["good"]: 1.0, i["bad"]: -1.0}
    spins = mean_field(net.weights(), seeds, beta=1.0).spins
    vf = vector_field(kv, words, seeds, spins, strength=0.1, top=3)
    h = vf.field
    assert vf.trained_on == 5 and vf.with_vectors == len(words) - 2
    assert h[i["sea"]] == 0 and h[i["shore"]] == 0
    assert all(numpy.sign(h[i[w]]) == s for w, s in POLAR.items())
    assert numpy.abs(h).max() <= 0.1  # bounded by the strength
    assert abs(numpy.median(h[[i[w] for w in POLAR]])) < 1e-9  # centred: no bias
    assert not vector_field(kv, words, seeds, spins, strength=0.0).field.any()
    with pytest.raises(ValueError, match="positive and negative"):
        vector_field(kv, words, {i["good"]: 1.0}, None)


def test_build_with_a_vector_field_reaches_the_island_and_says_so():
    net = _network()
    kv = _vectors(POLAR)
    plain = build_lexicon(net, {"good": 1, "bad": -1}, beta=1.0).lexicon
    assert plain.score("lovely") is None
    result = build_lexicon(net, {"good": 1, "bad": -1}, beta=1.0, field_vectors=kv, field_strength=0.2)
    lex = result.lexicon
    assert lex.score("lovely") > 0 and lex.score("delightful") > 0
    assert lex.score("dreadful") < 0 and lex.score("horrid") < 0
    assert any(line.startswith("field: vector classifier (strength 0.2)") for line in lex.header)


def test_neighbour_links_within_a_vocabulary():
    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["good", "great", "obama", "bad"],
                   numpy.array([[1, 0], [0.95, 0.1], [0.97, 0.05], [-1, 0]], dtype="float32"))
    everywhere = embedding_network(kv, k=1, min_similarity=0.5)
    assert "obama" in everywhere.words
    within = embedding_network(kv, k=1, min_similarity=0.5, within={"good", "great", "bad"})
    assert set(within.words) == {"good", "great"}


def _write_text_vectors(path, header: bool):
    lines = ["good 0.5 0.1 0.0", "bad -0.5 0.1 0.0", "table 0.0 0.0 1.0"]
    path.write_text(("3 3\n" if header else "") + "\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("header", [True, False], ids=["word2vec", "glove"])
def test_read_text_vectors_with_and_without_a_header(tmp_path, header):
    path = tmp_path / "vectors.txt"
    _write_text_vectors(path, header)
    kv = read_word_vectors(path)
    assert kv.index_to_key == ["good", "bad", "table"] and kv.vector_size == 3
    assert kv["bad"][0] == pytest.approx(-0.5)
    assert read_word_vectors(path, limit=2).index_to_key == ["good", "bad"]


def test_read_binary_and_gensim_vectors(tmp_path):
    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["a", "b"], numpy.array([[1, 0], [0, 1]], dtype="float32"))
    kv.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    kv.save(str(tmp_path / "v.kv"))
    assert read_word_vectors(tmp_path / "v.bin").index_to_key == ["a", "b"]
    assert read_word_vectors(tmp_path / "v.kv", limit=1, trust=True).index_to_key == ["a"]


def test_bad_vector_files_are_named(tmp_path):
    with pytest.raises(ModelNotFoundError, match="No word vectors at"):
        read_word_vectors(tmp_path / "missing.txt")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 0.1 0.2\n".encode("latin-1"))
    with pytest.raises(ModelNotFoundError, match="latin1.txt"):
        read_word_vectors(latin1)
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("2 3\nx 0.1 0.2 0.3\ny 0.1\n", encoding="utf-8")
    with pytest.raises(ModelNotFoundError, match="ragged.txt"):
        read_word_vectors(ragged)
    with pytest.raises(ModelNotFoundError, match="not installed"):
        read_word_vectors("package:no_such_vectors_package")


def test_read_vectors_shipped_in_a_package(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")  # in the test extra; optional for users
    import pyarrow.parquet

    pkg = tmp_path / "tiny_glove"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pathlib import Path\nROOT = str(Path(__file__).parent / 'data')\n")
    numpy.save(pkg / "data" / "emb.npy", numpy.array([[1, 0], [0, 1], [1, 1]], dtype="float32"))
    pyarrow.parquet.write_table(pyarrow.table({"index": ["the", "good", "bad"]}), pkg / "data" / "index.parquet")
    monkeypatch.syspath_prepend(str(tmp_path))
    kv = read_word_vectors("package:tiny_glove")
    assert kv.index_to_key == ["the", "good", "bad"] and list(kv["good"]) == [0, 1]
    assert len(read_word_vectors("package:tiny_glove", limit=2)) == 2
    (pkg / "data" / "other.npy").write_bytes(b"")
    sys.modules.pop("tiny_glove", None)
    with pytest.raises(ModelNotFoundError, match="one .npy array"):
        read_word_vectors("package:tiny_glove")


def test_field_needs_vectors_on_the_command_line(cli, tmp_path):
    proc = cli("lexicon", "build", "--field-strength", "0.05", "--out", tmp_path / "x.tsv", check=False)
    assert proc.returncode != 0 and "--field-strength needs --vectors" in proc.stderr
