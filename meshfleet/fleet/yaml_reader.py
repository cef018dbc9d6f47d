"""Turn libyaml's node graph into plain data: duplicate keys, merge keys, aliases and nesting, all checked.

Why: a YAML library builds values as it goes and stops at the first problem; this reader walks the
graph once, bounds what aliases expand to before expanding anything, and collects a finding with
its line for every problem, so that a user sees all of them at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from meshfleet import codes
from meshfleet.errors import Code, Finding, FleetError, Loc, Position
from meshfleet.fleet.yaml_scalars import (
    MAP_TAG,
    NONSPECIFIC_TAG,
    PLAIN_TAG,
    RESOLVED_START,
    SEQ_TAG,
    TAG_NAMES,
    Malformed,
    char_kind,
    kind_of,
    odd_character,
    plain_scalar,
    short_repr,
    tag_name,
    tagged_scalar,
)

MAX_NODES = 500_000
"""Bound on values after alias expansion (an alias bomb expands to billions), checked before expanding."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists; a fleet needs about eight levels."""

BAD_VALUE: Any = object()
"""What a value that has a finding reads as (the document is refused once the findings are in)."""


_Trail = Optional[tuple[Any, str | int]]  # noqa: UP045 (a runtime alias: `X | None` needs a type on the left)
"""A key path while reading, as links to the parent (built in constant time per key); see _flat."""


def _flat(path: _Trail) -> Loc:
    parts: list[str | int] = []
    while path is not None:
        path, part = path
        parts.append(part)
    return tuple(reversed(parts))


