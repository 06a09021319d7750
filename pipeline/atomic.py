"""Safe writes: a file or a whole directory appears complete or not at all, and no
write lands anywhere but where it was asked to.

Every writer in tsunagu goes through this module:

* ``atomic_file(path)`` / ``write_atomically(path, data)``: the data go to a
  temporary file with a unique name in the target's directory (``mkstemp``: created
  with ``O_EXCL``, so a file or symlink planted there is never opened), are synced,
  and the temporary file is renamed over the target. ``os.replace`` replaces a
  symlink at the target itself instead of writing through it.
* ``replaced_directory(out_dir)``: the same for a directory (``mkdtemp``).
* ``check_distinct_paths``: no output is one of the inputs or another output
  (compared after resolving symlinks, and by inode, so hard links count too).
* ``refuse_existing``: a command never replaces a file it did not create unless
  told to (``overwrite``).

A crash at any point leaves the old target or the new one, never a mix; what may
remain is a temporary file whose name starts with ``.`` and ends with ``.tmp``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping, Optional, Union

from .errors import OutputExistsError, PathConflictError

PathLike = Union[str, Path]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates files 0600; a file written here gets the mode open() would give it.
_FILE_MODE = 0o666 & ~_current_umask()


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


@contextmanager
def atomic_file(path: PathLike, mode: str = "wb", *, encoding: Optional[str] = None) -> Iterator[IO]:
    """Open a unique temporary file beside ``path`` for writing; when the block ends
    without an exception it is flushed, synced and renamed to ``path`` (and the
    rename synced). On an exception the temporary file is removed and ``path`` is
    left as it was.

    >>> with atomic_file("out.jsonl", "w", encoding="utf-8") as f:  # doctest: +SKIP
    ...     f.write("{}\\n")
    """
    if "w" not in mode:
        raise ValueError(f"atomic_file writes a new file; mode must contain 'w', not {mode!r}.")
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent or ".")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, mode, encoding=encoding, newline="\n" if "b" not in mode else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_atomically(path: PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data``: a crash leaves the old file or the new one."""
    with atomic_file(path, "wb") as f:
        f.write(data)


def concatenate_atomically(sources: Iterable[PathLike], target: PathLike) -> None:
    """Write the files ``sources``, one after another, to ``target`` atomically."""
    with atomic_file(target, "wb") as out:
        for src in sources:
            with open(src, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)


def write_synced(path: PathLike, data: bytes) -> None:
    """Write ``data`` to a new file ``path`` (which must not exist: ``O_EXCL``, so
    nothing planted there is followed) and flush it to disk. For files inside a
    directory that is itself committed by a rename."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(path: PathLike) -> None:
    """Flush a directory's entries (a rename into it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_temp_dir(parent: PathLike, name: str) -> Path:
    """A new, empty directory with a unique name in ``parent`` (``mkdtemp``)."""
    return Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent))


@contextmanager
def replaced_directory(out_dir: PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``out_dir`` to write into; when the
    block ends without an exception it takes ``out_dir``'s place (an existing one is
    moved aside first, then removed), so a reader sees the old directory or the new
    one, never a half-written one. On an exception ``out_dir`` is left as it was."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out_dir.parent, out_dir.name)
    try:
        yield tmp
        old = None
        if out_dir.is_symlink() or out_dir.exists():
            old = make_temp_dir(out_dir.parent, out_dir.name + ".old")
            os.replace(out_dir, old / "replaced")
        os.replace(tmp, out_dir)
        fsync_dir(out_dir.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# -- which paths a command may write ---------------------------------------------------


def _identity(path: Path):
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except OSError:
        return None


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    ia, ib = _identity(a), _identity(b)
    return ia is not None and ia == ib


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


def check_distinct_paths(inputs: Mapping[str, Optional[PathLike]],
                         outputs: Mapping[str, Optional[PathLike]]) -> None:
    """Refuse an output that is one of the inputs, lies inside an input directory,
    or is another output. Keys name the paths in the message (``"INPUT"``,
    ``"--rejects"``); ``None`` values are ignored. Paths are compared resolved
    (symlinks followed) and by device and inode (hard links). An output directory
    that is replaced whole must also hold no input: ``check_output_holds_no_input``."""
    ins = [(name, Path(p)) for name, p in inputs.items() if p is not None]
    outs = [(name, Path(p)) for name, p in outputs.items() if p is not None]
    for out_name, out in outs:
        for in_name, inp in ins:
            if _same(out, inp):
                raise PathConflictError(
                    f"{out_name} ({out}) is the same file as {in_name} ({inp}): writing it would "
                    f"destroy the input. Choose another path for {out_name}.")
            if inp.is_dir() and _inside(out, inp):
                raise PathConflictError(
                    f"{out_name} ({out}) lies inside the input directory {in_name} ({inp}): it "
                    f"would change the input while it is read. Write it outside {inp}.")
    for i, (name_a, a) in enumerate(outs):
        for name_b, b in outs[i + 1:]:
            if _same(a, b):
                raise PathConflictError(
                    f"{name_a} and {name_b} are the same path ({a}): one would overwrite the "
                    "other. Give them different paths.")


def check_output_holds_no_input(out_dir: PathLike, inputs: Mapping[str, Optional[PathLike]],
                                option: str = "--output") -> None:
    """Refuse an output directory that is, or contains, one of the inputs: replacing
    the directory (``replaced_directory``, ``--overwrite``) would delete them."""
    for name, path in inputs.items():
        if path is not None and _inside(Path(path), Path(out_dir)):
            raise PathConflictError(
                f"{name} ({path}) lies inside {option} ({out_dir}), which is replaced as a whole: "
                f"it would be deleted. Write {option} elsewhere.")


def refuse_existing(path: PathLike, overwrite: bool, what: str = "output") -> None:
    """Raise ``OutputExistsError`` when ``path`` exists (or is a dangling symlink)
    and ``overwrite`` is false."""
    path = Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputExistsError(
            f"The {what} {path} already exists; it is left untouched. Choose another path, "
            "or pass overwrite=True (--overwrite) to replace it.")
