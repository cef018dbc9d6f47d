"""Fleet -> Plan: every Kubernetes object of every cluster as a plain value, and what it means.

Why: the Pulumi program, the renderer and the diff must agree on every byte, so none of them
computes an object. They consume this plan. Each object is exactly what its mesh would hold and is
tagged `applied` (meshfleet writes it) or `derived` (a controller in the fleet writes it; we predict
it). Beside the objects, each cluster carries typed service views (imports, exports, traffic
policies, grants, mesh settings) built by the mesh adapters from the same values as the bodies:
sinks read views, never bodies. The plan also carries the fleet's warnings.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from meshfleet.core.access import access_clusters, identities
from meshfleet.core.acknowledge import acknowledge
from meshfleet.core.meshes import mesh
from meshfleet.core.meshes.base import PlanContext
from meshfleet.core.objects import RETAIN_ANNOTATIONS, ObjectId, Objects, PlannedObject, Role
from meshfleet.core.topology import Topology, resolve
from meshfleet.core.views import ExportView, GatewayView, GrantView, ImportView, MeshSettingsView, PolicyView
from meshfleet.errors import Finding, FindingsError
from meshfleet.fleet.model import Fleet, KubeconfigFromContext, KubeconfigFromStackSecret

Mode = Literal["control-plane", "standalone"]


@dataclass(frozen=True)
class ClusterPlan:
    """One cluster's objects, its identity for sinks, and its typed service views."""

    name: str
    id: str
    key: str | None
    """FSM clusterKey; None for the control-plane cluster, which is not a member."""
    role: Literal["member", "control-plane"]
    mesh: str
    kubeconfig: KubeconfigFromStackSecret | KubeconfigFromContext
    objects: tuple[PlannedObject, ...]
    gateway: GatewayView | None = None
    settings: MeshSettingsView | None = None
    """The mesh settings meshfleet sets on a member (None for the control plane)."""
    imports: tuple[ImportView, ...] = ()
    exports: tuple[ExportView, ...] = ()
    policies: tuple[PolicyView, ...] = ()
    grants: tuple[GrantView, ...] = ()

    def applied(self) -> list[PlannedObject]:
        return [o for o in self.objects if o.role == "applied"]

    def derived(self) -> list[PlannedObject]:
        return [o for o in self.objects if o.role == "derived"]

    def kubeconfig_source(self) -> str:
        """Where the cluster's kubeconfig comes from, in words; never its contents."""
        src = self.kubeconfig
        if isinstance(src, KubeconfigFromContext):
            return f"context {src.context} of " + (src.file or "the user's kubeconfig")
        return f"stack secret meshfleet:kubeconfigs.{self.name}"


@dataclass(frozen=True)
class Plan:
    """The whole fleet planned: per cluster its objects and views, plus the fleet's warnings."""

    mode: Mode
    clusters: tuple[ClusterPlan, ...]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each cluster's labels, for sinks that choose clusters by selector (sharding)."""
    warnings: tuple[Finding, ...] = ()
    """What the meshes will do instead of what the fleet file reads as (placed in the file by the loader)."""

    def cluster(self, name: str) -> ClusterPlan:
        for c in self.clusters:
            if c.name == name:
                return c
        raise KeyError(name)

    def objects(self) -> Iterator[tuple[str, PlannedObject]]:
        for c in self.clusters:
            for o in c.objects:
                yield c.name, o


