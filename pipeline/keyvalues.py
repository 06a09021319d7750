"""KEY=VALUE command-line options (config overrides, head options)."""

from __future__ import annotations

import json
from typing import Any

from .errors import ConfigError


def parse_key_values(items: list[str], flag: str, example: str) -> dict[str, Any]:
    """``["a.b=3", "name=x"]`` -> ``{"a.b": 3, "name": "x"}``: values are JSON where
    they parse as JSON (numbers, booleans, lists), else strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} takes KEY=VALUE, e.g. {example}; got {item!r}.")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
