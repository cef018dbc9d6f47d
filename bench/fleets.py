"""The fleets the bench runs on: generated sizes, and the change a reviewer's diff shows between two.

Why: a diff of a fleet against itself or against an unrelated fleet measures nothing users do. A real
change touches a few things: weights moved, an export withdrawn, an access rule granted. The bench
diffs each size against that change of itself.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from meshfleet.fleet.generate import FleetShape, generate

SEED = 1
WEIGHT_CHANGES = 3
ADDED_RULE = "bench-added-write"


@dataclass(frozen=True)
class Size:
    """A named fleet shape and how many rounds the bench runs on it."""

    name: str
    shape: FleetShape
    rounds: int


SIZES: tuple[Size, ...] = (
    Size("1k", FleetShape(clusters=6, services=40), 5),
    Size("10k", FleetShape(clusters=20, services=150), 4),
    Size("100k", FleetShape(clusters=100, services=300), 3),
)
TINY = Size("tiny", FleetShape(clusters=3, services=4), 1)
"""A 3-cluster fleet, for the tests of the bench (never timed there)."""


def size_named(name: str) -> Size:
    for s in (*SIZES, TINY):
        if s.name == name:
            return s
    raise KeyError(f"no size {name!r}; known: {', '.join(s.name for s in (*SIZES, TINY))}")


def fleet_doc(size: Size) -> dict[str, Any]:
    return generate(size.shape, SEED)


@dataclass(frozen=True)
class Change:
    """What `changed` did, so that a test can find each part in the diff."""

    weights: tuple[str, ...]
    """Services whose first weighted target moved."""
    export_removed: tuple[str, str] | None
    """(service, cluster) that no longer exports it."""
    access_added: str
    """The key of the new access rule."""
    access_to: str


def changed(doc: dict[str, Any]) -> tuple[dict[str, Any], Change]:
    """`doc` as a typical pull request leaves it: a few weights changed, one export removed, one
    access rule added."""
    new = copy.deepcopy(doc)
    services: dict[str, Any] = new["services"]
    weights: list[str] = []
    for key, svc in services.items():
        targets = (svc.get("trafficPolicy") or {}).get("targets") or []
        weighted = [t for t in targets if isinstance(t, dict) and t.get("weight") is not None]
        if weighted and len(weights) < WEIGHT_CHANGES:
            weighted[0]["weight"] = (weighted[0]["weight"] + 25) % 100
            weights.append(key)
    removed = None
    for key, svc in services.items():
        exporters = svc["export"]["clusters"]
        policy = svc.get("trafficPolicy") or {}
        if isinstance(exporters, list) and len(exporters) >= 2 and "targets" not in policy and key not in weights:
            removed = (key, exporters.pop())
            break
    access_to = next(iter(services))
    new.setdefault("access", {})[ADDED_RULE] = {
        "from": ["client9/client"],
        "to": access_to,
        "http": [{"name": "write", "pathRegex": "/", "methods": ["POST"]}],
    }
    return new, Change(tuple(weights), removed, ADDED_RULE, access_to)


def write_fleet(doc: dict[str, Any], path: Path) -> None:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
