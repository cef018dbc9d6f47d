"""What an access rule's regular expression says in the simpler matchers some meshes have.

Why: the fleet writes paths and header values as regular expressions (SMI's words), matched against
the whole value as Envoy matches them. Istio's authorization policies match exact strings, a prefix
(`/api*`), a suffix (`*.png`) or presence (`*`); Cilium matches header values exactly. A regular
expression that says exactly one of those is translated; any other is refused at its line by the
mesh adapter, never approximated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_SPECIAL = frozenset(".^$*+?{}[]|()")
ANY = ".*"

GlobKind = Literal["any", "exact", "prefix", "suffix"]


@dataclass(frozen=True)
class Glob:
    """A whole-value match: any value, exactly `text`, or values starting or ending with it."""

    kind: GlobKind
    text: str = ""

    def istio(self) -> str:
        """Istio's string match: `*` (presence), `text`, `text*` or `*text`."""
        return {"any": "*", "exact": self.text, "prefix": self.text + "*", "suffix": "*" + self.text}[self.kind]


def literal(pattern: str) -> str | None:
    """The one string `pattern` matches (whole-value), or None when it matches more than one.

    Escaped punctuation (`\\.`) is its character; `^` at the start and `$` at the end anchor what a
    whole-value match anchors anyway.
    """
    body = pattern
    if body.startswith("^"):
        body = body[1:]
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body) or body[i + 1].isalnum() or body[i + 1] == "_":
                return None  # \d, \w, a dangling backslash: a class, not a character
            out.append(body[i + 1])
            i += 2
            continue
        if ch in _SPECIAL:
            return None
        out.append(ch)
        i += 1
    return "".join(out)


def glob(pattern: str) -> Glob | None:
    """`pattern` as a whole-value glob (any, exact, prefix or suffix), or None when it is none of them."""
    body = pattern.removeprefix("^")
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    if body in (ANY, ""):
        return Glob("any") if body == ANY else Glob("exact", "")
    exact = literal(body)
    if exact is not None:
        return Glob("exact", exact)
    if body.endswith(ANY):
        head = literal(body[: -len(ANY)])
        if head is not None and head:
            return Glob("prefix", head)
    if body.startswith(ANY):
        tail = literal(body[len(ANY) :])
        if tail is not None and tail:
            return Glob("suffix", tail)
    return None
