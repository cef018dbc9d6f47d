"""Istio's locality load balancing for one consumer's traffic policy: DestinationRule settings and tiers.

Why: the checks (what Istio cannot follow), the DestinationRule (`localityLbSetting`,
`outlierDetection`) and the runtime tiers (who answers first) must agree, so one record computes all
three from the consumer's serving clusters and their regions (loadbalancer.go, endpoint_builder.go).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from meshfleet.core.meshes.istio.names import CLUSTER_LABEL, OUTLIER_DETECTION, REGION_LABEL, serving
from meshfleet.core.resolved import PolicySettings, ServiceTopology
from meshfleet.core.views import Share
from meshfleet.fleet.model import Fleet


def percentages(weights: dict[str, int]) -> dict[str, int]:
    """Weights as whole percentages that sum to 100, each at least 1 (largest remainder first)."""
    total = sum(weights.values())
    raw = {c: w * 100 / total for c, w in weights.items()}
    out = {c: max(1, math.floor(v)) for c, v in raw.items()}
    by_remainder = sorted(weights, key=lambda c: (-(raw[c] - math.floor(raw[c])), c))
    while sum(out.values()) < 100:
        for c in by_remainder:
            if sum(out.values()) == 100:
                break
            out[c] += 1
    while sum(out.values()) > 100:
        c = max((c for c in out if out[c] > 1), key=lambda c: (out[c], c))
        out[c] -= 1
    return out


class Locality:
    """What Istio does for one consumer's traffic policy: its DestinationRule settings and tiers."""

    def __init__(self, fleet: Fleet, svc: ServiceTopology, consumer: str, policy: PolicySettings) -> None:
        self.fleet, self.svc, self.consumer, self.policy = fleet, svc, consumer, policy
        self.serving = serving(svc, consumer)
        self.remote = [c for c in self.serving if c != consumer]
        self.own = self.region(consumer)

    def region(self, cluster: str) -> str:
        return self.fleet.clusters[cluster].region

    def by_region(self, clusters: Sequence[str], first: str | None = None) -> list[list[str]]:
        """`clusters` in tiers: the consumer's region, then region `first`, then the rest."""
        tiers = [[c for c in clusters if self.region(c) == self.own]]
        if first is not None:
            tiers.append([c for c in clusters if self.region(c) == first])
        tiers.append([c for c in clusters if self.region(c) != self.own and self.region(c) != first])
        return [t for t in tiers if t]

    def failover_region(self) -> str | None:
        """The region FailOver's targets lead to after the consumer's own (None: no other region)."""
        effective = self.policy.effective(self.consumer)
        if self.policy.lb_type != "FailOver" or effective is None:
            return None
        return next((self.region(t.cluster) for t in effective if self.region(t.cluster) != self.own), None)

    def weights(self) -> dict[str, int] | None:
        """ActiveActive's clusters and weights when it needs `distribute` (None: an even spread over all)."""
        if self.policy.lb_type != "ActiveActive":
            return None
        written = {t.cluster: t.weight for t in self.policy.targets or ()}
        weighted = any(w is not None for w in written.values())
        chosen = [c for c in self.remote if c in written] if self.policy.targets is not None else list(self.remote)
        if not weighted and sorted(chosen) == self.remote:
            return None
        if self.consumer in self.serving:
            chosen = [self.consumer, *chosen]
        return {c: (written.get(c) or 0) if weighted else 1 for c in chosen}

    def setting(self) -> dict[str, Any]:
        """`trafficPolicy` of the DestinationRule."""
        weights = self.weights()
        if self.policy.lb_type == "ActiveActive":
            if weights is None:
                return {"loadBalancer": {"localityLbSetting": {"enabled": False}}}
            shares = percentages(weights)
            to = {f"{self.region(c)}/*": shares[c] for c in sorted(shares, key=lambda c: (self.region(c), c))}
            return {"loadBalancer": {"localityLbSetting": {"enabled": True, "distribute": [{"from": "*", "to": to}]}}}
        lb: dict[str, Any] = {"enabled": True}
        first = self.failover_region()
        if first is None:
            lb["failoverPriority"] = [REGION_LABEL, CLUSTER_LABEL]
        else:
            lb["failoverPriority"] = [CLUSTER_LABEL]
            lb["failover"] = [{"from": self.own, "to": first}]
        return {"loadBalancer": {"localityLbSetting": lb}, "outlierDetection": dict(OUTLIER_DETECTION)}

    def tiers(self) -> tuple[tuple[Share, ...], ...]:
        if self.policy.lb_type == "ActiveActive":
            weights = self.weights()
            if weights is None:
                return (tuple(Share(c, 1) for c in self.serving),)
            shares = percentages(weights)
            return (tuple(Share(c, shares[c]) for c in sorted(shares)),)
        own = [[self.consumer]] if self.consumer in self.serving else []
        return tuple(tuple(Share(c, 1) for c in t) for t in own + self.by_region(self.remote, self.failover_region()))
