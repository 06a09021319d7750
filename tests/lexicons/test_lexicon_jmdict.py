"""The JMdict gloss network, Sudachi synonym links and ja_ginza-style vector links,
on fixtures the tests build: a tiny JMdict-format SQLite database (the tables of the
jamdict-data package), a tiny spaCy vectors folder."""

import sqlite3

import numpy
import pytest

from tsunagu.lexicons.build import build_lexicon
from tsunagu.lexicons.jmdict import (english_lookup, gloss_terms, jmdict_network, projection, read_jmdict,
                                     wordnet_pos)
from tsunagu.lexicons.lexicon import LexiconError
from tsunagu.lexicons.network import Network

SCHEMA = """
CREATE TABLE Entry (idseq INTEGER NOT NULL UNIQUE);
CREATE TABLE Kanji (ID INTEGER PRIMARY KEY, idseq INTEGER, text TEXT);
CREATE TABLE Kana (ID INTEGER PRIMARY KEY, idseq INTEGER, text TEXT, nokanji BOOLEAN);
CREATE TABLE KNR (kid INTEGER, text TEXT);
CREATE TABLE Sense (ID INTEGER PRIMARY KEY, idseq INTEGER);
CREATE TABLE SenseGloss (sid INTEGER, lang TEXT, gend TEXT, text TEXT);
CREATE TABLE pos (sid INTEGER, text TEXT);
CREATE TABLE misc (sid INTEGER, text TEXT);
CREATE TABLE xref (sid INTEGER, text TEXT);
CREATE TABLE antonym (sid INTEGER, text TEXT);
CREATE TABLE stagk (sid INTEGER, text TEXT);
CREATE TABLE stagr (sid INTEGER, text TEXT);
"""

# idseq: (kanji, kana, [(pos, glosses, misc, xrefs, antonyms)])
ENTRIES = {
    1: (["黒字"], ["くろじ"], [("noun (common) (futsuumeishi)", ["(being in) the black", "surplus"], [], [],
                               ["赤字・あかじ"]),
                              ("", ["black letter"], [], [], [])]),
    2: (["赤字"], ["あかじ"], [("noun (common) (futsuumeishi)", ["(being in) the red", "deficit"], [], [], [])]),
    3: (["順調"], ["じゅんちょう"], [("adjectival nouns or quasi-adjectives (keiyodoshi)",
                                   ["favourable", "doing well", "all right"], [], ["黒字・くろじ・1"], [])]),
    4: (["不親切"], ["ふしんせつ"], [("adjectival nouns or quasi-adjectives (keiyodoshi)",
                                  ["unkind", "not kind"], [], [], [])]),
    5: (["感じ"], ["かんじ"], [("noun (common) (futsuumeishi)", ["feeling"], [], [], [])]),
    6: (["漢字"], ["かんじ"], [("noun (common) (futsuumeishi)", ["kanji"], [], [], [])]),
    7: (["奴"], ["やつ"], [("pronoun", ["fellow", "guy"], ["derogatory"], [], [])]),
    8: (["OK", "ＯＫ"], ["オーケー"], [("interjection (kandoushi)", ["OK"], [], [], [])]),
}
ENGLISH = {"black", "surplus", "red", "deficit", "favourable", "all_right", "well", "kind", "unkind",
           "feeling", "kanji", "fellow", "guy", "derogatory", "ok", "good", "bad", "letter"}


@pytest.fixture
def jmdict_db(tmp_path):
    path = tmp_path / "jmdict.db"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    sid = kid = 0
    for idseq, (kanji, kana, senses) in ENTRIES.items():
        db.execute("INSERT INTO Entry VALUES (?)", (idseq,))
        for text in kanji:
            db.execute("INSERT INTO Kanji (idseq, text) VALUES (?, ?)", (idseq, text))
        for text in kana:
            kid += 1
            db.execute("INSERT INTO Kana VALUES (?, ?, ?, 0)", (kid, idseq, text))
        for pos, glosses, misc, xrefs, antonyms in senses:
            sid += 1
            db.execute("INSERT INTO Sense VALUES (?, ?)", (sid, idseq))
            for g in glosses:
                db.execute("INSERT INTO SenseGloss VALUES (?, 'eng', '', ?)", (sid, g))
            for table, values in (("pos", [pos] if pos else []), ("misc", misc), ("xref", xrefs),
                                  ("antonym", antonyms)):
                for v in values:
                    db.execute(f"INSERT INTO {table} VALUES (?, ?)", (sid, v))
    db.commit()
    db.close()
    return path


@pytest.fixture
def lemma_of():
    return english_lookup(None, ENGLISH)


