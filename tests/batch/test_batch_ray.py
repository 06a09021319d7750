"""`tsunagu apply --engine ray` on a local Ray of 2 CPUs: the local engine's records and
token annotations, Parquet read back with pyarrow, shards read in parallel, an actor
killed mid-batch, a record that kills every worker it meets, and a driver killed with
-9 then resumed by the same command, each record once in the output or the rejects.

The pipeline is a saved blank Japanese one (Sudachi tokens, lemmas, readings, POS)
plus a test component from a ``--code`` file: the point is the engine, not GiNZA."""

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import spacy
from spacy.util import import_file

import tsunagu
from tsunagu.batch import apply_corpus
from tsunagu.cli import main
from tsunagu.corpora import read_jsonl, sample_corpus_path

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from tsunagu.batch_ray import PipelineSpec, apply_corpus_ray  # noqa: E402

PROBE = '''
import os
import signal
from pathlib import Path

from spacy.language import Language

FLAG = Path({flag!r})


@Language.component("tsunagu_test_ray_probe")
def ray_probe(doc):
    # A record that kills any worker that processes it, and one that kills the
    # first worker only (an actor killed mid-batch, by a signal, as the OOM killer would).
    if "POISON_PILL" in doc.text:
        os._exit(3)
    if "KILL_ONCE" in doc.text and not FLAG.exists():
        FLAG.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return doc
'''


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray of 2 CPUs for the module; the subprocess driver joins it by address."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False,
             object_store_memory=300 * 2 ** 20, logging_level="WARNING")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """The --code file, and a saved blank Japanese pipeline with its component."""
    root = tmp_path_factory.mktemp("ray")
    code = root / "ray_probe.py"
    code.write_text(PROBE.format(flag=str(root / "killed-once")), encoding="utf-8")
    import_file("ray_probe", code)
    tsunagu.register_extensions()
    nlp = spacy.blank("ja")
    nlp.add_pipe("tsunagu_test_ray_probe")
    nlp.to_disk(root / "pipeline")
    return {"code": code, "pipeline": root / "pipeline", "flag": root / "killed-once",
            "nlp": tsunagu.load(root / "pipeline")}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _local(probe, corpus: Path, out: Path) -> dict[str, dict]:
    apply_corpus(probe["nlp"], corpus, out, progress=False)
    return {d["id"]: d for d in _lines(out)}


def test_same_annotations_as_local_a_killed_actor_and_a_poison_record(ray_cluster, probe, tmp_path):
    sample = sample_corpus_path().read_text(encoding="utf-8").splitlines()
    lines = list(sample)
    lines.insert(40, json.dumps({"id": "poison", "text": "POISON_PILL の文書です。"}))
    lines.insert(150, json.dumps({"id": "kill-once", "text": "KILL_ONCE の文書です。"}))
    lines.insert(200, "{broken json")
    corpus = _write_jsonl(tmp_path / "corpus.jsonl", lines)
    spec = PipelineSpec.from_paths(probe["pipeline"], code=[probe["code"]])
    out = tmp_path / "ray.jsonl"

    report = apply_corpus_ray(spec, corpus, out, num_actors=2, batch_size=8, progress=False)

    assert probe["flag"].exists()  # an actor did die mid-batch
    expected = _local(probe, sample_corpus_path(), tmp_path / "local.jsonl")
    docs = _lines(out)
    ids = [r.id for r in read_jsonl(corpus, on_error="reject")]
    assert [d["id"] for d in docs] == [i for i in ids if i in expected or i == "kill-once"]
    for d in docs:
        if d["id"] != "kill-once":
            assert d == expected[d["id"]]  # same tokens, lemmas, readings, POS, meta, labels
    rejects = {r["id"]: r["reason"] for r in _lines(tmp_path / "ray.jsonl.rejects.jsonl")}
    assert rejects.keys() == {"poison", "corpus.jsonl:201"}
    assert "crashed the worker process 2 times" in rejects["poison"]
    assert "invalid JSON" in rejects["corpus.jsonl:201"]
    assert report.written == 301 and report.rejected == 2
    assert len(report.workers) >= 2  # both actors (and their restarts) took work
    assert not (tmp_path / "ray.jsonl.partial").exists()


