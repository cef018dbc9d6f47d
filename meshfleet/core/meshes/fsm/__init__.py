"""Flomesh Service Mesh (FSM) multi-cluster: exports through the pipy ingress, imports, traffic policies.

Why: everything FSM-specific lives here: the API groups, the objects (`Cluster` registrations in a
control plane, `ServiceExport` and the Ingress FSM derives from it, `ServiceImport`,
`GlobalTrafficPolicy`, the MeshConfig patch), the checks that mirror what FSM refuses, the warnings
where FSM does something else than the fleet file reads as, and FSM's runtime routing rules.

FSM runs in two modes. With a control-plane cluster (`controlPlane:`) meshfleet registers each member
there (`Cluster`) and predicts the ServiceImports FSM derives. Without one, meshfleet is the control
plane: it applies those ServiceImports itself and each member's clusterSet identity.

The adapter is here; beside it: `versions` (the API group each FSM release serves), `policies` (what
a traffic policy may say), `traps` (where FSM does something else than the fleet file reads as),
`risks` (what FSM does late or never when the fleet changes, for the diff) and `codes` (their finding
codes). Facts: ../shared/reference/fsm-multicluster.md (fields) and
fsm-runtime-semantics.md (behaviour), each rule citing FSM's source by file and line.
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
    port_views,
    require_gateway_ips,
)
from meshfleet.core.meshes.fsm import policies, risks, traps, versions
from meshfleet.core.meshes.fsm.codes import (
    CODES,
    CONTROL_PLANE_MESH,
    DUPLICATE_EXPORT_PATH,
    FAILOVER_UNORDERED,
    IMPORTERS_NOT_RESTRICTABLE,
    MEMBER_WITHOUT_GATEWAY,
)
from meshfleet.core.meshes.fsm.risks import REWRITE_FROM, REWRITE_TO, STICKY
from meshfleet.core.meshes.fsm.versions import MESHCONFIG_API, api_version
from meshfleet.core.objects import ObjectId, PlannedObject, Role
from meshfleet.core.resolved import PolicySettings, ServiceTopology, is_ip
from meshfleet.core.views import (
    Address,
    EndpointView,
    ExportRuleView,
    ExportView,
    ImportView,
    MeshSettingsView,
    PathRewriteView,
    PolicyView,
    Route,
    Share,
    TargetView,
)
from meshfleet.errors import Loc
from meshfleet.fleet.model import Cluster

PIPY = "pipy"
MONITORED_BY = "flomesh.io/monitored-by"
SIDECAR_INJECTION = "flomesh.io/sidecar-injection"
FULL_WEIGHT = 100
"""FSM's weight for a target written with no weight or weight 0 (`constants.ClusterWeightAcceptAll`)."""


