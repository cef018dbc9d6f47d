"""The three kinds of failure meshfleet knows.

Why: a user's mistake and a bug in meshfleet must never look alike. A user's mistake is a list of
`Finding`s (where, what, what to do), raised together as one `FleetError` so that every problem of a
fleet file is reported in one run. Anything else that escapes is a bug and is reported as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Loc = tuple[str | int, ...]
"""A key path into the fleet document, e.g. ("services", "httpbin/httpbin", "export", "path")."""


def format_loc(loc: Loc) -> str:
    """Render a key path the way users write it: `services.httpbin/httpbin.export.clusters[0]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            shown = part if part.isprintable() and part.isascii() else repr(part)
            out += ("." if out else "") + shown
    if len(out) > 160:
        out = "..." + out[-157:]
    return out or "(document)"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in a fleet file, with the key path it belongs to and a hint what to do."""

    loc: Loc
    message: str
    hint: str = ""


@dataclass(frozen=True)
class Position:
    """Where a finding sits in the file: 1-based line and column."""

    file: str
    line: int
    column: int


@dataclass(frozen=True)
class LocatedFinding:
    finding: Finding
    position: Position

    def render(self) -> str:
        p, f = self.position, self.finding
        text = f"{p.file}:{p.line}:{p.column}: {format_loc(f.loc)}: {f.message}"
        if f.hint:
            text += f"\n    fix: {f.hint}"
        return text


MAX_SHOWN = 100
"""Problems printed for one fleet file; a file with thousands of mistakes prints the first ones and a count."""


class FleetError(Exception):
    """The user's fleet file is wrong; carries every problem found, each with its position."""

    def __init__(self, problems: Sequence[LocatedFinding]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.position.line, p.position.column, p.finding)))
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        head = f"{count:,} problem{'s' if count != 1 else ''} in the fleet:"
        lines = [head, *(p.render() for p in self.problems[:MAX_SHOWN])]
        if count > MAX_SHOWN:
            lines.append(f"... and {count - MAX_SHOWN:,} more, not shown: fix the first {MAX_SHOWN} (several may "
                         "share one cause) and run again")
        return "\n".join(lines)


class UsageError(Exception):
    """A command was called wrongly (a missing file, a refused output directory...)."""


class FindingsError(Exception):
    """Raised by the pure core with findings that the loader then places in the file."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("; ".join(f"{format_loc(f.loc)}: {f.message}" for f in self.findings))
