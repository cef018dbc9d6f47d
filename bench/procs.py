"""One whole process, timed as a user pays for it: wall clock from start to exit, its CPU time and its
peak resident memory, and the bytes it wrote.

Why: what users wait for is the command, interpreter start-up, imports, parsing and the collector's
pauses included; an in-process timing of one function leaves all of those out. `os.wait4` hands back
the child's own resource usage, so the peak RSS is that one process's, not the bench's.
"""

from __future__ import annotations

import os
import subprocess
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


def run(argv: Sequence[str], *, cwd: Path, stdout: Path | None = None, sync: bool = True) -> Sample:
    """Run `argv` to completion; standard output goes to `stdout` (or nowhere) and is counted.

    `sync` first writes back every dirty page, so that no command pays for the previous one's writes.
    """
    if sync:
        os.sync()
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
