"""YAML 1.2 core-schema scalars: what a plain or tagged scalar reads as, and which characters a value may not hold.

Why: PyYAML resolves scalars by YAML 1.1 (`yes` is true, `0777` octal); a fleet file is YAML 1.2,
so the reader resolves every scalar here instead, with strict tags and 64-bit integers, and turns
a value that does not read as what it says into a message naming the fix.
"""

from __future__ import annotations

import math
import re
from typing import Any

from meshfleet import codes
from meshfleet.errors import Code

MAX_INT_BITS = 64
"""Integers must fit in 64 bits, as they must in Kubernetes and FSM."""

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
PLAIN_TAG = "?"
"""Tag the composer gives an untagged plain scalar: resolved here by the YAML 1.2 core schema."""
NONSPECIFIC_TAG = "!"
"""Tag the composer gives a quoted or block scalar and an untagged collection."""

_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_INF = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf}
_NAN = frozenset({".nan", ".NaN", ".NAN"})
_INT_FORMS = (
    (re.compile(r"[-+]?0x[0-9a-fA-F_]+"), 16, 2),
    (re.compile(r"[-+]?0o[0-7_]+"), 8, 2),
    (re.compile(r"[-+]?0b[01_]+"), 2, 2),
    (re.compile(r"[-+]?[0-9][0-9_]*"), 10, 0),
)
_FLOAT_FORM = re.compile(
    r"[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?)"
)
_NUMERIC_START = frozenset("0123456789+-.")
RESOLVED_START = frozenset("0123456789+-.tTfFnN~")
"""First characters of plain scalars that may be something other than a string (an empty one is null)."""
_MAX_DIGITS = {10: 19, 16: 16, 8: 22, 2: 64}
TAG_NAMES = {
    _STR: "!!str",
    _INT: "!!int",
    _FLOAT: "!!float",
    _BOOL: "!!bool",
    _NULL: "!!null",
    MAP_TAG: "!!map",
    SEQ_TAG: "!!seq",
}


def char_kind(ch: str) -> str:
    """What a refused character is called in a message, so that the user knows what to look for."""
    if ch in _BIDI:
        return "bidirectional-text control character"
    if ch in "\u2028\u2029":
        return "line or paragraph separator"
    return "control character"


def kind_of(v: object) -> str:
    for t, name in (
        (bool, "boolean"),
        (dict, "mapping"),
        (list, "list"),
        (tuple, "list"),
        (str, "string"),
        (int, "number"),
        (float, "number"),
    ):
        if isinstance(v, t):
            return name
    return "null" if v is None else type(v).__name__


class Malformed(Exception):
    """A scalar that does not read as what it says (code `malformed-value` unless another is given)."""

    def __init__(self, message: str, hint: str, code: Code = codes.MALFORMED_VALUE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def short_repr(text: str) -> str:
    """A value quoted for a message, cut short when long: a finding never repeats a huge value."""
    return repr(text) if len(text) <= 40 else repr(text[:30]) + f"... ({len(text):,} characters)"


def _integer(text: str, base: int, skip: int, tagged: bool) -> int:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")[skip:].replace("_", "")
    if not body:
        raise Malformed(f"{short_repr(text)} is not a number", "write the number's digits")
    digits = body.lstrip("0")
    # Never convert more digits than a 64-bit number has: Python refuses decimal numbers of over
    # 4,300 digits with an exception, and a huge hexadecimal one would cost memory for nothing.
    value = sign * int(digits, base) if 0 < len(digits) <= _MAX_DIGITS[base] else 0
    if len(digits) > _MAX_DIGITS[base] or not -(2 ** (MAX_INT_BITS - 1)) <= value < 2 ** (MAX_INT_BITS - 1):
        raise Malformed(
            f"the number {short_repr(text)} does not fit in {MAX_INT_BITS} bits",
            "use a smaller number" + ("" if tagged else ", or quote it if it is text"),
        )
    return value


def plain_scalar(text: str) -> Any:
    """YAML 1.2 core schema, as ruamel.yaml resolves it (with `_` digit separators): null, bool,
    int (decimal, 0x, 0o, 0b), float; everything else is a string (dates too)."""
    first = text[:1]
    if not first or text in _NULLS:
        return None
    if first in _NUMERIC_START:
        for form, base, skip in _INT_FORMS:
            if form.fullmatch(text):
                return _integer(text, base, skip, tagged=False)
        if _FLOAT_FORM.fullmatch(text):
            return float(text.replace("_", ""))
        body = text.lstrip("+-")
        if body in _INF:
            return -math.inf if text.startswith("-") else math.inf
        if text in _NAN:
            return math.nan
        return text
    if first in "tTfF":
        return _BOOLS.get(text, text)
    return text


def tagged_scalar(tag: str, text: str) -> Any:
    """A scalar with an explicit tag: the tag decides the type, and the text must be of that type."""
    if tag == _STR:
        return text
    if tag == _BOOL:
        if text in _BOOLS:
            return _BOOLS[text]
        raise Malformed(f"{short_repr(text)} is tagged !!bool but is not true or false", "write true or false")
    if tag == _NULL:
        if text in _NULLS:
            return None
        raise Malformed(f"{short_repr(text)} is tagged !!null but is not null", "write null, or remove the tag")
    if tag == _INT:
        for form, base, skip in _INT_FORMS:
            if form.fullmatch(text):
                return _integer(text, base, skip, tagged=True)
        what = "an empty value" if not text else short_repr(text)
        raise Malformed(f"{what} is tagged !!int but is not a whole number", "write the number's digits, e.g. 80")
    if tag == _FLOAT:
        value = plain_scalar(text) if text else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        what = "an empty value" if not text else short_repr(text)
        raise Malformed(f"{what} is tagged !!float but is not a number", "write a number, e.g. 1.5")
    if tag in (MAP_TAG, SEQ_TAG):
        raise Malformed(
            f"{short_repr(text)} is tagged {TAG_NAMES[tag]} but is not a {'mapping' if tag == MAP_TAG else 'list'}",
            "remove the tag",
        )
    raise Malformed(
        f"the tag {tag_name(tag)} is not supported here",
        "remove the tag: meshfleet reads plain YAML values (strings, numbers, true/false, lists and mappings)",
        codes.UNSUPPORTED_TAG,
    )


def tag_name(tag: str) -> str:
    """A tag as the user wrote it (`!!int`, `!custom`), quoted and cut short, for a message."""
    short = tag.replace("tag:yaml.org,2002:", "!!")
    return repr(short) if len(short) <= 40 else repr(short[:37] + "...")


def odd_character(text: str, allowed: str = "") -> tuple[int, str] | None:
    """The first character of a value that must not reach an object, a file name or a terminal:
    control characters (a line break included, unless `allowed`), bidirectional overrides, invisible
    formatting."""
    for i, ch in enumerate(text):
        if not ch.isprintable() and ch not in allowed:
            return i, ch
    return None
