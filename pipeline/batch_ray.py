"""``tsunagu apply --engine ray``: the local engine's job on a Ray cluster, with its guarantees.

Ray Data runs the work; tsunagu keeps the bookkeeping of ``tsunagu.batch``:

* Reading. INPUT is cut into *shards*: every ``.jsonl``/``.txt`` file of a glob,
  or of a directory of JSONL files, is one shard, read in parallel by Ray tasks
  with tsunagu's own readers (so ids, labels and rejects are those of the local
  engine). An input that cannot be split (one file, a Livedoor or text-file
  directory, a DocBin) is one shard, read on the driver's node. Each read task
  validates its records and groups them into chunks exactly as the local engine
  does (``batch._chunks``: at most ``batch_size`` documents and ``batch_chars``
  characters), skipping those a previous run finished.
* Processing. ``map_batches`` with a callable class on an actor pool: every actor
  loads the pipeline once (the same config, ``--set`` overrides and ``--code``
  files, shipped by content) and runs ``batch.process_records`` on one chunk per
  call. Execution streams with Ray Data's backpressure, in input order.
* Writing. Only the driver writes. Results are committed with the local engine's
  part writer (a directory renamed into ``OUTPUT.partial/``) and concatenated at
  the end, so the output is committed atomically per part and the rejects file is
  the local engine's. The state file is the local engine's too (``STATE_VERSION``,
  input fingerprint, settings).

Exactly once. A part records the *key* of every record it holds (shard number and
id: ids are unique within a shard, not across shards), so a resumed run skips
exactly the records whose results were committed, whatever happened to the driver
(``kill -9`` included) or to Ray. Ray may run a chunk more than once (an actor that
dies is restarted and its task retried: Ray Data's default for actor pools), but
only the driver commits, once per result it receives, so a retry never duplicates
a record.

Records that crash a worker. A small ledger actor counts the attempts of each
chunk. A chunk's first attempt runs as one batch; a retried chunk (its actor died
under it) runs one record at a time, telling the ledger which record is running.
A record counts one crash for the batch it was in, and one for each time the
worker died while it ran alone; at two it goes to the rejects
("crashed the worker process twice") instead of being tried again, so a poison
record never loops. An actor killed from outside once costs a retry, not a reject.

Output: ``jsonl`` and ``spacy`` (DocBin) as the local engine, and ``parquet``: one
row per document with the fields of the JSONL line (``id``, ``text``, ``labels``,
``tokens``, ``ents``, ``sents``, ``cats``...); ``meta`` is a JSON string (its keys and
types differ from document to document), and so is any other field whose values
have no common Arrow type.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import glob as globlib
import hashlib
import json
import logging
import os
import pickle
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Union

from tsunagu.corpora.records import lone_surrogate

from .atomic import atomic_file, check_distinct_paths, concatenate_atomically
from .batch import (
    DEFAULT_MAX_CHARS,
    STATE_VERSION,
    BatchReport,
    _Chunk,
    _check_positive_int,
    _committed_parts,
    _finalize,
    _next_part_number,
    _PartWriter,
    _prepare,
    _progress_bar,
    count_records,
    fingerprint_input,
    job_paths,
    process_records,
)
from .errors import BatchStateError, ConfigError, CorpusError
from .pieces import DEFAULT_BATCH_CHARS, DEFAULT_PIECE_CHARS

RAY_OUTPUT_FORMATS = ("jsonl", "spacy", "parquet")
PathLike = Union[str, Path]
_SHARD_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text"}
_CRASHES_TO_REJECT = 2


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError("--engine ray needs Ray Data: pip install 'tsunagu[ray]'.") from None
    return ray


# -- the pipeline each actor loads ------------------------------------------------------


@dataclass
class PipelineSpec:
    """What ``tsunagu.load`` gets, sent to every actor: a pipeline name or path, config
    overrides, the split mode, and ``--code`` files by content (so that a cluster's
    nodes need no copy of them)."""

    pipeline: Optional[str] = None
    overrides: dict = field(default_factory=dict)
    split_mode: Optional[str] = None
    code: list = field(default_factory=list)  # (file name, source bytes)

    @classmethod
    def from_paths(cls, pipeline: Optional[PathLike] = None, overrides: Optional[dict] = None,
                   split_mode: Optional[str] = None,
                   code: Sequence[PathLike] = ()) -> "PipelineSpec":
        files = []
        for path in map(Path, code):
            if not path.is_file():
                raise ConfigError(f"--code file not found: {path}")
            files.append((path.name, path.read_bytes()))
        name = None
        if pipeline is not None:
            # Resolved, so that actors started elsewhere find a path on shared storage.
            name = str(Path(pipeline).resolve()) if Path(pipeline).exists() else str(pipeline)
        return cls(name, dict(overrides or {}), split_mode, files)

    def __call__(self):
        from spacy.util import import_file

        from .loading import load

        if self.code:
            folder = Path(tempfile.mkdtemp(prefix="tsunagu-code-"))
            for name, source in self.code:
                (folder / name).write_bytes(source)
                import_file(Path(name).stem, folder / name)
        return load(self.pipeline, config=self.overrides or None, split_mode=self.split_mode)

    def digest(self) -> str:
        """What identifies the pipeline for resuming: the spec, the config file's (or
        saved pipeline's config's) content, and the code."""
        h = hashlib.sha256(json.dumps([self.pipeline, self.overrides, self.split_mode],
                                      sort_keys=True, default=str).encode())
        from .loading import default_config_path

        path = default_config_path() if self.pipeline is None else Path(self.pipeline)
        if path is not None:
            config = path / "config.cfg" if path.is_dir() else path
            if config.is_file():
                h.update(config.read_bytes())
        for name, source in self.code:
            h.update(name.encode() + b"\0" + source)
        return h.hexdigest()


def _pipeline_digest(load_nlp: Callable) -> str:
    if hasattr(load_nlp, "digest"):
        return load_nlp.digest()
    import cloudpickle

    return hashlib.sha256(cloudpickle.dumps(load_nlp)).hexdigest()


# -- shards -----------------------------------------------------------------------------


@dataclass
class Shard:
    path: str
    format: str
    name: str  # relative to the input root: part of the job's identity
    options: dict
    splittable: bool  # False: the whole input, read on the driver's node


def plan_shards(input_path: PathLike, input_format: Optional[str] = None,
                reader_options: Optional[dict] = None) -> tuple[list[Shard], Optional[Path]]:
    """INPUT's shards, and its root (a file or directory; ``None`` for a glob)."""
    from tsunagu.corpora import guess_format

    reader_options = dict(reader_options or {})
    text = str(input_path)
    path = Path(text)
    if not path.exists() and any(c in text for c in "*?["):
        files = sorted(Path(p) for p in globlib.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise CorpusError(f"No file matches the input pattern {text}.")
        base = Path(os.path.commonpath([str(f.parent.resolve()) for f in files]))
        return [_file_shard(f, f.resolve().relative_to(base).as_posix(), input_format,
                            reader_options) for f in files], None
    if not path.exists():
        raise CorpusError(f"Input not found: {path}")
    fmt = input_format or guess_format(path)
    if path.is_dir() and fmt in ("dir", "jsonl"):
        shards = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".jsonl", ".ndjson")
                        and p.is_file())
        if shards and (fmt == "jsonl" or not any(path.rglob("*.txt"))):
            return [_file_shard(f, f.relative_to(path).as_posix(), "jsonl", reader_options)
                    for f in shards], path
        if fmt == "jsonl":
            raise CorpusError(f"{path} holds no .jsonl files.")
    return [Shard(str(path), fmt, path.name, _options_for(fmt, reader_options), False)], path


