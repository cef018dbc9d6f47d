"""What every `meshfleet` command shares: the invocation, reading and planning a fleet, its warnings, JSON output.

Why: each command reads a fleet (a path or standard input) with progress, refuses it under --strict
for open warnings, and writes JSON the same way; saying that once keeps the commands' behaviour alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from meshfleet import __version__
from meshfleet.cli import terminal
from meshfleet.cli.parser import STDIN, did_you_mean
from meshfleet.errors import FleetError, UsageError

if TYPE_CHECKING:
    from meshfleet.core.plan import Plan
    from meshfleet.fleet.document import Document

T = TypeVar("T")

STDIN_NAME = "<stdin>"
"""How a fleet read from standard input is named in findings and outputs."""


@dataclasses.dataclass
class Run:
    """One invocation: its arguments, the styles of both streams and the progress line."""

    args: argparse.Namespace
    out: terminal.Style
    err: terminal.Style
    progress: terminal.Progress

    @property
    def quiet(self) -> bool:
        return bool(self.args.quiet)


_KEPT: list[object] = []


def keep_until_exit(value: T) -> T:
    """`value`, held until the process exits: what a command builds and uses to its end (a plan, the
    routes' view). Released when the command returns, its millions of small objects at 100k were
    freed one by one, a tenth of a whole `plan` run (0.35 s of 3.7 s). The interpreter's exit does not
    free objects the collector froze (`load` freezes the plan), and those are nearly all of them. A
    later command in the same process (the tests) releases what the previous one kept
    (`release_kept`)."""
    _KEPT.append(value)
    return value


def release_kept() -> None:
    from meshfleet.core.objects import release_shared

    _KEPT.clear()
    release_shared()


def display_name(path: str) -> str:
    return STDIN_NAME if path == STDIN else path


def _read_stdin() -> Document:
    """The fleet on standard input, with the reader's own bound: a pipe is read up to the limit and no further."""
    from meshfleet.fleet.document import MAX_BYTES, parse, parse_bytes

    if os.path.exists("/dev/stdin"):
        return parse("/dev/stdin", display=STDIN_NAME)
    return parse_bytes(sys.stdin.buffer.read(MAX_BYTES + 1), STDIN_NAME)  # systems without /dev/stdin


def load(run: Run, path: str) -> Plan:
    """Read, check and plan one fleet (a path, or - for standard input), showing progress."""
    from meshfleet.fleet.load import parse, plan_document

    name = display_name(path)
    run.progress.step(f"reading {name}")
    doc = _read_stdin() if path == STDIN else parse(path)
    run.progress.step(f"checking and planning {name}")
    # The plan (and what it was read from) lives until the command exits, and holds millions of
    # small objects without cycles at 100k objects: frozen, the cyclic collector never rescans
    # them while the command goes on to allocate its views and text (a third of `routes` went
    # to those rescans). Objects still go when their last reference does.
    gc.disable()
    try:
        return keep_until_exit(plan_document(doc))
    finally:
        gc.freeze()
        gc.enable()


def object_counts(plan: Plan) -> tuple[int, int]:
    """The plan's applied and predicted objects, as `validate` and the plan summary report them."""
    return sum(len(c.applied()) for c in plan.clusters), sum(len(c.derived()) for c in plan.clusters)


def plural(n: int, word: str) -> str:
    """`1 cluster`, `3 clusters`: a count and its word, as every command's messages say it."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def write_json(data: Any, stream: TextIO | None = None) -> None:
    """JSON as the outputs give it: indented, one trailing newline; streamed, for very large plans."""
    from meshfleet.sinks.json_stream import write_json as stream_json

    stream_json(data, (stream or sys.stdout).write)


def versioned(data: dict[str, Any]) -> dict[str, Any]:
    """A JSON output with meshfleet's version first, so that a reader knows what wrote it."""
    return {"meshfleetVersion": __version__, **data}


def report(run: Run, error: FleetError) -> None:
    """A fleet's problems on standard error, each at its file:line:column with its fix."""
    run.progress.clear()
    print(terminal.paint_problems(error.render(), run.err), file=sys.stderr)


def open_warnings(plan: Plan) -> int:
    return sum(1 for w in plan.warnings if not w.acknowledged)


def refused(run: Run, plan: Plan, *, show: bool = True) -> bool:
    """Print the plan's warnings on standard error; True when --strict refuses the fleet for them."""
    from meshfleet.errors import render_findings

    shown = [w for w in plan.warnings if not (run.quiet and w.acknowledged)]  # -q: the decided ones are known
    if shown and show:
        run.progress.clear()
        print(terminal.paint_problems(render_findings(shown), run.err), file=sys.stderr)
    unacknowledged = open_warnings(plan)
    if run.args.strict and unacknowledged:
        if show:
            many = unacknowledged > 1
            print(
                f"meshfleet: --strict: {unacknowledged} warning{'s' if many else ''} not acknowledged; fix "
                f"{'them' if many else 'it'}, or acknowledge the code where the fleet means it "
                "(acknowledge: [code])",
                file=sys.stderr,
            )
        return True
    return False


def select_clusters(plan: Plan, wanted: list[str] | None, source: str) -> Plan:
    """The plan narrowed to the clusters named with --cluster (in the fleet's order)."""
    if not wanted:
        return plan
    names = [c.name for c in plan.clusters]
    for name in wanted:
        if name not in names:
            listed = f" (it has {', '.join(names)})" if len(names) <= 12 else ""
            raise UsageError(f"--cluster {name}: no such cluster in {source}{did_you_mean(name, names)}{listed}")
    return dataclasses.replace(plan, clusters=tuple(c for c in plan.clusters if c.name in wanted))
