"""The stage of an output directory and the leftovers beside it: made, found, claimed, removed.

Why: a render stages its tree beside the output, so a killed render leaves a tree there, and
another render (of this output or of one with a similar name) may be staging at the same moment.
A leftover is removed only when it is provably this output's and dead: its name has this module's
exact form (`.<name>.meshfleet-new-<16 hex>` or `-old-`), found by listing the parent and comparing
names (never a pattern); it carries the marker file or is empty; and its lock can be taken (every
render holds a `flock` on its stage while it lives). Nothing here follows a symbolic link.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import shutil
import stat
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from meshfleet.errors import UsageError

MARKER = ".meshfleet"
MARKER_TEXT = "This directory is written by `meshfleet render`; it is replaced whole on every render.\n"

NEW, OLD = "new", "old"
TOKEN_LEN = 16
_HEX = frozenset("0123456789abcdef")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_MODE, DIR_MODE = 0o666, 0o777
PRIVATE_FILE_MODE, PRIVATE_DIR_MODE = 0o600, 0o700


def can_fork() -> bool:
    """Forking is safe with one thread (a fork copies no other thread's locks)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def write_new(dir_fd: int, name: str, data: bytes, mode: int) -> None:
    """One new file (never through a symbolic link, never over an existing file)."""
    fd = os.open(name, FILE_FLAGS, mode, dir_fd=dir_fd)
    try:
        written = os.write(fd, data)
        while written < len(data):  # a short write (a signal, a nearly full disk): go on or fail
            written += os.write(fd, memoryview(data)[written:])
    finally:
        os.close(fd)


def check_target(parent_fd: int, name: str, target: Path) -> bool:
    """Whether the output exists; refuses a symbolic link, a file, or a directory meshfleet did not
    write (no marker, not empty)."""
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise UsageError(f"cannot use {target}: {e.strerror or e}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"refusing to write to {target}: it is a symbolic link; give the real directory")
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"refusing to replace {target}: it is not a directory")
    fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    try:
        if not ours(fd):
            raise UsageError(
                f"refusing to replace {target}: it holds files meshfleet did not write "
                f"(no {MARKER} marker); choose a new or empty directory"
            )
    finally:
        os.close(fd)
    return True


def ours(dir_fd: int) -> bool:
    """A directory meshfleet wrote (its marker is a regular file) or an empty one."""
    try:
        if stat.S_ISREG(os.stat(MARKER, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            return True
    except FileNotFoundError:
        pass
    with os.scandir(dir_fd) as entries:
        return next(entries, None) is None


def token_name(name: str, kind: str, token: str) -> str:
    return f".{name}.meshfleet-{kind}-{token}"


def is_token(text: str) -> bool:
    return len(text) == TOKEN_LEN and _HEX.issuperset(text)


def make_stage(parent_fd: int, name: str) -> tuple[str, int]:
    """A new, empty, locked stage directory holding the marker; its name and descriptor."""
    while True:
        stage = token_name(name, NEW, os.urandom(TOKEN_LEN // 2).hex())
        os.mkdir(stage, DIR_MODE, dir_fd=parent_fd)
        fd = os.open(stage, DIR_FLAGS, dir_fd=parent_fd)
        hold(fd)
        if os.fstat(fd).st_nlink > 0:  # not removed (as an empty leftover) between mkdir and the lock
            break
        os.close(fd)
    try:
        write_new(fd, MARKER, MARKER_TEXT.encode(), FILE_MODE)
    except BaseException:
        os.close(fd)
        remove(parent_fd, [stage])
        raise
    return stage, fd


def hold(fd: int) -> None:
    """Lock a stage for as long as its render lives (released by the kernel when it dies)."""
    with contextlib.suppress(OSError):  # no flock here (some network filesystems): cleanup skips it
        fcntl.flock(fd, fcntl.LOCK_EX)


def is_at(parent_fd: int, name: str, fd: int) -> bool:
    """Whether `name` under the parent is the file or directory open as `fd`."""
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def leftovers(parent_fd: int, name: str) -> list[str]:
    """Names of this output's stages and moved-aside trees, found by listing the parent and
    comparing names (the output's name is never a pattern); and the lock file an earlier
    meshfleet left beside the output, removed (the lock lives elsewhere now)."""
    prefixes = (f".{name}.meshfleet-{NEW}-", f".{name}.meshfleet-{OLD}-")
    with os.scandir(parent_fd) as entries:
        found = sorted(
            e.name for e in entries if any(e.name.startswith(p) and is_token(e.name[len(p) :]) for p in prefixes)
        )
    with contextlib.suppress(OSError):
        legacy = f".{name}.meshfleet-lock"
        st = os.stat(legacy, dir_fd=parent_fd, follow_symlinks=False)
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(legacy, dir_fd=parent_fd)
    return found


def claim(parent_fd: int, names: Iterable[str], *, swapped_out: bool = False) -> list[tuple[str, int]]:
    """The trees among `names` whose render is gone (we get their lock) and that are ours (marker)
    or empty, each with its locked descriptor: held until the tree is removed.

    `swapped_out` names the tree this render just swapped out: where locks are unavailable (flock
    on NFS needs a file open for writing) it is claimed all the same, as nothing else can use it.
    """
    claimed = []
    for n in names:
        try:
            fd = os.open(n, DIR_FLAGS, dir_fd=parent_fd)
        except OSError:
            continue  # a symbolic link, a file, or gone: not ours to remove
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise  # its render is alive, or another render is removing it
            except OSError:
                if not swapped_out:
                    raise  # no locks here: whether its render lives cannot be told
            if ours(fd):
                claimed.append((n, fd))
                continue
        except OSError:
            pass
        os.close(fd)
    return claimed


def remove_claimed(parent_fd: int, claimed: list[tuple[str, int]]) -> None:
    try:
        for n, fd in claimed:
            if is_at(parent_fd, n, fd):
                remove(parent_fd, [n])
    finally:
        for _, fd in claimed:
            os.close(fd)


def remove(parent_fd: int, names: Iterable[str]) -> None:
    """Remove trees under the parent; never through a symbolic link (fd-based rmtree)."""
    for n in names:
        shutil.rmtree(n, ignore_errors=True, dir_fd=parent_fd)


def _close_all_but(keep: set[int]) -> None:
    """Close every descriptor above standard error but `keep` (locks and pipes of the caller)."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    high = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    os.closerange(low, high if 0 < high <= 1 << 20 else 1 << 20)


def remove_detached(parent_fd: int, claimed: list[tuple[str, int]]) -> None:
    """Remove claimed trees in a detached grandchild, so the command reports and exits without
    waiting; the grandchild inherits their locks. Whatever it has not removed when it dies is a
    leftover the next render removes. Where forking is not safe (other threads), here and now."""
    if not claimed:
        return
    if not can_fork():
        remove_claimed(parent_fd, claimed)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:
        remove_claimed(parent_fd, claimed)
        return
    if pid:
        for _, fd in claimed:
            os.close(fd)  # the locks stay with the grandchild's copies
        os.waitpid(pid, 0)
        return
    try:  # the first child: detach, fork the remover, leave at once (nothing waits for the remover)
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for std in (0, 1, 2):
                os.dup2(null, std)  # the caller's pipes close when the caller exits
            _close_all_but({parent_fd, *(fd for _, fd in claimed)})
            remove_claimed(parent_fd, claimed)
    finally:
        os._exit(0)