def _file_shard(file: Path, name: str, input_format: Optional[str], options: dict) -> Shard:
    fmt = input_format or _SHARD_SUFFIXES.get(file.suffix.lower(), "text")
    if fmt not in ("jsonl", "text"):
        raise CorpusError(f"Shards must be JSONL or text files; {file} would be read as {fmt!r}.")
    return Shard(str(file), fmt, name, _options_for(fmt, options), True)


def _options_for(fmt: str, options: dict) -> dict:
    allowed = {"jsonl": ("label_field",), "livedoor": ("fields", "categories")}.get(fmt, ())
    return {k: v for k, v in options.items() if k in allowed}


def _fingerprint(shards: list[Shard], root: Optional[Path]) -> dict:
    if root is not None:
        return fingerprint_input(root)
    digest = hashlib.sha256()
    size = mtime = 0
    for shard in shards:
        fp = fingerprint_input(shard.path)
        size += fp["size"]
        mtime = max(mtime, fp["mtime_ns"])
        digest.update(f"{shard.name}\0{fp['sha256']}\0".encode("utf-8", "surrogateescape"))
    return {"size": size, "files": len(shards), "mtime_ns": mtime, "sha256": digest.hexdigest()}


# -- keys: what a part records about each record ------------------------------------------
# "<shard>:<id>" for a written document, "<shard>!<id>" for a reject: the shard makes
# the key unique, the mark tells resumed runs which ids are in OUTPUT.


