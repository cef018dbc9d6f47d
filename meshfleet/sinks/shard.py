"""Which clusters each Pulumi stack of a large fleet applies: a proposal for `meshfleet:clusters`.

Why: one stack over hundreds of clusters is slow to preview and update (every run reads and diffs
every object), and one unreachable cluster blocks the rest. Stacks that each apply a shard run in
parallel and fail alone; every stack still plans the whole fleet, so cross-cluster objects agree.
Pulumi's cost follows the resources a stack registers, not its cluster count, so clusters are
packed by what they register: their applied objects (the control plane's `Cluster` objects
included), plus the component and provider each cluster brings. The packing is deterministic, so
the same plan and options always give the same proposal, which can be reviewed and committed.

A shard is never empty: an empty `meshfleet:clusters` list means "every cluster" to the program.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from meshfleet.core.plan import Plan

DEFAULT_BUDGET = 1500
"""Resources per stack; a preview of a stack this size stays in minutes, not tens of minutes."""
CONFIG_KEY = "meshfleet:clusters"
"""The Pulumi program's shard key (Pulumi.yaml `clusters`, read by components/settings.py)."""
STACK_OVERHEAD = 1
"""The `pulumi:pulumi:Stack` resource every stack has."""
CLUSTER_OVERHEAD = 2
"""Per cluster: its `MemberCluster` component and its Kubernetes provider."""


@dataclass(frozen=True)
class ClusterLoad:
    name: str
    objects: int
    """Applied objects: what the stack registers for this cluster besides the overhead."""
    control_plane: bool = False
    """FSM's control plane: its `Cluster` objects carry every member's kubeconfig."""

    @property
    def resources(self) -> int:
        return self.objects + CLUSTER_OVERHEAD


@dataclass(frozen=True)
class Shard:
    clusters: tuple[ClusterLoad, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.clusters]

    @property
    def objects(self) -> int:
        return sum(c.objects for c in self.clusters)

    @property
    def resources(self) -> int:
        return STACK_OVERHEAD + sum(c.resources for c in self.clusters)


@dataclass(frozen=True)
class Proposal:
    shards: tuple[Shard, ...]
    budget: int
    """Resources per stack the proposal was packed for (or, with a fixed count, is checked against)."""
    requested: int | None
    """The stack count asked for with --shards; None when packed by budget."""

    def over_budget(self) -> list[int]:
        """Indexes of stacks above the budget; only a single cluster larger than it ends up there
        when packing by budget."""
        return [i for i, s in enumerate(self.shards) if s.resources > self.budget]


def loads(plan: Plan) -> list[ClusterLoad]:
    """Every cluster of the plan, also one without applied objects: the stack still registers its
    provider, and a cluster left out of every shard would be applied by no stack."""
    return [ClusterLoad(c.name, len(c.applied()), c.role == "control-plane") for c in plan.clusters]


def by_count(clusters: Sequence[ClusterLoad], count: int, budget: int = DEFAULT_BUDGET) -> Proposal:
    """`count` stacks (fewer when there are fewer clusters) with loads as even as possible."""
    if count < 1:
        raise ValueError("the stack count must be at least 1")
    n = min(count, len(clusters))
    shards = _balanced(clusters, n) if n else []
    return Proposal(_ordered(shards), budget, count)


def by_budget(clusters: Sequence[ClusterLoad], budget: int = DEFAULT_BUDGET) -> Proposal:
    """The fewest stacks found that keep each within `budget` resources, as even as possible.

    Starting from the lower bound, each stack count is tried with the balanced packing (even loads,
    so parallel stacks finish together) and then first-fit decreasing (tighter); the first that
    fits wins. One stack per cluster always fits, since a cluster alone above the budget cannot be
    split and is accepted as it is.
    """
    if budget < 1:
        raise ValueError("the budget must be at least 1 resource")
    if not clusters:
        return Proposal((), budget, None)
    # A cluster alone above the budget fills a stack by itself; the rest share what is left.
    alone = sum(1 for c in clusters if STACK_OVERHEAD + c.resources > budget)
    rest = sum(c.resources for c in clusters if STACK_OVERHEAD + c.resources <= budget)
    lower = min(len(clusters), max(1, alone + math.ceil(rest / max(1, budget - STACK_OVERHEAD))))
    packers: tuple[Callable[[Sequence[ClusterLoad], int, int], list[list[ClusterLoad]] | None], ...] = (
        lambda cs, n, _b: _balanced(cs, n),
        _first_fit,
    )
    for n in range(lower, len(clusters) + 1):
        for pack in packers:
            shards = pack(clusters, n, budget)
            if shards is not None and all(_fits(s, budget) for s in shards):
                return Proposal(_ordered(shards), budget, None)
    raise AssertionError("one cluster per stack always fits")  # pragma: no cover


