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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from meshfleet import codes
from meshfleet.core.access import access_clusters, identities
from meshfleet.core.acknowledge import acknowledge
from meshfleet.core.meshes import mesh
from meshfleet.core.meshes.base import PlanContext
from meshfleet.core.objects import ObjectId, Objects, PlannedObject, Role, qualified
from meshfleet.core.topology import Topology, resolve
from meshfleet.core.views import (
    ExportView,
    GatewayView,
    GrantView,
    ImportView,
    LocalView,
    MeshSettingsView,
    PolicyView,
)
from meshfleet.errors import Finding, FindingsError, Loc, format_loc
from meshfleet.fleet.model import Fleet, KubeconfigFromContext, KubeconfigFromStackSecret
from meshfleet.fleet.resources import IncludedObject

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
    local: tuple[LocalView, ...] = ()
    """The services with pods here and the identity they answer as (the effective view's local copies)."""

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


def plan(fleet: Fleet, included: Mapping[str, tuple[IncludedObject, ...]] | None = None) -> Plan:
    """Plan a fleet; raises FindingsError (errors, and the warnings beside them) when it is refused.

    `included` holds the objects the loader read from the resources' manifest files.

    The cyclic garbage collector is paused while planning: a large fleet builds millions of small
    dicts with no reference cycles, and the collector rescanning them cost 40% of planning time.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        topo = resolve(fleet, included)
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
    local: list[LocalView] = field(default_factory=list)


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
            for c in sorted({*svc.exports, *svc.spec.localServiceAccounts}):
                if c in self.views:
                    account = svc.spec.localServiceAccounts.get(c) or svc.exports[c].service_account
                    self.views[c].local.append(LocalView(svc.ref, qualified(svc.namespace, account)))
        for rule_name in sorted(fleet.access):
            rule = fleet.access[rule_name]
            svc = topo.services[rule.to]
            for c in access_clusters(svc, topo.access_in.get(rule_name)):
                adapter = mesh(topo.meshes[c]).access
                assert adapter is not None
                self.views[c].grants.extend(adapter.plan_grants(ctx, rule_name, rule, svc, c, identities(svc, c)))
        self._namespaces()
        self._place()

        clusters = []
        for name in sorted(fleet.clusters):
            spec = fleet.clusters[name]
            is_cp = name == fleet.controlPlane
            v = self.views[name]
            clusters.append(
                ClusterPlan(
                    name=name,
                    id=spec.id or name,
                    key=None if is_cp else topo.keys[name],
                    role="control-plane" if is_cp else "member",
                    mesh=spec.mesh,
                    kubeconfig=spec.kubeconfig,
                    objects=tuple(apply_order(ctx.objects.by_cluster[name])),
                    gateway=mesh(spec.mesh).gateway(spec),
                    settings=v.settings,
                    imports=tuple(sorted(v.imports, key=lambda i: i.service)),
                    exports=tuple(sorted(v.exports, key=lambda e: e.service)),
                    policies=tuple(sorted(v.policies, key=lambda p: p.service)),
                    grants=tuple(sorted(v.grants, key=lambda g: (g.rule, g.destination))),
                    local=tuple(sorted(v.local, key=lambda v: v.service)),
                )
            )
        labels = {n: dict(sorted(c.labels.items())) for n, c in sorted(fleet.clusters.items())}
        mode: Mode = "standalone" if fleet.controlPlane is None else "control-plane"
        return Plan(mode=mode, clusters=tuple(clusters), labels=labels), ctx.objects.findings

    def _namespaces(self) -> None:
        """The namespaces meshfleet creates: those of services with createNamespace where its objects (or
        objects that need them, like KEP-1645 imports) are, and those of resources with createNamespace
        where they place objects. A member's are put in its mesh, as the mesh's CLI does it."""
        wanted = {svc.namespace for svc in self.topo.services.values() if svc.spec.createNamespace}
        for cluster, needed in self.ctx.objects.namespaces.items():
            placed = self.topo.placed.get(cluster, [])
            by_resource = {
                o.namespace: ("resources", o.resource, "createNamespace")
                for o in placed
                if o.namespace and self.fleet.resources[o.resource].createNamespace
            }
            needed = needed | {o.namespace for o in placed if o.namespace}
            labels, annotations = (
                ({}, {})
                if cluster == self.fleet.controlPlane
                else mesh(self.topo.meshes[cluster]).namespace_metadata(self.fleet.clusters[cluster])
            )
            for ns in sorted(needed & (wanted | set(by_resource))):
                meta: dict[str, object] = {"name": ns}
                if labels:
                    meta["labels"] = dict(sorted(labels.items()))
                if annotations:
                    meta["annotations"] = dict(sorted(annotations.items()))
                body = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
                loc: Loc = ("services",) if ns in wanted else by_resource[ns]
                self.ctx.objects.add(cluster, PlannedObject("applied", body, retain=True), loc)

    def _place(self) -> None:
        """The resources' objects, each once: an object meshfleet plans itself is refused at the resource."""
        objects = self.ctx.objects
        if not any(self.topo.placed.values()):
            return
        planned: dict[tuple[str, tuple[str, str, str, str]], Loc] = {
            (c, (oid.api_version.rpartition("/")[0], oid.kind, oid.namespace, oid.name)): loc
            for (c, oid), loc in objects.origin.items()
        }
        for cluster, placed in sorted(self.topo.placed.items()):
            for o in placed:
                origin = planned.get((cluster, o.identity))
                if origin is not None:
                    what = f"{o.kind} {o.namespace + '/' if o.namespace else ''}{o.name}"
                    hint = (
                        "remove it from the template: meshfleet creates the namespace (createNamespace) and puts "
                        "it in the mesh"
                        if o.kind == "Namespace" and o.group == ""
                        else "remove it from the template"
                    )
                    objects.findings.append(
                        Finding(
                            o.loc,
                            f"{what} in cluster {cluster}: meshfleet plans it itself (from {format_loc(origin)})",
                            hint,
                            code=codes.DUPLICATE_OBJECT,
                        )
                    )
                    continue
                objects.add(cluster, PlannedObject("applied", o.body), o.loc, needs_namespace=False)