class Fsm(Mesh):
    name = "fsm"
    title = "FSM"
    settings = "fsm"
    capabilities = Capabilities(
        reaches=frozenset({"fsm"}),
        imports_own_export=False,
        traffic_policies=True,
        needs_gateway=True,
        permissive_by_default=True,
    )  # charts/fsm/values.yaml:544
    codes = CODES

    # --- checks ----------------------------------------------------------------------------------

    def check_fleet(self, checks: Checks) -> None:
        cp = checks.fleet.controlPlane
        if cp is not None and cp in checks.fleet.clusters and checks.mesh(cp) != self.name:
            checks.problem(
                ("clusters", cp, "mesh"),
                "the FSM control-plane cluster must run FSM",
                "remove mesh",
                CONTROL_PLANE_MESH,
            )
        versions.check_versions(checks, [m for m in checks.members if checks.mesh(m) == self.name])

    def check_cluster(self, checks: Checks, name: str) -> None:
        if checks.fleet.controlPlane is not None and checks.fleet.clusters[name].gateway is None:
            checks.problem(
                ("clusters", name),
                f"member {name!r} has no gateway; FSM's control plane refuses a Cluster without gatewayHost",
                f"add clusters.{name}.gateway with host and port",
                MEMBER_WITHOUT_GATEWAY,
            )
        traps.check_gateway(checks, name)

    def check_export(self, checks: Checks, svc: ServiceTopology, exporter: str, loc: Loc) -> None:
        traps.check_export(checks, svc, exporter)

    def check_importers(
        self, checks: Checks, svc: ServiceTopology, chosen: Sequence[str], reachable: Sequence[str], loc: Loc
    ) -> None:
        # FSM's control plane writes imports into every other FSM member: the fleet cannot narrow them.
        mine = {c for c in chosen if checks.mesh(c) == self.name and c in reachable}
        if checks.fleet.controlPlane is not None and mine != {c for c in reachable if checks.mesh(c) == self.name}:
            checks.problem(
                loc,
                "FSM's control plane imports every export into every other FSM member; it cannot restrict importers",
                "remove import (use trafficPolicy.clusters to choose consumers), or run without controlPlane",
                IMPORTERS_NOT_RESTRICTABLE,
            )

    def check_import(self, checks: Checks, svc: ServiceTopology, consumer: str) -> None:
        if checks.fleet.controlPlane is None:  # with one, FSM's control plane resolves gateway names
            require_gateway_ips(checks, svc, consumer)

    def check_policy(self, checks: Checks, svc: ServiceTopology, consumer: str, policy: PolicySettings) -> None:
        exporters = [e for e in svc.exporters if checks.mesh(e) in self.capabilities.reaches]
        policies.check_policy(checks, svc, consumer, policy, exporters)

    def check_services(self, checks: Checks, services: Mapping[str, ServiceTopology]) -> None:
        """Checks across exporters and consumers of each service, and across services in one cluster."""
        mine = {c for c in checks.meshes if checks.mesh(c) == self.name}
        for svc in services.values():
            traps.check_shared_gateways(checks, svc, [e for e in svc.exporters if e in mine])
            traps.check_idle_imports(checks, svc, [c for c in svc.importers if c in mine])
        traps.check_wildcard_accounts(checks, services, mine)
        self._check_paths(checks, services)

    def _check_paths(self, checks: Checks, services: Mapping[str, ServiceTopology]) -> None:
        """FSM refuses an export whose path and pathType already exist on any Ingress of the cluster."""
        owners: dict[tuple[str, str, str], str] = {}
        for ref, svc in services.items():
            for cluster, settings in svc.exports.items():
                if checks.mesh(cluster) != self.name:
                    continue
                for rule in settings.rules:
                    k = (cluster, rule.path, rule.path_type)
                    if k in owners:
                        other = owners[k]
                        who = f"{ref} exports" if other == ref else f"{ref} and {other} both export"
                        checks.problem(
                            settings.path_loc,
                            f"{who} path {rule.path} ({rule.path_type}) twice in cluster {cluster}; "
                            "FSM refuses the later one",
                            "give each export its own path, e.g. with {name} or {port} in the template",
                            DUPLICATE_EXPORT_PATH,
                        )
                    else:
                        owners[k] = ref

    # --- objects and views -----------------------------------------------------------------------

    def namespace_metadata(self, cluster: Cluster) -> tuple[dict[str, str], dict[str, str]]:
        # What `fsm namespace add` patches onto a namespace (cmd/cli/namespace_add.go): the monitor
        # label with the mesh name, and sidecar injection enabled.
        return {MONITORED_BY: cluster.fsm.meshName}, {SIDECAR_INJECTION: "enabled"}

    def plan_cluster(self, ctx: PlanContext, name: str) -> MeshSettingsView:
        c = ctx.cluster(name)
        cp = ctx.control_plane
        if cp is not None and c.gateway is not None:
            body = {
                "apiVersion": api_version(ctx.fleet, cp),  # the control plane's own group
                "kind": "Cluster",
                "metadata": {"name": name},
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
            ctx.objects.add(cp, PlannedObject("applied", body, kubeconfig_of=name), ("clusters", name))
        spec: dict[str, Any] = {}
        if cp is None:
            # What FSM's control plane writes on join, minus isManaged/controlPlaneUID: those would
            # make a later join by a real control plane fail ("already managed").
            spec["clusterSet"] = {"region": c.region, "zone": c.zone, "group": c.group, "name": name}
        if c.fsm.permissive is not None:
            spec["traffic"] = {"enablePermissiveTrafficPolicyMode": c.fsm.permissive}
        exports = any(name in svc.exports for svc in ctx.topology.services.values())
        if exports:
            # The export reconciler creates the export's Ingress only while the MeshConfig says ingress
            # mode (IsIngressEnabled, pkg/configurator/methods.go:482; serviceexport_controller.go:136).
            # The pipy ingress itself is deployed by Helm (fsm.fsmIngress.enabled): see the README.
            spec["ingress"] = {"enabled": True}
        dns = c.fsm.localDNSProxy
        if dns is not None:
            # Read at run time (pkg/dns/server.go:134-160, repo/jobs.go:217); the injector points a pod's
            # DNS at fsm-controller only when it injects it (driver/pipy_container.go:179-205).
            proxy = {"enable": True, "primaryUpstreamDNSServerIPAddr": dns.primaryUpstream}
            if dns.secondaryUpstream is not None:
                proxy["secondaryUpstreamDNSServerIPAddr"] = dns.secondaryUpstream
            spec["sidecar"] = {"localDNSProxy": proxy}
        if spec:
            body = {
                "apiVersion": MESHCONFIG_API,
                "kind": "MeshConfig",
                "metadata": {"name": c.fsm.meshConfig, "namespace": c.fsm.namespace},
                "spec": spec,
            }
            ctx.objects.add(name, PlannedObject("applied", body, patch=True), ("clusters", name, "fsm"))
        return MeshSettingsView(
            c.fsm.permissive,
            ingress=True if exports else None,
            local_dns_proxy=None if dns is None else dns.primaryUpstream,
            api_group=versions.group(ctx.fleet, name),
        )

    def plan_export(self, ctx: PlanContext, svc: ServiceTopology, exporter: str) -> ExportView:
        settings = svc.exports[exporter]
        loc: Loc = ("services", svc.ref, "export")
        rw = settings.path_rewrite
        spec: dict[str, Any] = {
            "serviceAccountName": settings.service_account,
            "rules": [{"portNumber": r.port.port, "path": r.path, "pathType": r.path_type} for r in settings.rules],
        }
        if settings.load_balancer is not None:
            spec["loadBalancer"] = settings.load_balancer
        if settings.session_sticky is not None:
            spec["sessionSticky"] = settings.session_sticky
        if rw is not None:
            spec["pathRewrite"] = {"from": rw.from_, "to": rw.to}
        body = {
            "apiVersion": api_version(ctx.fleet, exporter),
            "kind": "ServiceExport",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": spec,
        }
        # An export applied before its Service stays invalid for good (fsm-runtime-semantics.md §5):
        # the Service, and the identity the export names, come first wherever the fleet writes them.
        first = [ObjectId("v1", "Service", svc.namespace, svc.name)]
        if settings.service_account != "*":
            first.append(ObjectId("v1", "ServiceAccount", svc.namespace, settings.service_account))
        ids = [ctx.objects.add(exporter, PlannedObject("applied", body, after=tuple(first)), loc)]

        # The member's fsm-controller turns the export into this Ingress (class pipy, hard-coded).
        annotations: dict[str, str] = {}
        if rw is not None:
            annotations[REWRITE_FROM] = rw.from_
            annotations[REWRITE_TO] = rw.to
        if settings.session_sticky:
            annotations[STICKY] = "true"
        annotations["pipy.ingress.kubernetes.io/lb-type"] = settings.load_balancer or "RoundRobinLoadBalancer"
        paths = [_ingress_path(r.path, r.path_type, svc.name, r.port.port) for r in settings.rules]
        ingress = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": f"svcexp-ing-{svc.name}",
                "namespace": svc.namespace,
                "annotations": dict(sorted(annotations.items())),
            },
            "spec": {"ingressClassName": PIPY, "rules": [{"http": {"paths": paths}}]},
        }
        ids.append(ctx.objects.add(exporter, PlannedObject("derived", ingress), loc))

        gateway = ctx.cluster(exporter).gateway
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
                    "rules": [
                        {
                            "http": {
                                "paths": [
                                    _ingress_path(r.path, "ImplementationSpecific", svc.name, r.port.port)
                                    for r in settings.rules
                                ]
                            }
                        }
                    ],
                },
            }
            ids.append(
                ctx.objects.add(
                    exporter, PlannedObject("applied", own), ("clusters", exporter, "gateway", "ingressClass")
                )
            )
        return ExportView(
            service=svc.ref,
            ports=port_views(r.port for r in settings.rules),
            service_account_name=settings.service_account,
            rules=tuple(ExportRuleView(r.port.port, r.path, r.path_type) for r in settings.rules),
            load_balancer=settings.load_balancer,
            session_sticky=settings.session_sticky,
            path_rewrite=None if rw is None else PathRewriteView(rw.from_, rw.to),
            objects=tuple(ids),
        )

    def _endpoints(self, ctx: PlanContext, svc: ServiceTopology, exporter: str) -> dict[int, EndpointView]:
        """`exporter`'s endpoint of `svc` per port, as every FSM consumer sees it (built once per plan, and
        one object for every plan in the process where it is equal: `ctx.shared`)."""
        memo = (self.name, svc.ref, exporter)
        found: dict[int, EndpointView] | None = ctx.memo.get(memo)
        if found is None:
            gw = ctx.cluster(exporter).gateway
            assert gw is not None
            key, name = ctx.key(exporter), called_as(svc.ref)
            # FSM's control plane writes the address a DNS host resolves to there (connector.go:386-399,
            # pkg/mcs/config/config.go); without `ip` it is unknown here, and predicted as "" (unknown).
            # Standalone, meshfleet writes the imports and the fleet must give it (gateway-needs-ip).
            ip = gw.ip or (gw.host if is_ip(gw.host) else "")
            found = {}
            for r in svc.exports[exporter].rules:
                view = EndpointView(exporter, key, r.port.port, Address(gw.host, ip, gw.port, r.path), name)
                found[r.port.port] = ctx.shared(view, view)
            ctx.memo[memo] = found
        return found

    def _listed(self, ctx: PlanContext, svc: ServiceTopology, exporter: str) -> dict[int, dict[str, Any]]:
        """`exporter`'s entry in a ServiceImport's endpoints of `svc`, per port with an address. Made once
        and shared by every consumer's import, and by every plan in the process (`ctx.shared`), as a body
        is never changed once planned (a 100k fleet's imports list 415,000 endpoints, from about 2,000
        of these)."""
        memo = (self.name, "listed", svc.ref, exporter)
        found: dict[int, dict[str, Any]] | None = ctx.memo.get(memo)
        if found is None:
            found = {
                port: ctx.shared(
                    ("fsm-import-endpoint", ep),
                    {
                        "clusterKey": ep.cluster_key,
                        "target": {"host": t.host, "ip": t.ip, "port": t.port, "path": t.path},
                    },
                )
                for port, ep in self._endpoints(ctx, svc, exporter).items()
                if (t := ep.target) is not None
            }
            ctx.memo[memo] = found
        return found

    def plan_import(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> ImportView:
        exporters = svc.endpoints_for(consumer)
        first = svc.exports[exporters[0]]
        by_exporter = {e: self._endpoints(ctx, svc, e) for e in exporters}
        listed = {e: self._listed(ctx, svc, e) for e in exporters}
        in_key_order = sorted(exporters, key=ctx.key)
        ports = []
        for rule in first.rules:
            p = rule.port
            entry: dict[str, Any] = {}
            if p.name is not None:
                entry["name"] = p.name
            entry["port"] = p.port
            entry["protocol"] = p.protocol
            if p.appProtocol is not None:
                entry["appProtocol"] = p.appProtocol
            entry["endpoints"] = [listed[e][p.port] for e in in_key_order if p.port in listed[e]]
            ports.append(entry)
        body = {
            "apiVersion": api_version(ctx.fleet, consumer),
            "kind": "ServiceImport",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": {"type": "ClusterSetIP", "serviceAccountName": first.service_account, "ports": ports},
        }
        role: Role = "applied" if ctx.control_plane is None else "derived"
        oid = ctx.objects.add(consumer, PlannedObject(role, body), ("services", svc.ref, "export"))
        numbers = sorted(r.port.port for r in first.rules)
        return ImportView(
            service=svc.ref,
            ports=port_views(r.port for r in first.rules),
            endpoints=tuple(by_exporter[e][n] for e in sorted(exporters) for n in numbers),
            service_account=first.service_account,
            objects=(oid,),
        )

    def plan_policy(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> PolicyView:
        pol = svc.policies[consumer]
        effective = pol.effective(consumer)
        if effective is not None:
            targets: tuple[TargetView, ...] | None = tuple(TargetView(t.cluster, t.weight) for t in effective)
        elif pol.lb_type != "Locality":
            targets = tuple(TargetView(e) for e in sorted(svc.endpoints_for(consumer), key=ctx.key))
        else:
            targets = None
        spec: dict[str, Any] = {"lbType": pol.lb_type}
        if targets is not None:
            spec["targets"] = [
                {"clusterKey": ctx.key(t.cluster), **({"weight": t.weight} if t.weight is not None else {})}
                for t in targets
            ]
        body = {
            "apiVersion": api_version(ctx.fleet, consumer),
            "kind": "GlobalTrafficPolicy",
            "metadata": {"name": svc.name, "namespace": svc.namespace},
            "spec": spec,
        }
        oid = ctx.objects.add(consumer, PlannedObject("applied", body), pol.loc)
        return PolicyView(svc.ref, pol.lb_type, targets, objects=(oid,))

    def export_size(self, cluster: Cluster) -> int:
        # The ServiceExport, the Ingress FSM derives, and our own Ingress for another ingress class.
        return 3 if cluster.gateway is not None and cluster.gateway.ingressClass != PIPY else 2

    def import_size(self, importers: int, listed: int, ports: int, policy: bool) -> tuple[int, int]:
        # Each consumer's ServiceImport (and GlobalTrafficPolicy) lists every other exporter per port.
        return importers * (2 if policy else 1), listed * ports

    # --- changes FSM applies late or never -----------------------------------------------------------

    def export_change_risks(self, cluster: str, old: ExportView, new: ExportView) -> tuple[str, ...]:
        return risks.export_change(cluster, old, new)

    def patched_objects(self) -> str | None:
        return risks.OWN_OBJECTS

    def control_plane_removal_risks(
        self, cluster: str, registrations: int, leaves_fleet: bool, successor: bool
    ) -> tuple[str, ...]:
        return risks.control_plane_removal(cluster, registrations, leaves_fleet, successor)

    def handover_risks(self, cluster: str, objects: int) -> tuple[str, ...]:
        return risks.handover(cluster, objects)

    def member_removal_risks(self, control_plane: str, member: str) -> tuple[str, ...]:
        return risks.member_removal(control_plane, member)

    def member_key_risks(self, control_plane: str, member: str, old_key: str, new_key: str) -> tuple[str, ...]:
        return risks.member_key(control_plane, member, old_key, new_key)

    # --- runtime rules (fsm-runtime-semantics.md §3) -----------------------------------------------

    def routes(
        self, service: str, consumer: str, local: bool, imported: ImportView | None, policy: PolicyView | None
    ) -> tuple[Route, ...]:
        name = called_as(service)
        here = (Share(consumer, FULL_WEIGHT),) if local else ()
        if policy is None or policy.lb_type == "Locality" or imported is None:
            # No policy means Locality, and Locality ignores imports (targets included).
            return (Route(name, here, (), "Locality: the local copy only; imports route nothing"),)
        reachable = {e.cluster for e in imported.endpoints}
        targets = [t for t in policy.targets or () if t.cluster in reachable]
        if policy.lb_type == "FailOver":
            spread = tuple(Share(t.cluster, FULL_WEIGHT) for t in targets)
            rule = "FailOver: round-robin over the targets, no order"
            return (Route(name, here or spread, spread, rule + (", when the local copy fails" if local else "")),)
        # ActiveActive: a weight of 0, or none, is full weight (traffic_policy.go, repo/policy.go).
        weighted = tuple(Share(t.cluster, t.weight or FULL_WEIGHT) for t in targets)
        return (Route(name, here + weighted, weighted, "ActiveActive: the local copy and the targets by weight"),)


def _ingress_path(path: str, path_type: str, service: str, port: int) -> dict[str, Any]:
    return {"path": path, "pathType": path_type, "backend": {"service": {"name": service, "port": {"number": port}}}}


__all__ = ["CODES", "FAILOVER_UNORDERED", "FULL_WEIGHT", "PIPY", "Fsm"]