def _key(shard: int, rid: str, written: bool) -> str:
    return f"{shard}{':' if written else '!'}{rid}"


def _split_key(key: str) -> tuple[int, str, bool]:
    for i, c in enumerate(key):
        if c in ":!":
            return int(key[:i]), key[i + 1:], c == ":"
    raise ValueError(key)


class _KeyedPartWriter(_PartWriter):
    """The local part writer, recording each record's key in ``ids.json``."""

    def add_keyed(self, shard: int, chunk: _Chunk, done) -> None:
        self.ids.extend(_key(shard, rid, True) for rid in done.ids)
        self.lines.extend(done.lines)
        if done.docbin is not None:
            self.docbins.append(done.docbin)
        for rid, reason in chunk.rejects + done.failures:
            self.ids.append(_key(shard, rid, False))
            self.rejects.append((rid, reason))


# -- reading (Ray tasks) ------------------------------------------------------------------


def _read_shards(batch: dict, *, shards: list, batch_size: int, max_chars: int, batch_chars: int,
                 output_format: str) -> Iterator[dict]:
    """One shard's chunks, as rows: records validated and grouped as the local engine
    does, those a previous run finished skipped."""
    import numpy as np

    from tsunagu.batch import _chunks
    from tsunagu.corpora import read_corpus

    for index, done_blob in zip(batch["shard"], batch["done"]):
        index = int(index)
        shard = Shard(**shards[index])
        done = pickle.loads(done_blob)
        records = read_corpus(shard.path, shard.format, on_error="reject", **shard.options)
        if shard.splittable and shard.format == "text" and "/" in shard.name:
            # read_text_lines names lines after the file alone; nested shards may share names.
            records = (dataclasses.replace(r, id=shard.name + r.id[len(Path(shard.path).name):])
                       for r in records)
        chunk_format = "spacy" if output_format == "spacy" else "jsonl"
        for seq, chunk in enumerate(_chunks(records, done, batch_size, max_chars, batch_chars,
                                            chunk_format)):
            if output_format == "parquet":
                _reject_unstorable_in_arrow(chunk)
            yield {"shard": np.array([index]), "seq": np.array([seq]),
                   "records": np.array([pickle.dumps(chunk.records)], dtype=object),
                   "rejects": np.array([pickle.dumps(chunk.rejects)], dtype=object)}


def _reject_unstorable_in_arrow(chunk: _Chunk) -> None:
    keep = []
    for r in chunk.records:
        if any(lone_surrogate(str(x)) is not None for x in (r.id, *r.labels)):
            chunk.rejects.append((r.id, "id or labels hold a lone surrogate, which Parquet cannot "
                                        "store; write JSONL output, which keeps it escaped"))
        else:
            keep.append(r)
    chunk.records[:] = keep


# -- processing (Ray actors) --------------------------------------------------------------


