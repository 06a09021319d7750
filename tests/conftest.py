import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def nlp():
    import tsunagu

    return tsunagu.load()


@pytest.fixture(scope="session")
def livedoor_dir():
    path = SHARED / "livedoor" / "text"
    if not path.is_dir():
        pytest.skip("Livedoor corpus not present in ../shared/data (only on developer and CI machines)")
    return path


def run_cli(*args, timeout=300, check=True, **kwargs):
    """Run the installed ``tsunagu`` command in a subprocess."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "tsunagu", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, **kwargs,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tsunagu {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc
