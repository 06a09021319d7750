"""Which documents are held out for validation.

The rule: a document is held out when the SHA-1 of its key (UTF-8), read as an
integer, modulo 100 is below ``percent``. The key is whatever identifies the
document stably (a record id, or the text itself), so the same documents are held
out on every run and machine, and roughly ``percent`` % of them are; ``percent``
of 0 or less holds out nothing.
"""

from __future__ import annotations

import hashlib

__all__ = ["is_held_out"]


def is_held_out(key: str, percent: int) -> bool:
    """True when the document identified by ``key`` belongs to the held-out ``percent`` %."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 100 < percent
