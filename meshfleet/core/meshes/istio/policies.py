"""Istio's traffic-policy checks: how a policy becomes locality failover or distribute, and what it
cannot say there (failover order by region, weights per region, every serving cluster a target).

Why apart: the adapter asks these per consumer; the rules are Istio's locality load balancing
(loadbalancer.go, endpoint_builder.go), which `locality.py` models.
"""

from __future__ import annotations

import itertools

from meshfleet.core.checks import Checks
from meshfleet.core.meshes.istio.codes import (
    ISTIO_FAILOVER_ORDER,
    ISTIO_TARGETS,
    ISTIO_WEIGHTS,
)
from meshfleet.core.meshes.istio.locality import Locality
from meshfleet.core.resolved import PolicySettings, ServiceTopology
from meshfleet.errors import shortlist


def check_policy(checks: Checks, svc: ServiceTopology, consumer: str, policy: PolicySettings) -> None:
    loc = Locality(checks.fleet, svc, consumer, policy)
    known = True
    for i, t in enumerate(policy.targets or ()):
        tloc = (*policy.targets_loc, i)
        if not checks.cluster_ref(t.cluster, (*tloc, "cluster"), "be a traffic target"):
            known = False
        elif t.cluster not in loc.serving:
            known = False
            checks.problem_for(
                consumer,
                (*tloc, "cluster"),
                f"{t.cluster} does not serve {svc.ref} to {consumer} through Istio",
                f"use a cluster that does: {', '.join(loc.remote) or '(none)'}",
                ISTIO_TARGETS,
            )
        if t.weight is not None and policy.lb_type != "ActiveActive":
            checks.problem(
                (*tloc, "weight"),
                f"Istio weighs only ActiveActive, not {policy.lb_type}",
                "remove the weight, or use lbType: ActiveActive",
                ISTIO_WEIGHTS,
            )
    effective = policy.effective(consumer)
    if not known:
        return
    if policy.lb_type != "ActiveActive" and effective is not None:
        listed = sorted({t.cluster for t in effective})
        if listed != loc.remote:
            checks.problem_for(
                consumer,
                policy.targets_loc,
                f"Istio fails {consumer}'s calls to {svc.ref} over "
                f"to every other cluster that serves it ({shortlist(loc.remote) or 'none'}); "
                f"targets cannot leave out {', '.join(c for c in loc.remote if c not in listed)}",
                "remove targets, or list every serving cluster",
                ISTIO_TARGETS,
            )
            return
        _check_order(checks, svc, consumer, policy, loc)
    if policy.lb_type == "ActiveActive":
        _check_weights(checks, svc, consumer, policy, loc)


def _check_order(checks: Checks, svc: ServiceTopology, consumer: str, policy: PolicySettings, loc: Locality) -> None:
    effective = policy.effective(consumer) or ()
    tiers = loc.by_region(loc.remote, loc.failover_region())
    rank = {c: i for i, t in enumerate(tiers) for c in t}
    listed = [t.cluster for t in effective]
    for a, b in itertools.pairwise(listed):
        if rank[a] > rank[b]:
            order = "; then ".join(", ".join(t) for t in tiers)
            checks.problem_for(
                consumer,
                policy.targets_loc,
                f"Istio fails {consumer}'s calls to {svc.ref} over "
                f"by locality ({consumer}'s region {loc.own} first): {order}; the targets list {a} "
                f"before {b}",
                "list the targets in that order (Istio orders regions, not clusters of one region)",
                ISTIO_FAILOVER_ORDER,
            )
            return


def _check_weights(checks: Checks, svc: ServiceTopology, consumer: str, policy: PolicySettings, loc: Locality) -> None:
    written = {t.cluster: t.weight for t in policy.targets or ()}
    weights = loc.weights()
    if weights is None:
        return
    where = policy.targets_loc
    if not weights:
        checks.problem_for(
            consumer,
            where,
            f"no target serves {svc.ref} to {consumer}: Istio's distribute would send its calls nowhere",
            f"list clusters that do: {', '.join(loc.remote) or '(none)'}",
            ISTIO_TARGETS,
        )
        return
    if any(w is not None for w in written.values()):
        missing = [c for c in weights if written.get(c) is None]
        low = [c for c in weights if (written.get(c) or 0) < 1 and c not in missing]
        if consumer in missing and consumer not in written:
            checks.problem_for(
                consumer,
                where,
                f"{consumer} runs {svc.ref} itself, and Istio's distribute gives "
                "a locality without a weight no traffic",
                f"list {consumer} among the targets with a weight, or drop the weights",
                ISTIO_WEIGHTS,
            )
            return
        if missing or low:
            parts = [f"{c} has none" for c in missing] + [f"{c} has {written[c]}" for c in low]
            checks.problem(
                where,
                f"Istio's distribute needs a weight of at least 1 for every cluster it sends to; {', '.join(parts)}",
                "give every target a weight of 1 or more, or none at all",
                ISTIO_WEIGHTS,
            )
            return
    if len(weights) > 100:
        checks.problem(
            where,
            "Istio's distribute takes whole percentages: at most 100 clusters",
            "choose fewer targets",
            ISTIO_WEIGHTS,
        )
        return
    regions: dict[str, list[str]] = {}
    for c in loc.serving:
        regions.setdefault(loc.region(c), []).append(c)
    for c in weights:
        shared = regions[loc.region(c)]
        if len(shared) > 1:
            checks.problem_for(
                consumer,
                where,
                f"Istio distributes {consumer}'s calls to {svc.ref} by locality, "
                f"and {' and '.join(shared)} are both in region {loc.region(c)}: they would share "
                "one weight",
                "drop the weights (ActiveActive spreads over every endpoint), or serve from one cluster per region",
                ISTIO_WEIGHTS,
            )
            return
