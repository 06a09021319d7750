"""Building lexicons with the spin model and evaluating them; the lexicon CLI."""

import pytest

from tsunagu.lexicons.build import build_lexicon, evaluate, read_gold, read_seeds
from tsunagu.lexicons.lexicon import Lexicon, LexiconError, read_lexicon, write_lexicon
from tsunagu.lexicons.network import Network

from conftest import SHARED


def _toy():
    net = Network()
    links = [("good", "nice", 1), ("nice", "pleasant", 1), ("good", "bad", -1), ("bad", "awful", 1),
             ("awful", "nasty", 1), ("pleasant", "nasty", -1), ("island", "sea", 1)]
    for a, b, s in links:
        net.link(a, b, s)
    for w in ("good", "nice", "pleasant", "bad", "awful", "nasty"):
        net.node(w, "a")
    return net


def test_build_orients_connected_words_and_says_how():
    result = build_lexicon(_toy(), {"good": 1, "bad": -1}, beta=1.0, source="toy")
    lex = result.lexicon
    assert lex.score("pleasant", "ADJ") > 0 and lex.score("nasty", "ADJ") < 0
    assert lex.score("island") is None  # no path to a seed: no entry
    header = "\n".join(lex.header)
    assert "seeds: bad-, good+" in header and "beta: 1.0 (fixed)" in header and "toy" in header


@pytest.mark.parametrize("select", ["magnetization", "loo"])
def test_beta_selection_records_the_curve(select):
    result = build_lexicon(_toy(), {"good": 1, "bad": -1}, betas=[0.5, 1.0, 2.0], select=select)
    assert [b for b, _, _ in result.curve] == [0.5, 1.0, 2.0]
    assert result.beta in (0.5, 1.0, 2.0)
    assert (result.curve[0][2] is not None) == (select == "loo")


def test_build_rejects_bad_seeds():
    with pytest.raises(LexiconError, match="not in the network: zzz"):
        build_lexicon(_toy(), {"good": 1, "zzz": -1})
    with pytest.raises(LexiconError, match="both positive and negative"):
        build_lexicon(_toy(), {"good": 1, "nice": 1})
    with pytest.raises(LexiconError, match="beta selection"):
        build_lexicon(_toy(), {"good": 1, "bad": -1}, select="guess")


