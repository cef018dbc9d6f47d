"""Linkerd multicluster by static mirroring: meshfleet writes what the service-mirror controller would.

Why: a Linkerd consumer reaches a service exported from another Linkerd cluster as the mirror
`<service>-<exporter>`: a selector-less Service with the service's ports and Endpoints at the
exporter's Linkerd gateway. meshfleet writes both, so no mirror controller (and no credentials to
the exporter) is needed; the exporter needs nothing but its gateway. Facts:
../shared/reference/mcs-linkerd-smi-validation.md.
"""

from __future__ import annotations

from meshfleet.core.checks import Checks
from meshfleet.core.meshes.base import (
    Capabilities,
    Mesh,
    PlanContext,
    called_as,
    port_views,
    require_gateway_ips,
)
from meshfleet.core.objects import PlannedObject
from meshfleet.core.resolved import ServiceTopology
from meshfleet.core.views import (
    Address,
    EndpointView,
    ExportRuleView,
    ExportView,
    GatewayView,
    ImportView,
    PolicyView,
    Route,
    Share,
)
from meshfleet.errors import Code, Loc
from meshfleet.fleet.model import Cluster

MIRROR_NAME_TOO_LONG = Code(
    "mirror-name-too-long", "error", "a Linkerd mirror Service name `<service>-<cluster>` is over 63 characters"
)
MIRROR_LABELS = ("mirror.linkerd.io/cluster-name", "mirror.linkerd.io/mirrored-service")
FQ_NAME = "mirror.linkerd.io/remote-svc-fq-name"
GATEWAY_IDENTITY = "mirror.linkerd.io/remote-gateway-identity"


def mirror_name(service: str, exporter: str) -> str:
    return f"{service}-{exporter}"


class Linkerd(Mesh):
    name = "linkerd"
    title = "Linkerd"
    settings = "linkerd"
    capabilities = Capabilities(
        reaches=frozenset({"linkerd"}), imports_own_export=False, traffic_policies=False, needs_gateway=True
    )
    codes = (MIRROR_NAME_TOO_LONG,)

    def gateway(self, cluster: Cluster) -> GatewayView | None:
        gw = cluster.gateway
        return None if gw is None else GatewayView(gw.host, gw.ip, cluster.linkerd.gatewayPort)

    def namespace_metadata(self, cluster: Cluster) -> tuple[dict[str, str], dict[str, str]]:
        # `linkerd inject` on a namespace: the proxy injector injects every pod created in it.
        return {}, {"linkerd.io/inject": "enabled"}

    def check_export(self, checks: Checks, svc: ServiceTopology, exporter: str, loc: Loc) -> None:
        mirror = mirror_name(svc.name, exporter)
        if len(mirror) > 63:
            checks.problem(
                loc,
                f"the mirror Service {mirror!r} of {svc.ref} from {exporter} is {len(mirror)} "
                "characters; Kubernetes allows 63",
                "shorten the service or the cluster name",
                MIRROR_NAME_TOO_LONG,
            )

    def check_import(self, checks: Checks, svc: ServiceTopology, consumer: str) -> None:
        require_gateway_ips(checks, svc, consumer)

    def plan_export(self, ctx: PlanContext, svc: ServiceTopology, exporter: str) -> ExportView:
        # Static mirroring: consumers get the mirror objects; the exporter only runs its gateway.
        settings = svc.exports[exporter]
        return ExportView(
            svc.ref,
            port_views(r.port for r in settings.rules),
            settings.service_account,
            tuple(ExportRuleView(r.port.port) for r in settings.rules),
        )

    def plan_import(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> ImportView:
        endpoints: list[EndpointView] = []
        ids = []
        for e in svc.endpoints_for(consumer):
            exporter = ctx.cluster(e)
            gw = exporter.gateway
            assert gw is not None
            name = mirror_name(svc.name, e)
            fq_name = f"{svc.name}.{svc.namespace}.svc.{exporter.linkerd.clusterDomain}"
            labels = {MIRROR_LABELS[0]: e, MIRROR_LABELS[1]: "true"}
            ip = gw.ip or gw.host
            service_ports = []
            endpoint_ports = []
            for p in svc.ports[e]:
                named = {"name": p.name} if p.name is not None else {}
                service_ports.append({**named, "port": p.port, "protocol": p.protocol, "targetPort": p.port})
                endpoint_ports.append({**named, "port": exporter.linkerd.gatewayPort, "protocol": p.protocol})
                endpoints.append(
                    EndpointView(
                        e,
                        ctx.key(e),
                        p.port,
                        Address(ip, ip, exporter.linkerd.gatewayPort, ""),
                        f"{name}.{svc.namespace}",
                    )
                )
            service = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": name,
                    "namespace": svc.namespace,
                    "labels": dict(labels),
                    "annotations": {FQ_NAME: fq_name},
                },
                "spec": {"ports": service_ports},
            }
            mirror_endpoints = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": name,
                    "namespace": svc.namespace,
                    "labels": dict(labels),
                    "annotations": {GATEWAY_IDENTITY: exporter.linkerd.gatewayIdentity, FQ_NAME: fq_name},
                },
                "subsets": [{"addresses": [{"ip": ip}], "ports": endpoint_ports}],
            }
            loc: Loc = ("services", svc.ref, "export")
            ids.append(ctx.objects.add(consumer, PlannedObject("applied", service), loc))
            ids.append(ctx.objects.add(consumer, PlannedObject("applied", mirror_endpoints), loc))
        first = svc.endpoints_for(consumer)[0]
        ports = port_views(svc.ports[first])
        return ImportView(
            svc.ref, ports, tuple(sorted(endpoints, key=lambda ep: (ep.cluster, ep.port))), objects=tuple(ids)
        )

    def export_size(self, cluster: Cluster) -> int:
        return 0  # static mirroring: the exporter gets nothing

    def import_size(self, importers: int, listed: int, ports: int, policy: bool) -> tuple[int, int]:
        return 2 * listed, 0  # a mirror Service and its Endpoints per exporter; no endpoint list

    def routes(
        self, service: str, consumer: str, local: bool, imported: ImportView | None, policy: PolicyView | None
    ) -> tuple[Route, ...]:
        out = []
        if local:
            out.append(
                Route(
                    called_as(service),
                    (Share(consumer, 1),),
                    (),
                    "Linkerd: the service's own name reaches the local copy only",
                )
            )
        by_name: dict[str, list[str]] = {}
        for ep in imported.endpoints if imported is not None else ():
            by_name.setdefault(ep.called_as, [])
            if ep.cluster not in by_name[ep.called_as]:
                by_name[ep.called_as].append(ep.cluster)
        for mirror, clusters in sorted(by_name.items()):
            shares = tuple(Share(c, 1) for c in clusters)
            out.append(Route(mirror, shares, shares, "Linkerd: a mirror Service reaches its exporter only"))
        return tuple(out)
