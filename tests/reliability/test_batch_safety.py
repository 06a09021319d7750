"""`tsunagu apply` loses no data: paths that would destroy an input are refused,
temporary files follow no planted symlink, a changed input is not resumed, lone
surrogates and long texts do not stop the job, impossible settings are refused,
and every failure the user can fix is one `error:` line."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import spacy

import tsunagu
from tsunagu.batch import apply_corpus, apply_pipeline
from tsunagu.cli import main
from tsunagu.corpora import Record
from tsunagu.errors import ConfigError, InputChangedError, OutputExistsError, PathConflictError


@pytest.fixture(scope="module")
def blank():
    tsunagu.register_extensions()
    return spacy.blank("xx")


@pytest.fixture(scope="module")
def blank_dir(tmp_path_factory, blank):
    """A saved blank pipeline, so that CLI runs in-process load in milliseconds."""
    path = tmp_path_factory.mktemp("pipeline") / "blank"
    blank.to_disk(path)
    return path


def _corpus(path: Path, n: int = 6) -> bytes:
    data = "".join(json.dumps({"id": f"d{i}", "text": f"文書{i}です。"}, ensure_ascii=False) + "\n"
                   for i in range(n)).encode("utf-8")
    path.write_bytes(data)
    return data


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().decode("utf-8").splitlines()]


def _apply(blank_dir, *args):
    return main(["apply", *map(str, args), "--no-progress", "--pipeline", str(blank_dir)])


# -- paths that would destroy an input ------------------------------------------------------

@pytest.mark.parametrize("case", ["rejects=input", "output=input", "rejects=output", "hard link",
                                  "symlink", "inside input dir"])
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, blank_dir, capsys, case):
    src = tmp_path / "in.jsonl"
    data = _corpus(src)
    out = tmp_path / "out.jsonl"
    extra: list = []
    if case == "rejects=input":
        extra = ["--rejects", src]
    elif case == "output=input":
        out, extra = src, ["--overwrite"]
    elif case == "rejects=output":
        extra = ["--rejects", out]
    elif case == "hard link":
        os.link(src, tmp_path / "link.jsonl")
        out = tmp_path / "link.jsonl"
        extra = ["--overwrite"]
    elif case == "symlink":
        (tmp_path / "sym.jsonl").symlink_to(src)
        extra = ["--rejects", tmp_path / "sym.jsonl"]
    elif case == "inside input dir":
        corpus = tmp_path / "texts"
        corpus.mkdir()
        (corpus / "a.txt").write_text("一つ目の文書。", encoding="utf-8")
        assert _apply(blank_dir, corpus, corpus / "out.jsonl") == 1
        assert "inside the input directory" in capsys.readouterr().err
        assert sorted(p.name for p in corpus.iterdir()) == ["a.txt"]
        return
    assert _apply(blank_dir, src, out, *extra) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1
    assert src.read_bytes() == data


def test_library_refuses_rejects_equal_to_output(blank, tmp_path):
    with pytest.raises(PathConflictError, match="same path"):
        apply_pipeline(blank, [Record("a", "x")], tmp_path / "o.jsonl", rejects_path=tmp_path / "o.jsonl",
                       progress=False)


def test_an_existing_rejects_file_is_not_replaced_without_overwrite(blank, tmp_path):
    src = tmp_path / "in.jsonl"
    _corpus(src)
    precious = tmp_path / "notes.jsonl"
    precious.write_text("my own notes\n", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="rejects file"):
        apply_corpus(blank, src, tmp_path / "out.jsonl", rejects_path=precious, progress=False)
    assert precious.read_text(encoding="utf-8") == "my own notes\n"
    assert not (tmp_path / "out.jsonl").exists()
    apply_corpus(blank, src, tmp_path / "out.jsonl", rejects_path=precious, progress=False, overwrite=True)
    assert precious.read_text(encoding="utf-8") == ""


def test_symlinks_planted_at_temporary_names_are_not_followed(blank, tmp_path):
    src = tmp_path / "in.jsonl"
    _corpus(src)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    # The names main used to write through, and the ones a guess would try.
    for name in ("out.jsonl.tmp", "out.jsonl.rejects.jsonl.tmp", ".out.jsonl.tmp", "out.jsonl.partial.tmp"):
        (tmp_path / name).symlink_to(victim)
    report = apply_corpus(blank, src, out, progress=False)
    assert report.written == 6
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert [d["id"] for d in _lines(out)] == [f"d{i}" for i in range(6)]


def test_a_planted_partial_directory_symlink_is_refused(blank, tmp_path):
    src = tmp_path / "in.jsonl"
    _corpus(src)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "file").write_text("x", encoding="utf-8")
    (tmp_path / "out.jsonl.partial").symlink_to(elsewhere)
    with pytest.raises(tsunagu.BatchStateError, match="symlink"):
        apply_corpus(blank, src, tmp_path / "out.jsonl", progress=False, overwrite=True)
    assert [p.name for p in elsewhere.iterdir()] == ["file"]


# -- resume after the input changed ----------------------------------------------------------

class _Crash(BaseException):
    """A process dying mid-run: nothing of apply's own clean-up runs (unlike Ctrl-C)."""


