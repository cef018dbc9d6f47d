"""The kinds of failure meshfleet knows, and findings with a code and a severity.

Why: a user's mistake and a bug in meshfleet must never look alike. What is wrong with a fleet file
is a list of `Finding`s (where, what, what to do), each with a stable `Code`: an error refuses the
fleet, a warning says what the mesh will do instead of what the file reads as. Errors are raised
together as one `FleetError` so that every problem of a fleet file is reported in one run. Anything
else that escapes is a bug and is reported as one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Loc = tuple[str | int, ...]
"""A key path into the fleet document, e.g. ("services", "httpbin/httpbin", "export", "path")."""

Severity = Literal["error", "warning"]
_KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


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


@dataclass(frozen=True)
class Code:
    """A finding's stable name (kebab-case, listed in the README) and whether it refuses the fleet."""

    name: str
    severity: Severity
    summary: str

    def __post_init__(self) -> None:
        if not _KEBAB.match(self.name):
            raise ValueError(f"finding code {self.name!r} is not kebab-case")


@dataclass(frozen=True)
class Position:
    """Where a finding sits in the file: 1-based line and column."""

    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a fleet file: its key path, what happens, the fix, and its code.

    The pure core finds it without a position; the loader places it in the file.
    """

    loc: Loc
    message: str
    hint: str = ""
    code: Code = field(kw_only=True)
    position: Position | None = field(default=None, kw_only=True)
    acknowledged: bool = field(default=False, kw_only=True)
    """A warning the fleet file acknowledges where it means it (`acknowledge: [code]`)."""

    @property
    def severity(self) -> Severity:
        return self.code.severity

    @property
    def blocking(self) -> bool:
        """Refuses the fleet: an error, or under --strict a warning the fleet does not acknowledge."""
        return self.severity == "error" or not self.acknowledged

    def sort_key(self) -> tuple[str, int, int, str, str, str, str]:
        """File, line and column: a fleet's findings grouped by file (its manifests have their own)."""
        p = self.position
        file, line, column = (p.file, p.line, p.column) if p else ("", 0, 0)
        return (file, line, column, format_loc(self.loc), self.message, self.hint, self.code.name)

    def render(self) -> str:
        p = self.position
        where = f"{p.file}:{p.line}:{p.column}: " if p is not None else ""
        label = f"{self.severity}[{self.code.name}]"
        if self.acknowledged:
            return f"{where}{label}, acknowledged: {format_loc(self.loc)}"
        text = f"{where}{label}: {format_loc(self.loc)}: {self.message}"
        if self.hint:
            text += f"\n    fix: {self.hint}"
        return text

    def as_json(self) -> dict[str, Any]:
        p = self.position
        return {
            "code": self.code.name,
            "severity": self.severity,
            "acknowledged": self.acknowledged,
            "file": p.file if p else None,
            "line": p.line if p else None,
            "column": p.column if p else None,
            "key": format_loc(self.loc),
            "message": self.message,
            "fix": self.hint,
        }


MAX_SHOWN = 100
"""Findings printed for one fleet file; a file with thousands of mistakes prints the first ones and a count."""


def count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def shortlist(names: Sequence[str], shown: int = 5) -> str:
    """`names` for a message whatever the fleet's size: the first `shown`, then how many more."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more:,} more" if more > 0 else "")


_DIGIT_RUN = re.compile(r"([0-9]+)")


def natural_key(name: str) -> tuple[tuple[tuple[str, int, str], ...], str]:
    """Sort key for names in a message: digit runs compare as numbers (`c2` before `c10`), then the name
    itself, so that names equal as numbers (`c01`, `c1`) still have one order."""
    parts = [*_DIGIT_RUN.split(name), ""]  # text, digits, text, digits, ..., text, "": digits at odd places
    chunks = []
    for text, digits in zip(parts[0::2], parts[1::2], strict=True):
        value = digits.lstrip("0")  # compared by length, then digit by digit: no int() of a long run
        chunks.append((text, len(value) if digits else -1, value))
    return tuple(chunks), name


def render_findings(findings: Sequence[Finding]) -> str:
    """Errors first in the head count ("2 problems in the fleet"), then the findings in file order."""
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    acknowledged = sum(1 for f in findings if f.acknowledged)
    head = count(errors, "problem") if errors else ""
    if warnings:
        ack = f" ({acknowledged:,} acknowledged)" if acknowledged else ""
        head += (" and " if head else "") + count(warnings, "warning") + ack
    ordered = sorted(findings, key=Finding.sort_key)
    lines = [f"{head} in the fleet:", *(f.render() for f in ordered[:MAX_SHOWN])]
    if len(ordered) > MAX_SHOWN:
        lines.append(
            f"... and {len(ordered) - MAX_SHOWN:,} more, not shown: fix the first {MAX_SHOWN} (several may "
            "share one cause) and run again"
        )
    return "\n".join(lines)


class FleetError(Exception):
    """The user's fleet file is wrong; carries every finding, each with its position."""

    def __init__(self, problems: Sequence[Finding]) -> None:
        self.problems = tuple(sorted(problems, key=Finding.sort_key))
        super().__init__(self.render())

    def render(self) -> str:
        return render_findings(self.problems)


class UsageError(Exception):
    """A command was called wrongly (a refused output directory, an unknown revision...): exit 2."""


class InputError(Exception):
    """An input besides the fleet file cannot be used (a kubeconfig, a --kubeconfigs-file): exit 1."""


class FindingsError(Exception):
    """Raised by the pure core with its findings (errors, and the warnings found beside them)."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("; ".join(f"{format_loc(f.loc)}: {f.message}" for f in self.findings))
