"""Changes that can break a fleet, named before anything else in a diff.

Why: a reviewer must see first that a cluster or the control plane leaves, that an export others
still import goes away, that a gateway moves, that a kubeconfig source or a provider identity
changes, that a cluster loses most of its objects, or that objects pass from meshfleet to a
controller. These come from the object-level changes and the service views, never from bodies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from meshfleet.core.plan import Plan
from meshfleet.diff.objects import ClusterDiff

RiskKind = Literal[
    "control-plane-removed",
    "cluster-removed",
    "export-removed",
    "gateway-changed",
    "kubeconfig-changed",
    "cluster-id-changed",
    "mass-delete",
    "handover",
]
RISK_ORDER: tuple[RiskKind, ...] = get_args(RiskKind)  # the most severe first


@dataclass(frozen=True)
class Risk:
    """A change that can break the fleet: its kind, the cluster it concerns, and what happens."""

    kind: RiskKind
    cluster: str
    message: str


def risks(old: Plan, new: Plan, clusters: tuple[ClusterDiff, ...], share: float) -> tuple[Risk, ...]:
    found: list[Risk] = []
    for c in clusters:
        if c.old is not None and c.old.role == "control-plane" and (c.new is None or c.new.role != "control-plane"):
            registrations = sum(1 for o in c.old.objects if o.kubeconfig_of is not None)
            then = ("meshfleet writes the ServiceImports itself from now on (standalone)" if new.mode == "standalone"
                    else "another cluster takes over as control plane")
            leaves = "leaves the fleet" if c.new is None else "is no longer the control plane"
            found.append(Risk("control-plane-removed", c.name,
                              f"the FSM control plane {c.name} {leaves}: its {registrations} cluster registrations "
                              f"are deleted and it stops writing ServiceImports; {then}"))
        elif c.new is None and c.old is not None:
            applied = [o for o in c.old.objects if o.role == "applied"]
            kept = sum(1 for o in applied if o.retain or o.patch)
            keep = f" ({kept} kept: retained namespaces and FSM's own objects)" if kept else ""
            found.append(Risk("cluster-removed", c.name,
                              f"cluster {c.name} leaves the fleet: meshfleet deletes the "
                              f"{len(applied) - kept} objects it applied there{keep}"))
    found.extend(_export_risks(old, new))
    old_gw, new_gw = _gateways(old), _gateways(new)
    for c in clusters:
        if c.old is None or c.new is None:
            continue
        a, b = old_gw.get(c.name), new_gw.get(c.name)
        if a and b:
            known = [k for k in ("host", "ip", "port") if a.get(k) is not None and b.get(k) is not None]
            if any(a[k] != b[k] for k in known):
                found.append(Risk("gateway-changed", c.name,
                                  f"the gateway of {c.name} moves from {_address(a, known)} to {_address(b, known)}; "
                                  "every cluster importing from it must reach the new address"))
        for f in c.attributes:
            if f.path == "kubeconfig":
                found.append(Risk("kubeconfig-changed", c.name,
                                  f"the kubeconfig of {c.name} now comes from {f.new} (was {f.old}); "
                                  "check that it still reaches the same cluster"))
            if f.path == "id":
                found.append(Risk("cluster-id-changed", c.name,
                                  f"the identity of {c.name}'s Pulumi provider changes ({f.old} -> {f.new}); "
                                  "Pulumi replaces every object in that cluster"))
        total = len(c.old.objects)
        deleted = sum(1 for o in c.objects if o.deletes)
        if total and deleted / total > share:
            found.append(Risk("mass-delete", c.name,
                              f"{c.name} loses {deleted} of its {total} objects ({deleted / total:.0%}), "
                              f"more than --max-delete-share {share:.0%}"))
        handed = [o for o in c.objects if o.role_change == ("applied", "derived")]
        if handed:
            found.append(Risk("handover", c.name,
                              f"{c.name}: {len(handed)} objects go from applied to predicted: meshfleet deletes them "
                              "and FSM's control plane must write them again (a gap until it does)"))
    rank = {k: i for i, k in enumerate(RISK_ORDER)}
    return tuple(sorted(found, key=lambda r: (rank[r.kind], r.cluster, r.message)))


def _gateways(plan: Plan) -> dict[str, dict[str, Any]]:
    """Each member's gateway address: the plan's own record, then the addresses its importers use."""
    out: dict[str, dict[str, Any]] = {}
    for c in plan.clusters:
        if c.gateway is not None:
            out[c.name] = {"host": c.gateway.host, "port": c.gateway.port, "ip": c.gateway.ip or c.gateway.host}
    for c in plan.clusters:
        for imported in c.imports:
            for e in imported.endpoints:
                if e.target is not None and e.target.host:
                    out[e.cluster] = {"host": e.target.host, "port": e.target.port, "ip": e.target.ip}
    return out


def _address(gw: dict[str, Any], fields: Iterable[str]) -> str:
    fields = list(fields)
    text = f"{gw.get('host')}:{gw.get('port')}" if "host" in fields or "port" in fields else ""
    if "ip" in fields and gw.get("ip") and gw.get("ip") != gw.get("host"):
        text += f" (ip {gw.get('ip')})"
    return text.strip() or "?"


def _serving(plan: Plan) -> dict[tuple[str, str], set[str]]:
    """(exporter, service) -> the clusters importing that service from that exporter."""
    out: dict[tuple[str, str], set[str]] = {}
    for c in plan.clusters:
        for imported in c.imports:
            for e in imported.endpoints:
                if e.cluster != c.name:
                    out.setdefault((e.cluster, imported.service), set()).add(c.name)
    return out


def _export_risks(old: Plan, new: Plan) -> Iterable[Risk]:
    still = {(c.name, e.service) for c in new.clusters for e in c.exports} | set(_serving(new))
    for (cluster, service), importers in sorted(_serving(old).items()):
        if (cluster, service) in still:
            continue
        who = sorted(importers)
        yield Risk("export-removed", cluster,
                   f"{service} is no longer exported from {cluster}, which {', '.join(who)} "
                   f"import{'s' if len(who) == 1 else ''}")
