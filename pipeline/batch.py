"""Resumable batch processing of document collections (``tsunagu apply``).

Guarantee: every input record ends up exactly once in the output or in the
rejects file, even across Ctrl-C or ``kill -9`` followed by the same command.

How: results are committed in *parts*. A part is a directory written under a
temporary name and renamed into ``OUTPUT.partial/`` (rename is atomic on POSIX),
holding the documents, the rejects and the ids of both. On restart the ids of the
committed parts are skipped; uncommitted work is simply redone. When the input
is exhausted the parts are concatenated into ``OUTPUT`` and the rejects file,
each written to a temporary file, fsynced and renamed, and the partial directory
is removed. Output order is input order.

Multiprocessing uses forked workers that inherit the loaded pipeline. PyTorch's
OpenMP thread pool does not survive ``fork``: a worker that runs a torch op with
more than one thread after the parent has used the pool hangs. Each worker
therefore limits torch (and OpenMP) to one thread before it processes anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

from spacy.language import Language
from spacy.tokens import DocBin

from .atomic import fsync_dir, write_atomically, write_synced
from .errors import BatchStateError, ConfigError, CorpusError
from .parallel import parallel_map
from .serialize import doc_to_dict

OUTPUT_FORMATS = ("jsonl", "spacy")
STATE_VERSION = 1
PathLike = Union[str, Path]


@dataclass
class BatchReport:
    output: Path
    rejects: Path
    written: int = 0
    rejected: int = 0
    resumed: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def docs_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Chunk:
    """Records to process together, and the rejects met while collecting them
    (kept with the chunk so that both commit in input order)."""

    records: list = field(default_factory=list)
    rejects: list = field(default_factory=list)


def apply_pipeline(
    nlp: Language,
    records: Iterable,
    output: PathLike,
    *,
    output_format: str = "jsonl",
    rejects_path: Optional[PathLike] = None,
    n_process: int = 1,
    batch_size: int = 64,
    max_chars: Optional[int] = None,
    checkpoint_docs: int = 1000,
    checkpoint_seconds: float = 30.0,
    fingerprint: Optional[dict[str, Any]] = None,
    overwrite: bool = False,
    total: Optional[int] = None,
    progress: bool = True,
) -> BatchReport:
    """Run ``nlp`` over ``records`` (``Record``/``RejectedRecord`` from any corpus
    reader with ``on_error="reject"``) and write one result per record.

    fingerprint: what identifies this job (input path, reader options...); a
        partial run made with another fingerprint or pipeline is not resumed.
    max_chars: longer texts are rejected (default: ``nlp.max_length``).
    """
    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}.")
    if not isinstance(n_process, int) or n_process < 1:
        raise ConfigError(f"n_process must be a positive integer, not {n_process!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, not {batch_size!r}.")
    max_chars = nlp.max_length if max_chars is None else max_chars
    output = Path(output)
    rejects_path = Path(rejects_path) if rejects_path else output.with_name(output.name + ".rejects.jsonl")
    work = output.with_name(output.name + ".partial")
    report = BatchReport(output, rejects_path)

    state = {
        "version": STATE_VERSION,
        "output_format": output_format,
        "max_chars": max_chars,
        "job": fingerprint or {},
        "pipeline": hashlib.sha256(nlp.config.to_str().encode("utf-8")).hexdigest(),
    }
    done = _prepare(work, output, state, overwrite)
    report.resumed = sum(done.values())

    started = time.perf_counter()
    bar = _progress_bar(total, report.resumed, progress)
    writer = _PartWriter(work, output_format, start=_next_part_number(work))
    try:
        chunks = _chunks(records, done, batch_size, max_chars, report, bar)
        pending_since = time.monotonic()
        for chunk, done in _process(nlp, chunks, n_process, output_format):
            writer.add(chunk, done)
            report.written += len(done.ids)
            for rid, reason in chunk.rejects + done.failures:
                report.rejected += 1
                key = reason.split(" (")[0].split(":")[0]
                report.reasons[key] = report.reasons.get(key, 0) + 1
            if bar is not None:
                bar.update(len(chunk.records) + len(chunk.rejects))
                bar.set_postfix(rejected=report.rejected, refresh=False)
            if writer.size >= checkpoint_docs or time.monotonic() - pending_since >= checkpoint_seconds:
                writer.commit()
                pending_since = time.monotonic()
        writer.commit()
    except KeyboardInterrupt:
        # Keep what is finished; the same command resumes after it.
        writer.commit()
        raise
    finally:
        if bar is not None:
            bar.close()
    _finalize(work, output, rejects_path, output_format)
    report.seconds = time.perf_counter() - started
    return report


# -- preparing and resuming -------------------------------------------------------------


def _prepare(work: Path, output: Path, state: dict, overwrite: bool) -> Counter:
    if overwrite:
        shutil.rmtree(work, ignore_errors=True)
    elif output.exists() and not work.exists():
        raise BatchStateError(
            f"{output} already exists and no unfinished run of it is recorded: the job is "
            "complete. Pass --overwrite (overwrite=True) to run it again."
        )
    state_file = work / "state.json"
    if work.exists() and state_file.exists():
        previous = json.loads(state_file.read_text(encoding="utf-8"))
        if previous != state:
            changed = sorted(k for k in set(previous) | set(state) if previous.get(k) != state.get(k))
            raise BatchStateError(
                f"{work} holds an unfinished run made with other settings ({', '.join(changed)} "
                "differ). Re-run the original command to finish it, or pass --overwrite to "
                "discard it."
            )
    else:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        write_atomically(state_file, json.dumps(state, indent=1).encode("utf-8"))
    # A multiset: a duplicate id that was rejected is skipped once per occurrence.
    done: Counter = Counter()
    for part in _committed_parts(work):
        done.update(json.loads((part / "ids.json").read_text(encoding="utf-8")))
    for leftover in work.glob("*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    return done


def _committed_parts(work: Path) -> list[Path]:
    return sorted(p for p in work.glob("part-*") if p.is_dir() and not p.name.endswith(".tmp"))


def _next_part_number(work: Path) -> int:
    parts = _committed_parts(work)
    return int(parts[-1].name.split("-")[1]) + 1 if parts else 1


# -- reading and validating -------------------------------------------------------------


def validate_text(text: Any, max_chars: int) -> Optional[str]:
    """Why ``text`` cannot be processed, or ``None`` when it can."""
    if text is None:
        return "text is missing"
    if not isinstance(text, str):
        return f"text is not a string (got {type(text).__name__})"
    if not text.strip():
        return "text is empty"
    if len(text) > max_chars:
        return f"text has {len(text):,} characters, over the limit of {max_chars:,} (--max-chars)"
    return None


def _chunks(records, done, batch_size, max_chars, report, bar) -> Iterator[_Chunk]:
    from tsunagu.corpora import RejectedRecord

    seen: set[str] = set()
    chunk = _Chunk()
    for item in records:
        if done[item.id] > 0:
            done[item.id] -= 1
            seen.add(item.id)
            continue
        if item.id in seen:
            chunk.rejects.append((item.id, "duplicate id: an earlier record has the same id"))
            continue
        seen.add(item.id)
        if isinstance(item, RejectedRecord):
            chunk.rejects.append((item.id, item.reason))
            continue
        reason = validate_text(item.text, max_chars)
        if reason:
            chunk.rejects.append((item.id, reason))
            continue
        chunk.records.append(item)
        if len(chunk.records) >= batch_size:
            yield chunk
            chunk = _Chunk()
    if chunk.records or chunk.rejects:
        yield chunk


# -- processing -------------------------------------------------------------------------

_WORKER_NLP: Optional[Language] = None
_WORKER_FORMAT = "jsonl"


def _process(nlp: Language, chunks: Iterator[_Chunk], n_process: int, output_format: str):
    global _WORKER_NLP, _WORKER_FORMAT
    # Module globals, so that forked workers inherit the loaded pipeline.
    _WORKER_NLP, _WORKER_FORMAT = nlp, output_format
    return parallel_map(_process_chunk, chunks, n_process)


@dataclass
class _Processed:
    """A chunk's results: ids of the documents written, their output (JSON lines,
    or one serialized DocBin), and (id, reason) of documents the pipeline failed on."""

    ids: list
    lines: list
    docbin: Optional[bytes]
    failures: list


def _process_chunk(chunk: _Chunk) -> _Processed:
    return _process_records(chunk.records)


def _process_records(records: list) -> _Processed:
    """Run the pipeline over one chunk; a document the pipeline fails on is retried
    alone and rejected with the error."""
    nlp = _WORKER_NLP
    texts = [r.text for r in records]
    failures: list[tuple[str, str]] = []
    try:
        docs = list(nlp.pipe(texts))
        pairs = list(zip(records, docs))
    except Exception:
        pairs = []
        for record in records:
            try:
                pairs.append((record, nlp(record.text)))
            except Exception as e:  # one bad document must not stop the run
                failures.append((record.id, f"pipeline error: {type(e).__name__}: {e}"))
    if _WORKER_FORMAT == "spacy":
        docbin = DocBin(store_user_data=True)
        for record, doc in pairs:
            doc.user_data["id"] = record.id
            doc.user_data["meta"] = dict(record.meta)
            if record.labels and not doc.cats:
                doc.cats = {label: 1.0 for label in record.labels}
            docbin.add(doc)
        return _Processed([r.id for r, _ in pairs], [], docbin.to_bytes(), failures)
    lines = [json.dumps(doc_to_dict(doc, record.id, record.labels, record.meta), ensure_ascii=False)
             for record, doc in pairs]
    return _Processed([r.id for r, _ in pairs], lines, None, failures)


# -- writing ----------------------------------------------------------------------------


class _PartWriter:
    """Buffers results and commits them as numbered, atomically renamed parts."""

    def __init__(self, work: Path, output_format: str, start: int) -> None:
        self.work, self.output_format, self.number = work, output_format, start
        self._reset()

    def _reset(self) -> None:
        self.ids: list[str] = []
        self.lines: list[str] = []
        self.docbins: list[bytes] = []
        self.rejects: list[tuple[str, str]] = []

    @property
    def size(self) -> int:
        return len(self.ids)

    def add(self, chunk: _Chunk, done: _Processed) -> None:
        self.ids.extend(done.ids)
        self.lines.extend(done.lines)
        if done.docbin is not None:
            self.docbins.append(done.docbin)
        for rid, reason in chunk.rejects + done.failures:
            self.ids.append(rid)
            self.rejects.append((rid, reason))

    def commit(self) -> None:
        if not self.ids:
            return
        final = self.work / f"part-{self.number:08d}"
        tmp = self.work / f"part-{self.number:08d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if self.output_format == "spacy":
            merged = DocBin(store_user_data=True)
            for blob in self.docbins:
                merged.merge(DocBin(store_user_data=True).from_bytes(blob))
            write_synced(tmp / "docs.spacy", merged.to_bytes())
        else:
            write_synced(tmp / "docs.jsonl", "".join(line + "\n" for line in self.lines).encode("utf-8"))
        rejects = "".join(json.dumps({"id": r, "reason": why}, ensure_ascii=False) + "\n"
                          for r, why in self.rejects)
        write_synced(tmp / "rejects.jsonl", rejects.encode("utf-8"))
        write_synced(tmp / "ids.json", json.dumps(self.ids, ensure_ascii=False).encode("utf-8"))
        fsync_dir(tmp)
        os.replace(tmp, final)
        fsync_dir(self.work)
        self.number += 1
        self._reset()


def _finalize(work: Path, output: Path, rejects_path: Path, output_format: str) -> None:
    parts = _committed_parts(work)
    _concatenate([p / "rejects.jsonl" for p in parts], rejects_path)
    if output_format == "spacy":
        merged = DocBin(store_user_data=True)
        for p in parts:
            merged.merge(DocBin(store_user_data=True).from_disk(p / "docs.spacy"))
        write_atomically(output, merged.to_bytes())
    else:
        _concatenate([p / "docs.jsonl" for p in parts], output)
    shutil.rmtree(work)


def _concatenate(sources: list[Path], target: Path) -> None:
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as out:
        for src in sources:
            with open(src, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    fsync_dir(target.parent)


def _progress_bar(total: Optional[int], initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="doc", desc="apply", dynamic_ncols=True,
                file=sys.stderr)


def count_records(path: Path, fmt: str) -> Optional[int]:
    """A cheap estimate of how many records a corpus holds, for the progress bar."""
    try:
        if fmt in ("text", "jsonl"):
            with open(path, "rb") as f:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        if fmt == "dir":
            return sum(1 for p in path.rglob("*.txt") if p.is_file())
        if fmt == "livedoor":
            root = path / "text" if (path / "text").is_dir() else path
            return sum(1 for p in root.glob("*/*.txt") if p.name != "LICENSE.txt")
    except OSError:
        return None
    return None


def apply_corpus(
    nlp: Language,
    input_path: PathLike,
    output: PathLike,
    *,
    input_format: Optional[str] = None,
    reader_options: Optional[dict[str, Any]] = None,
    **options: Any,
) -> BatchReport:
    """``apply_pipeline`` over a corpus on disk, read by ``tsunagu.corpora``."""
    from tsunagu.corpora import guess_format, read_corpus

    input_path = Path(input_path)
    if not input_path.exists():
        raise CorpusError(f"Input not found: {input_path}")
    fmt = input_format or guess_format(input_path)
    reader_options = dict(reader_options or {})
    records = read_corpus(input_path, fmt, on_error="reject", **reader_options)
    fingerprint = {"input": str(input_path.resolve()), "format": fmt, "reader": reader_options}
    options.setdefault("total", count_records(input_path, fmt))
    return apply_pipeline(nlp, records, output, fingerprint=fingerprint, **options)
