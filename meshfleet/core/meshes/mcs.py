"""The Kubernetes MCS API (KEP-1645, `multicluster.x-k8s.io`): Submariner, Cilium, Antrea, Karmada.

Why: an MCS cluster exports with a `ServiceExport`; the implementation (not meshfleet) carries the
traffic and derives a `ServiceImport` in every cluster of the clusterset, exporters included.
meshfleet applies the exports and predicts the imports; it writes no address, because there is no
gateway of ours in the path. Facts: ../shared/reference/mcs-linkerd-smi-validation.md.
"""

from __future__ import annotations

from typing import Any

from meshfleet.core.meshes.base import Capabilities, Mesh, PlanContext, port_views
from meshfleet.core.objects import PlannedObject, split
from meshfleet.core.resolved import ServiceTopology
from meshfleet.core.views import (
    EndpointView,
    ExportRuleView,
    ExportView,
    ImportView,
    PolicyView,
    Route,
    Share,
)
from meshfleet.errors import Loc
from meshfleet.fleet.model import Cluster


def clusterset_name(service: str) -> str:
    """The name a client calls to reach the clusterset's service: `name.namespace.svc.clusterset.local`."""
    namespace, name = split(service)
    return f"{name}.{namespace}.svc.clusterset.local"


class Mcs(Mesh):
    name = "mcs"
    title = "MCS"
    derived_by = "the clusterset's MCS API implementation (KEP-1645)"
    settings = "mcs"
    capabilities = Capabilities(
        reaches=frozenset({"mcs"}), imports_own_export=True, traffic_policies=False, needs_gateway=False
    )

    def plan_export(self, ctx: PlanContext, svc: ServiceTopology, exporter: str) -> ExportView:
        body = {
            "apiVersion": ctx.cluster(exporter).mcs.apiVersion,
            "kind": "ServiceExport",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
        }
        oid = ctx.objects.add(exporter, PlannedObject("applied", body), ("services", svc.ref, "export"))
        settings = svc.exports[exporter]
        return ExportView(
            svc.ref,
            port_views(r.port for r in settings.rules),
            settings.service_account,
            tuple(ExportRuleView(r.port.port) for r in settings.rules),
            objects=(oid,),
        )

    def plan_import(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> ImportView:
        """The ServiceImport a KEP-1645 implementation derives in every cluster of the clusterset:
        the exporters' ports (they must agree; an offline tool cannot pick the oldest)."""
        exporters = svc.endpoints_for(consumer)
        port_list = svc.ports[exporters[0]]
        ports = []
        for p in port_list:
            entry: dict[str, Any] = {}
            if p.name is not None:
                entry["name"] = p.name
            entry["port"] = p.port
            entry["protocol"] = p.protocol
            if p.appProtocol is not None:
                entry["appProtocol"] = p.appProtocol
            ports.append(entry)
        body = {
            "apiVersion": ctx.cluster(consumer).mcs.apiVersion,
            "kind": "ServiceImport",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": {"type": "ClusterSetIP", "ports": ports},
        }
        loc: Loc = ("services", svc.ref, "export")
        # A KEP-1645 controller only creates the import where its namespace already exists.
        oid = ctx.objects.add(consumer, PlannedObject("derived", body), loc, needs_namespace=True)
        endpoints = tuple(
            EndpointView(e, ctx.key(e), p.port, None, clusterset_name(svc.ref))
            for e in sorted(exporters)
            for p in port_list
        )
        return ImportView(
            svc.ref,
            port_views(port_list),
            tuple(sorted(endpoints, key=lambda ep: (ep.cluster, ep.port))),
            objects=(oid,),
        )

    def export_size(self, cluster: Cluster) -> int:
        return 1  # the ServiceExport

    def import_size(self, importers: int, listed: int, ports: int, policy: bool) -> tuple[int, int]:
        return importers, 0  # one predicted ServiceImport per cluster; the implementation holds endpoints

    def routes(
        self, service: str, consumer: str, local: bool, imported: ImportView | None, policy: PolicyView | None
    ) -> tuple[Route, ...]:
        clusters = sorted({e.cluster for e in imported.endpoints}) if imported is not None else []
        spread = tuple(Share(c, 1) for c in clusters)
        return (
            Route(
                clusterset_name(service),
                spread,
                tuple(s for s in spread if s.cluster != consumer),
                "MCS (KEP-1645): calls to the clusterset name are spread over every exporter's endpoints, the "
                "local one included; the split is implementation-defined (shown even per cluster)",
            ),
        )