def propose(plan: Plan, *, shards: int | None = None, budget: int | None = None) -> Proposal:
    """By stack count when `shards` is given, else by `budget` (default DEFAULT_BUDGET)."""
    if shards is not None:
        return by_count(loads(plan), shards, budget if budget is not None else DEFAULT_BUDGET)
    return by_budget(loads(plan), budget if budget is not None else DEFAULT_BUDGET)


def _descending(clusters: Sequence[ClusterLoad]) -> list[ClusterLoad]:
    return sorted(clusters, key=lambda c: (-c.resources, c.name))


def _balanced(clusters: Sequence[ClusterLoad], n: int) -> list[list[ClusterLoad]]:
    """Largest first, each onto the lightest stack so far (ties: the lowest index)."""
    bins: list[list[ClusterLoad]] = [[] for _ in range(n)]
    heap = [(0, i) for i in range(n)]
    for c in _descending(clusters):
        load, i = heapq.heappop(heap)
        bins[i].append(c)
        heapq.heappush(heap, (load + c.resources, i))
    return [b for b in bins if b]


def _first_fit(clusters: Sequence[ClusterLoad], n: int, budget: int) -> list[list[ClusterLoad]] | None:
    """Largest first, each into the first of `n` stacks with room; None when one finds no room."""
    bins: list[list[ClusterLoad]] = [[] for _ in range(n)]
    used = [STACK_OVERHEAD] * n
    for c in _descending(clusters):
        for i in range(n):
            if not bins[i] or used[i] + c.resources <= budget:
                bins[i].append(c)
                used[i] += c.resources
                break
        else:
            return None
    return [b for b in bins if b]


def _fits(shard: Sequence[ClusterLoad], budget: int) -> bool:
    return len(shard) == 1 or STACK_OVERHEAD + sum(c.resources for c in shard) <= budget


def _ordered(shards: Sequence[Sequence[ClusterLoad]]) -> tuple[Shard, ...]:
    """Clusters by name inside a stack, stacks by their first cluster: a stable, readable order."""
    named = [tuple(sorted(s, key=lambda c: c.name)) for s in shards if s]
    return tuple(Shard(s) for s in sorted(named, key=lambda s: s[0].name))


# --- output --------------------------------------------------------------------------------------


def config_line(shard: Shard) -> str:
    """The stack file line, as YAML flow list (cluster names are DNS labels: no quoting needed)."""
    return f"{CONFIG_KEY}: [{', '.join(shard.names)}]"


def text(proposal: Proposal, source: str) -> str:
    shards = proposal.shards
    clusters = sum(len(s.clusters) for s in shards)
    objects = sum(s.objects for s in shards)
    how = (
        f"{len(shards)} stacks asked for"
        if proposal.requested is not None
        else f"at most {proposal.budget:,} resources per stack"
    )
    out = [f"{source}: {clusters} clusters, {objects:,} objects applied -> {len(shards)} stacks ({how})", ""]
    rows = [("stack", "clusters", "objects", "resources", "")]
    over = set(proposal.over_budget())
    for i, s in enumerate(shards):
        note = (
            f"over {proposal.budget:,}" + (" (one cluster: cannot split)" if len(s.clusters) == 1 else "")
            if i in over
            else ""
        )
        rows.append((str(i + 1), str(len(s.clusters)), f"{s.objects:,}", f"{s.resources:,}", note))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [r[k].rjust(widths[k]) for k in (1, 2, 3)]
        out.append("  ".join([*cells, r[4]]).rstrip())
    if shards:
        loads_ = [s.resources for s in shards]
        out += [
            "",
            f"largest stack {max(loads_):,} resources, smallest {min(loads_):,}; a stack counts its "
            f"applied objects, {CLUSTER_OVERHEAD} per cluster (component, provider) and {STACK_OVERHEAD} "
            "for the stack itself",
        ]
        out += ["", "Stack config, under `config:` in one file per stack, each with the same meshfleet:fleet:"]
        for i, s in enumerate(shards):
            out.append(f"  # stacks/Pulumi.<env>-{i + 1}.yaml")
            out.append(f"  {config_line(s)}")
        for i, s in enumerate(shards):
            for c in s.clusters:
                if c.control_plane:
                    out += [
                        "",
                        f"Stack {i + 1} applies the FSM control plane {c.name}: its Cluster objects carry "
                        "every member's kubeconfig, so that stack needs all of them (stack secret or context).",
                    ]
        out += [
            "",
            "Pin these lists once applied: to move a cluster to another stack, move its state with "
            "`pulumi state move` before the change is applied (README: Moving a cluster between shards); "
            "without it one stack deletes the cluster's objects and the other creates them. "
            "Add new clusters to a stack with room.",
        ]
    return "\n".join(out) + "\n"


def as_json(proposal: Proposal) -> dict[str, Any]:
    return {
        "budget": proposal.budget,
        "requested": proposal.requested,
        "configKey": CONFIG_KEY,
        "stacks": [
            {
                "clusters": s.names,
                "objects": s.objects,
                "resources": s.resources,
                "overBudget": s.resources > proposal.budget,
            }
            for s in proposal.shards
        ],
    }
