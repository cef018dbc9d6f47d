"""Read a fleet file's YAML: plain data plus the position of every key and value.

Why: every problem must be reported as `file:line:col`, all problems at once, and never as a
traceback, and reading a file must cost bounded time and memory whatever it holds. libyaml's C
parser (through PyYAML) builds the node graph, with a mark on every node, at C speed; then what a
YAML library would otherwise do while it builds values is done on the graph and before anything is
expanded: YAML 1.2 core-schema scalars (so `yes` and `on` stay strings: `yaml_scalars`), strict
tags, duplicate keys, merge keys, alias expansion and nesting bounds (`yaml_reader`). Each problem
becomes a finding at its line. This module holds the entry points, the checks of the file as text
(size, encoding, characters, `%YAML`, nesting, syntax errors) and `Document`, which places a key
path at its line.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from yaml._yaml import CParser
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from meshfleet import codes
from meshfleet.errors import Code, Finding, FleetError, Loc, Position
from meshfleet.fleet.yaml_reader import BAD_VALUE, MAX_DEPTH, MAX_NODES, Reader
from meshfleet.fleet.yaml_scalars import NONSPECIFIC_TAG, PLAIN_TAG, char_kind, kind_of

MAX_BYTES = 1024 * 1024
"""Largest fleet file read. The worst 1 MiB measured (95,000 one-line entries) parses in under two
seconds, and validates, every entry a finding, in about five seconds and 260 MB; the 100k-object
fleet `make bench` measures is 139 KiB, and a 1 MiB fleet of real shape plans past MAX_OBJECTS."""
YAML_VERSION = "1.2"

_STACK_SAFE = 1000
"""Nesting libyaml's composer may recurse into without a check first (it segfaults near 100,000)."""
_RAW_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_DIRECTIVE = re.compile(r"^%YAML[ \t]+(\S*)", re.M)
_MAYBE_ALIAS = re.compile(r"(?:^|[\s\[{,])\*")
_FLOW_START = re.compile(r"(?:^|[\s\[{,])[\[{]", re.M)


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
            inside = (
                part in node
                if isinstance(node, dict)
                else isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            )
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
    return key.tag == PLAIN_TAG and key.value == "<<"


class _Composer(CParser, BaseResolver):
    """libyaml's composer with no implicit typing: untagged plain scalars are marked for our own
    YAML 1.2 resolution, so PyYAML's YAML 1.1 rules (`yes` is true, `0777` octal) never apply."""

    def __init__(self, text: str) -> None:
        CParser.__init__(self, text)
        BaseResolver.__init__(self)

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        return PLAIN_TAG if kind is ScalarNode and implicit[0] else NONSPECIFIC_TAG


def _fail(file: str, line: int, col: int, loc: Loc, message: str, hint: str, code: Code) -> FleetError:
    return FleetError([Finding(loc, message, hint, code=code, position=Position(file, line, col))])


def _too_big(file: str, size: int | None) -> FleetError:
    told = f"{size:,} bytes" if size is not None and size > MAX_BYTES else f"more than {MAX_BYTES:,} bytes"
    return _fail(
        file,
        1,
        1,
        (),
        f"the file is {told}; a fleet file may be at most {MAX_BYTES:,} ({MAX_BYTES // 1024 // 1024} MiB)",
        "split the fleet into several files, or check that this is the right file",
        codes.FILE_TOO_LARGE,
    )


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
        raise _fail(
            file,
            1,
            1,
            (),
            f"cannot read the file: {e.strerror or type(e).__name__}",
            "check the path",
            codes.UNREADABLE_FILE,
        ) from None
    return parse_bytes(raw, file)


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def parse_bytes(raw: bytes, file: str) -> Document:
    """Parse a fleet file's bytes (see `parse`); `file` is the name findings carry."""
    return parse_text(_decoded(raw, file, ()), file)


def _decoded(raw: bytes, file: str, prefix: Loc) -> str:
    """A file's text: refused when over the size limit or not UTF-8; a byte-order mark dropped."""
    if len(raw) > MAX_BYTES:
        # Callers read at most one byte past the limit (stdin, git): that many says "more than", not the size.
        raise _too_big(file, len(raw) if len(raw) > MAX_BYTES + 1 else None)
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise _fail(
            file, line, col, prefix, f"byte 0x{raw[e.start]:02x} is not UTF-8", "save the file as UTF-8", codes.NOT_UTF8
        ) from None


