"""Read a fleet file's YAML: plain data plus the position of every key and value.

Why: every problem must be reported as `file:line:col`, all problems at once, and never as a
traceback. ruamel's round-trip loader keeps positions; this module bounds what a file may cost
(size, nesting, alias expansion) and turns YAML syntax errors into located findings.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from meshfleet import codes
from meshfleet.errors import Code, Finding, FleetError, Loc, Position

MAX_BYTES = 4 * 1024 * 1024
"""A fleet of hundreds of clusters is well under a megabyte; anything far larger is not a fleet."""
MAX_NODES = 500_000
"""Bound on values after alias expansion (an alias bomb expands to billions)."""
MAX_DEPTH = 64
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Document:
    """A parsed fleet file: plain data plus the position of every key and value."""

    file: str
    data: Any
    keys: dict[Loc, tuple[int, int]]
    values: dict[Loc, tuple[int, int]]

    def position(self, loc: Loc, *, prefer_key: bool = False) -> Position:
        """Best position for a key path: the value (or key), else the nearest enclosing one."""
        probe = loc
        while True:
            table = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for t in table:
                if probe in t:
                    line, col = t[probe]
                    return Position(self.file, line + 1, col + 1)
            if not probe:
                return Position(self.file, 1, 1)
            probe = probe[:-1]


class _Refused(Exception):
    def __init__(self, loc: Loc, message: str, hint: str, code: Code) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.hint = hint
        self.code = code


def _nesting(text: str) -> int:
    """Deepest flow-collection nesting, cheaply, so a bracket bomb fails before the parser recurses."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _fail(file: str, line: int, col: int, loc: Loc, message: str, hint: str, code: Code) -> FleetError:
    return FleetError([Finding(loc, message, hint, code=code, position=Position(file, line, col))])