def test_read_jmdict_forms_senses_and_inherited_pos(jmdict_db):
    entries = {e.idseq: e for e in read_jmdict(jmdict_db)}
    kuroji = entries[1]
    assert kuroji.forms == ["黒字", "くろじ"]
    assert [s.glosses for s in kuroji.senses] == [["(being in) the black", "surplus"], ["black letter"]]
    # JMdict states POS once; later senses inherit it.
    assert kuroji.senses[1].pos == ["noun (common) (futsuumeishi)"]
    assert kuroji.senses[0].antonyms == ["赤字"]  # "赤字・あかじ" reduced to the headword
    assert wordnet_pos(entries[3].senses[0].pos) == {"a"}


def test_read_jmdict_rejects_what_is_not_jmdict(tmp_path):
    with pytest.raises(LexiconError, match="not found"):
        read_jmdict(tmp_path / "missing.db")
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LexiconError, match="not a JMdict SQLite database"):
        read_jmdict(bogus)


def test_gloss_terms_phrases_heads_and_negation(lemma_of):
    assert gloss_terms("all right", lemma_of) == [("all_right", 1.0)]
    # Parentheses and articles go: "(being in) the black" is "black".
    assert gloss_terms("(being in) the black", lemma_of) == [("black", 1.0)]
    assert gloss_terms("not kind", lemma_of) == [("kind", -1.0)]
    # A negated stem WordNet has, where the word itself is missing.
    assert gloss_terms("unfavourable", lemma_of) == [("favourable", -1.0)]
    # "unkind" is itself a lemma: no stem negation.
    assert gloss_terms("unkind", lemma_of) == [("unkind", 1.0)]
    # The word before "of" is the head of a noun gloss.
    terms = dict(gloss_terms("surplus of feeling", lemma_of))
    assert terms["surplus"] == pytest.approx(0.6) and terms["feeling"] == pytest.approx(0.4)
    assert gloss_terms("the of and", lemma_of) == []


def test_network_links_kana_homographs_weaker_and_skips_ascii_forms(jmdict_db, lemma_of):
    entries = read_jmdict(jmdict_db)
    net = jmdict_network(entries, lemma_of, kana_weight=0.5)

    def link(a, b):
        return net.links.get(tuple(sorted((net.words[a], net.words[b]))), 0.0)

    assert link("赤字", "deficit") == pytest.approx(1.0)
    assert link("あかじ", "deficit") == pytest.approx(0.5)  # kana of a kanji entry
    assert link("赤字", "あかじ") == pytest.approx(1.0)  # forms of one entry
    assert link("黒字", "赤字") == pytest.approx(-0.5)  # antonym
    assert link("くろじ", "赤字") == pytest.approx(-0.5)
    assert link("順調", "黒字") == pytest.approx(0.5)  # cross-reference
    assert link("不親切", "kind") == pytest.approx(-1.0)
    assert link("奴", "derogatory") == pytest.approx(0.5)
    # An ASCII form would merge with the English node "ok"; the full-width one stays.
    assert "ＯＫ" in net.words and "OK" not in net.words
    assert link("ＯＫ", "ok") == pytest.approx(1.0)
    # The second sense weighs 1/sqrt(2); "letter" is the head of "black letter".
    assert link("黒字", "letter") == pytest.approx(0.6 / 2 ** 0.5)
    assert link("黒字", "black") == pytest.approx(1 + 0.4 / 2 ** 0.5)
    assert net.pos["順調"] == {"a"}
    with pytest.raises(ValueError, match="Unknown JMdict link kinds"):
        jmdict_network(entries, lemma_of, weights={"glosses": 1.0})


def test_spin_model_on_the_joint_network_orients_japanese_words(jmdict_db, lemma_of):
    english = Network()
    for a, b, s in (("good", "surplus", 1), ("good", "favourable", 1), ("good", "kind", 1),
                    ("bad", "deficit", 1), ("bad", "unkind", 1), ("good", "bad", -1),
                    ("black", "surplus", 1), ("red", "deficit", 1), ("feeling", "kind", 0.2)):
        english.link(a, b, s)
    net = english + jmdict_network(read_jmdict(jmdict_db), lemma_of)
    result = build_lexicon(net, {"good": 1, "bad": -1}, beta=0.9)
    score = {w: s for (w, _), s in result.lexicon.entries.items()}
    assert score["黒字"] > 0 > score["赤字"]
    assert score["順調"] > 0 > score["不親切"]
    assert score["くろじ"] > 0 > score["あかじ"]


