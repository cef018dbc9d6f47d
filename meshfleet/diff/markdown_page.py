"""Markdown for the diff's pull-request comment: escaped text and code spans, and a page under a byte budget.

Why: every section of the comment is added block by block while it fits (GitHub refuses a comment over
65,536 characters), and whatever is left out is counted for the closing note; names and values the user
wrote must never start markup or split a table cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from meshfleet.diff.phrases import Phrase

NAMES_SHOWN = 5
_TAIL_ROOM = 1_200
"""Kept free for the closing note on what is left out."""


def code_span(s: str) -> str:
    """A name or value as an inline code span that neither ends early at a backtick nor splits a table cell."""
    s = s.replace("\n", " ").replace("|", "\\|")
    fence = "``" if "`" in s else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def md_text(s: str) -> str:
    """Plain text in a table cell or list item: nothing that starts markup or splits a cell."""
    s = s.replace("\n", " ").replace(" -> ", " → ").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", s)


def md_phrase(phrase: Phrase) -> str:
    """Names and values in code spans, the words around them escaped."""
    return "".join(md_text(p.text) if p.kind == "text" else code_span(p.text) for p in phrase)


def byte_size(lines: Sequence[str]) -> int:
    """What lines take of the page's budget: UTF-8 bytes, a newline each."""
    return sum(len(line.encode()) + 1 for line in lines)


def in_clusters(consumers: Sequence[str]) -> str:
    """`cluster-2`, or `99 clusters (c001, c002, ... and 94 more)`."""
    if len(consumers) <= 3:
        return ", ".join(code_span(c) for c in consumers)
    shown = ", ".join(code_span(c) for c in consumers[:NAMES_SHOWN])
    more = f" and {len(consumers) - NAMES_SHOWN} more" if len(consumers) > NAMES_SHOWN else ""
    return f"{len(consumers)} clusters ({shown}{more})"


@dataclass
class Page:
    """Lines under a budget; what is left out is counted by kind for the closing note."""

    budget: int
    lines: list[str] = field(default_factory=list)
    used: int = 0
    left_out: dict[str, int] = field(default_factory=dict)

    def room(self) -> int:
        return self.budget - _TAIL_ROOM - self.used

    def add(self, block: Sequence[str], force: bool = False) -> bool:
        size = byte_size(block)
        if not force and size > self.room():
            return False
        self.lines.extend(block)
        self.used += size
        return True

    def skip(self, what: str, n: int = 1) -> None:
        if n:
            self.left_out[what] = self.left_out.get(what, 0) + n

    def section(self, head: Sequence[str], blocks: Iterable[tuple[str, Callable[[], list[str]]]]) -> None:
        """A heading and its blocks, each added while it fits (the heading only with its first block);
        every block that does not fit is counted under its name."""
        started = False
        for what, build in blocks:
            if self.room() < _MIN_BLOCK:  # full: count what is left without building it
                self.skip(what)
                continue
            block = build()
            if not started:
                if self.add([*head, *block]):
                    started = True
                    continue
            elif self.add(block):
                continue
            self.skip(what)
        if started and self.lines[-1] != "":
            self.add([""], force=True)


_MIN_BLOCK = 80
