"""Streaming readers for document collections, and the shipped sample corpus."""

from .readers import (
    FORMATS,
    guess_format,
    iter_texts,
    read_corpus,
    read_docbin,
    read_jsonl,
    read_livedoor,
    read_text_dir,
    read_text_lines,
    sample_corpus_path,
)
from .records import Record, RejectedRecord, lone_surrogate

__all__ = [
    "FORMATS",
    "Record",
    "RejectedRecord",
    "guess_format",
    "iter_texts",
    "lone_surrogate",
    "read_corpus",
    "read_docbin",
    "read_jsonl",
    "read_livedoor",
    "read_text_dir",
    "read_text_lines",
    "sample_corpus_path",
]
