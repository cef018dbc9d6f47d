"""Fleet -> Plan: every Kubernetes object of every cluster, as a plain value.

Why: the Pulumi program, the renderer and the diff must agree on every byte, so none of them
computes an object. They consume this plan. Each object is exactly what FSM would hold (same
apiVersion, names and fields) and is tagged `applied` (meshfleet writes it) or `derived` (a
controller in the fleet writes it; we predict it for previews and conflict checks).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from meshfleet.core.topology import (
    ServiceTopology,
    Topology,
    access_clusters,
    identities,
    resolve_or_raise,
)
from meshfleet.errors import Finding, FindingsError, Loc
from meshfleet.fleet.model import Fleet, KubeconfigFromContext, KubeconfigFromStackSecret

MCS_FSM = "multicluster.flomesh.io/v1alpha1"
MESHCONFIG = "config.flomesh.io/v1alpha3"
SMI_ACCESS = "access.smi-spec.io/v1alpha3"
SMI_SPECS = "specs.smi-spec.io/v1alpha4"
PIPY = "pipy"

Role = Literal["applied", "derived"]
Mode = Literal["control-plane", "standalone"]

# Annotations that let GitOps engines apply a partial object of FSM's without ever deleting it.
PATCH_ANNOTATIONS = {
    "argocd.argoproj.io/sync-options": "ServerSideApply=true,Prune=false,Delete=false",
    "kustomize.toolkit.fluxcd.io/prune": "disabled",
    "kustomize.toolkit.fluxcd.io/ssa": "Merge",
}
# Namespaces hold what others own: GitOps engines create them but never prune or delete them.
RETAIN_ANNOTATIONS = {
    "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
    "kustomize.toolkit.fluxcd.io/prune": "disabled",
}

# Apply order: what others live in first, then registrations, exports, imports, policies.
KIND_ORDER = {
    "Namespace": 0,
    "Cluster": 1,
    "MeshConfig": 2,
    "ServiceExport": 3,
    "ServiceImport": 4,
    "GlobalTrafficPolicy": 5,
    "HTTPRouteGroup": 6,
    "TrafficTarget": 7,
    "Service": 8,
    "Endpoints": 9,
    "EndpointSlice": 9,
    "Ingress": 10,
}


@dataclass(frozen=True, order=True)
class ObjectId:
    """The identity of an object inside one cluster."""

    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


@dataclass(frozen=True)
class PlannedObject:
    role: Role
    body: dict[str, Any]
    patch: bool = False
    """A partial object of FSM's (MeshConfig): applied server-side, never created or deleted."""
    retain: bool = False
    """Left in the cluster when it leaves the fleet (namespaces hold things meshfleet does not own)."""
    kubeconfig_of: str | None = None
    """For FSM `Cluster` objects: the member whose kubeconfig goes into `spec.kubeconfig`."""

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def api_version(self) -> str:
        return str(self.body["apiVersion"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"].get("namespace", ""))

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def id(self) -> ObjectId:
        return ObjectId(self.api_version, self.kind, self.namespace, self.name)

    def sort_key(self) -> tuple[int, str, str, str]:
        return (KIND_ORDER.get(self.kind, 50), self.kind, self.namespace, self.name)


@dataclass(frozen=True)
class GatewayAddress:
    """Where other clusters reach a member (FSM ingress or Linkerd gateway); for diffs and reviews."""

    host: str
    ip: str | None
    port: int


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    id: str
    key: str | None
    """FSM clusterKey; None for the control-plane cluster, which is not a member."""
    role: Literal["member", "control-plane"]
    mesh: str
    kubeconfig: KubeconfigFromStackSecret | KubeconfigFromContext
    objects: tuple[PlannedObject, ...]
    gateway: GatewayAddress | None = None

    def applied(self) -> list[PlannedObject]:
        return [o for o in self.objects if o.role == "applied"]

    def derived(self) -> list[PlannedObject]:
        return [o for o in self.objects if o.role == "derived"]


@dataclass(frozen=True)
class Plan:
    mode: Mode
    clusters: tuple[ClusterPlan, ...]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each cluster's labels, for sinks that choose clusters by selector (sharding)."""

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
    """Plan a fleet; raises FindingsError when the fleet's pieces disagree.

    The cyclic garbage collector is paused while planning: a large fleet builds millions of small
    dicts with no reference cycles, and the collector rescanning them cost 40% of planning time.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        topo = resolve_or_raise(fleet)
        return _Planner(topo).build()
    finally:
        if paused:
            gc.enable()


class _Planner:
    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self.fleet = topo.fleet
        self.standalone = self.fleet.controlPlane is None
        self.objects: dict[str, list[PlannedObject]] = {name: [] for name in self.fleet.clusters}
        self.origin: dict[tuple[str, ObjectId], Loc] = {}
        self.findings: list[Finding] = []

    def add(self, cluster: str, obj: PlannedObject, loc: Loc) -> None:
        key = (cluster, obj.id)
        if key in self.origin:
            self.findings.append(Finding(loc, f"{obj.id} would be written twice in cluster {cluster} "
                                         f"(also from {'.'.join(str(p) for p in self.origin[key])})",
                                         "rename one of them"))
            return
        self.origin[key] = loc
        self.objects[cluster].append(obj)

    def build(self) -> Plan:
        fleet, topo = self.fleet, self.topo
        if fleet.controlPlane is not None:
            self._registrations(fleet.controlPlane)
        for m in topo.members:
            if fleet.clusters[m].mesh == "fsm":
                self._mesh_config(m)
        for ref, svc in topo.services.items():
            self._service(ref, svc)
        for rule_name in sorted(fleet.access):
            self._access(rule_name)
        self._namespaces()
        if self.findings:
            raise FindingsError(self.findings)

        clusters = []
        for name in sorted(fleet.clusters):
            c = fleet.clusters[name]
            is_cp = name == fleet.controlPlane
            objects = sorted(self.objects[name], key=PlannedObject.sort_key)
            clusters.append(ClusterPlan(
                name=name,
                id=c.id or name,
                key=None if is_cp else topo.keys[name],
                role="control-plane" if is_cp else "member",
                mesh=c.mesh,
                kubeconfig=c.kubeconfig,
                objects=tuple(objects),
                gateway=None if c.gateway is None else GatewayAddress(
                    c.gateway.host, c.gateway.ip,
                    c.linkerd.gatewayPort if c.mesh == "linkerd" else c.gateway.port),
            ))
        labels = {n: dict(sorted(c.labels.items())) for n, c in sorted(fleet.clusters.items())}
        return Plan(mode="standalone" if self.standalone else "control-plane", clusters=tuple(clusters),
                    labels=labels)

    # --- control plane -------------------------------------------------------------------------

    def _registrations(self, cp: str) -> None:
        for m in self.topo.members:
            c = self.fleet.clusters[m]
            if c.gateway is None or c.mesh != "fsm":
                continue  # FSM's control plane federates FSM members only; a missing gateway is reported
            body = {
                "apiVersion": MCS_FSM,
                "kind": "Cluster",
                "metadata": {"name": m},
                "spec": {
                    "region": c.region,
                    "zone": c.zone,
                    "group": c.group,
                    "gatewayHost": c.gateway.host,
                    "gatewayPort": c.gateway.port,
                    "fsmNamespace": c.fsm.namespace,
                    "fsmMeshConfigName": c.fsm.meshConfig,
                },
            }
            self.add(cp, PlannedObject("applied", body, kubeconfig_of=m), ("clusters", m))

    # --- members -------------------------------------------------------------------------------

    def _mesh_config(self, m: str) -> None:
        c = self.fleet.clusters[m]
        spec: dict[str, Any] = {}
        if self.standalone:
            # What FSM's control plane writes on join, minus isManaged/controlPlaneUID: those would
            # make a later join by a real control plane fail ("already managed").
            spec["clusterSet"] = {"region": c.region, "zone": c.zone, "group": c.group, "name": m}
        if c.fsm.permissive is not None:
            spec["traffic"] = {"enablePermissiveTrafficPolicyMode": c.fsm.permissive}
        if not spec:
            return
        body = {
            "apiVersion": MESHCONFIG,
            "kind": "MeshConfig",
            "metadata": {
                "name": c.fsm.meshConfig,
                "namespace": c.fsm.namespace,
                "annotations": dict(PATCH_ANNOTATIONS),
            },
            "spec": spec,
        }
        self.add(m, PlannedObject("applied", body, patch=True), ("clusters", m, "fsm"))

    def _service(self, ref: str, svc: ServiceTopology) -> None:
        loc: Loc = ("services", ref)
        for e in svc.exporters:
            self._export(e, svc, loc)
        for c in svc.importers:
            self._import(c, svc, loc)
        for c, _pol in sorted(svc.policies.items()):
            self._policy(c, svc, loc)

    def _export(self, e: str, svc: ServiceTopology, loc: Loc) -> None:
        mesh = self.topo.meshes[e]
        if mesh == "mcs":
            version = self.fleet.clusters[e].mcs.apiVersion
            body = {"apiVersion": version, "kind": "ServiceExport",
                    "metadata": {"name": svc.name, "namespace": svc.namespace}}
            self.add(e, PlannedObject("applied", body), (*loc, "export"))
            return
        if mesh == "linkerd":
            return  # static mirroring: consumers get the mirror objects; the exporter only runs its gateway
        settings = svc.exports[e]
        spec: dict[str, Any] = {
            "serviceAccountName": settings.service_account,
            "rules": [{"portNumber": r.port.port, "path": r.path, "pathType": r.path_type} for r in settings.rules],
        }
        if settings.load_balancer is not None:
            spec["loadBalancer"] = settings.load_balancer
        if settings.session_sticky is not None:
            spec["sessionSticky"] = settings.session_sticky
        if settings.path_rewrite is not None:
            spec["pathRewrite"] = {"from": settings.path_rewrite.from_, "to": settings.path_rewrite.to}
        meta = {"name": svc.name, "namespace": svc.namespace}
        export = {"apiVersion": MCS_FSM, "kind": "ServiceExport", "metadata": meta, "spec": spec}
        self.add(e, PlannedObject("applied", export), (*loc, "export"))

        # The member's fsm-controller turns the export into this Ingress (class pipy, hard-coded).
        annotations: dict[str, str] = {}
        rw = settings.path_rewrite
        if rw is not None:
            annotations["pipy.ingress.kubernetes.io/rewrite-target-from"] = rw.from_
            annotations["pipy.ingress.kubernetes.io/rewrite-target-to"] = rw.to
        if settings.session_sticky:
            annotations["pipy.ingress.kubernetes.io/session-sticky"] = "true"
        annotations["pipy.ingress.kubernetes.io/lb-type"] = settings.load_balancer or "RoundRobinLoadBalancer"
        paths = [_ingress_path(r.path, r.path_type, svc.name, r.port.port) for r in settings.rules]
        ingress = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": f"svcexp-ing-{svc.name}", "namespace": svc.namespace,
                         "annotations": dict(sorted(annotations.items()))},
            "spec": {"ingressClassName": PIPY, "rules": [{"http": {"paths": paths}}]},
        }
        self.add(e, PlannedObject("derived", ingress), (*loc, "export"))

        gateway = self.fleet.clusters[e].gateway
        if gateway is not None and gateway.ingressClass != PIPY:
            # FSM only ever writes a pipy Ingress. Another gateway needs its own, which we apply; its
            # pathType is ImplementationSpecific so FSM's path-conflict check (path + pathType)
            # does not refuse the export because of it.
            own = {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": f"meshfleet-{svc.name}", "namespace": svc.namespace},
                "spec": {
                    "ingressClassName": gateway.ingressClass,
                    "rules": [{"http": {"paths": [
                        _ingress_path(r.path, "ImplementationSpecific", svc.name, r.port.port)
                        for r in settings.rules
                    ]}}],
                },
            }
            self.add(e, PlannedObject("applied", own), ("clusters", e, "gateway", "ingressClass"))

    def _import(self, c: str, svc: ServiceTopology, loc: Loc) -> None:
        mesh = self.topo.meshes[c]
        if mesh == "linkerd":
            for e in svc.endpoints_for(c):
                self._mirror(c, e, svc, loc)
            return
        if mesh == "mcs":
            self._mcs_import(c, svc, loc)
            return
        sources = svc.endpoints_for(c)
        first = svc.exports[sources[0]]
        ports = []
        for rule in first.rules:
            endpoints = []
            for e in sorted(sources, key=lambda n: self.topo.keys[n]):
                path = next(r.path for r in svc.exports[e].rules if r.port.port == rule.port.port)
                endpoints.append({"clusterKey": self.topo.keys[e], "target": self._target(e, path)})
            entry: dict[str, Any] = {}
            if rule.port.name is not None:
                entry["name"] = rule.port.name
            entry["port"] = rule.port.port
            entry["protocol"] = rule.port.protocol
            if rule.port.appProtocol is not None:
                entry["appProtocol"] = rule.port.appProtocol
            entry["endpoints"] = endpoints
            ports.append(entry)
        body = {
            "apiVersion": MCS_FSM,
            "kind": "ServiceImport",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": {"type": "ClusterSetIP", "serviceAccountName": first.service_account, "ports": ports},
        }
        self.add(c, PlannedObject("derived" if not self.standalone else "applied", body), (*loc, "export"))

    def _mirror(self, c: str, e: str, svc: ServiceTopology, loc: Loc) -> None:
        """What Linkerd's service-mirror controller would write in `c` for `svc` exported from `e`:
        a selector-less Service `<name>-<e>` with the service's ports, and Endpoints at e's gateway."""
        exporter = self.fleet.clusters[e]
        gw = exporter.gateway
        assert gw is not None
        name = f"{svc.name}-{e}"
        fq_name = f"{svc.name}.{svc.namespace}.svc.{exporter.linkerd.clusterDomain}"
        labels = {"mirror.linkerd.io/cluster-name": e, "mirror.linkerd.io/mirrored-service": "true"}
        ports = svc.ports[e]
        service_ports = []
        endpoint_ports = []
        for p in ports:
            named = {"name": p.name} if p.name is not None else {}
            service_ports.append({**named, "port": p.port, "protocol": p.protocol, "targetPort": p.port})
            endpoint_ports.append({**named, "port": exporter.linkerd.gatewayPort, "protocol": p.protocol})
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": svc.namespace, "labels": dict(labels),
                         "annotations": {"mirror.linkerd.io/remote-svc-fq-name": fq_name}},
            "spec": {"ports": service_ports},
        }
        endpoints = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": name,
                "namespace": svc.namespace,
                "labels": dict(labels),
                "annotations": {
                    "mirror.linkerd.io/remote-gateway-identity": exporter.linkerd.gatewayIdentity,
                    "mirror.linkerd.io/remote-svc-fq-name": fq_name,
                },
            },
            "subsets": [{"addresses": [{"ip": gw.ip or gw.host}], "ports": endpoint_ports}],
        }
        self.add(c, PlannedObject("applied", service), (*loc, "export"))
        self.add(c, PlannedObject("applied", endpoints), (*loc, "export"))

    def _mcs_import(self, c: str, svc: ServiceTopology, loc: Loc) -> None:
        """The ServiceImport a KEP-1645 implementation derives in every cluster of the clusterset:
        the union of the exporters' ports (they must agree; an offline tool cannot pick the oldest)."""
        first = svc.endpoints_for(c)[0]
        ports = []
        for p in svc.ports[first]:
            entry: dict[str, Any] = {}
            if p.name is not None:
                entry["name"] = p.name
            entry["port"] = p.port
            entry["protocol"] = p.protocol
            if p.appProtocol is not None:
                entry["appProtocol"] = p.appProtocol
            ports.append(entry)
        body = {
            "apiVersion": self.fleet.clusters[c].mcs.apiVersion,
            "kind": "ServiceImport",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": {"type": "ClusterSetIP", "ports": ports},
        }
        self.add(c, PlannedObject("derived", body), (*loc, "export"))

    def _target(self, e: str, path: str) -> dict[str, Any]:
        gw = self.fleet.clusters[e].gateway
        assert gw is not None
        # A DNS host without `ip` is resolved by FSM's control plane; offline we can only repeat it.
        ip = gw.ip or gw.host
        return {"host": gw.host, "ip": ip, "port": gw.port, "path": path}

    def _policy(self, c: str, svc: ServiceTopology, loc: Loc) -> None:
        pol = svc.policies[c]
        spec: dict[str, Any] = {"lbType": pol.lb_type}
        if pol.targets is not None:
            targets = [t for t in pol.targets if t.cluster != c]
            spec["targets"] = [
                {"clusterKey": self.topo.keys[t.cluster], **({"weight": t.weight} if t.weight is not None else {})}
                for t in targets
            ]
        elif pol.lb_type != "Locality":
            spec["targets"] = [{"clusterKey": self.topo.keys[e]}
                               for e in sorted(svc.endpoints_for(c), key=lambda n: self.topo.keys[n])]
        body = {
            "apiVersion": MCS_FSM,
            "kind": "GlobalTrafficPolicy",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": spec,
        }
        self.add(c, PlannedObject("applied", body), pol.loc)

    # --- access --------------------------------------------------------------------------------

    def _access(self, rule_name: str) -> None:
        rule = self.fleet.access[rule_name]
        svc = self.topo.services[rule.to]
        loc: Loc = ("access", rule_name)
        chosen = self.topo.access_in.get(rule_name)
        ns = svc.namespace
        matches = []
        for m in rule.http:
            match: dict[str, Any] = {"name": m.name, "pathRegex": m.pathRegex, "methods": list(m.methods)}
            if m.headers:
                match["headers"] = [dict(sorted(h.items())) for h in m.headers]
            matches.append(match)
        sources = [
            {"kind": "ServiceAccount", "name": s.partition("/")[2], "namespace": s.partition("/")[0]}
            for s in rule.from_
        ]
        for c in access_clusters(svc, chosen):
            routes = {
                "apiVersion": SMI_SPECS,
                "kind": "HTTPRouteGroup",
                "metadata": {"name": rule_name, "namespace": ns},
                "spec": {"matches": matches},
            }
            self.add(c, PlannedObject("applied", routes), loc)
            for sa in identities(svc, c):
                target = {
                    "apiVersion": SMI_ACCESS,
                    "kind": "TrafficTarget",
                    "metadata": {"name": f"{rule_name}-{'any' if sa == '*' else sa}", "namespace": ns},
                    "spec": {
                        "destination": {"kind": "ServiceAccount", "name": sa, "namespace": ns},
                        "rules": [{"kind": "HTTPRouteGroup", "name": rule_name,
                                   "matches": [m.name for m in rule.http]}],
                        "sources": sources,
                    },
                }
                self.add(c, PlannedObject("applied", target), loc)

    # --- namespaces ----------------------------------------------------------------------------

    def _namespaces(self) -> None:
        wanted = {svc.namespace for svc in self.topo.services.values() if svc.spec.createNamespace}
        for cluster, objects in self.objects.items():
            # Our own objects need their namespace; so do MCS imports, which a KEP-1645 controller
            # only creates where the namespace already exists.
            needing = {o.namespace for o in objects if (o.role == "applied" and not o.patch)
                       or (o.kind == "ServiceImport" and o.api_version.startswith("multicluster.x-k8s.io/"))}
            used = sorted(needing & wanted)
            for ns in used:
                body = {"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": ns, "annotations": dict(RETAIN_ANNOTATIONS)}}
                self.add(cluster, PlannedObject("applied", body, retain=True), ("services",))


def _ingress_path(path: str, path_type: str, service: str, port: int) -> dict[str, Any]:
    return {
        "path": path,
        "pathType": path_type,
        "backend": {"service": {"name": service, "port": {"number": port}}},
    }