def _interrupted_run(blank, src, out, at=3):
    from tsunagu import batch

    original = batch._PartWriter.commit
    calls = {"n": 0}

    def commit(self):
        original(self)
        calls["n"] += 1
        if calls["n"] == at:
            raise _Crash

    batch._PartWriter.commit = commit
    try:
        with pytest.raises(_Crash):
            apply_corpus(blank, src, out, progress=False, batch_size=1, checkpoint_seconds=0)
    finally:
        batch._PartWriter.commit = original


def test_resume_refuses_an_input_edited_since_the_interrupted_run(blank, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _corpus(src)
    _interrupted_run(blank, src, out)
    text = src.read_text(encoding="utf-8").replace("文書1", "文章1")
    src.write_text(text, encoding="utf-8")
    with pytest.raises(InputChangedError, match="input changed"):
        apply_corpus(blank, src, out, progress=False)
    report = apply_corpus(blank, src, out, progress=False, overwrite=True)
    assert report.resumed == 0 and [d["text"] for d in _lines(out)][1] == "文章1です。"


def test_resume_accepts_an_input_only_touched(blank, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _corpus(src)
    _interrupted_run(blank, src, out)
    os.utime(src, (1, 1))
    report = apply_corpus(blank, src, out, progress=False)
    assert report.resumed == 3 and len(_lines(out)) == 6


# -- records that used to kill the job ------------------------------------------------------

def test_lone_surrogates_are_kept_escaped_in_ids_and_meta_and_rejected_in_text(blank, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"id": "a\\ud800", "text": "良い", "note": "x\\udfff"}\n'
                   '{"id": "b", "text": "悪い\\ud800"}\n'
                   '{"id": "c", "text": "普通"}\n', encoding="utf-8")
    report = apply_corpus(blank, src, out, progress=False)
    assert report.written == 2 and report.rejected == 1
    docs = _lines(out)
    assert [d["id"] for d in docs] == ["a\ud800", "c"] and docs[0]["meta"] == {"note": "x\udfff"}
    (reject,) = _lines(tmp_path / "out.jsonl.rejects.jsonl")
    assert reject["id"] == "b" and "lone surrogate" in reject["reason"]
    # And a resume over the finished parts recognises the escaped id as done.
    assert report.resumed == 0


def test_docbin_output_rejects_what_msgpack_cannot_hold(blank, tmp_path):
    # Found by benchmarks/bench_reliability.py: an integer over 64 bits in meta.
    records = [Record("a\ud800", "良い"), Record("b", "悪い"), Record("c", "普通", meta={"n": [2 ** 64]})]
    report = apply_pipeline(blank, records, tmp_path / "o.spacy", output_format="spacy", progress=False)
    assert report.written == 1 and report.rejected == 2
    reasons = {r["id"]: r["reason"] for r in _lines(tmp_path / "o.spacy.rejects.jsonl")}
    assert "lone surrogate" in reasons["a\ud800"] and "OverflowError" in reasons["c"]


@pytest.mark.parametrize("settings", [{"max_chars": -5}, {"max_chars": 0}, {"batch_size": 0},
                                      {"n_process": -1}, {"max_chars": 1.5}, {"checkpoint_seconds": -1},
                                      {"piece_chars": 0}])
def test_impossible_settings_are_refused(blank, tmp_path, settings):
    with pytest.raises(ConfigError):
        apply_pipeline(blank, [Record("a", "x")], tmp_path / "o.jsonl", progress=False, **settings)
    assert not (tmp_path / "o.jsonl.partial").exists()


def test_cli_refuses_a_negative_max_chars(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["apply", str(tmp_path / "in.jsonl"), str(tmp_path / "o.jsonl"), "--max-chars", "-5"])
    assert exit_.value.code == 2 and "--max-chars" in capsys.readouterr().err


def test_the_default_limit_names_the_flag(blank, tmp_path):
    report = apply_pipeline(blank, [Record("a", "長" * 200_001)], tmp_path / "o.jsonl", progress=False)
    assert report.rejected == 1
    (reject,) = _lines(tmp_path / "o.jsonl.rejects.jsonl")
    assert "--max-chars" in reject["reason"] and "200,000" in reject["reason"]


def test_long_texts_go_through_the_pipeline_in_bounded_pieces(tmp_path):
    sizes: list[int] = []
    nlp = spacy.blank("xx")

    @spacy.Language.component("size_probe")
    def size_probe(doc):
        sizes.append(len(doc.text))
        return doc

    nlp.add_pipe("size_probe")
    text = "".join(f"これは{i}番目の文です。" for i in range(5000)) + "\n\n" + "改行のない長い段落" * 500
    report = apply_pipeline(nlp, [Record("long", text)], tmp_path / "o.jsonl", progress=False,
                            piece_chars=1000)
    assert report.written == 1 and max(sizes) <= 1000 and len(sizes) > 50
    (doc,) = _lines(tmp_path / "o.jsonl")
    assert doc["text"] == text
    assert all(text[t["idx"]:t["idx"] + len(t["text"])] == t["text"] for t in doc["tokens"])


def test_pieces_join_into_the_annotations_of_the_whole_text(nlp, tmp_path):
    from tsunagu.pieces import process_long_text

    text = ("売上高は前年同期比で増加しました。東京の本社で新製品を発表した。\n"
            "しかし、原材料費が上昇し、利益は減少した。来期は回復が見込まれる。\n\n"
            "株式会社トヨタは名古屋で会見を開いた。") * 3
    whole = nlp(text)
    joined = process_long_text(nlp, text, piece_chars=60)
    # Offsets, sentences, entities and bunsetu are those of the joined text...
    assert joined.text == text and [t.text for t in joined] == [t.text for t in whole]
    assert all(text[t.idx:t.idx + len(t)] == t.text for t in joined)
    sents = list(joined.sents)
    assert "".join(s.text_with_ws for s in sents) == text
    assert all(e.text == text[e.start_char:e.end_char] for e in joined.ents)
    assert all(s.start <= t.head.i < s.end for s in sents for t in s)
    assert "".join(b.text for b in joined._.bunsetu).replace("\n", "") == text.replace("\n", "")
    # ...and agree with processing it whole, apart from the pieces' edges.
    same_starts = {s.start_char for s in sents} & {s.start_char for s in whole.sents}
    assert len(same_starts) >= 0.8 * len(list(whole.sents))
    assert sum(a.pos_ == b.pos_ for a, b in zip(joined, whole)) >= 0.95 * len(whole)
    assert {(e.start_char, e.label_) for e in joined.ents} == {(e.start_char, e.label_) for e in whole.ents}
    assert joined._.polarity == pytest.approx(whole._.polarity, abs=0.05)


# -- one error line for what the user can fix -------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs: a real full disk (ENOSPC from the kernel)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_error_line_and_the_run_resumes(tiny_disk, tmp_path, blank_dir, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": "長い文書です。" * 40}, ensure_ascii=False)
                           + "\n" for i in range(100)), encoding="utf-8")
    ballast = tiny_disk / "ballast"
    ballast.write_bytes(b"\0" * 900_000)
    out = tiny_disk / "out.jsonl"
    assert _apply(blank_dir, src, out, "--batch-size", "5", "--checkpoint-seconds", "0") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the disk is full") and "Traceback" not in err
    assert not out.exists()
    ballast.unlink()
    # The same command, now with room, finishes the run from its committed parts.
    assert _apply(blank_dir, src, out, "--batch-size", "5", "--checkpoint-seconds", "0") == 0
    assert [d["id"] for d in _lines(out)] == [f"d{i}" for i in range(100)]


def test_debug_shows_the_traceback(tmp_path, blank_dir, capsys):
    src = tmp_path / "in.jsonl"
    _corpus(src)
    with pytest.raises(PathConflictError):
        main(["--debug", "apply", str(src), str(src), "--overwrite", "--pipeline", str(blank_dir)])
    assert src.exists()


def test_an_unwritable_place_is_one_error_line(tmp_path, blank_dir, capsys):
    src = tmp_path / "in.jsonl"
    _corpus(src)
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert _apply(blank_dir, src, blocker / "out.jsonl") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a directory" in err and str(blocker) in err
