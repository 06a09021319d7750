"""Which token form is a word vector's key: one definition for training and lookup.

Training tokenizes with SudachiPy directly (fast); serving looks tokens up in a
spaCy ``Doc`` made by spaCy's Sudachi tokenizer. Both must produce the same key
string for the same word, so both go through this module. spaCy's tokenizer sets
``lemma_`` to Sudachi's dictionary form (the surface where that is empty),
``norm_`` to the normalized form and ``orth_`` to the surface.
"""

from __future__ import annotations

from typing import Optional

from .errors import ConfigError

KEYS = ("lemma", "norm", "orth")


def check_key(key: str) -> str:
    if key not in KEYS:
        raise ConfigError(f"key must be one of {', '.join(KEYS)}, not {key!r}.")
    return key


def clean_key(text: str) -> Optional[str]:
    """Keys never contain whitespace (corpus files separate tokens by spaces);
    whitespace-only tokens have no key."""
    parts = text.split()
    return "_".join(parts) if parts else None


def morpheme_key(morpheme, key: str) -> Optional[str]:
    """Key of a ``sudachipy.Morpheme``."""
    surface = morpheme.surface()
    if not surface.strip():
        return None
    if key == "lemma":
        return clean_key(morpheme.dictionary_form() or surface)
    if key == "norm":
        return clean_key(morpheme.normalized_form() or surface)
    return clean_key(surface)


def token_key(token, key: str) -> Optional[str]:
    """Key of a spaCy ``Token``."""
    if not token.text.strip():
        return None
    if key == "lemma":
        return clean_key(token.lemma_ or token.text)
    if key == "norm":
        return clean_key(token.norm_ or token.text)
    return clean_key(token.text)
