"""Pydantic's validation errors as findings at the user's line, in the user's words.

Why: a pydantic error location names model fields and union tags; the user wrote keys and list items.
This module follows the location through the user's data and words the message as a fix.
"""

from __future__ import annotations

import difflib
import re
import reprlib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from meshfleet import codes
from meshfleet.errors import Code, Finding, Loc
from meshfleet.fleet.document import Document
from meshfleet.fleet.document import kind_of as document_kind_of
from meshfleet.fleet.model import Fleet, LabelSelector, Selection


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Loc, bool]:
    """Follow a pydantic error location through the user's data, dropping union/validator tags.

    Returns the key path as the user wrote it and whether the location names a dict key.
    """
    path: list[str | int] = []
    node = data
    is_key = False
    for part in loc:
        if part == "[key]":
            is_key = True
            continue
        if path and path[-1] == "kubeconfig" and isinstance(node, dict) and node.get("from") == part:
            continue  # the tag of the kubeconfig source union, not a key the user wrote
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part not in node and part == loc[-1]:
            path.append(part)  # a missing or unknown key
    return tuple(path), is_key


def _unwrap(tp: Any) -> list[Any]:
    """The model classes a type annotation can hold (through Annotated, Optional, list, dict)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if origin in (list, dict):
        return _unwrap(typing.get_args(tp)[-1])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def _models_at(path: Loc) -> list[type[BaseModel]]:
    """The model classes that describe the mapping at `path` (for listing allowed keys)."""
    current: list[type[BaseModel]] = [Fleet]
    containers = 0  # dict values / list items still to step over
    for part in path:
        if containers:
            containers -= 1
            continue
        nxt: list[type[BaseModel]] = []
        for model in current:
            for name, f in model.model_fields.items():
                if part in (name, f.alias):
                    ann = f.annotation
                    nxt.extend(_unwrap(ann))
                    if _is_container(ann):
                        containers = 1
        current = [LabelSelector if m is Selection else m for m in nxt]
        if not current:
            return []
    return current


def _is_container(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _is_container(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_container(a) for a in typing.get_args(tp))
    return origin in (list, dict)


def _allowed_keys(path: Loc) -> list[str]:
    out: set[str] = set()
    for model in _models_at(path):
        for name, f in model.model_fields.items():
            out.add(f.alias or name)
    return sorted(out)


def _secret_place(path: Loc) -> bool:
    """Under a cluster's `kubeconfig`: whatever is written there may be a credential."""
    return len(path) >= 3 and path[0] == "clusters" and path[2] == "kubeconfig"


_CODES: dict[str, Code] = {
    "extra_forbidden": codes.UNKNOWN_KEY,
    "missing": codes.MISSING_KEY,
    "literal_error": codes.NOT_ALLOWED,
    "union_tag_invalid": codes.UNKNOWN_KUBECONFIG_SOURCE,
    "union_tag_not_found": codes.MISSING_KUBECONFIG_SOURCE,
}
"""Pydantic's error types as finding codes; type errors are `wrong-type`, the rest `invalid-value`."""


def _code(kind: str) -> Code:
    if kind in _CODES:
        return _CODES[kind]
    return codes.WRONG_TYPE if kind.endswith("_type") else codes.INVALID_VALUE


def validation_findings(doc: Document, err: ValidationError) -> list[Finding]:
    found: dict[tuple[Loc, str], Finding] = {}
    for e in err.errors(include_url=False):
        path, is_key = _data_path(doc.data, tuple(e["loc"]))
        kind = e["type"]
        if _secret_place(path):
            e = {**e, "input": _Hidden(e.get("input"))}
            if kind == "union_tag_invalid":
                tag = (e.get("ctx") or {}).get("tag")
                e["ctx"] = {"tag": tag if _near_a_source(tag) else _Hidden(tag)}
        msg = str(e["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        hint = ""
        prefer_key = is_key
        if kind == "extra_forbidden":
            allowed = _allowed_keys(path[:-1])
            msg = f"unknown key {path[-1]!r}"
            hint = f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it"
            close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
            if close:
                hint = f"did you mean {close[0]!r}? {hint}"
            prefer_key = True
        elif kind == "missing":
            msg = f"missing key {path[-1]!r}" if path else "missing key"
            hint = f"add {path[-1]}" if path else ""
            path = path[:-1] if path and not doc.has(path) else path
            prefer_key = True
        elif _secret_place(path) and len(path) == 3 and kind.endswith("_type"):
            msg = (
                f"a kubeconfig cannot be written into the fleet file (a {kind_of(e['input'])} is given; "
                "its value is not shown)"
            )
            hint = (
                "write kubeconfig: {from: stack-secret} and set it as a Pulumi secret, or {from: context, "
                "context: <name>} to read it from your kubeconfig files"
            )
        elif kind.endswith("_type") or kind in ("model_type", "dict_type", "list_type"):
            got = kind_of(e.get("input"))
            want = msg.removeprefix("Input should be ").removeprefix("a valid ")
            msg = f"expected {want}, got {got} {_short(e.get('input'))}"
            hint = "quote it" if kind == "string_type" else "write it as " + want
        elif kind == "literal_error":
            msg = f"{_short(e.get('input'))} " + msg.replace("Input should be", "should be")
            hint = "use one of the values listed"
        elif kind == "union_tag_invalid":
            msg = f"unknown kubeconfig source {_short((e.get('ctx') or {}).get('tag'))}"
            hint = "use from: stack-secret, or from: context with context: <name>"
        elif kind == "union_tag_not_found":
            msg = "missing key 'from'"
            hint = "write from: stack-secret, or from: context with context: <name>"
        pos = doc.position(path, prefer_key=prefer_key)
        key = (path, msg)
        found.setdefault(key, Finding(path, msg, hint, code=_code(kind), position=pos))
    return list(found.values())


class _Hidden:
    """A value from where a credential may stand: messages say its kind, never its text."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"(a {kind_of(self.value)}, not shown)"


_SOURCES = ("stack-secret", "context")


_SOURCE_WORD = re.compile(r"[a-z][a-z-]{0,15}")


def _near_a_source(v: Any) -> bool:
    """A short word (`file`) or a misspelt source (`stack-secrets`) is worth showing; anything else
    written where a kubeconfig source goes may be a credential."""
    return isinstance(v, str) and (
        bool(_SOURCE_WORD.fullmatch(v)) or bool(difflib.get_close_matches(v, _SOURCES, n=1, cutoff=0.6))
    )


def kind_of(v: Any) -> str:
    return document_kind_of(v.value if isinstance(v, _Hidden) else v)


def _short(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    text = _REPR.repr(v)  # bounded: a value may be a list of 500,000 items
    return text if len(text) <= 60 else text[:57] + "..."


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxlong = 2, 4, 4, 60, 40
