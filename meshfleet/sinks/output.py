"""One writer for every output directory: staged beside the target, made durable, swapped in at once.

Why: a failed or interrupted run must leave the previous output whole, and a directory meshfleet did
not write must never be replaced. Everything that writes a tree (render, the GitOps hand-off) hands
this module plain (relative path, text) pairs.

How, and what it never does:

- The tree is staged in `.<name>.meshfleet-new-<16 hex>` beside the output (same filesystem, so the
  swap is one rename), written with directory-relative calls from descriptors opened with
  `O_NOFOLLOW`: nothing under the output's parent is reached through a symbolic link, and a name is
  never used as a pattern (leftovers are found by listing the parent and comparing names).
- One `syncfs` makes the stage durable, then it is exchanged with the output (`renameat2`), or,
  where the system cannot exchange, the output is moved to `.<name>.meshfleet-old-<16 hex>` first.
  The old tree is removed after the swap; the command can leave that to a detached process.
- Every staged or moved-aside tree holds a lock (`flock`) on itself while its render lives, so a
  render only ever removes leftovers whose render is gone, and only those that carry the marker
  file (or are empty). A moved-aside tree is never taken back as the output.
- The swap is serialised by a lock on the output's parent directory itself: no lock file in the
  user's tree (where that lock is unavailable, e.g. NFS, a lock file in a private 0700 directory
  under the system's temporary directory).
- Files get the usual modes (0666 and 0777 less the umask); files named `private` (kubeconfigs)
  get 0600 and every directory above them 0700.
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
import stat
import sys
import tempfile
import threading
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from meshfleet.errors import UsageError

MARKER = ".meshfleet"
MARKER_TEXT = "This directory is written by `meshfleet render`; it is replaced whole on every render.\n"

_NEW, _OLD = "new", "old"
_TOKEN_LEN = 16
_HEX = frozenset("0123456789abcdef")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_MODE, _DIR_MODE = 0o666, 0o777
_PRIVATE_FILE_MODE, _PRIVATE_DIR_MODE = 0o600, 0o700


def replace_dir(out: str | Path, files: Iterable[tuple[str, str]], *, private: Collection[str] = (),
                detach_cleanup: bool = False) -> None:
    """Write `files` (relative POSIX path -> text) as the whole of `out`, atomically.

    `private` names the files that hold secrets (0600, in 0700 directories). With
    `detach_cleanup`, the previous tree is removed by a detached process after the swap, so the
    caller does not wait for it (for a command that exits next; tests and library use remove it
    before returning).
    """
    target = Path(out)
    name = target.name
    if name in ("", ".", ".."):
        raise UsageError(f"refusing to write to {str(out)!r}: name the output directory itself, e.g. {out}/rendered")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise UsageError(f"cannot write {target}: cannot use its parent directory {parent}: "
                         f"{e.strerror or e}; nothing was written") from None
    try:
        _Render(parent_fd, name, target, private).run(files, detach_cleanup)
    finally:
        os.close(parent_fd)


class _Render:
    """One replacement of one output directory, every path relative to its parent's descriptor."""

    def __init__(self, parent_fd: int, name: str, target: Path, private: Collection[str]) -> None:
        self.parent_fd = parent_fd
        self.name = name
        self.target = target
        self.private_files = frozenset(private)
        self.private_dirs = frozenset(rel.rsplit("/", n)[0] for rel in self.private_files
                                      for n in range(1, rel.count("/") + 1))
        """Every directory above a private file, below the output (the output itself keeps its mode)."""
        self.existed = False

    def untouched(self) -> str:
        return "the previous output is untouched" if self.existed else f"{self.target} was not created"

    def run(self, files: Iterable[tuple[str, str]], detach_cleanup: bool) -> None:
        self.existed = _check_target(self.parent_fd, self.name, self.target)
        try:
            stage_name, stage_fd = _make_stage(self.parent_fd, self.name)
        except OSError as e:
            raise UsageError(f"cannot write {self.target}: {e.strerror or e}; {self.untouched()}") from None
        try:
            try:
                self._write_all(stage_fd, files)
                _sync_tree(stage_fd)  # everything staged is on disk before it replaces the old output
                with _locked(self.parent_fd):
                    old = _swap_in(self.parent_fd, stage_name, self.name, self.target)
            except BaseException:
                if _names(self.parent_fd, stage_name, stage_fd):  # still our stage: nothing was swapped
                    _remove(self.parent_fd, [stage_name])
                raise
        except OSError as e:
            where = e.filename if isinstance(e.filename, str) and e.filename.startswith(str(self.target)) \
                else str(self.target)
            raise UsageError(f"cannot write {where}: {e.strerror or e}; {self.untouched()}") from None
        finally:
            os.close(stage_fd)
        garbage = _claim(self.parent_fd, [old] if old else [])
        garbage += _claim(self.parent_fd, [n for n in _leftovers(self.parent_fd, self.name) if n != old])
        if detach_cleanup:
            _remove_detached(self.parent_fd, garbage)
        else:
            _remove_claimed(self.parent_fd, garbage)

    def _write_all(self, stage_fd: int, files: Iterable[tuple[str, str]]) -> None:
        """Write every file under the stage; directories are made as first needed, files are new."""
        made = {""}
        here, here_fd = "", stage_fd
        try:
            for rel, text in files:
                folder, _, base = rel.rpartition("/")
                if folder != here:
                    if here_fd != stage_fd:
                        os.close(here_fd)
                        here_fd = stage_fd
                    here_fd = self._enter(stage_fd, folder, made) if folder else stage_fd
                    here = folder
                if base in ("", ".", "..") or rel.startswith("/"):
                    raise ValueError(f"refusing to write {rel!r}: not a plain relative path")
                mode = _PRIVATE_FILE_MODE if rel in self.private_files else _FILE_MODE
                try:
                    _write(here_fd, base, text.encode("utf-8"), mode)
                except FileExistsError:
                    raise ValueError(f"two files are named {rel!r}") from None
                except OSError as e:
                    raise OSError(e.errno, e.strerror, str(self.target / rel)) from None
        finally:
            if here_fd != stage_fd:
                os.close(here_fd)

    def _enter(self, stage_fd: int, folder: str, made: set[str]) -> int:
        """A descriptor of `folder` under the stage, made (and its parents) if new."""
        parts = folder.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"refusing to write under {folder!r}: not a plain relative path")
        fd = stage_fd
        try:
            for i, part in enumerate(parts):
                sub = "/".join(parts[: i + 1])
                if sub not in made:
                    mode = _PRIVATE_DIR_MODE if sub in self.private_dirs else _DIR_MODE
                    try:
                        os.mkdir(part, mode, dir_fd=fd)
                    except OSError as e:
                        raise OSError(e.errno, e.strerror, str(self.target / sub)) from None
                    made.add(sub)
                inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
                if fd != stage_fd:
                    os.close(fd)
                fd = inner
        except BaseException:
            if fd != stage_fd:
                os.close(fd)
            raise
        return fd


