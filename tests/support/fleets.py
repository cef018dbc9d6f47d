"""Helpers for tests that feed fleets in other shapes."""

from __future__ import annotations

import random
from typing import Any


def shuffled(node: Any, rng: random.Random) -> Any:
    """The same document with every mapping's keys in another order (lists keep theirs)."""
    if isinstance(node, dict):
        items = list(node.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(node, list):
        return [shuffled(v, rng) for v in node]
    return node
