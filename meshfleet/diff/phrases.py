"""Structured phrases: what a change says, as parts (words, names, values) each output formats.

Why: the same sentence is plain in the text output, has its names and values in code spans in
markdown, and is one string in JSON. A phrase keeps which part is which, so no renderer has to
guess (no sentinels in strings).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

PartKind = Literal["text", "name", "value"]


@dataclass(frozen=True)
class Part:
    """One piece of a phrase: plain words, a name (cluster, service, identity...), or a shown value."""

    kind: PartKind
    text: str


Phrase = tuple[Part, ...]


def words(text: str) -> Phrase:
    return (Part("text", text),)


def name(text: str) -> Phrase:
    return (Part("name", text),)


def value(text: str) -> Phrase:
    return (Part("value", text),)


def cat(*pieces: Phrase | str) -> Phrase:
    """Pieces in a row; a bare string is plain words."""
    out: list[Part] = []
    for p in pieces:
        out.extend(words(p) if isinstance(p, str) else p)
    return tuple(out)


def join(phrases: Iterable[Phrase], sep: str) -> Phrase:
    out: list[Part] = []
    for i, p in enumerate(phrases):
        if i:
            out.extend(words(sep))
        out.extend(p)
    return tuple(out)


def names(items: Sequence[str], empty: str = "nowhere") -> Phrase:
    """Names separated by commas, or `empty` in words."""
    return join((name(i) for i in items), ", ") if items else words(empty)


def plain(phrase: Phrase) -> str:
    """The phrase as one string (text output, JSON descriptions)."""
    return "".join(p.text for p in phrase)
