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

No input is destroyed: an output, rejects file or partial directory that is the
input (or inside an input directory), or that is another of the outputs, is
refused, and so is an existing output when the run is not a resume, unless
``overwrite``. A resumed run checks the input's fingerprint (size, modification
time, SHA-256 of its bytes) against the one recorded when the run began and
refuses a changed input.

One record cannot stop the job: an id or meta value holding a lone surrogate
(valid JSON, not valid UTF-8) is written escaped as JSON ``\\uXXXX`` (what
``json.dumps`` does with ``ensure_ascii``), and read back as the same string; a
*text* holding one is rejected, since no tokenizer can process it. Long texts are
processed in pieces (``tsunagu.pieces``) so that memory stays bounded.

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
import stat
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

from spacy.language import Language
from spacy.tokens import DocBin

from tsunagu.corpora.records import lone_surrogate

from .atomic import (
    check_distinct_paths,
    concatenate_atomically,
    fsync_dir,
    make_temp_dir,
    write_atomically,
    write_synced,
)
from .errors import BatchStateError, ConfigError, CorpusError, InputChangedError, OutputExistsError
from .parallel import parallel_map
from .pieces import DEFAULT_BATCH_CHARS, DEFAULT_PIECE_CHARS, batches_by_chars, join_docs, split_text
from .serialize import doc_to_dict

