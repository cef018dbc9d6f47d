"""One whole process, timed as a user pays for it: wall clock from start to exit, its CPU time and its
peak resident memory, and the bytes it wrote.

Why: what users wait for is the command, interpreter start-up, imports, parsing and the collector's
pauses included; an in-process timing of one function leaves all of those out. `os.wait4` hands back
the child's own resource usage, so the peak RSS is that one process's, not the bench's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """One run of one command (or of several run one after the other, summed)."""

    wall_s: float
    cpu_s: float
    """User plus system time of the process(es)."""
    rss_kib: int
    """Peak resident set of the process (the largest one's, for several)."""
    out_bytes: int
    """What it wrote to standard output."""

    def __add__(self, other: Sample) -> Sample:
        return Sample(
            self.wall_s + other.wall_s,
            self.cpu_s + other.cpu_s,
            max(self.rss_kib, other.rss_kib),
            self.out_bytes + other.out_bytes,
        )


class CommandFailed(RuntimeError):
    """A measured command exited with an error: the measurement means nothing, so the run stops."""


QUIET_WINDOW_S = 0.25
QUIET_BUSY = 0.05
QUIET_TIMEOUT_S = 60.0
QUIET = f"busy under {100 * QUIET_BUSY:g} % of {QUIET_WINDOW_S:g} s, from /proc/diskstats"


def _busy_ms(device: tuple[int, int]) -> int | None:
    """Milliseconds the block device has spent doing I/O since boot (/proc/diskstats), or None."""
    try:
        with open("/proc/diskstats", encoding="ascii") as f:
            for line in f:
                fields = line.split()
                if (int(fields[0]), int(fields[1])) == device:
                    return int(fields[12])
    except (OSError, ValueError, IndexError):
        return None
    return None


def wait_quiet_disk(path: Path) -> float:
    """Wait, untimed, until the disk under `path` is quiet (`QUIET`); returns the seconds waited.
    A sync returns once the dirty pages are written, but the removal of a large tree goes on in the
    kernel after the last unlink (its journal and discards): after a 100k re-render the disk stayed
    70 to 80 % busy for 8 s, and `plan` at 100k took 3.07 s of CPU there against 2.04 s on a quiet
    disk. Where /proc/diskstats does not know the disk, nothing is waited."""
    st = os.stat(path)
    device = (os.major(st.st_dev), os.minor(st.st_dev))
    start = time.monotonic()
    before = _busy_ms(device)
    if before is None:
        return 0.0
    while time.monotonic() - start < QUIET_TIMEOUT_S:
        time.sleep(QUIET_WINDOW_S)
        now = _busy_ms(device)
        if now is None or now - before <= QUIET_BUSY * QUIET_WINDOW_S * 1000:
            break
        before = now
    return time.monotonic() - start


def run(argv: Sequence[str], *, cwd: Path, stdout: Path | None = None, sync: bool = True) -> Sample:
    """Run `argv` to completion; standard output goes to `stdout` (or nowhere) and is counted.

    `sync` first writes back every dirty page and waits for a quiet disk, so that no command pays
    for the previous one's writes.
    """
    if sync:
        os.sync()
        if wait_quiet_disk(cwd) >= QUIET_TIMEOUT_S:
            print(f"bench: the disk was still busy after {QUIET_TIMEOUT_S:.0f} s; measuring anyway", file=sys.stderr)
    target = stdout if stdout is not None else Path(os.devnull)
    with open(target, "wb") as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            detail = err.read().decode("utf-8", "replace").strip()[-2000:]
            raise CommandFailed(f"{' '.join(argv)} exited with {proc.returncode}:\n{detail}")
        written = out.tell() if stdout is not None else 0
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, written)


def run_all(commands: Sequence[Sequence[str]], *, cwd: Path, stdout: Path | None = None) -> Sample:
    """Several commands one after the other (e.g. one `kubectl kustomize` per cluster), summed;
    one sync before the first only, as a user running them in a loop would get."""
    total = Sample(0.0, 0.0, 0, 0)
    for i, argv in enumerate(commands):
        total = total + run(argv, cwd=cwd, stdout=stdout, sync=i == 0)
    return total