def test_projection_is_the_mean_english_score_of_the_glosses(jmdict_db, lemma_of):
    scores = projection(read_jmdict(jmdict_db), lemma_of, {"deficit": -0.5, "red": -0.1, "kind": 0.4})
    assert scores["赤字"] == pytest.approx((-0.1 - 0.5) / 2)
    assert scores["不親切"] == pytest.approx(-0.4)
    assert "黒字" not in scores  # no gloss word has a score


def test_vector_network_collapses_keys_that_share_a_row(tmp_path):
    from spacy.strings import StringStore
    from spacy.vectors import Vectors

    from tsunagu.lexicons.ja_vectors import is_hub, read_static_vectors, vector_network

    table = numpy.array([[1, 0, 0], [0.9, 0.1, 0], [0, 0, 1]], dtype="float32")
    words = ["下落", "値下がり", "下げ", "上昇", "順調", "ABC"]
    rows = [0, 0, 0, 1, 2, 2]
    strings = StringStore(words)
    vectors = Vectors(data=table, keys=[strings[w] for w in words[:3]])
    for w, r in zip(words, rows):
        vectors.add(strings[w], row=r)
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    vectors.to_disk(vocab)
    strings.to_disk(vocab / "strings.json")

    static = read_static_vectors(tmp_path)
    assert static.row_of()["値下がり"] == 0 and len(static) == 6
    net = vector_network(static, k=1, min_similarity=0.5)
    hubs = [w for w in net.words if is_hub(w)]
    assert len(hubs) == 3
    # Three keys of row 0: three links to one hub, none among themselves.
    word_pairs = [(a, b) for (a, b) in net.links if not (is_hub(net.index_to_word[a]) or is_hub(net.index_to_word[b]))]
    assert word_pairs == []
    assert "ABC" not in net.words  # not Japanese
    hub0, hub1, hub2 = (net.words[f"〔vec:{r}〕"] for r in range(3))
    assert (min(hub0, hub1), max(hub0, hub1)) in net.links  # cosine 0.99
    assert (min(hub0, hub2), max(hub0, hub2)) not in net.links  # orthogonal
    with pytest.raises(LexiconError, match="No spaCy vectors"):
        read_static_vectors(tmp_path / "nowhere")


def test_sudachi_synonym_groups_and_normalized_forms():
    pytest.importorskip("sudachipy")
    from tsunagu.lexicons.synonyms import compound_network, synonym_groups, synonym_network

    words = ["下落", "値下がり", "あきらめる", "諦める", "黒字"]
    groups = synonym_groups(words)
    assert any({"下落", "値下がり"} <= members for members in groups.values())
    net = synonym_network(words)
    assert ("あきらめる" in net.words and "諦める" in net.words)
    i, j = net.words["あきらめる"], net.words["諦める"]
    assert net.links[(min(i, j), max(i, j))] > 0
    compounds = compound_network(["医療不信", "黒字"], known={"黒字"})
    assert "不信" in compounds.words and "黒字" not in compounds.words


def _write_static_vectors(folder, table, words, rows):
    """A spaCy vocab folder whose keys share pruned rows, as ja_ginza's do."""
    from spacy.strings import StringStore
    from spacy.vectors import Vectors

    strings = StringStore(words)
    vectors = Vectors(data=numpy.asarray(table, dtype="float32"),
                      keys=[strings[w] for w in words[:len(table)]])
    for w, r in zip(words, rows):
        vectors.add(strings[w], row=r)
    vocab = folder / "vocab"
    vocab.mkdir(parents=True)
    vectors.to_disk(vocab)
    strings.to_disk(vocab / "strings.json")
    return folder


def test_explain_shows_the_glosses_forms_and_neighbours_that_decide_a_word(jmdict_db, tmp_path):
    pytest.importorskip("sudachipy")
    from tsunagu.lexicons.explain import explain_word, format_explanation
    from tsunagu.lexicons.lexicon import Lexicon

    lexicon = Lexicon({("deficit", "n"): -0.6, ("red", "n"): -0.1, ("surplus", "n"): 0.5,
                       ("赤字", "*"): -0.04, ("あかじ", "*"): -0.02, ("黒字", "*"): 0.05, ("損失", "*"): -0.03,
                       ("利益", "*"): 0.03, ("欠損", "*"): -0.01})
    vectors = _write_static_vectors(tmp_path / "vec", [[1, 0, 0], [0.95, 0.05, 0], [0, 1, 0]],
                                    ["赤字", "損失", "黒字", "欠損", "利益"], [0, 1, 2, 0, 2])
    ex = explain_word("赤字", lexicon, english=None, jmdict=jmdict_db, vectors=str(vectors))
    assert ex.score == -0.04 and ex.rank == 5 and ex.size == 9  # after 0.6, 0.5, 0.1, 0.05
    sources = ex.by_source()
    gloss = {link.other: link for link in sources["JMdict gloss"]}
    assert gloss["deficit"].pull < 0 and gloss["deficit"].detail == "sense 1: deficit"
    assert [link.other for link in sources["JMdict form"]] == ["あかじ"]
    near = {link.other: link.detail for link in sources["ja_ginza vectors"]}
    assert near["欠損"] == "same vector row" and near["損失"].startswith("row cosine")
    assert "黒字" not in near  # an orthogonal row is no neighbour
    text = format_explanation(ex)
    assert text.startswith("赤字: -0.04 (negative)") and "deficit" in text and "JMdict gloss" in text
    missing = explain_word("存在しない語", lexicon, english=None, jmdict=jmdict_db, vectors=None)
    assert missing.score is None and "not in the lexicon" in format_explanation(missing)
    with pytest.raises(LexiconError, match="non-empty word"):
        explain_word(" ", lexicon)


