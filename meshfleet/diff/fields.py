"""Field-by-field differences, of object bodies and of typed views, as dotted paths.

Why: both the object-level changes (bodies, generic JSON) and the service-level changes (frozen
view records) are reported field by field. Views are compared over their dataclass fields, so a
field added to a view is compared (and shown) without any change here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from meshfleet.core.views import as_json, compared_fields, json_name

REDACTED = "(redacted)"
VALUE_CAP = 160


class _Absent:
    """A field that one side does not have (distinct from any value a plan can hold, None included)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: its dotted path, and its value on each side (ABSENT: not there)."""

    path: str
    old: Any
    new: Any


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIST_KEYS = ("clusterKey", "name", "port", "portNumber", "path")


def field_changes(old: Any, new: Any, path: str = "", *, whole: bool = False) -> list[FieldChange]:
    """Field-by-field differences of two bodies; list items are matched by an identity key when
    every item has a distinct one (endpoints by clusterKey, ports by name or port...). A mapping that
    only one side has is listed leaf by leaf; a list item that only one side has is shown whole.
    Any field named `kubeconfig` is redacted."""
    if not whole and (old is ABSENT or new is ABSENT) and (isinstance(old, dict) or isinstance(new, dict)):
        side = old if old is not ABSENT else new
        if side:
            old = {} if old is ABSENT else old
            new = {} if new is ABSENT else new
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[FieldChange] = []
        for k in [*old, *(k for k in new if k not in old)]:
            sub = _join(path, str(k))
            a, b = old.get(k, ABSENT), new.get(k, ABSENT)
            if k == "kubeconfig":
                if a != b:
                    out.append(
                        FieldChange(sub, ABSENT if a is ABSENT else REDACTED, ABSENT if b is ABSENT else REDACTED)
                    )
                continue
            out.extend(field_changes(a, b, sub))
        return out
    if isinstance(old, list) and isinstance(new, list) and _has_dicts(old, new):
        key = _list_key(old, new)
        if key is None:
            out = []
            for i in range(max(len(old), len(new))):
                a = old[i] if i < len(old) else ABSENT
                b = new[i] if i < len(new) else ABSENT
                out.extend(field_changes(a, b, f"{path}[{i}]", whole=a is ABSENT or b is ABSENT))
            return out
        olds = {item[key]: item for item in old}
        news = {item[key]: item for item in new}
        out = []
        for ident in [*olds, *(i for i in news if i not in olds)]:
            a, b = olds.get(ident, ABSENT), news.get(ident, ABSENT)
            out.extend(field_changes(a, b, f"{path}[{key}={ident}]", whole=a is ABSENT or b is ABSENT))
        return out
    if old is ABSENT and new is ABSENT:
        return []
    if type(old) is not type(new) or old != new:
        return [FieldChange(path or "(object)", redact(old), redact(new))]
    return []


def view_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Field-by-field differences of two view records (dataclasses), over every compared field.

    Unset (None) counts as absent. Tuples of records are matched by the records' `keys`; an item
    only one side has is shown whole. Values are shown as JSON (camelCase names)."""
    old = ABSENT if old is None else old
    new = ABSENT if new is None else new
    record = old if old is not ABSENT else new
    if (
        dataclasses.is_dataclass(record)
        and not isinstance(record, type)
        and (old is ABSENT or new is ABSENT or type(old) is type(new))
    ):
        # A record only one side has is listed leaf by leaf, like a mapping in a body.
        out: list[FieldChange] = []
        for f in compared_fields(record):
            a = getattr(old, f.name) if old is not ABSENT else ABSENT
            b = getattr(new, f.name) if new is not ABSENT else ABSENT
            out.extend(view_changes(a, b, _join(path, json_name(f.name))))
        return out
    if isinstance(old, tuple) and isinstance(new, tuple) and _records(old, new):
        keys: tuple[str, ...] = getattr(type((old or new)[0]), "keys", ())
        olds, news = _by_key(old, keys), _by_key(new, keys)
        if keys and olds is not None and news is not None:
            out = []
            for ident in [*olds, *(i for i in news if i not in olds)]:
                a, b = olds.get(ident, ABSENT), news.get(ident, ABSENT)
                label = ",".join(f"{json_name(k)}={v}" for k, v in zip(keys, ident, strict=True))
                out.extend(
                    view_changes(a, b, f"{path}[{label}]")
                    if a is not ABSENT and b is not ABSENT
                    else [FieldChange(f"{path}[{label}]", _shown(a), _shown(b))]
                )
            return out
    if old != new:
        return [FieldChange(path or "(view)", _shown(old), _shown(new))]
    return []


def _shown(value: Any) -> Any:
    return ABSENT if value is ABSENT else as_json(value)


def _records(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    items = (*a, *b)
    return bool(items) and all(dataclasses.is_dataclass(x) for x in items) and len({type(x) for x in items}) == 1


def _by_key(items: tuple[Any, ...], keys: tuple[str, ...]) -> dict[tuple[Any, ...], Any] | None:
    found = {tuple(getattr(x, k) for k in keys): x for x in items}
    return found if len(found) == len(items) else None


def _has_dicts(a: list[Any], b: list[Any]) -> bool:
    return any(isinstance(x, dict) for x in (*a, *b))


def _list_key(a: list[Any], b: list[Any]) -> str | None:
    for key in _LIST_KEYS:
        ok = True
        for items in (a, b):
            if not all(isinstance(x, dict) and key in x and isinstance(x[key], str | int) for x in items):
                ok = False
                break
            if len({x[key] for x in items}) != len(items):
                ok = False
                break
        if ok:
            return key
    return None


def _join(path: str, key: str) -> str:
    if _IDENT.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def redact(value: Any) -> Any:
    """A body value with every `kubeconfig` field replaced by "(redacted)"."""
    if isinstance(value, dict):
        return {k: (REDACTED if k == "kubeconfig" else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def show(value: Any, cap: int = VALUE_CAP) -> str:
    """A value as compact JSON for one line, cut at `cap` characters."""
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, sort_keys=False, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= cap else text[: cap - 3] + "..."