def _write(dir_fd: int, name: str, data: bytes, mode: int) -> None:
    """One new file (never through a symbolic link, never over an existing file)."""
    fd = os.open(name, _FILE_FLAGS, mode, dir_fd=dir_fd)
    try:
        written = os.write(fd, data)
        while written < len(data):  # a short write (a signal, a nearly full disk): go on or fail
            written += os.write(fd, memoryview(data)[written:])
    finally:
        os.close(fd)


# --- the target and the leftovers beside it ------------------------------------------------------


def _check_target(parent_fd: int, name: str, target: Path) -> bool:
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
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        if not _ours(fd):
            raise UsageError(f"refusing to replace {target}: it holds files meshfleet did not write "
                             f"(no {MARKER} marker); choose a new or empty directory")
    finally:
        os.close(fd)
    return True


def _ours(dir_fd: int) -> bool:
    """A directory meshfleet wrote (its marker is a regular file) or an empty one."""
    try:
        if stat.S_ISREG(os.stat(MARKER, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            return True
    except FileNotFoundError:
        pass
    with os.scandir(dir_fd) as entries:
        return next(entries, None) is None


def _token_name(name: str, kind: str, token: str) -> str:
    return f".{name}.meshfleet-{kind}-{token}"


def _is_token(text: str) -> bool:
    return len(text) == _TOKEN_LEN and _HEX.issuperset(text)


def _make_stage(parent_fd: int, name: str) -> tuple[str, int]:
    """A new, empty, locked stage directory holding the marker; its name and descriptor."""
    while True:
        stage = _token_name(name, _NEW, os.urandom(_TOKEN_LEN // 2).hex())
        os.mkdir(stage, _DIR_MODE, dir_fd=parent_fd)
        fd = os.open(stage, _DIR_FLAGS, dir_fd=parent_fd)
        _hold(fd)
        if os.fstat(fd).st_nlink > 0:  # not removed (as an empty leftover) between mkdir and the lock
            break
        os.close(fd)
    try:
        _write(fd, MARKER, MARKER_TEXT.encode(), _FILE_MODE)
    except BaseException:
        os.close(fd)
        _remove(parent_fd, [stage])
        raise
    return stage, fd


def _hold(fd: int) -> None:
    """Lock a stage for as long as its render lives (released by the kernel when it dies)."""
    with contextlib.suppress(OSError):  # no flock here (some network filesystems): cleanup skips it
        fcntl.flock(fd, fcntl.LOCK_EX)


def _names(parent_fd: int, name: str, fd: int) -> bool:
    """Whether `name` under the parent is the file or directory open as `fd`."""
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _leftovers(parent_fd: int, name: str) -> list[str]:
    """Names of this output's stages and moved-aside trees, found by listing the parent and
    comparing names (the output's name is never a pattern); and the lock file an earlier
    meshfleet left beside the output, removed (the lock lives elsewhere now)."""
    prefixes = (f".{name}.meshfleet-{_NEW}-", f".{name}.meshfleet-{_OLD}-")
    with os.scandir(parent_fd) as entries:
        found = sorted(e.name for e in entries
                       if any(e.name.startswith(p) and _is_token(e.name[len(p):]) for p in prefixes))
    with contextlib.suppress(OSError):
        legacy = f".{name}.meshfleet-lock"
        st = os.stat(legacy, dir_fd=parent_fd, follow_symlinks=False)
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(legacy, dir_fd=parent_fd)
    return found


def _claim(parent_fd: int, names: Iterable[str]) -> list[tuple[str, int]]:
    """The trees among `names` whose render is gone (we get their lock) and that are ours (marker)
    or empty, each with its locked descriptor: held until the tree is removed."""
    claimed = []
    for n in names:
        try:
            fd = os.open(n, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError:
            continue  # a symbolic link, a file, or gone: not ours to remove
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _ours(fd):
                claimed.append((n, fd))
                continue
        except OSError:
            pass  # its render is alive, or locks are unavailable: leave it
        os.close(fd)
    return claimed


def _remove_claimed(parent_fd: int, claimed: list[tuple[str, int]]) -> None:
    try:
        for n, fd in claimed:
            if _names(parent_fd, n, fd):
                _remove(parent_fd, [n])
    finally:
        for _, fd in claimed:
            os.close(fd)


def _remove(parent_fd: int, names: Iterable[str]) -> None:
    """Remove trees under the parent; never through a symbolic link (fd-based rmtree)."""
    for n in names:
        shutil.rmtree(n, ignore_errors=True, dir_fd=parent_fd)


def _remove_detached(parent_fd: int, claimed: list[tuple[str, int]]) -> None:
    """Remove claimed trees in a detached grandchild, so the command reports and exits without
    waiting; the grandchild inherits their locks. Whatever it has not removed when it dies is a
    leftover the next render removes. Where forking is not safe (other threads), here and now."""
    if not claimed:
        return
    if not hasattr(os, "fork") or threading.active_count() > 1:
        _remove_claimed(parent_fd, claimed)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:
        _remove_claimed(parent_fd, claimed)
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
            _remove_claimed(parent_fd, claimed)
    finally:
        os._exit(0)


# --- durability and the swap ----------------------------------------------------------------------


@functools.cache
def _libc_function(name: str) -> Any | None:
    """A libc function the os module does not offer (syncfs, renameat2), or None where absent."""
    libc_name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(libc_name, use_errno=True), name, None) if libc_name else None


def _sync_tree(fd: int) -> None:
    """Make the staged tree durable with one syncfs of its filesystem (one fsync per file cost
    more than writing the files); where syncfs is missing, sync everything."""
    syncfs = _libc_function("syncfs")
    if syncfs is None or syncfs(fd) != 0:
        os.sync()


@contextlib.contextmanager
def _locked(parent_fd: int) -> Iterator[None]:
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
    uid = os.getuid()
    home = f"meshfleet-{uid}"
    tmp_fd = os.open(tempfile.gettempdir(), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(home, _PRIVATE_DIR_MODE, dir_fd=tmp_fd)
        try:
            home_fd = os.open(home, _DIR_FLAGS, dir_fd=tmp_fd)
        except OSError as e:
            raise UsageError(f"cannot lock the output: {tempfile.gettempdir()}/{home} is not a directory "
                             f"of its own ({e.strerror or e})") from None
    finally:
        os.close(tmp_fd)
    try:
        st = os.fstat(home_fd)
        if st.st_uid != uid or st.st_mode & 0o077:
            raise UsageError(f"cannot lock the output: {tempfile.gettempdir()}/{home} is not private "
                             "(owned by someone else, or open to others); remove it")
        parent = os.fstat(parent_fd)
        try:
            fd = os.open(f"{parent.st_dev:x}-{parent.st_ino:x}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW |
                         os.O_CLOEXEC, _PRIVATE_FILE_MODE, dir_fd=home_fd)
        except OSError as e:
            raise UsageError(f"cannot lock the output in {tempfile.gettempdir()}/{home}: {e.strerror or e}") \
                from None
    finally:
        os.close(home_fd)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


def _renameat2(parent_fd: int, a: str, b: str, flags: int) -> bool:
    """Linux renameat2 within one directory; False where the system cannot (then nothing moved)."""
    fn = _libc_function("renameat2")
    if fn is None:
        return False
    if fn(parent_fd, os.fsencode(a), parent_fd, os.fsencode(b), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), b)


def _exchange(parent_fd: int, a: str, b: str) -> bool:
    """Atomically swap two names (Linux renameat2); False where the system cannot."""
    return _renameat2(parent_fd, a, b, _RENAME_EXCHANGE)


def _swap_in(parent_fd: int, stage: str, name: str, target: Path) -> str | None:
    """Put the stage in place of the output (under the lock); the name now holding the previous
    output, if there was one. The output is checked again here, and what was swapped out is
    checked to be what was checked (else it is swapped back and refused)."""
    try:
        before = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        if not _renameat2(parent_fd, stage, name, _RENAME_NOREPLACE):
            os.rename(stage, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
        return None
    _check_target(parent_fd, name, target)
    if _exchange(parent_fd, stage, name):
        _same_or_undo(parent_fd, stage, before, lambda: _exchange(parent_fd, stage, name), target)
        return stage
    old = _token_name(name, _OLD, stage.rsplit("-", 1)[1])
    os.rename(name, old, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    _same_or_undo(parent_fd, old, before,
                  lambda: os.rename(old, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd), target)
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
        raise UsageError(f"refusing to replace {target}: it was replaced while meshfleet was writing; "
                         "run again")


# --- one file -------------------------------------------------------------------------------------


def replace_file(out: str | Path, text: str) -> None:
    """Write `text` as the file `out`, atomically: a new file beside it (random name, never through a
    symbolic link, locked while written), made durable, then renamed over it. Refuses a symbolic
    link or a directory at `out`; leftovers of killed writes are removed afterwards."""
    target = Path(out)
    name = target.name
    if name in ("", ".", ".."):
        raise UsageError(f"refusing to write to {str(out)!r}: name the file itself")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise UsageError(f"cannot write {target}: cannot use its parent directory {parent}: "
                         f"{e.strerror or e}; nothing was written") from None
    try:
        _replace_file(parent_fd, name, target, text.encode("utf-8"))
    finally:
        os.close(parent_fd)


def _replace_file(parent_fd: int, name: str, target: Path, data: bytes) -> None:
    try:
        st: os.stat_result | None = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise UsageError(f"refusing to write to {target}: it is a symbolic link; give the real file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError(f"refusing to replace {target}: it is not a regular file")
    untouched = "the previous file is untouched" if st is not None else f"{target} was not created"
    temp = _token_name(name, _NEW, os.urandom(_TOKEN_LEN // 2).hex())
    try:
        fd = os.open(temp, _FILE_FLAGS, _FILE_MODE, dir_fd=parent_fd)
    except OSError as e:
        raise UsageError(f"cannot write {target}: {e.strerror or e}; {untouched}") from None
    try:
        try:
            _hold(fd)
            written = 0
            while written < len(data):
                written += os.write(fd, memoryview(data)[written:])
            os.fsync(fd)
            os.rename(temp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=parent_fd)
            raise
    except OSError as e:
        raise UsageError(f"cannot write {target}: {e.strerror or e}; {untouched}") from None
    finally:
        os.close(fd)
    _remove_stale_files(parent_fd, name)


def _remove_stale_files(parent_fd: int, name: str) -> None:
    """Temporary files of killed writes of `name` (regular, unlocked); never a link or a directory."""
    prefix = f".{name}.meshfleet-{_NEW}-"
    with os.scandir(parent_fd) as entries:
        found = sorted(e.name for e in entries if e.name.startswith(prefix) and _is_token(e.name[len(prefix):]))
    for n in found:
        try:
            fd = os.open(n, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=parent_fd)
        except OSError:
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _names(parent_fd, n, fd):
                    os.unlink(n, dir_fd=parent_fd)
        except OSError:
            pass  # being written right now, or gone
        finally:
            os.close(fd)