class Reader:
    """Turns libyaml's node graph into plain data, collecting a finding for each problem.

    `free_text(loc)` says where a value may hold line breaks and tabs; findings carry `prefix + loc`.
    """

    def __init__(self, file: str, *, free_text: Callable[[Loc], bool], prefix: Loc = ()) -> None:
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
            self.findings.append(
                Finding(
                    (*self.prefix, *_flat(path)),
                    message,
                    hint,
                    code=code,
                    position=Position(self.file, m.line + 1, m.column + 1),
                )
            )

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
                    told = (
                        f"{bound:,} values"
                        if bound == MAX_NODES
                        else f"the {bound:,} values left of the "
                        f"{MAX_NODES:,} a fleet's manifest files may expand to together"
                    )
                    self.problem(
                        node,
                        None,
                        f"the document expands to more than {told} through its "
                        "aliases (the node here is repeated that often)",
                        "remove the aliases that multiply the document",
                        codes.TOO_MANY_VALUES,
                    )
                    raise FleetError(self.findings)
                continue
            if state.get(key) == 2:
                continue
            if state.get(key) == 1:
                self.problem(
                    node,
                    None,
                    "this anchored node contains an alias to itself (a recursive alias)",
                    "an alias may only refer to a node that is complete where the alias stands",
                    codes.RECURSIVE_ALIAS,
                )
                raise FleetError(self.findings)
            state[key] = 1
            stack.append((node, True))
            for child in _children(node):
                if state.get(id(child)) != 2:
                    stack.append((child, False))
        return size[id(root)]

    # --- values --------------------------------------------------------------------------------

    def value(self, node: Node, path: _Trail, depth: int) -> Any:
        if type(node) is ScalarNode:  # this form (not `cls is`) is what lets mypy narrow `node`
            return self.scalar(node, path)
        cls = type(node)
        if depth >= MAX_DEPTH:
            self.problem(
                node,
                path,
                f"the document is nested more than {MAX_DEPTH} levels deep",
                "a fleet file needs a handful of levels; flatten it",
                codes.TOO_DEEP,
            )
            return BAD_VALUE
        key = id(node)
        if key in self._open:  # a recursive alias (only reachable when check_graph did not run)
            self.problem(
                node,
                path,
                "this anchored node contains an alias to itself (a recursive alias)",
                "an alias may only refer to a node that is complete where the alias stands",
                codes.RECURSIVE_ALIAS,
            )
            return BAD_VALUE
        if node.tag != NONSPECIFIC_TAG and node.tag != (MAP_TAG if cls is MappingNode else SEQ_TAG):
            what = "mapping" if cls is MappingNode else "list"
            message = (
                f"a {what} is tagged {TAG_NAMES[node.tag]}"
                if node.tag in TAG_NAMES
                else f"the tag {tag_name(node.tag)} is not supported here"
            )
            self.problem(
                node,
                path,
                message,
                "remove the tag: meshfleet reads plain YAML lists and mappings",
                codes.UNSUPPORTED_TAG,
            )
            return BAD_VALUE
        self._open.add(key)
        try:
            if type(node) is MappingNode:
                return self.mapping(node, path, depth)
            return [self.value(item, (path, i), depth + 1) for i, item in enumerate(node.value)]
        finally:
            self._open.discard(key)

    def mapping(self, node: MappingNode, path: _Trail, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[tuple[Node, Node]] | None = None
        for knode, vnode in node.value:
            if type(knode) is not ScalarNode:
                what = "mapping" if isinstance(knode, MappingNode) else "list"
                self.problem(
                    knode,
                    path,
                    f"a key here is a {what}; keys are plain strings",
                    "write the key as a string (`? ` complex keys are not supported)",
                    codes.NON_STRING_KEY,
                )
                continue
            text = knode.value
            if knode.tag == PLAIN_TAG and text == "<<":
                if merges:
                    self.problem(
                        knode,
                        path,
                        "duplicate key '<<': it is already set above in the same mapping",
                        "merge several mappings with one key: `<<: [*first, *second]`",
                        codes.DUPLICATE_KEY,
                    )
                merges = [*(merges or ()), (knode, vnode)]
                continue
            sub = (path, text)
            name = self.scalar(knode, sub)
            if name is BAD_VALUE:
                continue
            if type(name) is not str:
                shown = "null" if name is None else str(name).lower() if isinstance(name, bool) else repr(name)
                self.problem(
                    knode,
                    (path, shown),
                    f"key {shown} is a {kind_of(name)}; keys here are strings",
                    f'quote the key: "{text}"',
                    codes.NON_STRING_KEY,
                )
                continue
            if name in out:
                self.problem(
                    knode,
                    sub,
                    f"duplicate key {short_repr(name)}: it is already set above in the same mapping",
                    "keep one of the two entries",
                    codes.DUPLICATE_KEY,
                )
                continue
            out[name] = self.scalar(vnode, sub) if type(vnode) is ScalarNode else self.value(vnode, sub, depth + 1)
        if merges is None:
            return out
        # The mapping's own keys win over merged ones; of several merged mappings the first wins.
        merged: dict[str, Any] = {}
        for knode, vnode in merges:
            sources = vnode.value if isinstance(vnode, SequenceNode) else [vnode]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.problem(
                        knode,
                        path,
                        "`<<` merges a mapping (an alias such as *common) or a list of them; this is not a mapping",
                        "point `<<` at an anchored mapping, e.g. `<<: *common`",
                        codes.BAD_MERGE,
                    )
                    continue
                entries = self.value(source, path, depth)
                if isinstance(entries, dict):
                    for k, v in entries.items():
                        merged.setdefault(k, v)
        return {**{k: v for k, v in merged.items() if k not in out}, **out}

    def scalar(self, node: ScalarNode, path: _Trail) -> Any:
        text = node.value
        if not text.isprintable():
            odd = odd_character(text, "\n\t" if self.free_text(_flat(path)) else "")
            if odd is not None:
                i, ch = odd
                if ch in "\n\r":
                    what = "a line break"
                    hint = "write the value on one line (a `|` or `>` block keeps a final line break; `|-` does not)"
                else:
                    what = f"the {char_kind(ch)} U+{ord(ch):04X}"
                    hint = "remove it; values in a fleet file are plain, visible text"
                self.problem(
                    node,
                    path,
                    f"the value holds {what} (character {i + 1} of {len(text):,})",
                    hint,
                    codes.CONTROL_CHARACTER,
                )
                return BAD_VALUE
        tag = node.tag
        if tag == PLAIN_TAG:
            if text and text[0] not in RESOLVED_START:
                return text
            try:
                return plain_scalar(text)
            except Malformed as e:
                self.problem(node, path, e.message, e.hint, e.code)
                return BAD_VALUE
        if tag == NONSPECIFIC_TAG:
            return text
        try:
            return tagged_scalar(tag, text)
        except Malformed as e:
            self.problem(node, path, e.message, e.hint, e.code)
            return BAD_VALUE


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []
