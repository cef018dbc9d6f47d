"""Read a fleet file's YAML: plain data plus the position of every key and value.

Why: every problem must be reported as `file:line:col`, all problems at once, and never as a
traceback, and reading a file must cost bounded time and memory whatever it holds. libyaml's C
parser (through PyYAML) builds the node graph, with a mark on every node, at C speed; this module
then does what a YAML library would otherwise do while it builds values, on the graph and before
anything is expanded: YAML 1.2 core-schema scalars (so `yes` and `on` stay strings), strict tags,
duplicate keys, merge keys, alias expansion and nesting bounds. Each problem becomes a finding at
its line.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Optional

import yaml
from yaml._yaml import CParser
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from meshfleet import codes
from meshfleet.errors import Code, Finding, FleetError, Loc, Position

MAX_BYTES = 1024 * 1024
"""Largest fleet file read. The worst 1 MiB measured (95,000 one-line entries) parses in under two
seconds, and validates, every entry a finding, in about five seconds and 260 MB; the 100k-object
fleet `make bench` measures is 139 KiB, and a 1 MiB fleet of real shape plans past MAX_OBJECTS."""
MAX_NODES = 500_000
"""Bound on values after alias expansion (an alias bomb expands to billions), checked before expanding."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists; a fleet needs about eight levels."""
MAX_INT_BITS = 64
"""Integers must fit in 64 bits, as they must in Kubernetes and FSM."""
YAML_VERSION = "1.2"

_STACK_SAFE = 1000
"""Nesting libyaml's composer may recurse into without a check first (it segfaults near 100,000)."""
_RAW_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DIRECTIVE = re.compile(r"^%YAML[ \t]+(\S*)", re.M)
_MAYBE_ALIAS = re.compile(r"(?:^|[\s\[{,])\*")
_FLOW_START = re.compile(r"(?:^|[\s\[{,])[\[{]", re.M)

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_PLAIN = "?"
"""Tag the composer gives an untagged plain scalar: resolved here by the YAML 1.2 core schema."""
_NONSPECIFIC = "!"
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
_FLOAT_FORM = re.compile(r"[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+"
                         r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?)")
_NUMERIC_START = frozenset("0123456789+-.")
_RESOLVED_START = frozenset("0123456789+-.tTfFnN~")
"""First characters of plain scalars that may be something other than a string (an empty one is null)."""
_MAX_DIGITS = {10: 19, 16: 16, 8: 22, 2: 64}
_TAG_NAMES = {_STR: "!!str", _INT: "!!int", _FLOAT: "!!float", _BOOL: "!!bool", _NULL: "!!null",
              _MAP: "!!map", _SEQ: "!!seq"}


@dataclass(frozen=True)
class Document:
    """A parsed fleet file: plain data, and the node graph that places any key path at its line."""

    file: str
    data: Any
    root: Node | None = field(default=None, repr=False)
    _index: dict[int, dict[str, tuple[Node, Node]]] = field(default_factory=dict, repr=False, compare=False)

    def position(self, loc: Loc, *, prefer_key: bool = False) -> Position:
        """Best position for a key path: the value (or key), else the nearest enclosing one.

        Positions are looked up in the node graph only when a finding needs one, so parsing builds
        no table of positions; a merged key (`<<: *common`) is found where its anchor wrote it.
        """
        found: tuple[Node | None, Node] | None = None
        node = self.root
        for part in loc:
            step = self._step(node, part, 0)
            if step is None:
                break
            found = step
            node = step[1]
        if found is None:
            return Position(self.file, 1, 1)
        key, value = found
        mark = key.start_mark if prefer_key and key is not None else value.start_mark
        return Position(self.file, mark.line + 1, mark.column + 1)

    def has(self, loc: Loc) -> bool:
        """Whether the user wrote the key path `loc`."""
        node = self.data
        for part in loc:
            inside = part in node if isinstance(node, dict) else \
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            if not inside:
                return False
            node = node[part]
        return True

    def _step(self, node: Node | None, part: str | int, depth: int) -> tuple[Node | None, Node] | None:
        if isinstance(node, SequenceNode):
            items = node.value
            return (None, items[part]) if isinstance(part, int) and 0 <= part < len(items) else None
        if not isinstance(node, MappingNode) or not isinstance(part, str) or depth > MAX_DEPTH:
            return None
        index = self._index.get(id(node))
        if index is None:
            index = {k.value: (k, v) for k, v in node.value if isinstance(k, ScalarNode) and not _is_merge(k)}
            self._index[id(node)] = index
        if part in index:
            return index[part]
        for k, v in node.value:
            if isinstance(k, ScalarNode) and _is_merge(k):
                for source in v.value if isinstance(v, SequenceNode) else [v]:
                    merged = self._step(source, part, depth + 1)
                    if merged is not None:
                        return merged
        return None