def plan(fleet: Fleet) -> Plan:
    """Plan a fleet; raises FindingsError (errors, and the warnings beside them) when it is refused.

    The cyclic garbage collector is paused while planning: a large fleet builds millions of small
    dicts with no reference cycles, and the collector rescanning them cost 40% of planning time.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        topo = resolve(fleet)
        if any(f.severity == "error" for f in topo.findings):
            raise FindingsError(acknowledge(fleet, topo.findings, complete=False))
        planned, more = _Planner(topo).build()
        findings = acknowledge(fleet, [*topo.findings, *more], complete=True)
        if any(f.severity == "error" for f in findings):
            raise FindingsError(findings)
        return dataclasses.replace(planned, warnings=tuple(sorted(findings, key=Finding.sort_key)))
    finally:
        if paused:
            gc.enable()


@dataclass
class _Views:
    settings: MeshSettingsView | None = None
    imports: list[ImportView] = field(default_factory=list)
    exports: list[ExportView] = field(default_factory=list)
    policies: list[PolicyView] = field(default_factory=list)
    grants: list[GrantView] = field(default_factory=list)


class _Planner:
    """Asks each cluster's mesh adapter for its objects and views, in a fixed order."""

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self.fleet = topo.fleet
        self.ctx = PlanContext(topo, Objects(sorted(self.fleet.clusters)))
        self.views = {name: _Views() for name in self.fleet.clusters}

    def build(self) -> tuple[Plan, list[Finding]]:
        fleet, topo, ctx = self.fleet, self.topo, self.ctx
        for m in topo.members:
            self.views[m].settings = mesh(topo.meshes[m]).plan_cluster(ctx, m)
        for svc in topo.services.values():
            for e in svc.exporters:
                self.views[e].exports.append(mesh(topo.meshes[e]).plan_export(ctx, svc, e))
            for c in svc.importers:
                self.views[c].imports.append(mesh(topo.meshes[c]).plan_import(ctx, svc, c))
            for c in sorted(svc.policies):
                self.views[c].policies.append(mesh(topo.meshes[c]).plan_policy(ctx, svc, c))
        for rule_name in sorted(fleet.access):
            rule = fleet.access[rule_name]
            svc = topo.services[rule.to]
            for c in access_clusters(svc, topo.access_in.get(rule_name)):
                adapter = mesh(topo.meshes[c]).access
                assert adapter is not None
                self.views[c].grants.extend(adapter.plan_grants(ctx, rule_name, rule, svc, c, identities(svc, c)))
        self._namespaces()

        clusters = []
        for name in sorted(fleet.clusters):
            spec = fleet.clusters[name]
            is_cp = name == fleet.controlPlane
            v = self.views[name]
            clusters.append(ClusterPlan(
                name=name,
                id=spec.id or name,
                key=None if is_cp else topo.keys[name],
                role="control-plane" if is_cp else "member",
                mesh=spec.mesh,
                kubeconfig=spec.kubeconfig,
                objects=tuple(sorted(ctx.objects.by_cluster[name], key=PlannedObject.sort_key)),
                gateway=mesh(spec.mesh).gateway(spec),
                settings=v.settings,
                imports=tuple(sorted(v.imports, key=lambda i: i.service)),
                exports=tuple(sorted(v.exports, key=lambda e: e.service)),
                policies=tuple(sorted(v.policies, key=lambda p: p.service)),
                grants=tuple(sorted(v.grants, key=lambda g: (g.rule, g.destination))),
            ))
        labels = {n: dict(sorted(c.labels.items())) for n, c in sorted(fleet.clusters.items())}
        mode: Mode = "standalone" if fleet.controlPlane is None else "control-plane"
        return Plan(mode=mode, clusters=tuple(clusters), labels=labels), ctx.objects.findings

    def _namespaces(self) -> None:
        """The namespaces meshfleet creates: those of services with createNamespace, where its objects
        (or objects that need them, like KEP-1645 imports) are."""
        wanted = {svc.namespace for svc in self.topo.services.values() if svc.spec.createNamespace}
        for cluster, needed in self.ctx.objects.namespaces.items():
            for ns in sorted(needed & wanted):
                body = {"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": ns, "annotations": dict(RETAIN_ANNOTATIONS)}}
                self.ctx.objects.add(cluster, PlannedObject("applied", body, retain=True), ("services",))


__all__ = ["ClusterPlan", "Mode", "ObjectId", "Plan", "PlannedObject", "Role", "plan"]
