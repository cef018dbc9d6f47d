"""One writer for every output directory: staged beside the target, made durable, swapped in at once.

Why: a failed or interrupted run must leave the previous output whole, and a directory meshfleet did
not write must never be replaced. Everything that writes a tree (render, the GitOps hand-off) hands
this module plain (relative path, text) pairs.

How, and what it never does:

- The tree is staged in `.<name>.meshfleet-new-<16 hex>` beside the output (same filesystem, so the
  swap is one rename; `staging`), written with directory-relative calls from descriptors opened
  with `O_NOFOLLOW`, files created with `O_EXCL`: nothing under the output's parent is reached
  through a symbolic link, and the output's name is never used as a pattern.
- One `syncfs` makes the stage durable, then it takes the output's place at once (`swap`). The
  previous tree is removed after the swap; a command can leave that to a detached process.
- Leftovers of killed renders are removed after a successful one, only when provably this output's
  and dead (`staging`); a moved-aside tree is never taken back as the output.
- Files get the usual modes (0666 and 0777 less the umask); files named `private` (kubeconfigs)
  get 0600 and every directory above them 0700.
- A large tree can be written by several processes (`shares`, whole directories each); the first
  failure fails the render, and a worker dies with the render that forked it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import marshal
import os
import signal
import stat
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

from meshfleet.errors import UsageError
from meshfleet.sinks import staging, swap
from meshfleet.sinks.staging import MARKER, MARKER_TEXT

__all__ = ["MARKER", "MARKER_TEXT", "FileSource", "Files", "replace_dir", "replace_file"]

_PR_SET_PDEATHSIG = 1


Files = Iterable[tuple[str, str]]
FileSource = Callable[[], Files]
"""Makes a share of the files (called in the worker that writes them)."""


def replace_dir(
    out: str | Path,
    files: Files,
    *,
    private: Collection[str] = (),
    detach_cleanup: bool = False,
    shares: Sequence[FileSource] = (),
) -> None:
    """Write `files` (relative POSIX path -> text) as the whole of `out`, atomically.

    `private` names the files that hold secrets (0600, in 0700 directories). With
    `detach_cleanup`, the previous tree is removed by a detached process after the swap, so the
    caller does not wait for it (for a command that exits next; tests and library use remove it
    before returning). `shares` are more files, in directories of their own, each written by a
    forked worker while this process writes `files` (in turn, here, where forking is not safe).
    """
    target, parent_fd = _open_parent(out, f"name the output directory itself, e.g. {out}/rendered")
    name = target.name
    try:
        _Render(parent_fd, name, target, private).run(files, shares, detach_cleanup)
    finally:
        os.close(parent_fd)


def _open_parent(out: str | Path, name_it: str) -> tuple[Path, int]:
    """`out` as a path and a descriptor of its parent (made if missing): every later step works
    relative to it, so a parent swapped for a link meanwhile is never followed."""
    target = Path(out)
    if target.name in ("", ".", ".."):
        raise UsageError(f"refusing to write to {str(out)!r}: {name_it}")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return target, os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise UsageError(
            f"cannot write {target}: cannot use its parent directory {parent}: {e.strerror or e}; nothing was written"
        ) from None


class _Render:
    """One replacement of one output directory, every path relative to its parent's descriptor."""

    def __init__(self, parent_fd: int, name: str, target: Path, private: Collection[str]) -> None:
        self.parent_fd = parent_fd
        self.name = name
        self.target = target
        self.private_files = frozenset(private)
        self.private_dirs = frozenset(
            rel.rsplit("/", n)[0] for rel in self.private_files for n in range(1, rel.count("/") + 1)
        )
        """Every directory above a private file, below the output (the output itself keeps its mode)."""
        self.existed = False

    def untouched(self) -> str:
        return "the previous output is untouched" if self.existed else f"{self.target} was not created"

    def run(self, files: Files, shares: Sequence[FileSource], detach_cleanup: bool) -> None:
        self.existed = staging.check_target(self.parent_fd, self.name, self.target)
        try:
            stage_name, stage_fd = staging.make_stage(self.parent_fd, self.name)
        except OSError as e:
            raise UsageError(f"cannot write {self.target}: {e.strerror or e}; {self.untouched()}") from None
        try:
            try:
                self._write_shared(stage_fd, files, shares)
                swap.sync_tree(stage_fd)  # everything staged is on disk before it replaces the old output
                with swap.locked(self.parent_fd):
                    old = swap.swap_in(self.parent_fd, stage_name, self.name, self.target)
            except BaseException:
                if staging.is_at(self.parent_fd, stage_name, stage_fd):  # still our stage: nothing was swapped
                    staging.remove(self.parent_fd, [stage_name])
                raise
        except OSError as e:
            where = (
                e.filename
                if isinstance(e.filename, str) and e.filename.startswith(str(self.target))
                else str(self.target)
            )
            raise UsageError(f"cannot write {where}: {e.strerror or e}; {self.untouched()}") from None
        finally:
            os.close(stage_fd)
        garbage: list[tuple[str, int]] = []
        try:  # the new output is in place; what is left is removed next time
            garbage = staging.claim(self.parent_fd, [old] if old else [], swapped_out=True)
            leftovers = staging.leftovers(self.parent_fd, self.name)
            garbage += staging.claim(self.parent_fd, [n for n in leftovers if n != old])
            handed, garbage = garbage, []  # the removers close every descriptor they are given, come what may
            if detach_cleanup:
                staging.remove_detached(self.parent_fd, handed)
            else:
                staging.remove_claimed(self.parent_fd, handed)
        except OSError:
            pass
        finally:
            for _, fd in garbage:  # claimed but never handed over: its lock goes with the descriptor
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _write_shared(self, stage_fd: int, files: Files, shares: Sequence[FileSource]) -> None:
        """Write `files` here and each share in a forked worker meanwhile; wait for all of them."""
        workers: list[tuple[int, int]] = []
        try:
            for share in shares:
                worker = self._fork_worker(stage_fd, share) if staging.can_fork() else None
                if worker is None:
                    self._write_all(stage_fd, share())
                else:
                    workers.append(worker)
            self._write_all(stage_fd, files)
            while workers:
                _join(*workers.pop())
        except BaseException:
            for pid, _ in workers:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            for pid, report in workers:
                with contextlib.suppress(BaseException):
                    _join(pid, report)
            raise

    def _fork_worker(self, stage_fd: int, share: FileSource) -> tuple[int, int] | None:
        """Fork a worker writing one share; its pid and the pipe it reports a failure through."""
        sys.stdout.flush()
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
        if pid:
            os.close(write_end)
            return pid, read_end
        code = 1
        try:
            os.close(read_end)
            _die_with(parent)
            self._write_all(stage_fd, share())
            code = 0
        except OSError as e:
            os.write(write_end, marshal.dumps(("OSError", e.errno, e.strerror, e.filename)))
        except BaseException as e:
            os.write(write_end, marshal.dumps((type(e).__name__, 0, str(e), None)))
        finally:
            os._exit(code)

    def _write_all(self, stage_fd: int, files: Files) -> None:
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
                mode = staging.PRIVATE_FILE_MODE if rel in self.private_files else staging.FILE_MODE
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
                    mode = staging.PRIVATE_DIR_MODE if sub in self.private_dirs else staging.DIR_MODE
                    try:
                        os.mkdir(part, mode, dir_fd=fd)
                    except FileExistsError:
                        pass  # made by another worker (the stage is ours alone); opened without following
                    except OSError as e:
                        raise OSError(e.errno, e.strerror, str(self.target / sub)) from None
                    made.add(sub)
                inner = os.open(part, staging.DIR_FLAGS, dir_fd=fd)
                if fd != stage_fd:
                    os.close(fd)
                fd = inner
        except BaseException:
            if fd != stage_fd:
                os.close(fd)
            raise
        return fd


