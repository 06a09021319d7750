"""Options shared by the commands: the pipeline to load, KEY=VALUE settings (config
overrides, head options) and argument types."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError


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


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pipeline")
    g.add_argument("--pipeline", default=None,
                   help="a .cfg file or a saved pipeline directory (default: tsunagu's config)")
    g.add_argument("--split-mode", choices=("A", "B", "C"), default=None,
                   help="Sudachi unit of the output tokens")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set nlp.batch_size=128 (repeatable)")
    g.add_argument("--code", type=Path, action="append", default=[],
                   help="Python file to import first (registers custom components)")
    g.add_argument("--polarity", type=Path, default=None, metavar="DIR",
                   help="a polarity model: the model-best of `spacy train configs/polarity.cfg` or "
                        "the output of `tsunagu polarity adapt`")


def load_nlp(args: argparse.Namespace):
    from spacy.util import import_file

    from ..loading import load

    for path in args.code:
        if not path.exists():
            raise ConfigError(f"--code file not found: {path}")
        import_file(path.stem, path)
    return load(args.pipeline, config=parse_overrides(args.overrides), split_mode=args.split_mode,
                polarity=getattr(args, "polarity", None))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    return parse_key_values(items, "--set", "nlp.batch_size=128")


def version() -> str:
    from ..about import __version__

    return __version__