OUTPUT_FORMATS = ("jsonl", "spacy")
STATE_VERSION = 2
# The longest text processed by default. Pieces bound the networks' memory; what
# grows with the length is the joined Doc and its JSON (benchmarks/RESULTS.md,
# "Long documents"), and a 200,000-character text stays well under a GB of it.
DEFAULT_MAX_CHARS = 200_000
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
    piece_chars: int = DEFAULT_PIECE_CHARS,
    batch_chars: int = DEFAULT_BATCH_CHARS,
    checkpoint_docs: int = 1000,
    checkpoint_seconds: float = 30.0,
    fingerprint: Optional[dict[str, Any]] = None,
    input_fingerprint: Optional[dict[str, Any]] = None,
    overwrite: bool = False,
    total: Optional[int] = None,
    progress: bool = True,
) -> BatchReport:
    """Run ``nlp`` over ``records`` (``Record``/``RejectedRecord`` from any corpus
    reader with ``on_error="reject"``) and write one result per record.

    fingerprint: what identifies this job (input path, reader options...); a
        partial run made with another fingerprint or pipeline is not resumed.
    input_fingerprint: the input's state (``fingerprint_input``); a partial run
        whose input has changed since is not resumed (``InputChangedError``).
    max_chars: longer texts are rejected (default ``DEFAULT_MAX_CHARS``, or the
        pipeline's ``max_length`` where that is smaller).
    piece_chars, batch_chars: texts longer than ``piece_chars`` are processed in
        pieces of at most that many characters and joined; each call of the
        pipeline gets at most ``batch_chars`` characters. Together they bound the
        memory a batch takes.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}.")
    _check_positive_int("n_process (--n-process)", n_process)
    _check_positive_int("batch_size (--batch-size)", batch_size)
    _check_positive_int("piece_chars", piece_chars)
    _check_positive_int("batch_chars", batch_chars)
    _check_positive_int("checkpoint_docs", checkpoint_docs)
    if isinstance(checkpoint_seconds, bool) or not isinstance(checkpoint_seconds, (int, float)) \
            or not checkpoint_seconds >= 0:
        raise ConfigError(f"checkpoint_seconds (--checkpoint-seconds) must be a number of seconds "
                          f">= 0 (0: commit after every batch), not {checkpoint_seconds!r}.")
    if max_chars is None:
        max_chars = min(DEFAULT_MAX_CHARS, nlp.max_length)
    _check_positive_int("max_chars (--max-chars)", max_chars)
    output, rejects_path, work = job_paths(output, rejects_path)
    check_apply_paths(None, output, rejects_path)
    report = BatchReport(output, rejects_path)

    state = {
        "version": STATE_VERSION,
        "output_format": output_format,
        "max_chars": max_chars,
        "job": fingerprint or {},
        "input": input_fingerprint,
        "pipeline": hashlib.sha256(nlp.config.to_str().encode("utf-8")).hexdigest(),
    }
    done = _prepare(work, output, rejects_path, state, overwrite)
    report.resumed = sum(done.values())

    started = time.perf_counter()
    bar = _progress_bar(total, report.resumed, progress)
    writer = _PartWriter(work, output_format, start=_next_part_number(work))
    try:
        chunks = _chunks(records, done, batch_size, max_chars, batch_chars, output_format)
        pending_since = time.monotonic()
        for chunk, done in _process(nlp, chunks, n_process, output_format, piece_chars, batch_chars):
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


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, not {value!r}.")


def _prepare(work: Path, output: Path, rejects: Path, state: dict, overwrite: bool) -> Counter:
    if work.is_symlink() or (work.exists() and not work.is_dir()):
        raise BatchStateError(
            f"{work} is in the way of this run's partial directory (it is a symlink or a file, "
            "not a directory this command made). Move it away, or choose another OUTPUT.")
    if overwrite:
        shutil.rmtree(work, ignore_errors=True)
    elif not work.exists():
        # A fresh run: replace nothing it did not create.
        for path, what in ((output, "output"), (rejects, "rejects file")):
            if path.exists() or path.is_symlink():
                raise OutputExistsError(
                    f"The {what} {path} already exists and no unfinished run of it is recorded (a "
                    "finished job, or a file this command did not write); it is left untouched. "
                    "Choose another path, or pass --overwrite (overwrite=True) to replace it.")
    state_file = work / "state.json"
    if work.exists() and state_file.exists():
        try:
            previous = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BatchStateError(
                f"{state_file} is unreadable ({e}): the unfinished run cannot be checked. Pass "
                "--overwrite (overwrite=True) to discard it and start afresh.") from None
        if isinstance(previous, dict) and previous.get("version") == state["version"] \
                and not _same_input(previous.get("input"), state["input"]):
            raise InputChangedError(
                f"The input changed since the unfinished run in {work} began "
                f"({_describe_change(previous.get('input'), state['input'])}): the finished part "
                "no longer matches it. Restore the input to finish that run, or pass --overwrite "
                "(overwrite=True) to start afresh.")
        if previous != {**state, "input": previous.get("input")}:
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
    for leftover in work.glob(".*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    return done


def _same_input(before: Optional[dict], after: Optional[dict]) -> bool:
    # The content decides; a copy or a `touch` changes the mtime but not the input.
    keys = ("size", "files", "sha256")
    return (before is None) == (after is None) and \
        (before is None or all(before.get(k) == after.get(k) for k in keys))


def _describe_change(before: Optional[dict], after: Optional[dict]) -> str:
    before, after = before or {}, after or {}
    if before.get("size") != after.get("size"):
        return f"size {before.get('size')} -> {after.get('size')} bytes"
    if before.get("files") != after.get("files"):
        return f"{before.get('files')} -> {after.get('files')} files"
    return "same size, other content"


def _regular_files(root: Path) -> list[tuple[Path, os.stat_result]]:
    """The regular files below ``root`` with their stat, in sorted order: reading a
    pipe or a device would hang or never end."""
    found = []
    for path in root.rglob("*"):
        try:
            st = path.stat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((path, st))
    return sorted(found)


def fingerprint_input(path: PathLike) -> dict[str, Any]:
    """What identifies an input's content: total size, latest modification time and
    the SHA-256 of every byte (of every file, with its relative path, for a
    directory). Reading it once costs a small share of a run (RESULTS.md)."""
    path = Path(path)
    files = _regular_files(path) if path.is_dir() else [(path, path.stat())]
    digest = hashlib.sha256()
    size = mtime = 0
    for file, st in files:
        size += st.st_size
        mtime = max(mtime, st.st_mtime_ns)
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode("utf-8", "surrogateescape") + b"\0")
        try:
            with open(file, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as e:
            # The reader rejects such a file and the job goes on; its state joins the hash.
            digest.update(f"unreadable: {e.errno}".encode())
        digest.update(b"\0")
    return {"size": size, "files": len(files), "mtime_ns": mtime, "sha256": digest.hexdigest()}


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
    surrogate = lone_surrogate(text)
    if surrogate is not None:
        return (f"text holds a lone surrogate (U+{ord(text[surrogate]):04X}) at character {surrogate}: "
                "not Unicode text, so it cannot be tokenized")
    return None


def _unstorable(record, output_format: str) -> Optional[str]:
    """Why a record's id, labels or meta cannot be written, or ``None``."""
    if not isinstance(record.id, str):
        return f"id is not a string (got {type(record.id).__name__})"
    if output_format == "spacy":
        # A DocBin stores user data as msgpack: valid UTF-8, integers of 64 bits.
        import srsly

        try:
            srsly.msgpack_dumps({"id": record.id, "labels": list(record.labels), "meta": dict(record.meta)})
        except UnicodeEncodeError:
            return ("id, labels or meta hold a lone surrogate, which a DocBin cannot store; "
                    "write JSONL output, which keeps it escaped")
        except (TypeError, ValueError, OverflowError) as e:
            return (f"meta cannot be stored in a DocBin ({type(e).__name__}: {e}); write JSONL "
                    "output, which can hold it")
    return None