def _die_with(parent: int) -> None:
    """A worker ends when the process that forked it ends (Linux), so a killed render stops writing."""
    prctl = swap.libc_function("prctl")
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _join(pid: int, report: int) -> None:
    """Wait for a worker; raise what it failed with."""
    chunks = []
    try:
        while chunk := os.read(report, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(report)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return
    if not chunks:
        code = os.waitstatus_to_exitcode(status)
        how = f"by signal {-code}" if code < 0 else f"with {code}"
        raise OSError(errno.ECHILD, f"a process writing the output ended {how}")
    kind, number, message, filename = marshal.loads(b"".join(chunks))
    if kind == "OSError":
        raise OSError(number, message, filename)
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt
    raise RuntimeError(f"{kind}: {message}")


def _write(dir_fd: int, name: str, data: bytes, mode: int) -> None:
    """One new file of the output (the marker aside): the one place a file's bytes are written."""
    staging.write_new(dir_fd, name, data, mode)


# --- one file -------------------------------------------------------------------------------------


def replace_file(out: str | Path, text: str) -> None:
    """Write `text` as the file `out`, atomically: a new file beside it (random name, never through a
    symbolic link, locked while written), made durable, then renamed over it. Refuses a symbolic
    link or a directory at `out`; leftovers of killed writes are removed afterwards."""
    target, parent_fd = _open_parent(out, "name the file itself")
    name = target.name
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
    temp = staging.token_name(name, staging.NEW, os.urandom(staging.TOKEN_LEN // 2).hex())
    try:
        fd = os.open(temp, staging.FILE_FLAGS, staging.FILE_MODE, dir_fd=parent_fd)
    except OSError as e:
        raise UsageError(f"cannot write {target}: {e.strerror or e}; {untouched}") from None
    try:
        try:
            staging.hold(fd)
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
    prefix = f".{name}.meshfleet-{staging.NEW}-"
    with os.scandir(parent_fd) as entries:
        found = sorted(e.name for e in entries if e.name.startswith(prefix) and staging.is_token(e.name[len(prefix) :]))
    for n in found:
        try:
            fd = os.open(n, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=parent_fd)
        except OSError:
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if staging.is_at(parent_fd, n, fd):
                    os.unlink(n, dir_fd=parent_fd)
        except OSError:
            pass  # being written right now, or gone
        finally:
            os.close(fd)