def apply_order(objects: list[PlannedObject]) -> list[PlannedObject]:
    """One cluster's objects in apply order, the one order every sink keeps: by wave (an object comes one
    wave after the latest object it waits for), then by kind (`KIND_ORDER`), namespace and name. Each
    object's `after` is cut to the applied objects of its cluster, and each object keeps its wave
    (`PlannedObject.wave`: the GitOps sink makes it Argo CD's sync wave or Flux's waiting Kustomization)."""
    if not any(o.after for o in objects):
        return sorted(objects, key=PlannedObject.sort_key)
    # Only the objects something waits for need their identity (an ObjectId is four lookups in the
    # body and a record): a name nothing waits for rules an object out at the cost of one lookup.
    wanted = {i for o in objects for i in o.after}
    names = {i.name for i in wanted}
    applied: dict[ObjectId, PlannedObject] = {}
    for o in objects:
        if o.role == "applied" and o.body["metadata"]["name"] in names and (oid := o.id) in wanted:
            applied[oid] = o
    waves: dict[int, int] = {}  # by the object's identity in memory: each is planned once
    waiting: dict[int, PlannedObject] = {}

    def wave(o: PlannedObject) -> int:
        if not o.after:
            return 0
        found = waves.get(id(o))
        if found is None:
            if id(o) in waiting:
                cycle = ", ".join(sorted(str(w.id) for w in waiting.values()))
                raise AssertionError(f"objects wait for each other: {cycle}")
            waiting[id(o)] = o
            before = [wave(applied[i]) for i in o.after if i in applied]
            del waiting[id(o)]
            found = waves[id(o)] = 1 + max(before) if before else 0
        return found

    keyed = []
    for index, o in enumerate(objects):
        after = tuple(i for i in o.after if i in applied) if o.after else ()
        at = wave(o)
        placed = dataclasses.replace(o, after=after, wave=at) if after != o.after or at != o.wave else o
        keyed.append(((at, *o.sort_key(), index), placed))  # the index keeps equal keys in their order
    keyed.sort(key=lambda pair: pair[0])
    return [placed for _, placed in keyed]


__all__ = ["ClusterPlan", "Mode", "ObjectId", "Plan", "PlannedObject", "Role", "plan"]