def parse(path: str | Path, *, display: str | None = None) -> Document:
    """Parse YAML with positions; raise FleetError on anything that is not a readable document."""
    p = Path(path)
    file = display or str(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise _fail(file, 1, 1, (), f"the file is {size:,} bytes; a fleet file may be at most {MAX_BYTES:,}",
                        "split the fleet, or check that this is the right file", codes.FILE_TOO_LARGE)
        raw = p.read_bytes()
    except FleetError:
        raise
    except OSError as e:
        raise _fail(file, 1, 1, (), f"cannot read the file: {e.strerror or e}", "check the path",
                    codes.UNREADABLE_FILE) from None
    return parse_bytes(raw, file)


def parse_bytes(raw: bytes, file: str) -> Document:
    if len(raw) > MAX_BYTES:
        raise _fail(file, 1, 1, (), f"the file is {len(raw):,} bytes; a fleet file may be at most {MAX_BYTES:,}",
                    "split the fleet, or check that this is the right file", codes.FILE_TOO_LARGE)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise _fail(file, line, col, (), f"byte 0x{raw[e.start]:02x} is not UTF-8",
                    "save the file as UTF-8", codes.NOT_UTF8) from None
    bad = _CONTROL.search(text)
    if bad is not None:
        i, ch = bad.start(), bad.group()
        line = text.count("\n", 0, i) + 1
        col = i - (text.rfind("\n", 0, i) + 1) + 1
        raise _fail(file, line, col, (), f"control character U+{ord(ch):04X} in the file",
                    "remove it; fleet files are plain text", codes.CONTROL_CHARACTER)
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise _fail(file, 1, 1, (), "the file is empty", "write at least `clusters:` with one member", codes.EMPTY_FILE)

    if _nesting(text) > MAX_DEPTH:
        raise _fail(file, 1, 1, (), f"the document is nested more than {MAX_DEPTH} levels deep",
                    "a fleet file needs a handful of levels; flatten it", codes.TOO_DEEP)

    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        root = yaml.load(text)
    except DuplicateKeyError as e:
        mark = e.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        found = re.search(r'duplicate key "([^"]*)"', str(e.problem))
        what = repr(found.group(1)) if found else "a key"
        raise _fail(file, line, col, (), f"duplicate key {what}: it is already set above in the same mapping",
                    "keep one of the two entries", codes.DUPLICATE_KEY) from None
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = e.problem or e.context or "invalid YAML"
        hint = "indent with spaces, not tabs" if "\\t" in str(what) or "tab" in str(what) else \
            "fix the YAML syntax at this point"
        raise _fail(file, line, col, (), f"YAML syntax error: {_first_line(what)}", hint, codes.YAML_SYNTAX) from None
    except YAMLError as e:
        raise _fail(file, 1, 1, (), f"YAML error: {_first_line(str(e))}", "fix the YAML syntax",
                    codes.YAML_SYNTAX) from None
    except RecursionError:
        raise _fail(file, 1, 1, (), "the document is nested too deeply", f"keep nesting under {MAX_DEPTH} levels",
                    codes.TOO_DEEP) from None

    keys: dict[Loc, tuple[int, int]] = {}
    values: dict[Loc, tuple[int, int]] = {}
    budget = [MAX_NODES]
    try:
        data = _plain(root, (), keys, values, budget, 0)
    except _Refused as e:
        pos = Document(file, None, keys, values).position(e.loc)
        raise _fail(file, pos.line, pos.column, e.loc, e.message, e.hint, e.code) from None
    if data is None:
        raise _fail(file, 1, 1, (), "the file is empty", "write at least `clusters:` with one member", codes.EMPTY_FILE)
    if not isinstance(data, dict):
        raise _fail(file, 1, 1, (), f"the top level is a {kind_of(data)}, not a mapping",
                    "start with `clusters:` (see fleet/demo.yaml)", codes.NOT_A_MAPPING)
    return Document(file, data, keys, values)


def _first_line(text: object) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else "invalid YAML"


def kind_of(v: object) -> str:
    for t, name in ((bool, "boolean"), (dict, "mapping"), (list, "list"), (tuple, "list"), (str, "string"),
                    (int, "number"), (float, "number")):
        if isinstance(v, t):
            return name
    return "null" if v is None else type(v).__name__


def _plain(node: Any, loc: Loc, keys: dict[Loc, tuple[int, int]], values: dict[Loc, tuple[int, int]],
           budget: list[int], depth: int) -> Any:
    """Turn ruamel's round-trip nodes into plain Python, recording positions; bound size and depth."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _Refused(loc, f"the document expands to more than {MAX_NODES:,} values through its aliases",
                      "remove the aliases that multiply the document", codes.TOO_MANY_VALUES)
    if depth > MAX_DEPTH:
        raise _Refused(loc, f"the document is nested more than {MAX_DEPTH} levels deep",
                      "a fleet file needs a handful of levels; flatten it", codes.TOO_DEEP)
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for k in node:
            key = k if isinstance(k, str) else _plain(k, loc, keys, values, budget, depth + 1)
            if not isinstance(key, str):
                keys[(*loc, str(key))] = node.lc.key(k)
                raise _Refused((*loc, str(key)), f"key {key!r} is a {kind_of(key)}; keys here are strings",
                              "quote the key", codes.NON_STRING_KEY)
            sub = (*loc, key)
            try:
                keys[sub] = node.lc.key(k)
                values[sub] = node.lc.value(k)
            except (KeyError, TypeError, AttributeError):
                pass
            out[key] = _plain(node[k], sub, keys, values, budget, depth + 1)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, item in enumerate(node):
            sub = (*loc, i)
            with contextlib.suppress(KeyError, TypeError, AttributeError, IndexError):
                values[sub] = node.lc.item(i)
            items.append(_plain(item, sub, keys, values, budget, depth + 1))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, dict):  # a plain dict from a merged alias
        return {k: _plain(v, (*loc, k), keys, values, budget, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, (*loc, i), keys, values, budget, depth + 1) for i, v in enumerate(node)]
    return node  # dates and other YAML types: the model refuses them with a type error
