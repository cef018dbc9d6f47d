"""Pydantic's validation errors as findings at the user's line, in the user's words.

Why: a pydantic error location names model fields and union tags; the user wrote keys and list items.
This module follows the location through the user's data and words the message as a fix.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from meshfleet.errors import Finding, Loc, LocatedFinding
from meshfleet.fleet.document import Document, kind_of
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


def validation_findings(doc: Document, err: ValidationError) -> list[LocatedFinding]:
    found: dict[tuple[Loc, str], LocatedFinding] = {}
    for e in err.errors(include_url=False):
        path, is_key = _data_path(doc.data, tuple(e["loc"]))
        kind = e["type"]
        msg = str(e["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
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
            path = path[:-1] if path and path not in doc.values else path
            prefer_key = True
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
        found.setdefault(key, LocatedFinding(Finding(path, msg, hint), pos))
    return list(found.values())


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