def encode_json_line(obj: Any) -> bytes:
    """One JSON line as UTF-8; a lone surrogate is written as its JSON escape
    (``\\ud800``), which reads back as the same string."""
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


def _chunks(records, done, batch_size, max_chars, batch_chars, output_format) -> Iterator[_Chunk]:
    from tsunagu.corpora import RejectedRecord

    seen: set[str] = set()
    chunk = _Chunk()
    chars = 0
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
        reason = validate_text(item.text, max_chars) or _unstorable(item, output_format)
        if reason:
            location = getattr(item, "location", None)
            if location and location != item.id:
                reason += f" (at {location})"
            chunk.rejects.append((item.id, reason))
            continue
        chunk.records.append(item)
        chars += len(item.text)
        # Bounded by documents and by characters: 64 long articles at once would
        # hold 64 articles' activations.
        if len(chunk.records) >= batch_size or chars >= batch_chars:
            yield chunk
            chunk = _Chunk()
            chars = 0
    if chunk.records or chunk.rejects:
        yield chunk


# -- processing -------------------------------------------------------------------------

_WORKER_NLP: Optional[Language] = None
_WORKER_FORMAT = "jsonl"
_WORKER_PIECES = (DEFAULT_PIECE_CHARS, DEFAULT_BATCH_CHARS)


def _process(nlp: Language, chunks: Iterator[_Chunk], n_process: int, output_format: str,
             piece_chars: int, batch_chars: int):
    global _WORKER_NLP, _WORKER_FORMAT, _WORKER_PIECES
    # Module globals, so that forked workers inherit the loaded pipeline.
    _WORKER_NLP, _WORKER_FORMAT, _WORKER_PIECES = nlp, output_format, (piece_chars, batch_chars)
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


def _pipe_pieces(nlp: Language, records: list, piece_chars: int, batch_chars: int) -> list:
    """The records' Docs, long texts processed in pieces and joined, every call of
    the pipeline given at most ``batch_chars`` characters."""
    pieces = [(k, piece) for k, r in enumerate(records) for piece in split_text(r.text, piece_chars)]
    parts: list[list] = [[] for _ in records]
    for group in batches_by_chars(pieces, batch_chars, lambda kp: len(kp[1])):
        for (k, _), doc in zip(group, nlp.pipe([p for _, p in group], batch_size=len(group))):
            parts[k].append(doc)
    return [join_docs(docs) for docs in parts]


def _process_records(records: list) -> _Processed:
    return process_records(_WORKER_NLP, records, _WORKER_FORMAT, *_WORKER_PIECES)


