"""Per-cluster overrides of an object: KubeFed's JSON-patch subset, and a strategic-merge subset.

Why: KubeFed overrides a template per cluster with JSON-patch operations (`add`, `replace`,
`remove`, at a JSON pointer); kubectl users write strategic-merge patches. Both are applied here, as
pure functions on plain data, and every refusal names the part of the path or patch at fault, so that
the finding lands on the user's line.

JSON patch (RFC 6902, the three operations KubeFed takes): `replace` and `remove` need the path to
exist; `add` needs its parent, sets a key (replacing its value) or inserts into a list at an index or
at the end (`-`). Strategic merge, the subset: mappings merge key by key, `null` removes a key, a
list Kubernetes merges (`kinds.MERGE_LISTS`: containers by name, container ports by containerPort,
Service ports by port...) merges item by item on its merge key and appends new items, every other
list is replaced whole, as Kubernetes does. Refused: the `$patch`, `$retainKeys`,
`$setElementOrder` and `$deleteFromPrimitiveList` directives, and kinds outside MERGE_LISTS (custom
resources have no strategic merge in the API server at all).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from meshfleet.core.kinds import Path

Body = dict[str, Any]


class PatchError(Exception):
    """A patch that cannot apply: what is wrong, the fix, and where in the patch (`at`)."""

    def __init__(self, message: str, hint: str, at: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.at = at


_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")


def pointer(path: str) -> list[str]:
    """A JSON pointer's tokens (`/a~1b/0` -> ["a/b", "0"])."""
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]


def shown(tokens: list[str]) -> str:
    return "/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _step(node: Any, token: str, tokens: list[str], upto: int) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise PatchError(
                f"{shown(tokens[: upto + 1])} does not exist in the object",
                "patch a path the object has (use op add to create a key, under a parent that exists)",
            )
        return node[token]
    if isinstance(node, list):
        if not _INDEX.fullmatch(token) or int(token) >= len(node):
            raise PatchError(
                f"{shown(tokens[: upto + 1])} does not exist in the object (the list at "
                f"{shown(tokens[:upto])} has {len(node)} item{'s' if len(node) != 1 else ''})",
                "use an index of the list, or op add with `-` to append",
            )
        return node[int(token)]
    what = (
        "null"
        if node is None
        else "a boolean"
        if isinstance(node, bool)
        else "a string"
        if isinstance(node, str)
        else "a number"
    )
    raise PatchError(
        f"{shown(tokens[: upto + 1])} does not exist: {shown(tokens[:upto])} is {what}, not a mapping or a list",
        "patch a path the object has",
    )


def json_patch(body: Body, op: str, path: str, value: Any = None) -> Body:
    """`body` with one JSON-patch operation applied (a new object; `body` is left as it was)."""
    tokens = pointer(path)
    out = copy.deepcopy(body)
    parent: Any = out
    for i, token in enumerate(tokens[:-1]):
        parent = _step(parent, token, tokens, i)
    last = tokens[-1]
    if isinstance(parent, dict):
        if op != "add" and last not in parent:
            raise PatchError(
                f"{path} does not exist in the object",
                "use op add to create it" if op == "replace" else "remove only what the object has",
            )
        if op == "remove":
            del parent[last]
        else:
            parent[last] = copy.deepcopy(value)
        return out
    if isinstance(parent, list):
        if op == "add" and last == "-":
            parent.append(copy.deepcopy(value))
            return out
        limit = len(parent) + (1 if op == "add" else 0)
        if not _INDEX.fullmatch(last) or int(last) >= limit:
            raise PatchError(
                f"{path} does not exist in the object (the list has {len(parent)} "
                f"item{'s' if len(parent) != 1 else ''})",
                "use an index of the list, or op add with `-` to append",
            )
        index = int(last)
        if op == "add":
            parent.insert(index, copy.deepcopy(value))
        elif op == "remove":
            del parent[index]
        else:
            parent[index] = copy.deepcopy(value)
        return out
    _step(parent, last, tokens, len(tokens) - 1)  # raises: the parent is a plain value
    raise AssertionError("unreachable")


def directives(patch: Any, at: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where a strategic-merge patch uses a `$` directive (None when it uses none)."""
    if isinstance(patch, dict):
        for k, v in patch.items():
            if k.startswith("$"):
                return (*at, k)
            found = directives(v, (*at, k))
            if found is not None:
                return found
    elif isinstance(patch, list):
        for i, v in enumerate(patch):
            found = directives(v, (*at, i))
            if found is not None:
                return found
    return None


def strategic_merge(body: Body, patch: Body, lists: Mapping[Path, str]) -> Body:
    """`body` with a strategic-merge patch applied (the subset the module describes; a new object)."""
    found = directives(patch)
    if found is not None:
        raise PatchError(
            f"the directive {found[-1]!r} is not part of meshfleet's strategic-merge subset",
            "write the result you want (null removes a key), or use `patch:` with JSON-patch operations",
            found,
        )
    out = copy.deepcopy(body)
    _merge(out, patch, lists, ())
    return out


def _merge(target: Body, patch: Body, lists: Mapping[Path, str], at: Path) -> None:
    for key, value in patch.items():
        here = (*at, key)
        if value is None:
            target.pop(key, None)
            continue
        current = target.get(key)
        if isinstance(value, dict):
            if not isinstance(current, dict):
                current = target[key] = {}
            _merge(current, value, lists, here)
        elif isinstance(value, list) and isinstance(current, list) and here in lists:
            merge_key = lists[here]
            if merge_key == "":
                current.extend(copy.deepcopy(v) for v in value if v not in current)
            else:
                _merge_items(current, value, merge_key, lists, here)
        else:
            target[key] = copy.deepcopy(value)


def _merge_items(current: list[Any], items: list[Any], merge_key: str, lists: Mapping[Path, str], at: Path) -> None:
    for i, item in enumerate(items):
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(
                f"item {i} of {'.'.join(at)} has no {merge_key!r}: Kubernetes merges this list by {merge_key}",
                f"give each item its {merge_key}",
                (*at, i),
            )
        match = next((c for c in current if isinstance(c, dict) and c.get(merge_key) == item[merge_key]), None)
        if match is None:
            fresh: Body = {}
            _merge(fresh, item, lists, (*at, "*"))
            current.append(fresh)
        else:
            _merge(match, item, lists, (*at, "*"))


__all__ = ["PatchError", "directives", "json_patch", "pointer", "strategic_merge"]
