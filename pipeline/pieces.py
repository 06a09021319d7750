"""Long documents in bounded memory: cut into pieces, processed piecewise, joined.

GiNZA's networks hold their activations for a whole document at once: a full
pipeline grows by about 35 KB per character of the document it processes (a
20,000-character article takes +700 MB, a 1,000,000-character one more than this
machine's 24 GB). Dependencies, entities and bunsetu do not cross sentences, so a
long text is cut after paragraph breaks, then after sentence-final punctuation or
line breaks (a hard cut only inside a single over-long sentence), each piece is
processed on its own, and the pieces are joined with ``Doc.from_docs`` into one
``Doc`` whose text is exactly the input: character offsets, sentences and entities
are those of the joined text.

``from_docs`` carries token extensions and spans across but not the per-token
lists and token indices that GiNZA's bunsetu recognizer and tsunagu's polarity
component leave in ``doc.user_data``; ``join_docs`` joins those, shifting token
indices by each piece's offset.

>>> doc = process_long_text(nlp, text, piece_chars=2000)  # doctest: +SKIP
>>> doc.text == text  # doctest: +SKIP
True
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Callable, Iterable, Iterator

import numpy
from spacy.language import Language
from spacy.tokens import Doc

DEFAULT_PIECE_CHARS = 2000
# What one call of the pipeline may hold: GiNZA's peak grows with the characters
# of a whole batch, not of one document (benchmarks/bench_longdocs.py: 20,000
# characters at once take +780 MB over the loaded pipeline, 5,000 take +170 MB).
DEFAULT_BATCH_CHARS = 5000

# Before a blank line, so that the blank line opens the next piece: GiNZA makes it
# part of the sentence that follows, as it does in the whole text.
_PARAGRAPH = re.compile(r"(?<=\S)(?=[ \t\u3000]*\n[ \t\u3000]*\n)")
# After sentence-final punctuation, or before a line break: whitespace opens the
# next piece, where GiNZA puts it when it sees the whole text.
_SENTENCE = re.compile(r"(?<=[。！？!?])(?=[^\s」』）)])|(?<=\S)(?=[ \t\u3000]*\n)")


def split_text(text: str, max_chars: int = DEFAULT_PIECE_CHARS) -> list[str]:
    """Consecutive pieces of ``text`` of at most ``max_chars`` characters whose
    concatenation is ``text``, cut at the largest boundary that fits: paragraph,
    then sentence or line, then anywhere (never between ``\\r`` and ``\\n``)."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, not {max_chars}.")
    if len(text) <= max_chars:
        return [text]
    return list(_pack(_units(text, max_chars), max_chars))


def _units(text: str, max_chars: int) -> Iterator[str]:
    for paragraph in _PARAGRAPH.split(text):
        if len(paragraph) <= max_chars:
            yield paragraph
            continue
        for sentence in _SENTENCE.split(paragraph):
            if len(sentence) <= max_chars:
                yield sentence
            else:
                yield from _hard_cut(sentence, max_chars)


def _hard_cut(text: str, max_chars: int) -> Iterator[str]:
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text) and text[end - 1] == "\r" and text[end] == "\n" and end - 1 > start:
            end -= 1
        yield text[start:end]
        start = end


def _pack(units: Iterable[str], max_chars: int) -> Iterator[str]:
    piece: list[str] = []
    size = 0
    for unit in units:
        if not unit:
            continue
        if size + len(unit) > max_chars and piece:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(unit)
        size += len(unit)
    if piece:
        yield "".join(piece)


# -- joining -----------------------------------------------------------------------------

def _concat_sequences(values: list, offsets: list[int]) -> Any:
    if all(isinstance(v, numpy.ndarray) for v in values):
        return numpy.concatenate(values)
    return [x for v in values for x in v]


def _shift_index_tuple(values: list, offsets: list[int]) -> tuple:
    return tuple(i + off for v, off in zip(values, offsets) for i in v)


def _shift_index_list(values: list, offsets: list[int]) -> list:
    return [i + off for v, off in zip(values, offsets) for i in v]


def _shift_clauses(values: list, offsets: list[int]) -> dict:
    return {head + off: [i + off for i in tokens]
            for v, off in zip(values, offsets) for head, tokens in v.items()}


def _join_sentence_scores(values: list, offsets: list[int]) -> dict:
    return {"starts": [i + off for v, off in zip(values, offsets) for i in v["starts"]],
            "scores": [x for v in values for x in v["scores"]],
            "labels": [x for v in values for x in v["labels"]]}


# How each piece's value of a known user_data key joins into the whole document's.
USER_DATA_JOINERS: dict[str, Callable[[list, list[int]], Any]] = {
    # one entry per token
    "sub_tokens": _concat_sequences,
    "bunsetu_bi_labels": _concat_sequences,
    "bunsetu_position_types": _concat_sequences,
    "tsunagu_polarity_weights": _concat_sequences,
    # token indices
    "bunsetu_heads": _shift_index_tuple,
    "clause_heads": _shift_index_list,
    "clauses": _shift_clauses,
    # one value for the whole document: every piece has the same
    "tsunagu_polarity_settings": lambda values, offsets: values[0],
    # a trained polarity model's sentences (tsunagu_polarity_model)
    "tsunagu_polarity_sentences": _join_sentence_scores,
}


def join_docs(docs: list[Doc]) -> Doc:
    """One ``Doc`` from consecutive pieces of one text (``Doc.from_docs`` without
    added whitespace), with the known per-token ``user_data`` joined too."""
    if len(docs) == 1:
        return docs[0]
    offsets, n = [], 0
    for d in docs:
        offsets.append(n)
        n += len(d)
    joined: dict[str, Any] = {}
    for key, join in USER_DATA_JOINERS.items():
        values = [d.user_data.pop(key, None) for d in docs]
        if all(v is not None for v in values):
            joined[key] = join(values, offsets)
    with warnings.catch_warnings():
        # W102 for user_data keys from_docs cannot place; the known ones are joined above.
        warnings.filterwarnings("ignore", message=r"\[W102\]")
        doc = Doc.from_docs(docs, ensure_whitespace=False)
    doc.user_data.update(joined)
    return doc


def process_long_text(nlp: Language, text: str, piece_chars: int = DEFAULT_PIECE_CHARS,
                      batch_chars: int = DEFAULT_BATCH_CHARS) -> Doc:
    """``nlp(text)`` in memory bounded by ``piece_chars``: the pieces of ``text`` go
    through the pipeline in batches of at most ``batch_chars`` characters and the
    results are joined."""
    pieces = split_text(text, piece_chars)
    docs: list[Doc] = []
    for group in batches_by_chars(pieces, batch_chars, len):
        docs.extend(nlp.pipe(group, batch_size=len(group)))
    return join_docs(docs)


def batches_by_chars(items: Iterable, max_chars: int, size: Callable[[Any], int]) -> Iterator[list]:
    """Consecutive groups of ``items`` whose sizes add up to at most ``max_chars``
    (a single larger item is a group of its own)."""
    group: list = []
    total = 0
    for item in items:
        n = size(item)
        if group and total + n > max_chars:
            yield group
            group, total = [], 0
        group.append(item)
        total += n
    if group:
        yield group
