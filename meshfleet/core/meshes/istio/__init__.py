"""Istio multi-primary: remote secrets, networks, exports by visibility, locality policies, authorization.

Why: every Istio cluster of the fleet is a primary (its own istiod). A primary learns the other
clusters' endpoints through a remote secret per cluster (the shape `istioctl create-remote-secret`
makes), and then treats every Service of the same name and namespace anywhere in the mesh as one
service, unless its mesh config marks the host cluster-local. So meshfleet writes, per Istio member:

- a remote secret `istio-remote-secret-<id>` for each other Istio member, holding that member's
  kubeconfig under its cluster ID (a secret the plan never holds: Pulumi gets it as a secret input,
  a Flux render as a substituted variable, Argo CD not at all);
- its network (`topology.istio.io/network` on the Istio namespace) where the fleet sets one;
- a ConfigMap istiod merges into its mesh config (istiod's SHARED_MESH_CONFIG names it) whose
  `serviceSettings` keep every host cluster-local except the services this cluster imports: exports
  by visibility, the mechanism Istio documents for keeping traffic in a cluster;
- a selector-less Service where it imports a service it does not run (Kubernetes DNS needs the name);
- per traffic policy a DestinationRule with `localityLbSetting` (failover priorities by cluster and
  region, region failover, or `distribute` by weights) and `outlierDetection` (failover needs it);
- per access rule an AuthorizationPolicy in each cluster whose pods answer, admitting the sources'
  principals `<trust domain>/ns/<namespace>/sa/<account>` for the rule's HTTP operations.

On more than one network, an exporter's east-west gateway passes the exported hosts through
(`AUTO_PASSTHROUGH`); meshfleet writes that Gateway with exactly those hosts.

Facts (istio/istio 1.30.3; ../shared/crds/istio/SOURCE.md): remote secret shape
`istioctl/pkg/multicluster/remote_secret.go:77-84,142-155`, read by `pkg/kube/multicluster/
secretcontroller.go:152-155,432-437`; kubeconfig restrictions `pkg/kube/util.go:441-470`; network
label `pilot/pkg/serviceregistry/kube/controller/network.go:94-100`; cluster-local hosts
`pilot/pkg/model/cluster_local.go`, applied per proxy `pilot/pkg/xds/endpoints/endpoint_builder.go:530-534`;
SHARED_MESH_CONFIG `pilot/pkg/bootstrap/mesh.go:40-48,106-135`, `pilot/pkg/features/pilot.go:215`;
locality load balancing `pilot/pkg/networking/core/loadbalancer/loadbalancer.go:85-116,119-178,
181-235,246-340` and its validation `pkg/config/validation/agent/validation.go:524-583`; failover
only with outlier detection `endpoint_builder.go:415-431`; AUTO_PASSTHROUGH hosts
`pilot/pkg/networking/core/gateway.go:926,976-995`.

The adapter is here; beside it: `names` (API versions, labels, cluster IDs, hosts, who serves whom),
`locality` (a traffic policy as Istio's locality load balancing), `policies` (the checks of a
traffic policy against it), `access` (AuthorizationPolicies) and `codes` (their finding codes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meshfleet.core.checks import Checks
from meshfleet.core.meshes.base import (
    Capabilities,
    Mesh,
    PlanContext,
    called_as,
    export_ports_loc,
    port_views,
)
from meshfleet.core.meshes.istio.access import AuthorizationPolicies
from meshfleet.core.meshes.istio.codes import (
    ISTIO_FAILOVER_ORDER,
    ISTIO_NETWORK_MISSING,
    ISTIO_PARTIAL_EXPORT,
    ISTIO_TARGETS,
    ISTIO_UNEXPORTED_COPY,
    ISTIO_WEIGHTS,
)
from meshfleet.core.meshes.istio.locality import Locality, percentages
from meshfleet.core.meshes.istio.names import (
    CLUSTER_ANNOTATION,
    CROSS_NETWORK_GATEWAY,
    CROSS_NETWORK_PORT,
    MULTICLUSTER_LABEL,
    NAME,
    NETWORK_LABEL,
    NETWORKING_API,
    OUTLIER_DETECTION,
    REMOTE_SECRET_PREFIX,
    cluster_id,
    host,
    members,
    mesh_config,
    several_networks,
)
from meshfleet.core.meshes.istio.policies import check_policy
from meshfleet.core.objects import ObjectId, PlannedObject
from meshfleet.core.resolved import PolicySettings, ServiceTopology
from meshfleet.core.views import (
    EndpointView,
    ExportRuleView,
    ExportView,
    ImportView,
    MeshSettingsView,
    PolicyView,
    Route,
    Share,
    TargetView,
)
from meshfleet.errors import Loc
from meshfleet.fleet.model import Cluster, Port


class Istio(Mesh):
    name = NAME
    title = "Istio"
    settings = "istio"
    capabilities = Capabilities(
        reaches=frozenset({"istio"}), imports_own_export=True, traffic_policies=True, needs_gateway=False
    )
    codes = (
        ISTIO_NETWORK_MISSING,
        ISTIO_UNEXPORTED_COPY,
        ISTIO_PARTIAL_EXPORT,
        ISTIO_TARGETS,
        ISTIO_FAILOVER_ORDER,
        ISTIO_WEIGHTS,
    )

    # --- checks ----------------------------------------------------------------------------------

    def check_fleet(self, checks: Checks) -> None:
        fleet = checks.fleet
        mine = members(fleet, checks.members)
        named = sorted({n for c in mine if (n := fleet.clusters[c].istio.network) is not None})
        if named and len({fleet.clusters[c].istio.network for c in mine}) > 1:
            for c in mine:
                if fleet.clusters[c].istio.network is None:
                    checks.problem(
                        ("clusters", c),
                        f"the Istio clusters of this fleet sit on networks "
                        f"{', '.join(named)}, and {c} names none: Istio would take it for another network "
                        "and route to it without its east-west gateway",
                        f"set clusters.{c}.istio.network",
                        ISTIO_NETWORK_MISSING,
                    )

    def check_export(self, checks: Checks, svc: ServiceTopology, exporter: str, loc: Loc) -> None:
        exported = {r.port.port for r in svc.exports[exporter].rules}
        left_out = [p.port for p in svc.ports[exporter] if p.port not in exported]
        if left_out:
            checks.problem(
                export_ports_loc(checks, svc, exporter),
                f"{exporter} exports {svc.ref} without port(s) "
                f"{', '.join(map(str, left_out))}; "
                "Istio shares a Service's every port with the clusters that import it",
                "export every port (leave export.ports out), or move those ports to another Service",
                ISTIO_PARTIAL_EXPORT,
            )

    def check_services(self, checks: Checks, services: Mapping[str, ServiceTopology]) -> None:
        for ref, svc in services.items():
            importers = [c for c in svc.importers if checks.mesh(c) == self.name]
            for c in sorted(svc.spec.localServiceAccounts):
                if c not in checks.meshes or checks.mesh(c) != self.name or c in svc.exports:
                    continue
                others = [x for x in importers if x != c]
                if others:
                    checks.problem(
                        ("services", ref, "localServiceAccounts", c),
                        f"{ref} runs in {c} without being exported, and Istio shares every cluster's "
                        f"endpoints of a host that is not cluster-local: {', '.join(others)} would call "
                        f"{c}'s copy too",
                        f"export {ref} from {c} as well, or do not import it into {', '.join(others)}",
                        ISTIO_UNEXPORTED_COPY,
                    )

    def check_policy(self, checks: Checks, svc: ServiceTopology, consumer: str, policy: PolicySettings) -> None:
        check_policy(checks, svc, consumer, policy)

    # --- objects and views -----------------------------------------------------------------------

    def plan_cluster(self, ctx: PlanContext, name: str) -> MeshSettingsView:
        c = ctx.cluster(name)
        ns = c.istio.namespace
        where: Loc = ("clusters", name)
        ids: list[ObjectId] = []
        hosts = sorted(host(svc, c) for svc in ctx.topology.services.values() if name in svc.importers)
        config = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": c.istio.meshConfigMap, "namespace": ns},
            "data": {"mesh": mesh_config(hosts)},
        }
        ids.append(ctx.objects.add(name, PlannedObject("applied", config), where, needs_namespace=False))
        for other in members(ctx.fleet, ctx.topology.members):
            if other == name:
                continue
            rid = cluster_id(ctx.cluster(other), other)
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": REMOTE_SECRET_PREFIX + rid,
                    "namespace": ns,
                    "labels": {MULTICLUSTER_LABEL: "true"},
                    "annotations": {CLUSTER_ANNOTATION: rid},
                },
            }
            ids.append(
                ctx.objects.add(
                    name,
                    PlannedObject("applied", secret, kubeconfig_of=other, kubeconfig_field=("stringData", rid)),
                    ("clusters", other),
                    needs_namespace=False,
                )
            )
        if c.istio.network is not None:
            namespace = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {NETWORK_LABEL: c.istio.network}},
            }
            ids.append(
                ctx.objects.add(name, PlannedObject("applied", namespace, patch=True), (*where, "istio", "network"))
            )
        return MeshSettingsView(objects=tuple(ids))

    def plan_export(self, ctx: PlanContext, svc: ServiceTopology, exporter: str) -> ExportView:
        settings = svc.exports[exporter]
        ids: tuple[ObjectId, ...] = ()
        if several_networks(ctx.fleet, ctx.topology.members):
            ids = (self._expose(ctx, svc, exporter),)
        return ExportView(
            svc.ref,
            port_views(r.port for r in settings.rules),
            settings.service_account,
            tuple(ExportRuleView(r.port.port) for r in settings.rules),
            objects=ids,
        )

    def _expose(self, ctx: PlanContext, svc: ServiceTopology, exporter: str) -> ObjectId:
        """The exporter's east-west gateway passes the host through to its pods (one Gateway per cluster)."""
        c = ctx.cluster(exporter)
        memo = (self.name, "gateway", exporter)
        found: tuple[dict[str, Any], ObjectId] | None = ctx.memo.get(memo)
        if found is None:
            body: dict[str, Any] = {
                "apiVersion": NETWORKING_API,
                "kind": "Gateway",
                "metadata": {"name": CROSS_NETWORK_GATEWAY, "namespace": c.istio.namespace},
                "spec": {
                    "selector": dict(c.istio.eastWestGateway),
                    "servers": [
                        {
                            "port": {"number": CROSS_NETWORK_PORT, "name": "tls", "protocol": "TLS"},
                            "tls": {"mode": "AUTO_PASSTHROUGH"},
                            "hosts": [],
                        }
                    ],
                },
            }
            oid = ctx.objects.add(
                exporter, PlannedObject("applied", body), ("services", svc.ref, "export"), needs_namespace=False
            )
            found = (body, oid)
            ctx.memo[memo] = found
        body, oid = found
        hosts: list[str] = body["spec"]["servers"][0]["hosts"]
        hosts.append(host(svc, c))
        hosts.sort()
        return oid

    def plan_import(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> ImportView:
        exporters = svc.endpoints_for(consumer)
        ports = svc.ports[exporters[0]]
        ids: tuple[ObjectId, ...] = ()
        if not svc.runs_in(consumer):
            # Kubernetes DNS answers for the name only where the Service exists; it needs no selector.
            body = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": svc.name, "namespace": svc.namespace},
                "spec": {"ports": _service_ports(svc.ports[consumer])},
            }
            ids = (ctx.objects.add(consumer, PlannedObject("applied", body), ("services", svc.ref, "export")),)
        name = called_as(svc.ref)
        endpoints = tuple(
            EndpointView(e, ctx.key(e), p.port, None, name)
            for e in sorted(exporters)
            for p in sorted(ports, key=lambda p: p.port)
        )
        return ImportView(svc.ref, port_views(ports), endpoints, objects=ids)

    def plan_policy(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> PolicyView:
        pol = svc.policies[consumer]
        loc = Locality(ctx.fleet, svc, consumer, pol)
        body = {
            "apiVersion": NETWORKING_API,
            "kind": "DestinationRule",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": {"host": host(svc, ctx.cluster(consumer)), "trafficPolicy": loc.setting()},
        }
        oid = ctx.objects.add(consumer, PlannedObject("applied", body), pol.loc)
        effective = pol.effective(consumer)
        targets = None if effective is None else tuple(TargetView(t.cluster, t.weight) for t in effective)
        return PolicyView(svc.ref, pol.lb_type, targets, loc.tiers(), objects=(oid,))

    def cluster_size(self, members: int) -> int:
        return members + 1  # its mesh config, its network label, a remote secret per other Istio member

    def export_size(self, cluster: Cluster) -> int:
        return 1  # the cross-network Gateway (one per cluster, at most)

    def import_size(self, importers: int, listed: int, ports: int, policy: bool) -> tuple[int, int]:
        return importers * (2 if policy else 1), 0  # a selector-less Service, a DestinationRule

    # --- runtime rules (loadbalancer.go, endpoint_builder.go) ------------------------------------

    def patched_objects(self) -> str | None:
        # meshfleet labels the namespaces of a member's services with its network, and keeps them.
        return "the namespaces labelled with the member's Istio network"

    def routes(
        self, service: str, consumer: str, local: bool, imported: ImportView | None, policy: PolicyView | None
    ) -> tuple[Route, ...]:
        name = called_as(service)
        if imported is None:
            if not local:
                return ()
            return (Route(name, (Share(consumer, 1),), (), "Istio: cluster-local here; the local endpoints only"),)
        serving_now = sorted({e.cluster for e in imported.endpoints} | ({consumer} if local else set()))
        if policy is None or policy.tiers is None:
            everyone = tuple(Share(c, 1) for c in serving_now)
            return (
                Route(
                    name,
                    everyone,
                    tuple(s for s in everyone if s.cluster != consumer),
                    "Istio without a DestinationRule: every endpoint of every cluster alike",
                ),
            )
        tiers = [t for t in (tuple(s for s in tier if s.cluster in serving_now) for tier in policy.tiers) if t]
        steady = tiers[0] if tiers else ()
        rest = [tuple(s for s in steady if s.cluster != consumer), *tiers[1:]]
        down = next((t for t in rest if t), ())
        if policy.lb_type == "ActiveActive":
            even = all(s.weight == 1 for s in steady)
            rule = (
                "Istio: locality load balancing off, every endpoint of every cluster alike"
                if even and len(steady) == len(serving_now)
                else "Istio distribute: each cluster's locality gets its share"
            )
        else:
            later = "; then ".join(", ".join(s.cluster for s in t) for t in tiers[1:])
            rule = (
                "Istio locality failover (outlier detection): "
                + ", ".join(s.cluster for s in steady)
                + (f" while any endpoint is healthy; then {later}" if later else "")
            )
        return (Route(name, steady, down, rule),)


def _service_ports(ports: Sequence[Port]) -> list[dict[str, Any]]:
    out = []
    for p in ports:
        entry: dict[str, Any] = {"name": p.name} if p.name is not None else {}
        entry["port"] = p.port
        entry["protocol"] = p.protocol
        if p.appProtocol is not None:
            entry["appProtocol"] = p.appProtocol
        out.append(entry)
    return out


__all__ = [
    "CROSS_NETWORK_GATEWAY",
    "MULTICLUSTER_LABEL",
    "NETWORKING_API",
    "OUTLIER_DETECTION",
    "AuthorizationPolicies",
    "Istio",
    "percentages",
]
