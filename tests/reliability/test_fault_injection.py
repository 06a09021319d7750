"""A crash at every step of committing: the process dies at the k-th rename or
sync (every k the run reaches), and what is on disk is the old output or the new
one, never a mix; the same command run again ends with every record exactly once."""

import json
import os

import pytest
import spacy

import tsunagu
from tsunagu.batch import apply_corpus


class _Crash(BaseException):
    """The process dying: no except clause of apply's catches it, as none runs on kill -9."""


@pytest.fixture(scope="module")
def blank():
    tsunagu.register_extensions()
    return spacy.blank("xx")


def _write_corpus(path, version):
    lines = [json.dumps({"id": f"d{i}", "text": f"v{version} 文書{i}"}, ensure_ascii=False) for i in range(9)]
    lines.insert(4, "{broken json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run(blank, src, out, **kw):
    return apply_corpus(blank, src, out, progress=False, batch_size=2, checkpoint_seconds=0, **kw)


class _CrashAt:
    """Counts the calls of the primitives a commit is made of and dies at call k."""

    PRIMITIVES = ("replace", "fsync", "rename")

    def __init__(self, monkeypatch, k):
        self.k, self.calls = k, 0
        for name in self.PRIMITIVES:
            original = getattr(os, name)
            monkeypatch.setattr(os, name, self._wrap(original))

    def _wrap(self, original):
        def wrapper(*args, **kwargs):
            self.calls += 1
            if self.calls == self.k:
                raise _Crash
            return original(*args, **kwargs)
        return wrapper


def _reference(blank, tmp_path, version):
    folder = tmp_path / f"reference{version}"
    folder.mkdir()
    # The same file name as the cases': rejects' ids name it.
    src, out = folder / "in.jsonl", folder / "out.jsonl"
    _write_corpus(src, version)
    _run(blank, src, out)
    rejects = out.with_name(out.name + ".rejects.jsonl")
    return out.read_bytes(), rejects.read_bytes()


def _steps(blank, tmp_path):
    """How many primitive calls a whole run makes."""
    folder = tmp_path / "count"
    folder.mkdir(exist_ok=True)
    src, out = folder / "in.jsonl", folder / "out.jsonl"
    _write_corpus(src, 1)
    with pytest.MonkeyPatch.context() as mp:
        counter = _CrashAt(mp, k=-1)
        _run(blank, src, out, overwrite=True)
    return counter.calls


def test_a_crash_at_any_commit_step_then_the_same_command(blank, tmp_path):
    new_out, new_rejects = _reference(blank, tmp_path, 1)
    n = _steps(blank, tmp_path)
    assert n > 10
    for k in range(1, n + 1):
        case = tmp_path / f"fresh{k}"
        case.mkdir()
        src, out = case / "in.jsonl", case / "out.jsonl"
        _write_corpus(src, 1)
        with pytest.MonkeyPatch.context() as mp:
            _CrashAt(mp, k)
            with pytest.raises(_Crash):
                _run(blank, src, out)
        assert not out.exists() or out.read_bytes() == new_out, f"crash at step {k}: partial output"
        if out.exists():
            # Died after the output was in place: the job is complete, or its rejects
            # were too (they are written first).
            assert out.with_name("out.jsonl.rejects.jsonl").read_bytes() == new_rejects
        if not (case / "out.jsonl.partial").exists() and out.exists():
            continue  # finished before the crash: nothing to resume
        _run(blank, src, out)
        assert out.read_bytes() == new_out, f"crash at step {k}: resumed output differs"
        assert out.with_name("out.jsonl.rejects.jsonl").read_bytes() == new_rejects
        assert not (case / "out.jsonl.partial").exists()
        assert not [p for p in case.iterdir() if p.name.endswith(".tmp")]


def test_a_crash_while_overwriting_leaves_the_old_output_or_the_new(blank, tmp_path):
    old_out, _ = _reference(blank, tmp_path, 0)
    new_out, _ = _reference(blank, tmp_path, 1)
    n = _steps(blank, tmp_path)
    seen = set()
    for k in range(1, n + 1):
        case = tmp_path / f"over{k}"
        case.mkdir()
        src, out = case / "in.jsonl", case / "out.jsonl"
        out.write_bytes(old_out)
        _write_corpus(src, 1)
        with pytest.MonkeyPatch.context() as mp:
            _CrashAt(mp, k)
            with pytest.raises(_Crash):
                _run(blank, src, out, overwrite=True)
        content = out.read_bytes()
        assert content in (old_out, new_out), f"crash at step {k}: a mix of old and new"
        seen.add(content == new_out)
        _run(blank, src, out, overwrite=True)
        assert out.read_bytes() == new_out
    assert seen == {False, True}  # the crashes fell on both sides of the final rename
