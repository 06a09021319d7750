"""The ``tsunagu`` command line: one module per command group (``apply``, ``demo``,
``info``, ``embed``, ``lexicon``, ``corpus``, ``polarity``, ``lm``, ``transformer``,
``annotate``), each adding its parsers and handlers that parse arguments and call
library functions; ``options`` holds what they share."""

from __future__ import annotations

import argparse
import errno
import sqlite3
import sys
from typing import Optional, Sequence

from .annotate import add_active_learning_commands
from .apply import add_apply_command
from .demo import add_demo_command
from .embed import add_embed_commands
from .info import add_info_command
from .lexicon import add_lexicon_commands
from .corpus import add_corpus_commands
from .polarity import add_polarity_commands
from .transformer import add_transformer_commands
from ..errors import TsunaguError
from .lm import add_lm_commands
from .options import version


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command. Expected failures (bad input, a missing or unwritable path, a
    full disk, a locked label store) print one ``error: ...`` line and return a
    non-zero status; a traceback means a bug, and ``--debug`` shows one for any
    failure."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("\ninterrupted: finished work is saved; run the same command again to resume.",
              file=sys.stderr)
        return 130
    except (TsunaguError, OSError, sqlite3.Error, MemoryError) as e:
        if args.debug:
            raise
        print(f"error: {describe_error(e)}", file=sys.stderr)
        return 1


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong and what to do about it."""
    if isinstance(error, TsunaguError):
        return str(error)
    if isinstance(error, MemoryError):
        return ("out of memory. Process fewer or shorter documents at once (--batch-size, "
                "--max-chars, fewer --n-process); finished work is kept.")
    if isinstance(error, sqlite3.Error):
        message = str(error)
        if "locked" in message or "busy" in message:
            return (f"the database is locked by another process ({message}): close the other "
                    "session or wait, then run the command again.")
        return (f"database error: {message}. If the file is damaged, restore it from a copy or "
                "start a new store.")
    assert isinstance(error, OSError)
    where = f" {error.filename}" if error.filename else ""
    if error.filename2:
        where += f" -> {error.filename2}"
    hints = {
        errno.ENOSPC: "the disk is full: free some space and run the same command again "
                      "(finished work is kept)",
        errno.EDQUOT: "the disk quota is exceeded: free some space and run the same command again",
        errno.EACCES: "permission denied: choose a path you may write, or change its permissions",
        errno.EPERM: "operation not permitted: choose another path",
        errno.ENOENT: "no such file or directory: check the path (its folder must exist)",
        errno.ENOTDIR: "a part of the path is not a directory: check the path",
        errno.EISDIR: "is a directory, where a file was expected: give a file path",
        errno.EROFS: "the file system is read-only: write somewhere else",
        errno.EEXIST: "already exists: choose another path or pass --overwrite",
    }
    hint = hints.get(error.errno, error.strerror or str(error))
    return f"{hint}:{where}" if where else hint


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tsunagu", description="Japanese NLP pipelines on spaCy and GiNZA."
    )
    parser.add_argument("--version", action="version", version=version())
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback for every failure, not just for bugs")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    add_demo_command(sub)
    add_apply_command(sub)
    add_embed_commands(sub)
    add_lexicon_commands(sub)
    add_corpus_commands(sub)
    add_polarity_commands(sub)
    add_lm_commands(sub)
    add_active_learning_commands(sub)
    add_transformer_commands(sub)

    add_info_command(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
