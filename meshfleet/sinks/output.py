"""One writer for every output directory: staged beside the target, made durable, swapped in at once.

Why: a failed or interrupted run must leave the previous output whole, and a directory meshfleet did
not write must never be replaced. Everything that writes a tree (render, the GitOps hand-off) hands
this module plain (relative path, text) pairs.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import functools
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from meshfleet.errors import UsageError

MARKER = ".meshfleet"
MARKER_TEXT = "This directory is written by `meshfleet render`; it is replaced whole on every render.\n"


def replace_dir(out: str | Path, files: Iterable[tuple[str, str]]) -> None:
    """Write `files` (relative POSIX path -> text) as the whole of `out`, atomically."""
    target = Path(out)
    try:
        _replace(target, files)
    except OSError as e:
        where = e.filename if isinstance(e.filename, str) else str(target)
        raise UsageError(f"cannot write {where}: {e.strerror or e}; the previous output is untouched") from None


def _replace(target: Path, files: Iterable[tuple[str, str]]) -> None:
    _check_target(target)
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    lock_path = parent / f".{target.name}.meshfleet-lock"
    with _locked(lock_path):
        _check_target(target)  # again, under the lock
        olds = sorted(parent.glob(f".{target.name}.meshfleet-old-*"))
        if not target.exists() and olds:
            os.rename(olds[-1], target)  # a swap without renameat2 was cut between its two renames
        for stale in parent.glob(f".{target.name}.meshfleet-*"):
            # Left by a render that was killed; no render is running now (we hold the lock).
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.meshfleet-", dir=parent))
        try:
            made: set[Path] = set()
            for rel, text in files:
                path = stage.joinpath(*_parts(rel))
                if path.parent not in made:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    made.add(path.parent)
                _write(path, text)
            _write(stage / MARKER, MARKER_TEXT)
            _sync_tree(stage)  # everything staged is on disk before it replaces the old output
            _swap_in(stage, target)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise


def _parts(rel: str) -> tuple[str, ...]:
    parts = PurePosixPath(rel).parts
    if not parts or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"refusing to write {rel!r}: not a plain relative path")
    return parts


def _check_target(target: Path) -> None:
    if target.is_symlink():
        raise UsageError(f"refusing to write to {target}: it is a symbolic link; give the real directory")
    if target.exists():
        if not target.is_dir():
            raise UsageError(f"refusing to replace {target}: it is not a directory")
        if not (target / MARKER).is_file() and any(target.iterdir()):
            raise UsageError(
                f"refusing to replace {target}: it holds files meshfleet did not write (no {MARKER} marker); "
                "choose a new or empty directory"
            )


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


@functools.cache
def _libc_function(name: str) -> Any | None:
    """A libc function the os module does not offer (syncfs, renameat2), or None where absent."""
    libc_name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(libc_name, use_errno=True), name, None) if libc_name else None


def _sync_tree(path: Path) -> None:
    """Make the staged tree durable with one syncfs of its filesystem (one fsync per file cost
    more than writing the files); where syncfs is missing, sync everything."""
    fd = os.open(path, os.O_RDONLY)
    try:
        syncfs = _libc_function("syncfs")
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One render per output directory at a time; a second waits instead of interleaving."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where the system cannot."""
    fn = _libc_function("renameat2")
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(stage: Path, target: Path) -> None:
    if not target.exists():
        os.rename(stage, target)
        return
    if _exchange(stage, target):
        shutil.rmtree(stage)  # now holds the previous output
        return
    old = target.with_name(f".{target.name}.meshfleet-old-{os.getpid()}")
    os.rename(target, old)
    os.rename(stage, target)
    shutil.rmtree(old, ignore_errors=True)