def test_seed_files(tmp_path):
    assert len(read_seeds(None)) == 14 and read_seeds("turney-littman")["inferior"] == -1
    path = tmp_path / "seeds.tsv"
    path.write_text("# mine\n良い\t+1\n悪い\t-1\n", encoding="utf-8")
    assert read_seeds(path) == {"良い": 1, "悪い": -1}
    path.write_text("良い\tpositive\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="seeds.tsv:1"):
        read_seeds(path)


def test_gold_from_general_inquirer_table_and_lexicons(tmp_path):
    gi = tmp_path / "HIV-4.csv"
    gi.write_text("Entry,Source,Positiv,Negativ,Pstv\nABLE,H4Lvd,Positiv,,\nGOOD#1,H4,Positiv,,\n"
                  "GOOD#2,H4,Positiv,,\nBAD,H4,,Negativ,\nFAIR#1,H4,Positiv,,\nFAIR#2,H4,,Negativ,\n"
                  "TABLE,H4,,,\n", encoding="latin-1")
    assert read_gold(gi) == {"able": 1, "good": 1, "bad": -1}  # senses merged, 'fair' dropped
    lex_path = tmp_path / "gold.tsv"
    write_lexicon(Lexicon({("good", "a"): 0.5, ("bad", "*"): -0.2}), lex_path)
    assert read_gold(lex_path) == {"good": 1, "bad": -1}


def test_evaluate_counts_what_it_says():
    lex = Lexicon({("good", "a"): 0.9, ("nice", "a"): 0.2, ("bad", "a"): 0.1, ("sad", "*"): -0.5})
    gold = {"good": 1, "nice": 1, "bad": -1, "sad": -1, "missing": 1}
    r = evaluate(lex, gold, top_k=(1, 2, 4))
    assert r["covered"] == 4 and r["coverage"] == pytest.approx(0.8)
    assert r["accuracy"] == pytest.approx(0.75)  # 'bad' is wrong
    assert r["per_pos"] == {"*": (1, 1.0), "a": (3, pytest.approx(2 / 3))}
    assert r["precision_at"] == {1: 1.0, 2: 1.0, 4: 0.75}


def test_lexicon_eval_command(cli, tmp_path):
    write_lexicon(Lexicon({("good", "a"): 0.9, ("bad", "a"): 0.1}), tmp_path / "lex.tsv")
    write_lexicon(Lexicon({("good", "a"): 1.0, ("bad", "a"): -1.0}), tmp_path / "gold.tsv")
    out = cli("lexicon", "eval", tmp_path / "lex.tsv", "--gold", tmp_path / "gold.tsv").stdout
    assert "covered 2 (100.0%); accuracy 0.500" in out
    bad = cli("lexicon", "eval", tmp_path / "nope.tsv", "--gold", tmp_path / "gold.tsv", check=False)
    assert bad.returncode == 1 and "Lexicon not found" in bad.stderr


@pytest.mark.slow
def test_lexicon_build_command_on_wordnet(cli, tmp_path):
    if not (SHARED / "wordnet" / "corpora" / "wordnet" / "data.noun").exists():
        pytest.skip("WordNet not present in ../shared/data")
    out = tmp_path / "en.tsv"
    # A few GloVe-format vectors (no header line), for the neighbour links and the
    # field; "qqqx" is not a WordNet word, so --within-network keeps it out.
    vectors = tmp_path / "tiny.txt"
    vectors.write_text("good 1 0 0\nnice 0.9 0.1 0\nsplendid 0.95 0 0.1\nbad -1 0 0\n"
                       "nasty -0.9 0.1 0\ndire -0.95 0 0.1\nqqqx 1 0.05 0\n", encoding="utf-8")
    proc = cli("lexicon", "build", "--wordnet", SHARED / "wordnet", "--beta", "0.5", "--out", out,
               "--vectors", vectors, "--within-network", "--neighbours", "2", "--field-strength", "0.05",
               "--sense-power", "0.5")
    assert "beta 0.5: wrote" in proc.stdout and "neighbours in tiny.txt" in proc.stdout
    lex = read_lexicon(out)
    assert len(lex) > 100_000 and lex.score("qqqx") is None
    assert lex.score("excellent", "ADJ") > 0 and lex.score("terrible", "ADJ") < 0
    assert any(line.startswith("seeds: bad-, correct+") for line in lex.header)
    assert any(line.startswith("field: vector classifier (strength 0.05)") for line in lex.header)
    assert any(line.startswith("source: WordNet 3.0") and "to the power 0.5" in line for line in lex.header)
    assert any(line.startswith("source: neighbours in tiny.txt") for line in lex.header)
    assert out.with_suffix(".beta.png").stat().st_size > 1000


def test_json_gold_as_in_the_japanese_polarity_dictionary(tmp_path):
    (tmp_path / "pn_wago.json").write_text('{"嬉しい": "ポジ（経験）", "悲しい": "ネガ（経験）", '
                                           '"あきれる た": "ネガ（評価）"}', encoding="utf-8")
    (tmp_path / "pn_noun.json").write_text('{"成功": "p", "失敗": "n", "悲しい": "p", "机": "e"}',
                                           encoding="utf-8")
    assert read_gold(tmp_path) == {"嬉しい": 1, "成功": 1, "失敗": -1}  # 悲しい conflicts
    (tmp_path / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(LexiconError, match="word -> label"):
        read_gold(tmp_path / "bad.json")


def test_omw_lemmas_join_the_network(wordnet, tmp_path):
    from tsunagu.lexicons.omw import add_omw_links, read_omw_tab

    wn = wordnet
    tab = tmp_path / "jpn.tab"
    tab.write_text("# test\t\t\n01123148-a\tjpn:lemma\t良い\n01123148-a\tjpn:lemma\tよい\n"
                   "01125429-a\tjpn:lemma\t悪い\n99999999-n\tjpn:lemma\t無い\n", encoding="utf-8")
    assert list(read_omw_tab(tab))[0] == ("01123148-a", "良い")
    net = Network()
    assert add_omw_links(net, wn, [tab]) == 3  # the unknown offset is skipped
    i = net.words
    # weighted by p(good.a.01 | good): most of "good"'s SemCor occurrences, not all
    assert 0.3 < net.links[tuple(sorted((i["良い"], i["good"])))] < 1
    assert net.links[tuple(sorted((i["良い"], i["よい"])))] == 1
    plain = Network()
    add_omw_links(plain, wn, [tab], sense_weighting=False)
    assert plain.links[tuple(sorted((plain.words["良い"], plain.words["good"])))] == 1
    result = build_lexicon(net, {"good": 1, "bad": -1}, beta=1.0, only={"良い", "よい", "悪い"})
    assert set(w for w, _ in result.lexicon.entries) <= {"良い", "よい", "悪い"}
    assert result.lexicon.score("良い", "ADJ") > 0
    tab.write_text("broken line\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="jpn.tab:1"):
        list(read_omw_tab(tab))


def test_embedding_neighbour_links():
    import numpy
    from gensim.models import KeyedVectors

    from tsunagu.lexicons.network import embedding_network

    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["良い", "素晴らしい", "悪い", "ひどい", "机"],
                   numpy.array([[1, 0.1, 0], [0.9, 0.2, 0], [0, 1, 0.1], [0.1, 0.9, 0], [0, 0, 1]],
                               dtype="float32"))
    net = embedding_network(kv, k=1, min_similarity=0.8)
    i = net.words
    assert net.links[tuple(sorted((i["良い"], i["素晴らしい"])))] >= 1
    assert net.links[tuple(sorted((i["悪い"], i["ひどい"])))] >= 1
    assert "机" not in i  # no neighbour close enough
    only = embedding_network(kv, k=1, min_similarity=0.8, words=["良い"])
    assert set(only.words) == {"良い", "素晴らしい"}
    combined = _toy() + net
    assert "素晴らしい" in combined.words and "pleasant" in combined.words


@pytest.mark.parametrize("text, pair", [
    ("安くて美味しい。", ("安い", "美味しい", 1)),
    ("高いが美味しい。", ("高い", "美味しい", -1)),
    ("景色は良いけど、部屋が汚い。", ("良い", "汚い", -1)),
    ("美味しくないが安い。", ("美味しい", "安い", 1)),  # negation reverses the contrast
    ("便利だし安い。", ("便利", "安い", 1)),
])
def test_connective_pairs_from_ginza_parses(nlp, text, pair):
    from tsunagu.lexicons.corpus import connective_pairs

    assert list(connective_pairs(nlp(text))) == [pair]


def test_corpus_network_parses_only_candidate_sentences(nlp):
    from tsunagu.lexicons.corpus import candidate_sentences, corpus_network

    texts = ["今日は晴れです。安くて美味しい。", "駅から遠いが静かだ。\n特に何もない。"]
    assert list(candidate_sentences(texts)) == ["安くて美味しい。", "駅から遠いが静かだ。"]
    net = corpus_network(nlp, texts)
    i = net.words
    assert net.links[tuple(sorted((i["安い"], i["美味しい"])))] == 1
    assert net.links[tuple(sorted((i["遠い"], i["静か"])))] == -1