class _Ledger:
    """Attempts per chunk and crashes per record, for the whole run (a Ray actor)."""

    def __init__(self) -> None:
        self.attempts: Counter = Counter()
        self.running: dict[str, str] = {}
        self.crashes: Counter = Counter()
        self.cleared: set = set()

    def begin(self, chunk: str) -> int:
        self.attempts[chunk] += 1
        record = self.running.pop(chunk, None)
        if record is not None:  # the worker died while this record ran alone
            self.crashes[record] += 1
        return self.attempts[chunk]

    def start(self, chunk: str, record: str) -> int:
        """The record's crashes so far, counting the batch it was in when that crashed."""
        self.running[chunk] = record
        return self.crashes[record] + (0 if record in self.cleared else 1)

    def finish(self, chunk: str, record: str) -> None:
        self.running.pop(chunk, None)
        self.cleared.add(record)
        self.crashes.pop(record, None)


class _Annotator:
    """One loaded pipeline per actor; one chunk per call."""

    def __init__(self, load_nlp: Callable, output_format: str, piece_chars: int, batch_chars: int,
                 ledger: Any, threads: int) -> None:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
        self.nlp = load_nlp()
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        self.format = "spacy" if output_format == "spacy" else "jsonl"
        self.pieces = (piece_chars, batch_chars)
        self.ledger = ledger
        import ray

        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict) -> dict:
        import numpy as np
        import ray

        out = []
        for shard, seq, blob in zip(batch["shard"], batch["seq"], batch["records"]):
            records = pickle.loads(blob)
            chunk = f"{int(shard)}:{int(seq)}"
            attempt = ray.get(self.ledger.begin.remote(chunk))
            if attempt == 1:
                done = process_records(self.nlp, records, self.format, *self.pieces)
            else:
                done = self._one_at_a_time(chunk, int(shard), records)
            out.append(pickle.dumps(done))
        n = len(out)
        return {"shard": batch["shard"], "seq": batch["seq"], "rejects": batch["rejects"],
                "processed": np.array(out, dtype=object),
                "node": np.array([self.node] * n, dtype=object), "pid": np.array([os.getpid()] * n)}

    def _one_at_a_time(self, chunk: str, shard: int, records: list):
        """A retried chunk: one record at a time, so that the one that kills the
        worker is known, and rejected after its second crash."""
        import ray

        from .batch import _Processed

        total = _Processed([], [], None, [])
        docbins = []
        for record in records:
            key = _key(shard, record.id, True)
            crashes = ray.get(self.ledger.start.remote(chunk, key))
            if crashes >= _CRASHES_TO_REJECT:
                total.failures.append((record.id, f"crashed the worker process {crashes} times "
                                                  "(killed or out of memory); not tried again"))
                ray.get(self.ledger.finish.remote(chunk, key))
                continue
            done = process_records(self.nlp, [record], self.format, *self.pieces)
            ray.get(self.ledger.finish.remote(chunk, key))
            total.ids += done.ids
            total.lines += done.lines
            total.failures += done.failures
            if done.docbin is not None:
                docbins.append(done.docbin)
        if self.format == "spacy":
            total.docbin = _merge_docbins(docbins)
        return total


def _merge_docbins(blobs: list) -> bytes:
    from spacy.tokens import DocBin

    merged = DocBin(store_user_data=True)
    for blob in blobs:
        merged.merge(DocBin(store_user_data=True).from_bytes(blob))
    return merged.to_bytes()


def _drop_docs(done, drop: set) -> None:
    """Remove the documents at positions ``drop`` from a chunk's results."""
    done.ids = [rid for k, rid in enumerate(done.ids) if k not in drop]
    if done.docbin is None:
        done.lines = [line for k, line in enumerate(done.lines) if k not in drop]
        return
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    kept = DocBin(store_user_data=True)
    for k, doc in enumerate(DocBin(store_user_data=True).from_bytes(done.docbin).get_docs(Vocab())):
        if k not in drop:
            kept.add(doc)
    done.docbin = kept.to_bytes()


# -- the driver ---------------------------------------------------------------------------


