"""Helpers for the reliability tests."""

import json
import os
import shutil
import tempfile
import traceback
from pathlib import Path

import pytest

NOBODY = 65534


def run_unprivileged(func, *args):
    """``func(*args)`` in a forked child that has dropped root to ``nobody``, so that
    permission errors happen as they do for users (root reads and writes anything).
    Returns what ``func`` returns (JSON-able), or raises ``AssertionError`` with the
    child's traceback. The modules the child needs are already imported by then."""
    if os.geteuid() != 0:
        return func(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            message = {"ok": func(*args)}
        except BaseException:
            message = {"error": traceback.format_exc()}
        with os.fdopen(write_end, "w") as f:
            json.dump(message, f)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        data = f.read()
    os.waitpid(pid, 0)
    message = json.loads(data or '{"error": "the child died"}')
    if "error" in message:
        raise AssertionError(message["error"])
    return message["ok"]


@pytest.fixture
def shared_tmp():
    """A temporary folder others may enter (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="tsunagu-unpriv-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path, ignore_errors=True)
