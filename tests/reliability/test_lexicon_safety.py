"""Lexicon files with bad input and unsafe paths (issue 15): byte order marks,
empty lexicons, evaluations that cover nothing, `lexicon build --out` over an
existing file or an input, temporary files with fixed names."""

import json
import os

import pytest

from tsunagu.cli import main
from tsunagu.lexicons.build import evaluate, read_gold, read_seeds
from tsunagu.lexicons.lexicon import Lexicon, LexiconError, read_lexicon, write_lexicon

BOM = "\ufeff"


def test_a_byte_order_mark_does_not_hide_the_first_word(tmp_path):
    path = tmp_path / "lex.tsv"
    path.write_text(BOM + "good\ta\t0.9\tpositive\nbad\ta\t-0.8\tnegative\n", encoding="utf-8")
    assert read_lexicon(path).entries == {("good", "a"): 0.9, ("bad", "a"): -0.8}
    path.write_text(BOM + "# my lexicon\nword\tpos\tscore\tlabel\ngood\ta\t0.9\tpositive\n",
                    encoding="utf-8")
    lexicon = read_lexicon(path)
    assert lexicon.header == ["my lexicon"] and lexicon.entries == {("good", "a"): 0.9}
    path.write_text(BOM + "word\tpos\tscore\tlabel\ngood\ta\t0.9\tpositive\n", encoding="utf-8")
    assert read_lexicon(path).entries == {("good", "a"): 0.9}  # the column line is known as such


def test_seed_and_gold_readers_ignore_a_byte_order_mark(tmp_path):
    seeds = tmp_path / "seeds.tsv"
    seeds.write_text(BOM + "良い\t+1\n悪い\t-1\n", encoding="utf-8")
    assert read_seeds(seeds) == {"良い": 1, "悪い": -1}
    gold_json = tmp_path / "gold.json"
    gold_json.write_text(BOM + json.dumps({"良い": "ポジ", "悪い": "ネガ"}, ensure_ascii=False),
                         encoding="utf-8")
    assert read_gold(gold_json) == {"良い": 1, "悪い": -1}
    gi = tmp_path / "HIV-4.csv"
    gi.write_text(BOM + "Entry,Source,Positiv,Negativ\nABLE,H4,Positiv,\nBAD,H4,,Negativ\n",
                  encoding="utf-8")
    assert read_gold(gi) == {"able": 1, "bad": -1}
    tsv = tmp_path / "gold.tsv"
    tsv.write_text(BOM + "good\ta\t1\tpositive\n", encoding="utf-8")
    assert read_gold(tsv) == {"good": 1}


def test_seed_file_errors_are_lexicon_errors(tmp_path):
    seeds = tmp_path / "seeds.tsv"
    seeds.write_bytes(b"\xff\xfe\x00bad\t+1\n")
    with pytest.raises(LexiconError, match="not valid UTF-8"):
        read_seeds(seeds)
    seeds.write_text("# only a comment\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="has no seeds"):
        read_seeds(seeds)


def test_write_lexicon_does_not_write_through_a_planted_temporary_name(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "lex.tsv"
    (tmp_path / "lex.tsv.tmp").symlink_to(victim)  # the name the old writer used
    write_lexicon(Lexicon({("good", "a"): 0.5}), out)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert read_lexicon(out).entries == {("good", "a"): 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lex.tsv", "lex.tsv.tmp", "victim.txt"]


def _gold(tmp_path):
    gold = tmp_path / "gold.tsv"
    write_lexicon(Lexicon({("good", "a"): 1.0, ("bad", "a"): -1.0}), gold)
    return gold


def test_eval_of_a_lexicon_that_covers_nothing_says_accuracy_is_undefined(tmp_path, capsys):
    lex = tmp_path / "lex.tsv"
    write_lexicon(Lexicon({("other", "n"): 0.5}), lex)
    assert main(["lexicon", "eval", str(lex), "--gold", str(_gold(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "the lexicon covers none of the 2 gold words; accuracy is undefined" in out
    assert "0.000" not in out
    r = evaluate(Lexicon({("other", "n"): 0.5}), {"good": 1, "bad": -1})
    assert r["covered"] == 0 and r["accuracy"] is None and r["coverage"] == 0.0
    assert evaluate(Lexicon({("x", "n"): 0.5}), {})["coverage"] is None


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("\n\n", "is empty"),
    (BOM, "is empty"),
    ("# header only\nword\tpos\tscore\tlabel\n", "has no entries"),
])
def test_eval_of_an_empty_lexicon_is_an_error(tmp_path, capsys, content, message):
    lex = tmp_path / "lex.tsv"
    lex.write_text(content, encoding="utf-8")
    assert main(["lexicon", "eval", str(lex), "--gold", str(_gold(tmp_path))]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert "accuracy" not in out


def test_a_header_only_lexicon_written_by_tsunagu_reads_back_empty(tmp_path):
    # What an empty PolarityScorer saves; loading it must keep working.
    path = tmp_path / "lex.tsv"
    write_lexicon(Lexicon({}, ["nothing yet"]), path)
    assert len(read_lexicon(path)) == 0


# -- lexicon build --out: checked before any work (no WordNet needed to get there) --------

def _build(tmp_path, *extra):
    return main(["lexicon", "build", "--wordnet", str(tmp_path / "no-wordnet"), *extra])


def test_build_refuses_an_existing_out_without_overwrite(tmp_path, capsys):
    out = tmp_path / "lex.tsv"
    out.write_text("keep me\n", encoding="utf-8")
    assert _build(tmp_path, "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The lexicon (--out)") and "already exists" in err and "--overwrite" in err
    assert out.read_text(encoding="utf-8") == "keep me\n"
    # with --overwrite the check passes, and the build goes on (to the missing WordNet)
    assert _build(tmp_path, "--out", str(out), "--overwrite") == 1
    assert "No WordNet database files" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "keep me\n"


def test_build_refuses_an_existing_beta_plot_without_overwrite(tmp_path, capsys):
    (tmp_path / "lex.beta.png").write_bytes(b"png")
    assert _build(tmp_path, "--out", str(tmp_path / "lex.tsv")) == 1
    assert "lex.beta.png already exists" in capsys.readouterr().err
    assert (tmp_path / "lex.beta.png").read_bytes() == b"png"


@pytest.mark.parametrize("flag", ["--seeds", "--gold", "--omw", "--corpus", "--vectors"])
def test_build_refuses_an_out_that_is_an_input(tmp_path, capsys, flag):
    data = tmp_path / "input.tsv"
    data.write_text("good\t+1\nbad\t-1\n", encoding="utf-8")
    before = data.read_bytes()
    link = tmp_path / "hardlink.tsv"
    os.link(data, link)
    for out in (data, link):
        assert _build(tmp_path, flag, str(data), "--out", str(out), "--overwrite") == 1
        err = capsys.readouterr().err
        assert err.startswith("error: --out") and "destroy the input" in err and flag in err
    assert data.read_bytes() == before