def apply_corpus_ray(
    load_nlp: Callable,
    input_path: PathLike,
    output: PathLike,
    *,
    input_format: Optional[str] = None,
    reader_options: Optional[dict[str, Any]] = None,
    output_format: str = "jsonl",
    rejects_path: Optional[PathLike] = None,
    address: Optional[str] = None,
    num_actors: Optional[int] = None,
    actor_cpus: float = 1,
    batch_size: int = 64,
    max_chars: Optional[int] = None,
    piece_chars: int = DEFAULT_PIECE_CHARS,
    batch_chars: int = DEFAULT_BATCH_CHARS,
    checkpoint_docs: int = 1000,
    checkpoint_seconds: float = 30.0,
    overwrite: bool = False,
    progress: bool = True,
    object_store_memory: Optional[int] = None,
) -> BatchReport:
    """Run the pipeline that ``load_nlp()`` builds (a ``PipelineSpec``, or any picklable
    callable) over a corpus on disk with Ray Data, with the local engine's outputs
    and guarantees (module docstring).

    address: ``None`` starts a local Ray with ``num_actors * actor_cpus`` CPUs (unless
        this process has already called ``ray.init``); ``"auto"`` or
        ``"ray://HOST:PORT"`` joins a cluster.
    num_actors: pipelines loaded at once (default: the cluster's CPUs / actor_cpus).
    actor_cpus: CPUs each actor reserves (its torch/OpenMP threads).
    """
    if output_format not in RAY_OUTPUT_FORMATS:
        raise ConfigError(f"output format must be one of {', '.join(RAY_OUTPUT_FORMATS)}, "
                          f"not {output_format!r}.")
    for name, value in (("batch_size (--batch-size)", batch_size), ("piece_chars", piece_chars),
                        ("batch_chars", batch_chars), ("checkpoint_docs", checkpoint_docs)):
        _check_positive_int(name, value)
    if num_actors is not None:
        _check_positive_int("num_actors (--num-actors)", num_actors)
    if isinstance(actor_cpus, bool) or not isinstance(actor_cpus, (int, float)) \
            or not actor_cpus > 0:
        raise ConfigError(f"actor_cpus (--actor-cpus) must be a positive number, "
                          f"not {actor_cpus!r}.")
    if isinstance(checkpoint_seconds, bool) or not isinstance(checkpoint_seconds, (int, float)) \
            or not checkpoint_seconds >= 0:
        raise ConfigError(f"checkpoint_seconds (--checkpoint-seconds) must be a number of seconds "
                          f">= 0 (0: commit after every batch), not {checkpoint_seconds!r}.")
    max_chars = DEFAULT_MAX_CHARS if max_chars is None else max_chars
    _check_positive_int("max_chars (--max-chars)", max_chars)

    shards, root = plan_shards(input_path, input_format, reader_options)
    output, rejects_path, work = job_paths(output, rejects_path)
    _check_paths(input_path, shards, root, output, rejects_path, work)
    report = BatchReport(output, rejects_path)
    state = {
        "version": STATE_VERSION,
        "output_format": output_format,
        "max_chars": max_chars,
        "job": {"engine": "ray", "input": str(Path(str(input_path)).resolve()),
                "shards": [[s.name, s.format] for s in shards],
                "reader": dict(reader_options or {})},
        "input": _fingerprint(shards, root),
        "pipeline": _pipeline_digest(load_nlp),
    }
    keys = _prepare(work, output, rejects_path, state, overwrite)
    report.resumed = sum(keys.values())
    done_by_shard: list[Counter] = [Counter() for _ in shards]
    written: set = set()  # ids in OUTPUT: one document per id, across shards too
    for key, n in keys.items():
        index, rid, is_doc = _split_key(key)
        done_by_shard[index][rid] += n
        if is_doc:
            written.add(rid)

    ray = _ray()
    started_ray = _connect(ray, address, num_actors, actor_cpus, object_store_memory)
    try:
        if num_actors is None:
            num_actors = max(1, int(ray.cluster_resources().get("CPU", 1) // actor_cpus))
        ds = _dataset(ray, load_nlp, shards, done_by_shard, output_format, num_actors, actor_cpus,
                      batch_size, max_chars, piece_chars, batch_chars)
        total = _estimate_total(shards)
        started = time.perf_counter()
        bar = _progress_bar(total, report.resumed, progress)
        writer = _KeyedPartWriter(work, output_format, start=_next_part_number(work))
        # Documents per node and per actor process: who took work.
        report.nodes, report.workers = Counter(), Counter()
        # Throughput once every actor has delivered a result, i.e. without start-up.
        all_ready_at, written_at_ready = None, 0
        try:
            pending_since = time.monotonic()
            for row in ds.iter_rows():
                shard = int(row["shard"])
                chunk = _Chunk(rejects=pickle.loads(row["rejects"]))
                done = pickle.loads(row["processed"])
                _drop_duplicates(shard, shards, chunk, done, written)
                writer.add_keyed(shard, chunk, done)
                written.update(done.ids)
                report.written += len(done.ids)
                report.nodes[row["node"]] += len(done.ids)
                if int(row["pid"]) not in report.workers and all_ready_at is None \
                        and len(report.workers) + 1 >= num_actors:
                    all_ready_at, written_at_ready = time.perf_counter(), report.written
                report.workers[int(row["pid"])] += len(done.ids)
                for rid, reason in chunk.rejects + done.failures:
                    report.rejected += 1
                    key = reason.split(" (")[0].split(":")[0]
                    report.reasons[key] = report.reasons.get(key, 0) + 1
                if bar is not None:
                    bar.update(len(done.ids) + len(chunk.rejects) + len(done.failures))
                    bar.set_postfix(rejected=report.rejected, refresh=False)
                if writer.size >= checkpoint_docs \
                        or time.monotonic() - pending_since >= checkpoint_seconds:
                    writer.commit()
                    pending_since = time.monotonic()
            writer.commit()
        except KeyboardInterrupt:
            writer.commit()
            raise
        except ray.exceptions.RayError as e:
            # An actor that cannot even load the pipeline, a lost cluster: keep what is done.
            writer.commit()
            first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise BatchStateError(
                f"the Ray run failed ({type(e).__name__}: {first[:300]}); finished work is kept in "
                f"{work}: fix the cause and run the same command to resume (--debug shows the "
                "Ray traceback).") from e
        finally:
            if bar is not None:
                bar.close()
    finally:
        if started_ray:
            ray.shutdown()
    if output_format == "parquet":
        _finalize_parquet(work, output, rejects_path)
    else:
        _finalize(work, output, rejects_path, output_format)
    report.seconds = time.perf_counter() - started
    if all_ready_at is not None:
        report.startup_seconds = all_ready_at - started
        steady = started + report.seconds - all_ready_at
        report.steady_docs_per_second = \
            (report.written - written_at_ready) / steady if steady > 0 else 0.0
    return report


def _check_paths(input_path, shards, root, output, rejects, work) -> None:
    inputs: dict[str, Any] = {"INPUT": root} if root is not None else \
        {f"INPUT ({s.name})": s.path for s in shards}
    check_distinct_paths(inputs, {"OUTPUT": output, "the rejects file": rejects,
                                  "the partial directory": work})
    if root is None:
        from .errors import PathConflictError

        for name, path in (("OUTPUT", output), ("the rejects file", rejects)):
            if fnmatch.fnmatch(str(path), str(input_path)) or \
                    fnmatch.fnmatch(str(path.resolve()), str(Path(str(input_path)).resolve())):
                raise PathConflictError(
                    f"{name} ({path}) matches the input pattern {input_path}: a later run would "
                    "read it as input. Write it elsewhere.")


def _connect(ray, address, num_actors, actor_cpus, object_store_memory) -> bool:
    """Join or start Ray; True when this call started it (and so shuts it down)."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                               "configure_logging": True}
    if address:
        ray.init(address=address, **options)
    else:
        cpus = int(-(-num_actors * actor_cpus // 1)) if num_actors else None
        # "local": a new Ray of this process's own, even where `ray start` left a cluster
        # address behind (ray.init() would join that cluster, or fail on a stale one).
        ray.init(address="local", num_cpus=cpus, object_store_memory=object_store_memory,
                 **options)
    return True


def _dataset(ray, load_nlp, shards, done_by_shard, output_format, num_actors, actor_cpus,
             batch_size, max_chars, piece_chars, batch_chars):
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # output order is input order
    ctx.enable_progress_bars = False  # tsunagu's own bar counts documents
    ctx.print_on_execution_start = False
    # One chunk per block: Ray Data packs a task's output into blocks of up to 128 MB,
    # so one actor would get a whole shard. (A repartition would need a CPU slot
    # the actors hold.)
    ctx.target_max_block_size = 1
    ledger = ray.remote(num_cpus=0)(_Ledger).remote()
    items = [{"shard": i, "done": pickle.dumps(done)} for i, done in enumerate(done_by_shard)]
    read_args: dict[str, Any] = {}
    if not all(s.splittable for s in shards):
        # A whole input read by one task, on the driver's machine, which has the input
        # (how Ray's own readers pin local:// paths to the driver).
        read_args["label_selector"] = {"ray.io/node-id": ray.get_runtime_context().get_node_id()}
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    # Reading takes no CPU slot: the actors hold them all, and reading is a small share.
    ds = ds.map_batches(_read_shards, batch_size=1, num_cpus=0, zero_copy_batch=True,
                        fn_kwargs={"shards": [dataclasses.asdict(s) for s in shards],
                                   "batch_size": batch_size, "max_chars": max_chars,
                                   "batch_chars": batch_chars, "output_format": output_format},
                        **read_args)
    return ds.map_batches(
        _Annotator, batch_size=1, num_cpus=actor_cpus,
        compute=ray.data.ActorPoolStrategy(size=num_actors),
        fn_constructor_kwargs={"load_nlp": load_nlp, "output_format": output_format,
                               "piece_chars": piece_chars, "batch_chars": batch_chars,
                               "ledger": ledger, "threads": max(1, int(actor_cpus))})


def _estimate_total(shards: list[Shard]) -> Optional[int]:
    counts = [count_records(Path(s.path), s.format) for s in shards]
    return None if any(c is None for c in counts) else sum(counts)


def _drop_duplicates(shard: int, shards: list, chunk: _Chunk, done, written: set) -> None:
    """A document whose id an earlier shard's document has goes to the rejects (the
    local engine's rule for one reader, kept across shards)."""
    drop = {k for k, rid in enumerate(done.ids) if rid in written}
    if not drop:
        return
    for k in sorted(drop):
        chunk.rejects.append((done.ids[k], f"duplicate id: a document of an earlier shard has the "
                                           f"same id (in {shards[shard].name})"))
    _drop_docs(done, drop)


# -- Parquet ------------------------------------------------------------------------------


def _finalize_parquet(work: Path, output: Path, rejects_path: Path) -> None:
    """One row per document; one row group per part. Column types are unified over all
    parts first, so that a field absent or null in one part still gets its type; a
    field whose values share no Arrow type is written as JSON text."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = _committed_parts(work)
    concatenate_atomically([p / "rejects.jsonl" for p in parts], rejects_path)
    types: dict[str, list] = {}
    as_json = {"meta"}
    for p in parts:
        rows = _parquet_rows(p / "docs.jsonl", as_json)
        for name in dict.fromkeys(k for row in rows for k in row):
            if name in as_json:
                types.setdefault(name, [])
                continue
            try:
                types.setdefault(name, []).append(pa.array([row.get(name) for row in rows]).type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                as_json.add(name)
    fields = []
    for name, found in types.items():
        if name in as_json:
            fields.append(pa.field(name, pa.string()))
            continue
        try:
            fields.append(pa.unify_schemas([pa.schema([pa.field(name, t)]) for t in found],
                                           promote_options="permissive").field(name))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            as_json.add(name)
            fields.append(pa.field(name, pa.string()))
    schema = pa.schema(fields, metadata={"tsunagu.json_columns": json.dumps(sorted(as_json))})
    with atomic_file(output, "wb") as f:
        writer = pq.ParquetWriter(f, schema)
        for p in parts:
            rows = _parquet_rows(p / "docs.jsonl", as_json)
            if rows:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        writer.close()
    shutil.rmtree(work)


def _parquet_rows(path: Path, as_json: set) -> list[dict]:
    rows = []
    with open(path, "rb") as f:
        for line in f:
            row = json.loads(line)
            for name in as_json:
                if name in row:
                    row[name] = _json_text(row[name])
            rows.append(row)
    return rows


def _json_text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    # A lone surrogate in meta stays escaped; Arrow strings must be UTF-8.
    return json.dumps(value) if lone_surrogate(text) is not None else text
