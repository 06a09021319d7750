"""Batch processing: rejects, atomic parts, resume after Ctrl-C and kill -9,
multiprocessing with a torch component."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tsunagu
from tsunagu import BatchStateError, ConfigError
from tsunagu.errors import OutputExistsError
from tsunagu.batch import apply_corpus, apply_pipeline
from tsunagu.corpora import Record, read_docbin, read_jsonl, sample_corpus_path

from conftest import run_cli

GOOD = ["今日は良い天気です。", "東京へ行きます。", "映画はとても面白かった。", "ラーメンが美味しい店。"]


def _messy_corpus(path: Path) -> dict[str, str]:
    """A JSONL corpus with every kind of bad record; returns id -> expected fate."""
    lines = [json.dumps({"id": f"g{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(GOOD)]
    lines.insert(1, '{"id": "empty", "text": "   "}')
    lines.insert(3, '{"id": "num", "text": 12}')
    lines.insert(4, "{not json")
    lines.append(json.dumps({"id": "long", "text": "長" * 500}, ensure_ascii=False))
    lines.append(json.dumps({"id": "g0", "text": "重複"}, ensure_ascii=False))
    data = "\n".join(lines).encode("utf-8") + b"\n" + b'{"id": "bytes", "text": "\xff\xfe"}\n'
    path.write_bytes(data)
    return {"g0": "out", "g1": "out", "g2": "out", "g3": "out", "empty": "empty", "num": "not a string",
            "c.jsonl:5": "invalid JSON", "long": "over the limit", "c.jsonl:10": "UTF-8"}


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_bad_records_go_to_rejects_and_the_run_continues(nlp, tmp_path):
    expected = _messy_corpus(tmp_path / "c.jsonl")
    report = apply_corpus(nlp, tmp_path / "c.jsonl", tmp_path / "out.jsonl", max_chars=100,
                          progress=False)
    out = _read_jsonl(tmp_path / "out.jsonl")
    rejects = _read_jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert [d["id"] for d in out] == ["g0", "g1", "g2", "g3"]
    assert [d["text"] for d in out] == GOOD
    # The second "g0" is rejected by the reader under its own location, so that the
    # reject's id is unique too.
    expected["c.jsonl:9"] = "duplicate id"
    for rej in rejects:
        assert expected[rej["id"]] in rej["reason"], rej
    assert {r["id"] for r in rejects} == {k for k, v in expected.items() if v != "out"}
    assert report.written == 4 and report.rejected == 6
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_jsonl_output_has_the_analysis(nlp, tmp_path):
    records = [Record("a", "銀座でランチをご一緒しましょう。", ("food",), {"src": "t"})]
    apply_pipeline(nlp, records, tmp_path / "o.jsonl", progress=False)
    (doc,) = _read_jsonl(tmp_path / "o.jsonl")
    assert doc["id"] == "a" and doc["labels"] == ["food"] and doc["meta"] == {"src": "t"}
    first = doc["tokens"][0]
    assert first == {**first, "text": "銀座", "lemma": "銀座", "pos": "PROPN", "reading": "ギンザ",
                     "dep": "nmod", "head": 5}
    assert doc["tokens"][6]["inflection"].startswith("サ行変格")
    assert doc["ents"][0]["label"] == "City" and doc["ents"][0]["text"] == "銀座"
    assert doc["bunsetu"] == [[0, 2], [2, 4], [4, 9]]
    assert doc["sents"][0]["start"] == 0


def test_docbin_output_keeps_ids_and_labels(nlp, tmp_path):
    records = [Record(f"d{i}", t, ("x",)) for i, t in enumerate(GOOD)]
    report = apply_pipeline(nlp, records, tmp_path / "o.spacy", output_format="spacy", progress=False)
    assert report.written == len(GOOD) and report.rejected == 0
    back = list(read_docbin(tmp_path / "o.spacy"))
    assert [(r.id, r.text, r.labels) for r in back] == [(f"d{i}", t, ("x",)) for i, t in enumerate(GOOD)]


class _Interrupting:
    """Records that raise KeyboardInterrupt after ``n``, as Ctrl-C would."""

    def __init__(self, records, n):
        self.records, self.n = records, n

    def __iter__(self):
        for i, r in enumerate(self.records):
            if i == self.n:
                raise KeyboardInterrupt
            yield r


def test_interrupted_run_resumes_exactly_once(nlp, tmp_path):
    records = [Record(f"r{i:03d}", f"{i}番目の文書です。") for i in range(40)]
    out = tmp_path / "o.jsonl"
    with pytest.raises(KeyboardInterrupt):
        apply_pipeline(nlp, _Interrupting(records, 25), out, batch_size=4, progress=False,
                       fingerprint={"job": 1})
    assert not out.exists() and (tmp_path / "o.jsonl.partial").is_dir()
    report = apply_pipeline(nlp, records, out, batch_size=4, progress=False, fingerprint={"job": 1})
    assert report.resumed == 24 and report.written == 16
    assert [d["id"] for d in _read_jsonl(out)] == [r.id for r in records]


def test_resume_refuses_other_settings_and_finished_outputs(nlp, tmp_path):
    records = [Record(f"r{i}", "文書です。") for i in range(10)]
    out = tmp_path / "o.jsonl"
    with pytest.raises(KeyboardInterrupt):
        apply_pipeline(nlp, _Interrupting(records, 6), out, batch_size=2, progress=False,
                       fingerprint={"input": "a"})
    with pytest.raises(BatchStateError, match="job"):
        apply_pipeline(nlp, records, out, progress=False, fingerprint={"input": "b"})
    apply_pipeline(nlp, records, out, progress=False, fingerprint={"input": "a"})
    with pytest.raises(OutputExistsError, match="--overwrite"):
        apply_pipeline(nlp, records, out, progress=False, fingerprint={"input": "a"})
    report = apply_pipeline(nlp, records[:3], out, progress=False, overwrite=True)
    assert report.written == 3 and len(_read_jsonl(out)) == 3


def test_bad_arguments(nlp, tmp_path):
    with pytest.raises(ConfigError, match="output format"):
        apply_pipeline(nlp, [], tmp_path / "o", output_format="xml")
    with pytest.raises(ConfigError, match="n_process"):
        apply_pipeline(nlp, [], tmp_path / "o", n_process=0)


def _check_exactly_once(out: Path, rejects: Path, ids: list[str]) -> None:
    written = [d["id"] for d in _read_jsonl(out)]
    rejected = [r["id"] for r in _read_jsonl(rejects)]
    assert sorted(written + rejected) == sorted(ids)
    assert written == [i for i in ids if i in set(written)]  # input order


def _sample_with_bad_records(tmp_path: Path) -> tuple[Path, list[str]]:
    lines = sample_corpus_path().read_text(encoding="utf-8").splitlines()
    lines.insert(50, '{"id": "bad-empty", "text": ""}')
    lines.insert(120, "{broken json")
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = [r.id for r in read_jsonl(path, on_error="reject")]
    return path, ids


def _wait_for_parts(work: Path, n: int, proc, timeout=120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if work.is_dir() and len([p for p in work.glob("part-*") if not p.name.endswith(".tmp")]) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"finished before it could be interrupted: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("no progress")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill -9", "Ctrl-C"])
def test_killed_process_resumes_with_the_same_command(cli, tmp_path, how):
    corpus, ids = _sample_with_bad_records(tmp_path)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "tsunagu", "apply", corpus, out, "--batch-size", "8",
           "--checkpoint-seconds", "0", "--no-progress"]
    # A suite started in the background (nohup, `&`) ignores SIGINT, and children
    # inherit that; restore the default so that Python raises KeyboardInterrupt.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for_parts(tmp_path / "out.jsonl.partial", 3, proc)
    proc.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if how == "Ctrl-C":
        assert proc.returncode == 130 and "run the same command again to resume" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    # The interrupted run needs a process of its own; the resume runs in this one.
    done = cli(*cmd[3:])
    assert "done before resuming" in done.stdout
    _check_exactly_once(out, tmp_path / "out.jsonl.rejects.jsonl", ids)
    assert len(_read_jsonl(out)) == 300


@pytest.mark.slow
def test_multiprocessing_with_a_torch_component(cli, tmp_path):
    # The parent has used torch's thread pool (torch_probe.py does at import);
    # forked workers must not hang, and results must equal a single-process run.
    corpus, ids = _sample_with_bad_records(tmp_path)
    lines = corpus.read_text(encoding="utf-8").splitlines()
    lines.insert(7, json.dumps({"id": "fails", "text": "FAIL_IN_PIPELINE です。"}))
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = tsunagu.default_config_path().read_text(encoding="utf-8")
    assert '"polarity"]' in config  # the default pipeline's last component
    config = config.replace('"polarity"]', '"polarity","probe"]')
    config += '\n[components.probe]\nfactory = "test_torch_probe"\n'
    (tmp_path / "with_probe.cfg").write_text(config, encoding="utf-8")
    common = ["--code", Path(__file__).with_name("torch_probe.py"), "--batch-size", "16", "--no-progress",
              "--pipeline", tmp_path / "with_probe.cfg"]
    # Workers forked from a fresh `tsunagu` process, as users run it; the single-process
    # reference needs no process of its own.
    run_cli("apply", corpus, tmp_path / "two.jsonl", "--n-process", "2", *common, timeout=240)
    cli("apply", corpus, tmp_path / "one.jsonl", "--n-process", "1", *common)
    two, one = _read_jsonl(tmp_path / "two.jsonl"), _read_jsonl(tmp_path / "one.jsonl")
    assert two == one and len(two) == 300
    assert all(d["cats"]["torch_probe"] == len(d["tokens"]) for d in two)
    rejects = _read_jsonl(tmp_path / "two.jsonl.rejects.jsonl")
    assert {"id": "fails", "reason": "pipeline error: RuntimeError: probe asked to fail"} in rejects