def process_records(nlp: Language, records: list, output_format: str = "jsonl",
                    piece_chars: int = DEFAULT_PIECE_CHARS,
                    batch_chars: int = DEFAULT_BATCH_CHARS) -> _Processed:
    """Run the pipeline over one chunk; a document the pipeline fails on is retried
    alone and rejected with the error. (Also the Ray engine's per-actor step.)"""
    failures: list[tuple[str, str]] = []
    try:
        pairs = list(zip(records, _pipe_pieces(nlp, records, piece_chars, batch_chars)))
    except Exception:
        pairs = []
        for record in records:
            try:
                pairs.append((record, _pipe_pieces(nlp, [record], piece_chars, batch_chars)[0]))
            except Exception as e:  # one bad document must not stop the run
                failures.append((record.id, f"pipeline error: {type(e).__name__}: {e}"))
    if output_format == "spacy":
        docbin = DocBin(store_user_data=True)
        ids = []
        for record, doc in pairs:
            doc.user_data["id"] = record.id
            doc.user_data["meta"] = dict(record.meta)
            if record.labels and not doc.cats:
                doc.cats = {label: 1.0 for label in record.labels}
            try:
                docbin.add(doc)
                ids.append(record.id)
            except (TypeError, ValueError, OverflowError) as e:  # what _unstorable did not foresee
                failures.append((record.id, f"cannot be stored in a DocBin: {type(e).__name__}: {e}"))
        return _Processed(ids, [], docbin.to_bytes(), failures)
    lines, ids = [], []
    for record, doc in pairs:
        try:
            lines.append(encode_json_line(doc_to_dict(doc, record.id, record.labels, record.meta)))
            ids.append(record.id)
        except (TypeError, ValueError) as e:  # meta a reader let through that JSON cannot hold
            failures.append((record.id, f"cannot be written as JSON: {e}"))
    return _Processed(ids, lines, None, failures)


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
        tmp = make_temp_dir(self.work, final.name)
        try:
            if self.output_format == "spacy":
                merged = DocBin(store_user_data=True)
                for blob in self.docbins:
                    merged.merge(DocBin(store_user_data=True).from_bytes(blob))
                write_synced(tmp / "docs.spacy", merged.to_bytes())
            else:
                write_synced(tmp / "docs.jsonl", b"".join(self.lines))
            write_synced(tmp / "rejects.jsonl",
                         b"".join(encode_json_line({"id": r, "reason": why}) for r, why in self.rejects))
            # ASCII: ids may hold lone surrogates, and JSON's escapes keep them exactly.
            write_synced(tmp / "ids.json", json.dumps(self.ids).encode("ascii"))
            fsync_dir(tmp)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_dir(self.work)
        self.number += 1
        self._reset()


def _finalize(work: Path, output: Path, rejects_path: Path, output_format: str) -> None:
    parts = _committed_parts(work)
    concatenate_atomically([p / "rejects.jsonl" for p in parts], rejects_path)
    if output_format == "spacy":
        merged = DocBin(store_user_data=True)
        for p in parts:
            merged.merge(DocBin(store_user_data=True).from_disk(p / "docs.spacy"))
        write_atomically(output, merged.to_bytes())
    else:
        concatenate_atomically([p / "docs.jsonl" for p in parts], output)
    shutil.rmtree(work)


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


def job_paths(output: PathLike, rejects_path: Optional[PathLike] = None) -> tuple[Path, Path, Path]:
    """A job's output, its rejects file (default ``OUTPUT.rejects.jsonl``) and its
    partial directory (``OUTPUT.partial``)."""
    output = Path(output)
    rejects = Path(rejects_path) if rejects_path else output.with_name(output.name + ".rejects.jsonl")
    return output, rejects, output.with_name(output.name + ".partial")


def check_apply_paths(input_path: Optional[PathLike], output: PathLike,
                      rejects_path: Optional[PathLike] = None) -> None:
    """Refuse an OUTPUT, rejects file or partial directory that is the input, lies
    inside it, or is another of them (``PathConflictError``)."""
    output, rejects, work = job_paths(output, rejects_path)
    check_distinct_paths({"INPUT": input_path},
                         {"OUTPUT": output, "the rejects file": rejects, "the partial directory": work})


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
    check_apply_paths(input_path, output, options.get("rejects_path"))
    fmt = input_format or guess_format(input_path)
    reader_options = dict(reader_options or {})
    fingerprint = {"input": str(input_path.resolve()), "format": fmt, "reader": reader_options}
    input_state = fingerprint_input(input_path)
    records = read_corpus(input_path, fmt, on_error="reject", **reader_options)
    options.setdefault("total", count_records(input_path, fmt))
    return apply_pipeline(nlp, records, output, fingerprint=fingerprint,
                          input_fingerprint=input_state, **options)
