"""`tsunagu corpus to-spacy` with unsafe output paths (issue 15): an OUTDIR that is
the corpus or holds outputs that exist, temporary files with fixed names."""

import json
import os

import pytest

from tsunagu.cli import main
from tsunagu.docbins import corpus_to_docbins
from tsunagu.errors import OutputExistsError, PathConflictError

OUTPUTS = ("train.spacy", "dev.spacy", "test.spacy", "meta.json")


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.jsonl"
    rows = [{"id": f"d{i}", "text": f"今日は{i}回目の試合です。", "label": ("sports", "food")[i % 2]}
            for i in range(20)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _to_spacy(*args):
    return main(["corpus", "to-spacy", *map(str, args), "--no-progress"])


@pytest.mark.parametrize("existing", OUTPUTS)
def test_any_existing_output_is_refused_without_overwrite(corpus, tmp_path, capsys, existing):
    out = tmp_path / "out"
    out.mkdir()
    (out / existing).write_bytes(b"keep me")
    assert _to_spacy(corpus, out) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and existing in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == [existing]  # nothing else written
    assert (out / existing).read_bytes() == b"keep me"
    assert _to_spacy(corpus, out, "--overwrite") == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)


def test_outdir_that_is_the_corpus_directory_is_refused(tmp_path, capsys):
    texts = tmp_path / "texts"
    texts.mkdir()
    for i in range(4):
        (texts / f"{i}.txt").write_text(f"文書{i}", encoding="utf-8")
    before = sorted(p.name for p in texts.iterdir())
    for out in (texts, texts / "sub"):
        assert _to_spacy(texts, out, "--overwrite") == 1
        err = capsys.readouterr().err
        assert err.startswith("error: OUTDIR") and "input" in err
    assert sorted(p.name for p in texts.iterdir()) == before


def test_a_corpus_that_is_one_of_the_outputs_is_refused(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert _to_spacy(corpus, out) == 0
    train = out / "train.spacy"
    data = train.read_bytes()
    assert _to_spacy(train, out, "--overwrite") == 1
    err = capsys.readouterr().err
    # Refused as an OUTDIR holding the input (checked first) or as the very file.
    assert "CORPUS" in err and ("destroy the input" in err or "delete the input" in err)
    assert train.read_bytes() == data
    with pytest.raises(PathConflictError):
        corpus_to_docbins(train, out, overwrite=True, progress=False)


def test_outdir_that_is_a_file_is_a_clear_error(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("a file", encoding="utf-8")
    assert _to_spacy(corpus, out) == 1
    assert "is a file, not a directory" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "a file"


def test_no_write_goes_through_a_planted_temporary_name(corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    pid = os.getpid()  # the old writer's names: .train.spacy.<pid>.tmp, .meta.json.<pid>.tmp
    for name in OUTPUTS:
        (out / f".{name}.{pid}.tmp").symlink_to(victim)
    summary = corpus_to_docbins(corpus, out, progress=False)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert sum(sum(c.values()) for c in summary.counts.values()) == 20
    assert sorted(p.name for p in out.iterdir() if not p.is_symlink()) == sorted(OUTPUTS)


def test_library_refusal_is_output_exists(corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "meta.json").write_text("{}", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        corpus_to_docbins(corpus, out, progress=False)
    assert (out / "meta.json").read_text(encoding="utf-8") == "{}"
