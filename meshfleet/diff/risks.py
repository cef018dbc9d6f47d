"""Changes that can break a fleet, named before anything else in a diff.

Why: a reviewer must see first that a cluster or the control plane leaves, that an export others
still import goes away, that a gateway moves, that a kubeconfig source or a provider identity
changes, that a cluster loses most of its objects, that objects pass from meshfleet to a
controller, or that the mesh applies a change late or never (a setting it keeps, a member its
control plane keeps serving). These come from the object-level changes and the service views, and
from each mesh adapter's rules about its own late effects, never from bodies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from meshfleet.core.meshes import MESHES, mesh
from meshfleet.core.plan import ClusterPlan, Plan
from meshfleet.diff.objects import ClusterDiff
from meshfleet.diff.phrases import listed

RiskKind = Literal[
    "control-plane-removed",
    "cluster-removed",
    "export-removed",
    "gateway-changed",
    "kubeconfig-changed",
    "cluster-id-changed",
    "mass-delete",
    "handover",
    "member-lingers",
    "setting-stays",
]
RISK_ORDER: tuple[RiskKind, ...] = get_args(RiskKind)  # the most severe first


@dataclass(frozen=True)
class Risk:
    """A change that can break the fleet: its kind, the cluster it concerns, and what happens."""

    kind: RiskKind
    cluster: str
    message: str
    hits: tuple[str, ...] = ()
    """The other clusters it hits (every one; the message names a few)."""


def risks(old: Plan, new: Plan, clusters: tuple[ClusterDiff, ...], share: float) -> tuple[Risk, ...]:
    found: list[Risk] = []
    for c in clusters:
        if c.old is None:
            continue
        stops: tuple[str, ...] = ()
        if c.old.role == "control-plane" and (c.new is None or c.new.role != "control-plane"):
            registrations = sum(1 for o in c.old.objects if o.kubeconfig_of is not None)
            stops = mesh(c.old.mesh).control_plane_removal_risks(
                c.name, registrations, c.new is None, new.mode != "standalone"
            )
            found.extend(Risk("control-plane-removed", c.name, m) for m in stops)
        if c.new is None and not stops:
            found.append(_cluster_removed(c.name, c.old))
    found.extend(_export_risks(old, new))
    old_gw, new_gw = _gateways(old), _gateways(new)
    for c in clusters:
        if c.old is None or c.new is None:
            continue
        a, b = old_gw.get(c.name), new_gw.get(c.name)
        if a and b:
            known = [k for k in ("host", "ip", "port") if a.get(k) is not None and b.get(k) is not None]
            if any(a[k] != b[k] for k in known):
                found.append(
                    Risk(
                        "gateway-changed",
                        c.name,
                        f"the gateway of {c.name} moves from {_address(a, known)} to {_address(b, known)}; "
                        "every cluster importing from it must reach the new address",
                    )
                )
        for f in c.attributes:
            if f.path == "kubeconfig":
                found.append(
                    Risk(
                        "kubeconfig-changed",
                        c.name,
                        f"the kubeconfig of {c.name} now comes from {f.new} (was {f.old}); "
                        "check that it still reaches the same cluster",
                    )
                )
            if f.path == "id":
                found.append(
                    Risk(
                        "cluster-id-changed",
                        c.name,
                        f"the identity of {c.name}'s Pulumi provider changes ({f.old} -> {f.new}); "
                        "Pulumi replaces every object in that cluster",
                    )
                )
        total = len(c.old.objects)
        deleted = sum(1 for o in c.objects if o.deletes)
        if total and deleted / total > share:
            found.append(
                Risk(
                    "mass-delete",
                    c.name,
                    f"{c.name} loses {deleted} of its {total} objects ({deleted / total:.0%}), "
                    f"more than --max-delete-share {share:.0%}",
                )
            )
        handed = sum(1 for o in c.objects if o.role_change == ("applied", "derived"))
        if handed:
            found.extend(Risk("handover", c.name, m) for m in mesh(c.new.mesh).handover_risks(c.name, handed))
        if c.old.mesh == c.new.mesh:
            found.extend(_export_setting_risks(c.old, c.new))
    found.extend(_member_risks(old, new, clusters))
    found.extend(_given_back_risks(clusters))
    rank = {k: i for i, k in enumerate(RISK_ORDER)}
    return tuple(sorted(found, key=lambda r: (rank[r.kind], r.cluster, r.message)))


def _cluster_removed(name: str, old: ClusterPlan) -> Risk:
    """What meshfleet deletes of a cluster that leaves, and what it keeps: the namespaces it retains and
    the objects of others it patched (its mesh names them)."""
    applied = [o for o in old.objects if o.role == "applied"]
    kept = sum(1 for o in applied if o.retain or o.patch)
    what = " and ".join(w for w in ("retained namespaces", mesh(old.mesh).patched_objects()) if w)
    keep = f" ({kept} kept: {what})" if kept else ""
    return Risk(
        "cluster-removed",
        name,
        f"cluster {name} leaves the fleet: meshfleet deletes the {len(applied) - kept} objects it applied there{keep}",
    )


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
                    # An empty ip is one the plan cannot know (a control plane resolves the host).
                    out[e.cluster] = {"host": e.target.host, "port": e.target.port, "ip": e.target.ip or None}
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
        many = (
            f"{len(who)} clusters import ({listed(who)})"
            if len(who) > 3
            else f"{', '.join(who)} import{'s' if len(who) == 1 else ''}"
        )
        yield Risk(
            "export-removed", cluster, f"{service} is no longer exported from {cluster}, which {many}", tuple(who)
        )


def _given_back_risks(clusters: tuple[ClusterDiff, ...]) -> Iterable[Risk]:
    """A patch meshfleet gives back when it leaves (annotations on a user's Service): Pulumi removes
    its fields, but Argo CD and Flux never prune a partial object (the GitOps render tells them not to),
    so under them the fields stay and the mesh keeps acting on them until someone removes them."""
    for c in clusters:
        if c.old is None:
            continue
        title = mesh(c.old.mesh).title
        for o in c.objects:
            if o.op != "removed" or o.old is None or not o.old.relinquish:
                continue
            keys = sorted(o.old.body["metadata"].get("annotations", {}))
            if not keys:
                continue
            ns = f" -n {o.id.namespace}" if o.id.namespace else ""
            yield Risk(
                "setting-stays",
                c.name,
                f"{o.id} in {c.name} keeps {listed(keys)} under Argo CD or Flux (neither "
                f"prunes a partial object), and {title} acts on them; Pulumi gives them back; under GitOps remove "
                f"them: kubectl annotate {o.id.kind.lower()}{ns} {o.id.name} {' '.join(k + '-' for k in keys)}",
            )


def _export_setting_risks(old: ClusterPlan, new: ClusterPlan) -> Iterable[Risk]:
    """What the cluster's mesh keeps in effect of an export that changes (its adapter says)."""
    adapter = MESHES.get(new.mesh)
    if adapter is None:
        return
    before = {e.service: e for e in old.exports}
    for export in new.exports:
        was = before.get(export.service)
        if was is not None and was != export:
            for message in adapter.export_change_risks(new.name, was, export):
                yield Risk("setting-stays", new.name, message)


def _registered(plan: Plan) -> set[str]:
    """The members the control plane registers (the objects there that carry a member's kubeconfig)."""
    return {
        o.kubeconfig_of
        for c in plan.clusters
        if c.role == "control-plane"
        for o in c.objects
        if o.kubeconfig_of is not None
    }


def _member_risks(old: Plan, new: Plan, clusters: tuple[ClusterDiff, ...]) -> Iterable[Risk]:
    """With one control plane before and after, a member that leaves it or changes its clusterKey:
    what the control plane's mesh keeps serving (its adapter says)."""
    before, after = _registered(old), _registered(new)
    cp_old = next((c for c in old.clusters if c.role == "control-plane"), None)
    cp_new = next((c.name for c in new.clusters if c.role == "control-plane"), None)
    if cp_old is None or cp_old.name != cp_new:
        return
    adapter = mesh(cp_old.mesh)
    for c in clusters:
        if c.name not in before or c.old is None:
            continue
        if c.name not in after:
            messages = adapter.member_removal_risks(cp_old.name, c.name)
        elif c.new is not None and c.old.key is not None and c.new.key is not None and c.old.key != c.new.key:
            messages = adapter.member_key_risks(cp_old.name, c.name, c.old.key, c.new.key)
        else:
            continue
        yield from (Risk("member-lingers", c.name, m) for m in messages)
