"""Japanese tokenizer that accepts texts of any length.

Sudachi refuses inputs over 49,149 bytes ("Input is too long"). Real documents are
often longer, so this tokenizer cuts such texts at sentence or line boundaries
(a hard cut only where a single sentence is itself too long), tokenizes the pieces
with spaCy's Sudachi-backed ``JapaneseTokenizer`` and joins them into one ``Doc``
whose text is exactly the input.

:func:`tokenizer_only_nlp` is the one way tsunagu builds a pipeline that only
tokenizes (``corpus to-spacy``, the active-learning document cache and DocBin
export, reading DocBins back): a blank Japanese ``Language`` with this tokenizer.
"""

from __future__ import annotations

import re
from typing import Iterator, Optional, Union

import spacy
from spacy.lang.ja import JapaneseTokenizer
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from .errors import ConfigError

SUDACHI_MAX_BYTES = 49149
# Leave room under Sudachi's limit; UTF-8 Japanese is 3 bytes a character.
DEFAULT_CHUNK_BYTES = 40000
_BOUNDARY = re.compile(r"(?<=[。！？!?\n])")


class LongTextJapaneseTokenizer(JapaneseTokenizer):
    """spaCy's ``JapaneseTokenizer`` with long inputs split into Sudachi-sized pieces."""

    def __init__(self, vocab: Vocab, split_mode: Optional[str] = None,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        if split_mode not in (None, "A", "B", "C"):
            raise ConfigError(
                f"Sudachi split_mode must be 'A', 'B' or 'C', not {split_mode!r}."
            )
        if not 0 < chunk_bytes <= SUDACHI_MAX_BYTES:
            raise ConfigError(f"chunk_bytes must be in 1..{SUDACHI_MAX_BYTES}, not {chunk_bytes}.")
        super().__init__(vocab, split_mode=split_mode)
        self.chunk_bytes = chunk_bytes

    def __reduce__(self):
        return LongTextJapaneseTokenizer, (self.vocab, self.split_mode, self.chunk_bytes)

    def __call__(self, text: str) -> Doc:
        if len(text) * 4 <= self.chunk_bytes or len(text.encode("utf-8")) <= self.chunk_bytes:
            return super().__call__(text)
        docs = [super(LongTextJapaneseTokenizer, self).__call__(piece)
                for piece in split_for_sudachi(text, self.chunk_bytes)]
        # from_docs cannot merge per-token lists in user_data: join them here.
        sub_tokens = [st for d in docs for st in d.user_data.pop("sub_tokens", [None] * len(d))]
        doc = Doc.from_docs(docs, ensure_whitespace=False)
        if self.need_subtokens:
            doc.user_data["sub_tokens"] = sub_tokens
        return doc


def split_for_sudachi(text: str, max_bytes: int) -> Iterator[str]:
    """Yield consecutive pieces of ``text``, each at most ``max_bytes`` in UTF-8,
    cut after sentence-final punctuation or newlines where possible."""
    piece: list[str] = []
    size = 0
    for sentence in _BOUNDARY.split(text):
        if not sentence:
            continue
        n = len(sentence.encode("utf-8"))
        if size + n > max_bytes and piece:
            yield "".join(piece)
            piece, size = [], 0
        if n > max_bytes:
            yield from _hard_split(sentence, max_bytes)
            continue
        piece.append(sentence)
        size += n
    if piece:
        yield "".join(piece)


def _hard_split(text: str, max_bytes: int) -> Iterator[str]:
    start = 0
    size = 0
    for i, ch in enumerate(text):
        n = len(ch.encode("utf-8"))
        if size + n > max_bytes:
            yield text[start:i]
            start, size = i, 0
        size += n
    if start < len(text):
        yield text[start:]


@spacy.registry.tokenizers("tsunagu.JapaneseTokenizer.v1")
def create_japanese_tokenizer(split_mode: Optional[str] = "C",
                              chunk_bytes: int = DEFAULT_CHUNK_BYTES):
    def make_tokenizer(nlp):
        return LongTextJapaneseTokenizer(nlp.vocab, split_mode=split_mode,
                                         chunk_bytes=chunk_bytes)

    return make_tokenizer


def tokenizer_only_nlp(split_mode: Optional[str] = "C", *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                       vocab: Union[Vocab, bool] = True) -> Language:
    """A blank Japanese pipeline whose tokenizer is tsunagu's (Sudachi through
    ``tsunagu.JapaneseTokenizer.v1``: texts of any length; tokens, lemma, norm, tag,
    POS, reading) and that has no components. ``split_mode``: Sudachi's unit (C,
    the default, is the one GiNZA parses on). ``vocab``: a ``Vocab`` to share, such
    as a loaded pipeline's with its vectors, or ``True`` for a new one."""
    if split_mode not in (None, "A", "B", "C"):
        raise ConfigError(f"Sudachi split_mode must be 'A', 'B' or 'C', not {split_mode!r}.")
    return spacy.blank("ja", vocab=vocab, config={"nlp": {"tokenizer": {
        "@tokenizers": "tsunagu.JapaneseTokenizer.v1", "split_mode": split_mode, "chunk_bytes": chunk_bytes}}})