def _is_merge(key: ScalarNode) -> bool:
    return key.tag == _PLAIN and key.value == "<<"


class _Composer(CParser, BaseResolver):
    """libyaml's composer with no implicit typing: untagged plain scalars are marked for our own
    YAML 1.2 resolution, so PyYAML's YAML 1.1 rules (`yes` is true, `0777` octal) never apply."""

    def __init__(self, text: str) -> None:
        CParser.__init__(self, text)
        BaseResolver.__init__(self)

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        return _PLAIN if kind is ScalarNode and implicit[0] else _NONSPECIFIC


def _fail(file: str, line: int, col: int, loc: Loc, message: str, hint: str, code: Code) -> FleetError:
    return FleetError([Finding(loc, message, hint, code=code, position=Position(file, line, col))])


def _too_big(file: str, size: int | None) -> FleetError:
    told = f"{size:,} bytes" if size is not None and size > MAX_BYTES else f"more than {MAX_BYTES:,} bytes"
    return _fail(file, 1, 1, (), f"the file is {told}; a fleet file may be at most {MAX_BYTES:,} "
                 f"({MAX_BYTES // 1024 // 1024} MiB)", "split the fleet into several files, or check that this is "
                 "the right file", codes.FILE_TOO_LARGE)


def _size(fh: BinaryIO) -> int | None:
    """The size of an open file, or None for a pipe or a device (which may never end)."""
    try:
        return fh.seek(0, os.SEEK_END)
    except OSError:
        return None