def _check_text(text: str, file: str, prefix: Loc, what: str, versions: str) -> None:
    """Refuse characters no fleet or manifest file holds, and a %YAML directive of another version
    (`what`: "fleet files" or "manifests"; `versions`: what the version changes, said after it)."""
    bad = _RAW_REFUSED.search(text)
    if bad is not None:
        line, col = _line_col(text, bad.start())
        raise _fail(
            file,
            line,
            col,
            prefix,
            f"{char_kind(bad.group())} U+{ord(bad.group()):04X} in the file",
            f"remove it; {what} are plain text",
            codes.CONTROL_CHARACTER,
        )
    for m in _DIRECTIVE.finditer(text):
        if m.group(1) != YAML_VERSION:
            line, col = _line_col(text, m.start())
            raise _fail(
                file,
                line,
                col,
                prefix,
                f"the file declares YAML {m.group(1) or '(no version)'}; meshfleet reads YAML {YAML_VERSION}{versions}",
                f"remove the %YAML line, or write %YAML {YAML_VERSION}",
                codes.YAML_SYNTAX,
            )


def parse_text(text: str, file: str) -> Document:
    """Parse a fleet file's text (see `parse`)."""
    _check_text(text, file, (), "fleet files", ", where yes, no, on and off are strings")

    try:
        if _may_nest_deeply(text):
            _check_nesting(text, file)
        root = _Composer(text).get_single_node()
    except yaml.MarkedYAMLError as e:
        raise _syntax_error(file, text, e) from None
    except yaml.reader.ReaderError as e:
        line, col = _line_col(text, e.position)
        raise _fail(
            file,
            line,
            col,
            (),
            f"character U+{e.character:04X} cannot appear in YAML",
            "remove it; fleet files are plain text",
            codes.CONTROL_CHARACTER,
        ) from None
    except yaml.YAMLError as e:
        raise _fail(
            file,
            1,
            1,
            (),
            f"YAML error: {_first_line(str(e)) or 'invalid YAML'}",
            "fix the YAML syntax",
            codes.YAML_SYNTAX,
        ) from None
    if root is None:
        raise _fail(file, 1, 1, (), "the file is empty", "write at least `clusters:` with one member", codes.EMPTY_FILE)

    reader = Reader(file, free_text=in_template)
    if _MAYBE_ALIAS.search(text):
        reader.check_graph(root)
    data = reader.value(root, None, 0)
    if reader.findings:
        raise FleetError(reader.findings)
    if data is None:
        raise _fail(file, 1, 1, (), "the file is empty", "write at least `clusters:` with one member", codes.EMPTY_FILE)
    if not isinstance(data, dict):
        raise _fail(
            file,
            1,
            1,
            (),
            f"the top level is a {kind_of(data)}, not a mapping",
            "start with `clusters:` (see fleet/demo.yaml)",
            codes.NOT_A_MAPPING,
        )
    return Document(file, data, root)


def in_template(loc: Loc) -> bool:
    """Values of Kubernetes objects written in the fleet (`resources.<name>.template`, and an override's
    `merge` or patch `value`) are objects' text: scripts and configuration files, where a line break or
    a tab is meant."""
    if len(loc) < 3 or loc[0] != "resources":
        return False
    if loc[2] == "template":
        return True
    return (
        loc[2] == "overrides"
        and len(loc) >= 6
        and (loc[4] == "merge" or (loc[4] == "patch" and len(loc) >= 7 and loc[6] == "value"))
    )


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
    text = _decoded(raw, file, prefix)
    _check_text(text, file, prefix, "manifests", "")
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
        raise _fail(
            file,
            1,
            1,
            prefix,
            f"YAML error: {_first_line(str(e)) or 'invalid YAML'}",
            "fix the YAML syntax",
            codes.YAML_SYNTAX,
        ) from None
    reader = Reader(file, free_text=_anywhere, prefix=prefix)
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
            if data is not BAD_VALUE:
                start = root.start_mark
                reader.findings.append(
                    Finding(
                        (*prefix, index),
                        f"this document is a {kind_of(data)}, not a Kubernetes object",
                        "write each object as a mapping with apiVersion, kind and metadata, one per `---` document",
                        code=codes.NOT_A_MAPPING,
                        position=Position(file, start.line + 1, start.column + 1),
                    )
                )
            out.append(None)
        else:
            out.append(Document(file, data, root))
    if reader.findings:
        raise FleetError(reader.findings)
    if not aliases:
        budget.values -= sum(_count(d.data) for d in out if d is not None)
        if budget.values < 0:
            raise _fail(
                file,
                1,
                1,
                prefix,
                f"the fleet's manifests hold more than {MAX_NODES:,} values together",
                "split the fleet into several fleet files",
                codes.TOO_MANY_VALUES,
            )
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
                raise _fail(
                    file,
                    line,
                    col,
                    (),
                    f"the document is nested more than {MAX_DEPTH} levels deep",
                    "a fleet file needs a handful of levels; flatten it",
                    codes.TOO_DEEP,
                )
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


__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Budget",
    "Document",
    "in_template",
    "kind_of",
    "parse",
    "parse_bytes",
    "parse_manifests_bytes",
    "parse_text",
]