def test_read_jmdict_for_some_forms_only(jmdict_db):
    entries = read_jmdict(jmdict_db, forms=["かんじ", "赤字"])
    assert sorted(e.idseq for e in entries) == [2, 5, 6]
    assert read_jmdict(jmdict_db, forms=["ない語"]) == []


@pytest.mark.slow
def test_joint_lexicon_build_and_explain_commands(jmdict_db, tmp_path, capsys):
    """One joint build (WordNet + JMdict + Sudachi + static vectors) through the CLI."""
    from tsunagu.cli import main
    from tsunagu.lexicons.lexicon import read_lexicon

    from conftest import SHARED

    shared = SHARED / "wordnet"
    if not (shared / "corpora" / "wordnet" / "data.noun").exists():
        pytest.skip("WordNet not present in ../shared/data")
    vectors = _write_static_vectors(tmp_path / "vec", [[1, 0, 0], [0.9, 0.1, 0], [0, 0, 1]],
                                    ["赤字", "欠損", "黒字", "儲け"], [0, 1, 2, 2])
    out = tmp_path / "ja.tsv"
    assert main(["lexicon", "build", "--wordnet", str(shared), "--jmdict", str(jmdict_db), "--synonyms",
                 "--compounds", "--vectors", str(vectors), "--field-strength", "0.001", "--only-japanese",
                 "--drop-quantile", "0.1", "--beta", "0.9", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "JMdict (" in printed and "neighbours in vec" in printed
    lex = read_lexicon(out)
    assert lex.score("黒字") > 0 > lex.score("赤字")
    assert lex.score("くろじ") > 0 > lex.score("あかじ")
    assert lex.score("deficit") is None  # --only-japanese
    header = "\n".join(lex.header)
    assert "CC BY-SA 4.0" in header and "EDRDG" in header and "Sudachi" in header
    assert "threshold: the 10% of words with the smallest |score|" in header
    assert "licence: derived from JMdict, so this file is CC BY-SA 4.0" in header
    assert main(["lexicon", "explain", "赤字", "--lexicon", str(out), "--english", str(out),
                 "--jmdict", str(jmdict_db), "--no-vectors"]) == 0
    assert "赤字: -" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--jmdict-weight", "glosses=1"], "unknown name 'glosses'"),
    (["--vectors-weight", "0.1"], "--vectors-weight needs --vectors"),
    (["--vectors", "a.txt", "--vectors", "b.txt", "--field-strength", "0.1", "--field-strength", "0.1",
      "--field-strength", "0.1"], "given 3 times for 2 --vectors"),
    (["--drop-quantile", "1.5"], "--drop-quantile takes a quantile"),
])
def test_lexicon_build_refuses_inconsistent_sources(tmp_path, capsys, argv, message):
    from tsunagu.cli import main

    assert main(["lexicon", "build", "--out", str(tmp_path / "x.tsv"), *argv]) != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.tsv").exists()


def test_an_ablation_leaves_one_source_out():
    from tsunagu.lexicons.assemble import AssembledNetwork

    wordnet, jmdict, synonyms = Network(), Network(), Network()
    wordnet.link("good", "nice", 1)
    jmdict.link("良い", "good", 0.05)
    synonyms.link("良い", "〔syn:1〕", 0.05)
    assembled = AssembledNetwork(wordnet + jmdict + synonyms, [], [],
                                 parts={"wordnet": wordnet, "jmdict": jmdict, "synonyms": synonyms})
    without = assembled.without("jmdict")
    assert set(without.words) == {"good", "nice", "良い", "〔syn:1〕"} and len(without.links) == 2
    assert len(assembled.without("jmdict", "synonyms").words) == 2
    with pytest.raises(ValueError, match="No part corpus"):
        assembled.without("corpus")