def parse(path: str | Path, *, display: str | None = None) -> Document:
    """Parse YAML with positions; raise FleetError on anything that is not a readable document."""
    p = Path(path)
    file = display or str(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                raise _too_big(file, _size(fh))
    except OSError as e:
        raise _fail(file, 1, 1, (), f"cannot read the file: {e.strerror or type(e).__name__}", "check the path",
                    codes.UNREADABLE_FILE) from None
    return parse_bytes(raw, file)


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def parse_bytes(raw: bytes, file: str) -> Document:
    """Parse a fleet file's bytes (see `parse`); `file` is the name findings carry."""
    if len(raw) > MAX_BYTES:
        # Callers read at most one byte past the limit (stdin, git): that many says "more than", not the size.
        raise _too_big(file, len(raw) if len(raw) > MAX_BYTES + 1 else None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise _fail(file, line, col, (), f"byte 0x{raw[e.start]:02x} is not UTF-8", "save the file as UTF-8",
                    codes.NOT_UTF8) from None
    text = text.removeprefix("\ufeff")
    return parse_text(text, file)


def parse_text(text: str, file: str) -> Document:
    """Parse a fleet file's text (see `parse`)."""
    bad = _RAW_REFUSED.search(text)
    if bad is not None:
        line, col = _line_col(text, bad.start())
        raise _fail(file, line, col, (), f"{_char_kind(bad.group())} U+{ord(bad.group()):04X} in the file",
                    "remove it; fleet files are plain text", codes.CONTROL_CHARACTER)
    for m in _DIRECTIVE.finditer(text):
        if m.group(1) != YAML_VERSION:
            line, col = _line_col(text, m.start())
            raise _fail(file, line, col, (), f"the file declares YAML {m.group(1) or '(no version)'}; "
                        f"meshfleet reads YAML {YAML_VERSION}, where yes, no, on and off are strings",
                        f"remove the %YAML line, or write %YAML {YAML_VERSION}", codes.YAML_SYNTAX)

    try:
        if _may_nest_deeply(text):
            _check_nesting(text, file)
        root = _Composer(text).get_single_node()
    except yaml.MarkedYAMLError as e:
        raise _syntax_error(file, text, e) from None
    except yaml.reader.ReaderError as e:
        line, col = _line_col(text, e.position)
        raise _fail(file, line, col, (), f"character U+{e.character:04X} cannot appear in YAML",
                    "remove it; fleet files are plain text", codes.CONTROL_CHARACTER) from None
    except yaml.YAMLError as e:
        raise _fail(file, 1, 1, (), f"YAML error: {_first_line(str(e)) or 'invalid YAML'}", "fix the YAML syntax",
                    codes.YAML_SYNTAX) from None
    if root is None:
        raise _fail(file, 1, 1, (), "the file is empty", "write at least `clusters:` with one member", codes.EMPTY_FILE)

    reader = _Reader(file, free_text=in_template)
    if _MAYBE_ALIAS.search(text):
        reader.check_graph(root)
    data = reader.value(root, None, 0)
    if reader.findings:
        raise FleetError(reader.findings)
    if data is None:
        raise _fail(file, 1, 1, (), "the file is empty", "write at least `clusters:` with one member", codes.EMPTY_FILE)
    if not isinstance(data, dict):
        raise _fail(file, 1, 1, (), f"the top level is a {kind_of(data)}, not a mapping",
                    "start with `clusters:` (see fleet/demo.yaml)", codes.NOT_A_MAPPING)
    return Document(file, data, root)


def in_template(loc: Loc) -> bool:
    """Values of Kubernetes objects written in the fleet (`resources.<name>.template`, and an override's
    `merge` or patch `value`) are objects' text: scripts and configuration files, where a line break or
    a tab is meant."""
    if len(loc) < 3 or loc[0] != "resources":
        return False
    if loc[2] == "template":
        return True
    return loc[2] == "overrides" and len(loc) >= 6 and (
        loc[4] == "merge" or (loc[4] == "patch" and len(loc) >= 7 and loc[6] == "value"))


def _anywhere(loc: Loc) -> bool:
    return True


@dataclass
class Budget:
    """Values still allowed after alias expansion, shared by the documents of every file one fleet reads."""

    values: int = MAX_NODES


def parse_manifests_bytes(raw: bytes, file: str, prefix: Loc, budget: Budget) -> list[Document | None]:
    """The documents of a manifest file (`---` separated), each a Kubernetes object or empty (None).

    The same limits and checks as a fleet file's, with two differences: values may hold line breaks
    and tabs (scripts, configuration files), and the values of all documents count against `budget`.
    Findings carry `prefix + (document index, key path...)`; raises FleetError with all of them.
    """
    if len(raw) > MAX_BYTES:
        # Callers read at most one byte past the limit (stdin, git): that many says "more than", not the size.
        raise _too_big(file, len(raw) if len(raw) > MAX_BYTES + 1 else None)
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise _fail(file, line, col, prefix, f"byte 0x{raw[e.start]:02x} is not UTF-8", "save the file as UTF-8",
                    codes.NOT_UTF8) from None
    bad = _RAW_REFUSED.search(text)
    if bad is not None:
        line, col = _line_col(text, bad.start())
        raise _fail(file, line, col, prefix, f"{_char_kind(bad.group())} U+{ord(bad.group()):04X} in the file",
                    "remove it; manifests are plain text", codes.CONTROL_CHARACTER)
    for m in _DIRECTIVE.finditer(text):
        if m.group(1) != YAML_VERSION:
            line, col = _line_col(text, m.start())
            raise _fail(file, line, col, prefix, f"the file declares YAML {m.group(1) or '(no version)'}; "
                        f"meshfleet reads YAML {YAML_VERSION}", f"remove the %YAML line, or write %YAML {YAML_VERSION}",
                        codes.YAML_SYNTAX)
    roots: list[Node | None] = []
    try:
        if _may_nest_deeply(text):
            _check_nesting(text, file)
        composer = _Composer(text)
        while composer.check_node():
            roots.append(composer.get_node())
    except yaml.MarkedYAMLError as e:
        found = _syntax_error(file, text, e).problems
        raise FleetError([dataclasses.replace(f, loc=prefix) for f in found]) from None
    except FleetError as e:  # nested too deep
        raise FleetError([dataclasses.replace(f, loc=prefix) for f in e.problems]) from None
    except yaml.YAMLError as e:
        raise _fail(file, 1, 1, prefix, f"YAML error: {_first_line(str(e)) or 'invalid YAML'}",
                    "fix the YAML syntax", codes.YAML_SYNTAX) from None
    reader = _Reader(file, free_text=_anywhere, prefix=prefix)
    aliases = bool(_MAYBE_ALIAS.search(text))
    out: list[Document | None] = []
    for index, root in enumerate(roots):
        if root is None:
            out.append(None)
            continue
        if aliases:
            budget.values -= reader.check_graph(root, budget.values)
        data = reader.value(root, (None, index), 0)
        if data is None:
            out.append(None)
        elif not isinstance(data, dict):
            if data is not _BAD:
                start = root.start_mark
                reader.findings.append(Finding(
                    (*prefix, index), f"this document is a {kind_of(data)}, not a Kubernetes object",
                    "write each object as a mapping with apiVersion, kind and metadata, one per `---` document",
                    code=codes.NOT_A_MAPPING, position=Position(file, start.line + 1, start.column + 1)))
            out.append(None)
        else:
            out.append(Document(file, data, root))
    if reader.findings:
        raise FleetError(reader.findings)
    if not aliases:
        budget.values -= sum(_count(d.data) for d in out if d is not None)
        if budget.values < 0:
            raise _fail(file, 1, 1, prefix, f"the fleet's manifests hold more than {MAX_NODES:,} values together",
                        "split the fleet into several fleet files", codes.TOO_MANY_VALUES)
    return out


def _count(value: Any) -> int:
    stack, n = [value], 0
    while stack:
        v = stack.pop()
        n += 1
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return n


def _char_kind(ch: str) -> str:
    if ch in _BIDI:
        return "bidirectional-text control character"
    if ch in "\u2028\u2029":
        return "line or paragraph separator"
    return "control character"


def _may_nest_deeply(text: str) -> bool:
    """Cheap bound: can the text nest deeper than libyaml's composer may safely recurse?

    Each level of nesting opens a flow collection (a `[` or `{` where a value may start, so not
    one inside a word such as a path's `{name}`) or starts further right on its line than its parent
    (or, for a block list under a key, at the same column, once per level). The bound may count a
    bracket in a comment or a quoted string: that only means the exact check runs.
    """
    flow = len(_FLOW_START.findall(text))
    if flow > _STACK_SAFE // 2:
        return True
    widest = max(map(len, text.splitlines()), default=0)
    return flow + 2 * widest + 2 > _STACK_SAFE


def _check_nesting(text: str, file: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from libyaml's event stream, which uses no recursion."""
    events = _Composer(text)
    depth = 0
    while events.check_event():
        ev = events.get_event()
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line, col = (ev.start_mark.line + 1, ev.start_mark.column + 1) if ev.start_mark else (1, 1)
                raise _fail(file, line, col, (), f"the document is nested more than {MAX_DEPTH} "
                            "levels deep", "a fleet file needs a handful of levels; flatten it", codes.TOO_DEEP)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _syntax_error(file: str, text: str, e: yaml.MarkedYAMLError) -> FleetError:
    mark = e.problem_mark or e.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem, context = _first_line(e.problem or ""), _first_line(e.context or "")
    what = problem if e.problem else context
    said = f"{context} {problem}"
    at = mark.index if mark is not None else -1
    hint = "fix the YAML syntax at this point"
    if (0 <= at < len(text) and text[at] == "\t") or "\\t" in said or "tab" in said:
        what, hint = "a tab character where YAML expects indentation or a value", "indent with spaces, not tabs"
    elif "incompatible YAML document" in said:
        what, hint = "the %YAML directive names a version meshfleet does not read", "remove the %YAML line"
    elif "single document" in said:
        what, hint = "the file holds more than one YAML document", "keep one document: remove the second `---`"
    elif "undefined alias" in said:
        hint = "define the anchor (&name) before the alias (*name) that uses it"
    elif "could not find expected ':'" in said:
        hint = "write each entry as `key: value`, or close the quote or bracket opened above"
    elif "flow" in said:
        hint = "close the bracket opened above, or quote a value that holds '[', ']', '{', '}' or ','"
    return _fail(file, line, col, (), f"YAML syntax error: {what}", hint, codes.YAML_SYNTAX)


def _first_line(text: object) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else ""


def kind_of(v: object) -> str:
    for t, name in ((bool, "boolean"), (dict, "mapping"), (list, "list"), (tuple, "list"), (str, "string"),
                    (int, "number"), (float, "number")):
        if isinstance(v, t):
            return name
    return "null" if v is None else type(v).__name__


class _Malformed(Exception):
    """A scalar that does not read as what it says (code `malformed-value` unless another is given)."""

    def __init__(self, message: str, hint: str, code: Code = codes.MALFORMED_VALUE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:30]) + f"... ({len(text):,} characters)"


def _integer(text: str, base: int, skip: int, tagged: bool) -> int:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")[skip:].replace("_", "")
    if not body:
        raise _Malformed(f"{_shown(text)} is not a number", "write the number's digits")
    digits = body.lstrip("0")
    # Never convert more digits than a 64-bit number has: Python refuses decimal numbers of over
    # 4,300 digits with an exception, and a huge hexadecimal one would cost memory for nothing.
    value = sign * int(digits, base) if 0 < len(digits) <= _MAX_DIGITS[base] else 0
    if len(digits) > _MAX_DIGITS[base] or not -(2 ** (MAX_INT_BITS - 1)) <= value < 2 ** (MAX_INT_BITS - 1):
        raise _Malformed(f"the number {_shown(text)} does not fit in {MAX_INT_BITS} bits",
                         "use a smaller number" + ("" if tagged else ", or quote it if it is text"))
    return value


def _plain_scalar(text: str) -> Any:
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


def _tagged_scalar(tag: str, text: str) -> Any:
    """A scalar with an explicit tag: the tag decides the type, and the text must be of that type."""
    if tag == _STR:
        return text
    if tag == _BOOL:
        if text in _BOOLS:
            return _BOOLS[text]
        raise _Malformed(f"{_shown(text)} is tagged !!bool but is not true or false", "write true or false")
    if tag == _NULL:
        if text in _NULLS:
            return None
        raise _Malformed(f"{_shown(text)} is tagged !!null but is not null", "write null, or remove the tag")
    if tag == _INT:
        for form, base, skip in _INT_FORMS:
            if form.fullmatch(text):
                return _integer(text, base, skip, tagged=True)
        what = "an empty value" if not text else _shown(text)
        raise _Malformed(f"{what} is tagged !!int but is not a whole number", "write the number's digits, e.g. 80")
    if tag == _FLOAT:
        value = _plain_scalar(text) if text else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        what = "an empty value" if not text else _shown(text)
        raise _Malformed(f"{what} is tagged !!float but is not a number", "write a number, e.g. 1.5")
    if tag in (_MAP, _SEQ):
        raise _Malformed(f"{_shown(text)} is tagged {_TAG_NAMES[tag]} but is not a "
                         f"{'mapping' if tag == _MAP else 'list'}", "remove the tag")
    raise _Malformed(f"the tag {_tag_name(tag)} is not supported here", "remove the tag: meshfleet reads plain "
                     "YAML values (strings, numbers, true/false, lists and mappings)", codes.UNSUPPORTED_TAG)


def _tag_name(tag: str) -> str:
    short = tag.replace("tag:yaml.org,2002:", "!!")
    return repr(short) if len(short) <= 40 else repr(short[:37] + "...")


def _odd_character(text: str, allowed: str = "") -> tuple[int, str] | None:
    """The first character of a value that must not reach an object, a file name or a terminal:
    control characters (a line break included, unless `allowed`), bidirectional overrides, invisible
    formatting."""
    for i, ch in enumerate(text):
        if not ch.isprintable() and ch not in allowed:
            return i, ch
    return None


_BAD: Any = object()
"""What a value that has a finding reads as (the document is refused once the findings are in)."""


_Trail = Optional[tuple[Any, str | int]]  # noqa: UP045 (a runtime alias: `X | None` needs a type on the left)
"""A key path while reading, as links to the parent (built in constant time per key); see _flat."""


def _flat(path: _Trail) -> Loc:
    parts: list[str | int] = []
    while path is not None:
        path, part = path
        parts.append(part)
    return tuple(reversed(parts))


class _Reader:
    """Turns libyaml's node graph into plain data, collecting a finding for each problem.

    `free_text(loc)` says where a value may hold line breaks and tabs; findings carry `prefix + loc`.
    """

    def __init__(self, file: str, *, free_text: Callable[[Loc], bool] = in_template, prefix: Loc = ()) -> None:
        self.file = file
        self.free_text = free_text
        self.prefix = prefix
        self.findings: list[Finding] = []
        self._seen: set[tuple[int, int, str]] = set()
        self._open: set[int] = set()

    def problem(self, node: Node, path: _Trail, message: str, hint: str, code: Code) -> None:
        m = node.start_mark
        key = (m.line, m.column, message)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(Finding((*self.prefix, *_flat(path)), message, hint, code=code,
                                         position=Position(self.file, m.line + 1, m.column + 1)))

    # --- the graph, before anything is expanded ------------------------------------------------

    def check_graph(self, root: Node, bound: int = MAX_NODES) -> int:
        """Refuse a recursive alias or an expansion past `bound` values, visiting each node once; the
        number of values the root expands to."""
        size: dict[int, int] = {}
        state: dict[int, int] = {}  # 1: being visited, 2: done
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            key = id(node)
            if type(node) is ScalarNode:
                size[key] = 1
                continue
            if done:
                size[key] = 1 + sum(size[id(c)] for c in _children(node))
                state[key] = 2
                if size[key] > bound:
                    told = f"{bound:,} values" if bound == MAX_NODES else f"the {bound:,} values left of the " \
                        f"{MAX_NODES:,} a fleet's manifest files may expand to together"
                    self.problem(node, None, f"the document expands to more than {told} through its "
                                 "aliases (the node here is repeated that often)",
                                 "remove the aliases that multiply the document", codes.TOO_MANY_VALUES)
                    raise FleetError(self.findings)
                continue
            if state.get(key) == 2:
                continue
            if state.get(key) == 1:
                self.problem(node, None, "this anchored node contains an alias to itself (a recursive alias)",
                             "an alias may only refer to a node that is complete where the alias stands",
                             codes.RECURSIVE_ALIAS)
                raise FleetError(self.findings)
            state[key] = 1
            stack.append((node, True))
            for child in _children(node):
                if state.get(id(child)) != 2:
                    stack.append((child, False))
        return size[id(root)]

    # --- values --------------------------------------------------------------------------------

    def value(self, node: Node, path: _Trail, depth: int) -> Any:
        cls = type(node)
        if cls is ScalarNode:
            return self.scalar(node, path)  # type: ignore[arg-type]
        if depth >= MAX_DEPTH:
            self.problem(node, path, f"the document is nested more than {MAX_DEPTH} levels deep",
                         "a fleet file needs a handful of levels; flatten it", codes.TOO_DEEP)
            return _BAD
        key = id(node)
        if key in self._open:  # a recursive alias (only reachable when check_graph did not run)
            self.problem(node, path, "this anchored node contains an alias to itself (a recursive alias)",
                         "an alias may only refer to a node that is complete where the alias stands",
                         codes.RECURSIVE_ALIAS)
            return _BAD
        if node.tag != _NONSPECIFIC and node.tag != (_MAP if cls is MappingNode else _SEQ):
            what = "mapping" if cls is MappingNode else "list"
            message = f"a {what} is tagged {_TAG_NAMES[node.tag]}" if node.tag in _TAG_NAMES else \
                f"the tag {_tag_name(node.tag)} is not supported here"
            self.problem(node, path, message, "remove the tag: meshfleet reads plain YAML lists and mappings",
                         codes.UNSUPPORTED_TAG)
            return _BAD
        self._open.add(key)
        try:
            if cls is MappingNode:
                return self.mapping(node, path, depth)  # type: ignore[arg-type]
            return [self.value(item, (path, i), depth + 1) for i, item in enumerate(node.value)]
        finally:
            self._open.discard(key)

    def mapping(self, node: MappingNode, path: _Trail, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[tuple[Node, Node]] | None = None
        for knode, vnode in node.value:
            if type(knode) is not ScalarNode:
                what = "mapping" if isinstance(knode, MappingNode) else "list"
                self.problem(knode, path, f"a key here is a {what}; keys are plain strings",
                             "write the key as a string (`? ` complex keys are not supported)", codes.NON_STRING_KEY)
                continue
            text = knode.value
            if knode.tag == _PLAIN and text == "<<":
                if merges:
                    self.problem(knode, path, "duplicate key '<<': it is already set above in the same mapping",
                                 "merge several mappings with one key: `<<: [*first, *second]`", codes.DUPLICATE_KEY)
                merges = [*(merges or ()), (knode, vnode)]
                continue
            sub = (path, text)
            name = self.scalar(knode, sub)
            if name is _BAD:
                continue
            if type(name) is not str:
                shown = "null" if name is None else str(name).lower() if isinstance(name, bool) else repr(name)
                self.problem(knode, (path, shown), f"key {shown} is a {kind_of(name)}; keys here are strings",
                             f'quote the key: "{text}"', codes.NON_STRING_KEY)
                continue
            if name in out:
                self.problem(knode, sub, f"duplicate key {_shown(name)}: it is already set above in the same "
                             "mapping", "keep one of the two entries", codes.DUPLICATE_KEY)
                continue
            out[name] = self.scalar(vnode, sub) if type(vnode) is ScalarNode else \
                self.value(vnode, sub, depth + 1)
        if merges is None:
            return out
        # The mapping's own keys win over merged ones; of several merged mappings the first wins.
        merged: dict[str, Any] = {}
        for knode, vnode in merges:
            sources = vnode.value if isinstance(vnode, SequenceNode) else [vnode]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.problem(knode, path, "`<<` merges a mapping (an alias such as *common) or a list of them; "
                                 "this is not a mapping", "point `<<` at an anchored mapping, e.g. `<<: *common`",
                                 codes.BAD_MERGE)
                    continue
                entries = self.value(source, path, depth)
                if isinstance(entries, dict):
                    for k, v in entries.items():
                        merged.setdefault(k, v)
        return {**{k: v for k, v in merged.items() if k not in out}, **out}

    def scalar(self, node: ScalarNode, path: _Trail) -> Any:
        text = node.value
        if not text.isprintable():
            odd = _odd_character(text, "\n\t" if self.free_text(_flat(path)) else "")
            if odd is not None:
                i, ch = odd
                if ch in "\n\r":
                    what = "a line break"
                    hint = "write the value on one line (a `|` or `>` block keeps a final line break; `|-` does not)"
                else:
                    what = f"the {_char_kind(ch)} U+{ord(ch):04X}"
                    hint = "remove it; values in a fleet file are plain, visible text"
                self.problem(node, path, f"the value holds {what} (character {i + 1} of {len(text):,})", hint,
                             codes.CONTROL_CHARACTER)
                return _BAD
        tag = node.tag
        if tag == _PLAIN:
            if text and text[0] not in _RESOLVED_START:
                return text
            try:
                return _plain_scalar(text)
            except _Malformed as e:
                self.problem(node, path, e.message, e.hint, e.code)
                return _BAD
        if tag == _NONSPECIFIC:
            return text
        try:
            return _tagged_scalar(tag, text)
        except _Malformed as e:
            self.problem(node, path, e.message, e.hint, e.code)
            return _BAD


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "Budget", "Document", "in_template", "kind_of", "parse",
           "parse_bytes", "parse_manifests_bytes", "parse_text"]