def test_parquet_from_shards_read_back_with_pyarrow(ray_cluster, probe, tmp_path):
    sample = sample_corpus_path().read_text(encoding="utf-8").splitlines()
    shards = tmp_path / "shards"
    (shards / "sub").mkdir(parents=True)
    _write_jsonl(shards / "a.jsonl", sample[:30])
    # The last line repeats an id of a.jsonl: a duplicate across shards is rejected.
    _write_jsonl(shards / "b.jsonl", sample[30:60] + [sample[0]])
    (shards / "sub" / "c.txt").write_text("一行目の文書です。\n\n二行目の文書です。\n",
                                          encoding="utf-8")
    spec = PipelineSpec.from_paths(probe["pipeline"], code=[probe["code"]])
    out = tmp_path / "out.parquet"

    report = apply_corpus_ray(spec, str(shards / "**" / "*.*"), out, output_format="parquet",
                              num_actors=1, batch_size=8, progress=False)

    table = pq.read_table(out)
    rows = table.to_pylist()
    everything = _write_jsonl(tmp_path / "all.jsonl", sample[:60])
    expected = list(_local(probe, everything, tmp_path / "local.jsonl").values())
    assert [r["id"] for r in rows] == [d["id"] for d in expected] + ["sub/c.txt:1", "sub/c.txt:3"]
    for row, want in zip(rows, expected):
        assert json.loads(row["meta"]) == want.pop("meta")
        assert {k: row[k] for k in want} == want
    assert table.schema.field("tokens").type.value_type.field("lemma").type == pa.string()
    assert [r["text"] for r in rows[-2:]] == ["一行目の文書です。", "二行目の文書です。"]
    (reject,) = _lines(tmp_path / "out.parquet.rejects.jsonl")
    assert reject["id"] == json.loads(sample[0])["id"] and "earlier shard" in reject["reason"]
    assert report.written == 62 and report.rejected == 1


def test_docbin_output_matches_the_local_engine(ray_cluster, probe, tmp_path):
    from spacy.tokens import DocBin

    corpus = _write_jsonl(tmp_path / "corpus.jsonl", sample_corpus_path().read_text(encoding="utf-8").splitlines()[:40])
    spec = PipelineSpec.from_paths(probe["pipeline"], code=[probe["code"]])
    report = apply_corpus_ray(spec, corpus, tmp_path / "ray.spacy", output_format="spacy",
                              num_actors=1, batch_size=8, progress=False)
    apply_corpus(probe["nlp"], corpus, tmp_path / "local.spacy", output_format="spacy", progress=False)
    vocab = spacy.blank("ja").vocab
    ray_docs, local_docs = (list(DocBin().from_disk(tmp_path / f"{n}.spacy").get_docs(vocab))
                            for n in ("ray", "local"))
    assert report.written == 40 and len(ray_docs) == len(local_docs) == 40
    for a, b in zip(ray_docs, local_docs):
        assert a.to_json() == b.to_json() and a.user_data == b.user_data


def _parts(work: Path) -> int:
    if not work.is_dir():
        return 0
    return len([p for p in work.glob("part-*") if not p.name.endswith(".tmp")])


def test_driver_killed_with_sigkill_resumes_exactly_once(ray_cluster, probe, tmp_path):
    sample = sample_corpus_path().read_text(encoding="utf-8").splitlines()
    lines = list(sample)
    lines.insert(77, '{"id": "empty", "text": ""}')
    corpus = _write_jsonl(tmp_path / "corpus.jsonl", lines)
    out = tmp_path / "out.jsonl"
    args = ["apply", str(corpus), str(out), "--engine", "ray", "--address", ray_cluster,
            "--num-actors", "1", "--batch-size", "4", "--checkpoint-seconds", "0", "--no-progress",
            "--pipeline", str(probe["pipeline"]), "--code", str(probe["code"])]
    proc = subprocess.Popen([sys.executable, "-m", "tsunagu", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    at = random.randint(1, 12)
    deadline = time.time() + 240
    while _parts(tmp_path / "out.jsonl.partial") < at:
        assert proc.poll() is None, f"finished before it could be killed: {proc.communicate()}"
        assert time.time() < deadline, "no progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and not out.exists()

    assert main(args) == 0  # the same command
    written = [d["id"] for d in _lines(out)]
    rejected = [r["id"] for r in _lines(tmp_path / "out.jsonl.rejects.jsonl")]
    assert written == [json.loads(line)["id"] for line in sample]  # all, once, in input order
    assert rejected == ["empty"]


def test_cli_refuses_options_of_the_other_engine(tmp_path, capsys):
    corpus = _write_jsonl(tmp_path / "c.jsonl", ['{"id": "a", "text": "文書です。"}'])
    assert main(["apply", str(corpus), str(tmp_path / "o.parquet"), "--no-progress"]) == 1
    assert "--format parquet needs --engine ray" in capsys.readouterr().err
    assert main(["apply", str(corpus), str(tmp_path / "o.jsonl"), "--engine", "ray",
                 "--n-process", "2"]) == 1
    assert "--num-actors" in capsys.readouterr().err
    assert not list(tmp_path.glob("o.*"))
