"""Durability and the swap: one syncfs, then the stage takes the output's place at once.

Why: the output must be either the whole previous tree or the whole new one, at every instant and
after a crash. Linux exchanges two names atomically (`renameat2`); elsewhere the output is moved
aside first (a cut between the two renames leaves no output and a moved-aside tree, which is never
taken back). Swaps under one parent are serialised by a lock on that directory itself, so no lock
file lands in the user's tree.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from meshfleet.errors import UsageError
from meshfleet.sinks import staging


@functools.cache
def libc_function(name: str) -> Any | None:
    """A libc function the os module does not offer (syncfs, renameat2, prctl), or None where absent.

    ctypes is imported here, not at start-up: only a render needs it. The running program's own
    symbols include libc's, which spares `find_library` (it runs `ldconfig`).
    """
    import ctypes

    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name, None)
    except OSError:  # pragma: no cover - a platform where the program's symbols cannot be opened
        return None


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def sync_tree(fd: int) -> None:
    """Make the staged tree durable with one syncfs of its filesystem (one fsync per file cost
    more than writing the files); where syncfs is missing, sync everything."""
    syncfs = libc_function("syncfs")
    if syncfs is None or syncfs(fd) != 0:
        os.sync()


@contextlib.contextmanager
def locked(parent_fd: int) -> Iterator[None]:
    """One swap at a time under this parent: a lock on the parent directory itself, no lock file.

    Where directories cannot be locked (flock on NFS needs a file open for writing), a lock file in
    a private directory stands in, named by the parent's device and inode.
    """
    try:
        fcntl.flock(parent_fd, fcntl.LOCK_EX)
        fd = parent_fd
    except OSError as e:
        if e.errno not in (errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            raise
        fd = _private_lock(parent_fd)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        if fd != parent_fd:
            os.close(fd)


def _private_lock(parent_fd: int) -> int:
    """A locked file in `<tmp>/meshfleet-<uid>/` (0700, ours, no symbolic links) for this parent."""
    import tempfile

    uid = os.getuid()
    home = f"meshfleet-{uid}"
    tmp_fd = os.open(tempfile.gettempdir(), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(home, staging.PRIVATE_DIR_MODE, dir_fd=tmp_fd)
        try:
            home_fd = os.open(home, staging.DIR_FLAGS, dir_fd=tmp_fd)
        except OSError as e:
            raise UsageError(
                f"cannot lock the output: {tempfile.gettempdir()}/{home} is not a directory "
                f"of its own ({e.strerror or e})"
            ) from None
    finally:
        os.close(tmp_fd)
    try:
        st = os.fstat(home_fd)
        if st.st_uid != uid or st.st_mode & 0o077:
            raise UsageError(
                f"cannot lock the output: {tempfile.gettempdir()}/{home} is not private "
                "(owned by someone else, or open to others); remove it"
            )
        parent = os.fstat(parent_fd)
        try:
            fd = os.open(
                f"{parent.st_dev:x}-{parent.st_ino:x}.lock",
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                staging.PRIVATE_FILE_MODE,
                dir_fd=home_fd,
            )
        except OSError as e:
            raise UsageError(f"cannot lock the output in {tempfile.gettempdir()}/{home}: {e.strerror or e}") from None
    finally:
        os.close(home_fd)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


def _renameat2(parent_fd: int, a: str, b: str, flags: int) -> bool:
    """Linux renameat2 within one directory; False where the system cannot (then nothing moved)."""
    fn = libc_function("renameat2")
    if fn is None:
        return False
    if fn(parent_fd, os.fsencode(a), parent_fd, os.fsencode(b), flags) == 0:
        return True
    err = _errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), b)


def exchange(parent_fd: int, a: str, b: str) -> bool:
    """Atomically swap two names (Linux renameat2); False where the system cannot."""
    return _renameat2(parent_fd, a, b, _RENAME_EXCHANGE)


def swap_in(parent_fd: int, stage: str, name: str, target: Path) -> str | None:
    """Put the stage in place of the output (under the lock); the name now holding the previous
    output, if there was one. The output is checked again here, and what was swapped out is
    checked to be what was checked (else it is swapped back and refused)."""
    try:
        before = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        try:
            if not _renameat2(parent_fd, stage, name, _RENAME_NOREPLACE):
                os.rename(stage, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)  # over an empty one at most
            return None
        except FileExistsError:  # made meanwhile (not by a render: they hold the lock): checked like any other
            before = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    staging.check_target(parent_fd, name, target)
    if exchange(parent_fd, stage, name):
        _same_or_undo(parent_fd, stage, before, lambda: exchange(parent_fd, stage, name), target)
        return stage
    old = staging.token_name(name, staging.OLD, stage.rsplit("-", 1)[1])
    os.rename(name, old, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    _same_or_undo(
        parent_fd, old, before, lambda: os.rename(old, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd), target
    )
    try:
        os.rename(stage, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    except BaseException:
        os.rename(old, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
        raise
    return old


def _same_or_undo(parent_fd: int, moved: str, before: os.stat_result, undo: Any, target: Path) -> None:
    now = os.stat(moved, dir_fd=parent_fd, follow_symlinks=False)
    if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
        undo()
        raise UsageError(f"refusing to replace {target}: it was replaced while meshfleet was writing; run again")
