"""Cilium ClusterMesh: global Services, service affinity, and CiliumNetworkPolicies at the destination.

Why: ClusterMesh shares a Service's backends between clusters when the Service, of the same name and
namespace in each cluster, carries `service.cilium.io/global: "true"`; `service.cilium.io/shared`
says whether a cluster's own backends are offered to the others, and `service.cilium.io/affinity`
whether a consumer prefers its local backends. There is no import object: a cluster imports a
service by having the global Service. So meshfleet

- patches the Services the user owns where the service runs: `global` and `shared: "true"` in each
  exporting cluster, `global` and `shared: "false"` where it runs without being exported (its own
  backends stay its own, it still reaches the exporters'); the patch is given back when meshfleet
  stops applying it, so an export that ends takes its annotations with it;
- creates a selector-less global Service in each consumer that does not run the service (Cilium
  needs the Service in every cluster that calls it, and that cluster has no backend of its own);
- turns traffic policies into `service.cilium.io/affinity` (Locality and FailOver: `local`;
  ActiveActive: `none`) and refuses what affinity cannot say: weights, and a subset of clusters;
- turns access rules into one CiliumNetworkPolicy per rule in each cluster whose pods answer the
  callers the rule admits, selecting those pods by service account and the callers by service account,
  namespace and cluster (`io.cilium.k8s.policy.cluster`), with the rule's HTTP matches as L7 rules.

Facts (cilium/cilium v1.19.4; ../shared/crds/cilium/SOURCE.md): the annotations and their defaults
`pkg/annotation/k8s.go:95-122`, `pkg/annotation/clustermesh.go:9-47`; "local: prefer local backends,
remote ones only when no local one is healthy" `Documentation/network/clustermesh/affinity.rst:21-26`;
the Service must exist in each cluster `Documentation/network/clustermesh/services.rst:19-22`; the
cluster label `pkg/k8s/apis/cilium.io/const.go:8,29-31`; L7 rules need TCP ports
`pkg/policy/api/rule_validation.go` (PortRule sanitize); HTTP `path`/`method` are regular expressions,
`headers` presence and `headerMatches` exact values `pkg/policy/api/http.go`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meshfleet.core.checks import Checks
from meshfleet.core.meshes import patterns
from meshfleet.core.meshes.base import (
    AccessAdapter,
    Capabilities,
    Mesh,
    PlanContext,
    called_as,
    export_ports_loc,
    match_views,
    port_views,
)
from meshfleet.core.objects import ObjectId, PlannedObject, qualified, split
from meshfleet.core.resolved import PolicySettings, ServiceTopology
from meshfleet.core.views import (
    EndpointView,
    ExportRuleView,
    ExportView,
    GrantView,
    ImportView,
    PolicyView,
    Route,
    Share,
    TargetView,
)
from meshfleet.errors import Code, Loc, shortlist
from meshfleet.fleet.model import AccessRule, Cluster, Port

GLOBAL = "service.cilium.io/global"
SHARED = "service.cilium.io/shared"
AFFINITY = "service.cilium.io/affinity"
POLICY_API = "cilium.io/v2"
CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"
ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount"
NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"

AFFINITY_OF = {"Locality": "local", "FailOver": "local", "ActiveActive": "none"}
"""The fleet's lbType -> Cilium's service affinity. No fleet word means `remote` (prefer the others)."""

CILIUM_WEIGHTS = Code("cilium-weights", "error", "a traffic target's weight, which Cilium cannot apply")
CILIUM_TARGETS = Code(
    "cilium-targets", "error", "traffic targets that are not every cluster sharing the service with a Cilium consumer"
)
CILIUM_EXPORTER_IMPORTS = Code(
    "cilium-exporter-imports",
    "error",
    "a Cilium exporter left out of `import.clusters` while other Cilium clusters export",
)
CILIUM_PARTIAL_EXPORT = Code("cilium-partial-export", "error", "a Cilium export of some ports of a Service only")
CILIUM_ACCESS_IDENTITY = Code(
    "cilium-access-identity",
    "error",
    "an access rule for pods Cilium cannot select (any service account, no podLabels)",
)
CILIUM_ACCESS_MATCH = Code("cilium-access-match", "error", "an HTTP header match Cilium cannot express")


def cluster_name(cluster: Cluster, name: str) -> str:
    """The value of `io.cilium.k8s.policy.cluster` on the cluster's endpoints: Cilium's cluster-name."""
    return cluster.cilium.clusterName or name


def answers_as(svc: ServiceTopology, cluster: str) -> str:
    """The service account the service's pods in `cluster` run as (`*`: any)."""
    local = svc.spec.localServiceAccounts.get(cluster)
    return local if local is not None else svc.exports[cluster].service_account


def destinations(svc: ServiceTopology, cluster: str) -> list[str]:
    """The clusters whose pods answer `cluster`'s calls to `svc`: its own, and those it imports from."""
    found = {cluster} if svc.runs_in(cluster) else set()
    if cluster in svc.importers:
        found.update(svc.endpoints_for(cluster))
    return sorted(found)


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


class Cilium(Mesh):
    name = "cilium"
    title = "Cilium"
    settings = "cilium"
    capabilities = Capabilities(
        reaches=frozenset({"cilium"}), imports_own_export=True, traffic_policies=True, needs_gateway=False
    )
    codes = (CILIUM_WEIGHTS, CILIUM_TARGETS, CILIUM_EXPORTER_IMPORTS, CILIUM_PARTIAL_EXPORT)

    # --- checks ----------------------------------------------------------------------------------

    def check_export(self, checks: Checks, svc: ServiceTopology, exporter: str, loc: Loc) -> None:
        exported = {r.port.port for r in svc.exports[exporter].rules}
        left_out = [p.port for p in svc.ports[exporter] if p.port not in exported]
        if left_out:
            checks.problem(
                export_ports_loc(checks, svc, exporter),
                f"{exporter} exports {svc.ref} without port(s) "
                f"{', '.join(map(str, left_out))}; a Cilium global Service shares every port of the Service",
                "export every port (leave export.ports out), or move those ports to another Service",
                CILIUM_PARTIAL_EXPORT,
            )

    def check_importers(
        self, checks: Checks, svc: ServiceTopology, chosen: Sequence[str], reachable: Sequence[str], loc: Loc
    ) -> None:
        mine = [e for e in svc.exporters if checks.mesh(e) == self.name]
        if len(mine) < 2:
            return
        for e in mine:
            if e not in chosen:
                others = ", ".join(x for x in mine if x != e)
                checks.problem(
                    loc,
                    f"{e} exports {svc.ref} with Cilium, whose global Service there also "
                    f"load-balances to the other exporters' backends ({others}); {e} cannot export it "
                    "without importing it",
                    f"add {e} to import.clusters, or remove import",
                    CILIUM_EXPORTER_IMPORTS,
                )

    def check_policy(self, checks: Checks, svc: ServiceTopology, consumer: str, policy: PolicySettings) -> None:
        sharing = sorted(set(svc.endpoints_for(consumer)) - {consumer})
        known = True
        for i, t in enumerate(policy.targets or ()):
            tloc = (*policy.targets_loc, i)
            known = checks.cluster_ref(t.cluster, (*tloc, "cluster"), "be a traffic target") and known
            if t.weight is not None:
                checks.problem(
                    (*tloc, "weight"),
                    f"Cilium has no per-cluster weights: a global Service spreads "
                    f"the calls to {svc.ref} over the backends of every cluster that shares it",
                    "remove the weight (lbType ActiveActive spreads evenly)",
                    CILIUM_WEIGHTS,
                )
        effective = policy.effective(consumer)
        if effective is None or not known:
            return
        listed = sorted({t.cluster for t in effective})
        if listed != sharing:
            extra = [c for c in listed if c not in sharing]
            left = ", ".join(c for c in sharing if c not in listed)
            why = (
                f"{', '.join(extra)} {'does' if len(extra) == 1 else 'do'} not share it with {consumer} through Cilium"
                if extra
                else f"targets cannot leave out {left}"
            )
            checks.problem_for(
                consumer,
                policy.targets_loc,
                f"Cilium sends {consumer}'s calls to {svc.ref} to every "
                f"cluster that shares it ({shortlist(sharing) or 'none'}); {why}",
                "remove targets; to keep a cluster out, stop exporting from it",
                CILIUM_TARGETS,
            )

    # --- objects and views -----------------------------------------------------------------------

    def _service(self, ctx: PlanContext, svc: ServiceTopology, cluster: str) -> tuple[dict[str, Any], ObjectId]:
        """The global Service of `svc` in `cluster` (one object, shared by its export, import and policy)."""
        memo = (self.name, "service", svc.ref, cluster)
        found: tuple[dict[str, Any], ObjectId] | None = ctx.memo.get(memo)
        if found is not None:
            return found
        loc: Loc = ("services", svc.ref, "export")
        meta: dict[str, Any] = {"name": svc.name, "namespace": svc.namespace}
        if svc.runs_in(cluster):
            # The user's Service: add the annotations, owned by meshfleet's field manager, nothing else.
            meta["annotations"] = {GLOBAL: "true", SHARED: "true" if cluster in svc.exports else "false"}
            body: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": meta}
            obj = PlannedObject("applied", body, patch=True, relinquish=True)
        else:
            meta["annotations"] = {GLOBAL: "true", SHARED: "false"}
            body = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {"ports": _service_ports(svc.ports[cluster])},
            }
            obj = PlannedObject("applied", body)
        found = (body, ctx.objects.add(cluster, obj, loc))
        ctx.memo[memo] = found
        return found

    def plan_export(self, ctx: PlanContext, svc: ServiceTopology, exporter: str) -> ExportView:
        _, oid = self._service(ctx, svc, exporter)
        settings = svc.exports[exporter]
        return ExportView(
            svc.ref,
            port_views(r.port for r in settings.rules),
            settings.service_account,
            tuple(ExportRuleView(r.port.port) for r in settings.rules),
            objects=(oid,),
        )

    def plan_import(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> ImportView:
        _, oid = self._service(ctx, svc, consumer)
        exporters = svc.endpoints_for(consumer)
        ports = svc.ports[exporters[0]]
        name = called_as(svc.ref)
        endpoints = tuple(
            EndpointView(e, ctx.key(e), p.port, None, name)
            for e in sorted(exporters)
            for p in sorted(ports, key=lambda p: p.port)
        )
        return ImportView(svc.ref, port_views(ports), endpoints, objects=(oid,))

    def plan_policy(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> PolicyView:
        pol = svc.policies[consumer]
        body, oid = self._service(ctx, svc, consumer)
        body["metadata"]["annotations"][AFFINITY] = AFFINITY_OF[pol.lb_type]
        effective = pol.effective(consumer)
        targets = None if effective is None else tuple(TargetView(t.cluster, t.weight) for t in effective)
        return PolicyView(svc.ref, pol.lb_type, targets, objects=(oid,))

    def export_size(self, cluster: Cluster) -> int:
        return 1  # the Service patch

    def import_size(self, importers: int, listed: int, ports: int, policy: bool) -> tuple[int, int]:
        return importers, 0  # one global Service per consumer (the affinity is on it); no endpoint list

    # --- runtime rules (affinity.rst:21-26, clustermesh.go:36-47) --------------------------------

    def patched_objects(self) -> str | None:
        # meshfleet annotates a user's Service global and shared, and leaves the Service.
        return "the users' Services meshfleet annotated"

    def routes(
        self, service: str, consumer: str, local: bool, imported: ImportView | None, policy: PolicyView | None
    ) -> tuple[Route, ...]:
        name = called_as(service)
        if imported is None:
            if not local:
                return ()
            return (
                Route(name, (Share(consumer, 1),), (), "Cilium: not a global Service here; the local backends only"),
            )
        serving = sorted({e.cluster for e in imported.endpoints} | ({consumer} if local else set()))
        remote = tuple(Share(c, 1) for c in serving if c != consumer)
        everyone = tuple(Share(c, 1) for c in serving)
        affinity = AFFINITY_OF[policy.lb_type] if policy is not None else "none"
        if affinity == "local" and consumer in serving:
            return (
                Route(
                    name,
                    (Share(consumer, 1),),
                    remote,
                    "Cilium affinity local: the local backends while any "
                    "is healthy, then every backend of the other clusters",
                ),
            )
        return (
            Route(
                name,
                everyone,
                remote,
                f"Cilium affinity {affinity}: every backend of every cluster sharing it, the local ones included",
            ),
        )


class CiliumNetworkPolicies(AccessAdapter):
    """Access rules as CiliumNetworkPolicies in the clusters whose pods answer: enforced at the destination."""

    name = "cilium-network-policy"
    objects_word = "CiliumNetworkPolicies"
    enforcement = "destination"
    codes = (CILIUM_ACCESS_IDENTITY, CILIUM_ACCESS_MATCH)

    def check_grant(self, checks: Checks, rule_name: str, rule: AccessRule, svc: ServiceTopology, cluster: str) -> None:
        loc: Loc = ("access", rule_name)
        for i, m in enumerate(rule.http):
            for j, header in enumerate(m.headers or ()):
                for key, value in header.items():
                    if value != patterns.ANY and patterns.literal(value) is None:
                        checks.problem(
                            (*loc, "http", i, "headers", j, key),
                            f"Cilium matches a header's value exactly or its presence; {value!r} is neither",
                            "write the exact value, or '.*' for any value",
                            CILIUM_ACCESS_MATCH,
                        )
        restricted = not _unrestricted(rule)
        for d in destinations(svc, cluster):
            if checks.mesh(d) != Cilium.name:
                continue
            if answers_as(svc, d) == "*" and not svc.spec.podLabels:
                checks.problem(
                    (*loc, "to"),
                    f"{svc.ref} answers as any service account in {d}, and a CiliumNetworkPolicy must select its pods",
                    f"set the service account of {svc.ref} in {d}, or services.{svc.ref}.podLabels",
                    CILIUM_ACCESS_IDENTITY,
                )
            if restricted and not any(p.protocol == "TCP" for p in svc.ports[d]):
                checks.problem(
                    (*loc, "http"),
                    f"Cilium applies HTTP rules to TCP ports, and {svc.ref} has none in {d}",
                    "admit any request (leave http out), or give the service a TCP port",
                    CILIUM_ACCESS_MATCH,
                )

    def plan_grants(
        self,
        ctx: PlanContext,
        rule_name: str,
        rule: AccessRule,
        svc: ServiceTopology,
        cluster: str,
        identities: Sequence[str],
    ) -> tuple[GrantView, ...]:
        matches = match_views(rule)
        caller = cluster_name(ctx.cluster(cluster), cluster)
        at: dict[str, list[str]] = {}
        ids: dict[str, ObjectId] = {}
        for d in destinations(svc, cluster):
            if ctx.topology.meshes[d] != Cilium.name:
                continue
            oid = self._admit(ctx, rule_name, rule, svc, d, caller)
            account = answers_as(svc, d)
            at.setdefault(account, []).append(d)
            ids[account] = oid
        grants = []
        for account in identities:
            where = at.get(account, [])
            grants.append(
                GrantView(
                    rule_name,
                    qualified(svc.namespace, account),
                    svc.ref,
                    tuple(rule.from_),
                    matches,
                    self.enforcement,
                    tuple(d for d in where if d != cluster) or None,
                    objects=(ids[account],) if account in ids else (),
                )
            )
        return tuple(grants)

    def _admit(
        self, ctx: PlanContext, rule_name: str, rule: AccessRule, svc: ServiceTopology, dest: str, caller: str
    ) -> ObjectId:
        """The rule's policy in `dest`, admitting its sources from the cluster Cilium names `caller`."""
        memo = (Cilium.name, "policy", rule_name, dest)
        found: tuple[dict[str, Any], ObjectId] | None = ctx.memo.get(memo)
        if found is None:
            account = answers_as(svc, dest)
            selected = dict(svc.spec.podLabels)
            if account != "*":
                selected[ACCOUNT_LABEL] = account
            sources = []
            for namespace, name in sorted(split(s) for s in rule.from_):
                sources.append(
                    {
                        "matchLabels": {ACCOUNT_LABEL: name, NAMESPACE_LABEL: namespace},
                        "matchExpressions": [{"key": CLUSTER_LABEL, "operator": "In", "values": []}],
                    }
                )
            body: dict[str, Any] = {
                "apiVersion": POLICY_API,
                "kind": "CiliumNetworkPolicy",
                "metadata": {"name": rule_name, "namespace": svc.namespace},
                "spec": {
                    "endpointSelector": {"matchLabels": dict(sorted(selected.items()))},
                    "ingress": [{"fromEndpoints": sources, "toPorts": _to_ports(rule, svc.ports[dest])}],
                },
            }
            found = (body, ctx.objects.add(dest, PlannedObject("applied", body), ("access", rule_name)))
            ctx.memo[memo] = found
        body, oid = found
        for source in body["spec"]["ingress"][0]["fromEndpoints"]:
            values: list[str] = source["matchExpressions"][0]["values"]
            if caller not in values:
                values.append(caller)
                values.sort()
        return oid


def _to_ports(rule: AccessRule, ports: Sequence[Port]) -> list[dict[str, Any]]:
    """The ports the rule opens on the destination pods, with its HTTP matches as L7 rules.

    A rule whose every match admits any request opens the ports at L4 (no proxy in the path). Other
    rules are HTTP rules, which Cilium applies to TCP ports only; the service's other ports stay closed.
    The Service's port numbers are taken as the pods' (its targetPort equal to its port).
    """
    if _unrestricted(rule):
        return [{"ports": [{"port": str(p.port), "protocol": p.protocol} for p in ports]}]
    http: list[dict[str, Any]] = []
    for m in rule.http:
        base: dict[str, Any] = {}
        if m.pathRegex != patterns.ANY:
            base["path"] = m.pathRegex
        presence = []
        exact = []
        for header in m.headers or ():
            for key, value in sorted(header.items()):
                if value == patterns.ANY:
                    presence.append(key)
                else:
                    exact.append({"name": key, "value": patterns.literal(value) or ""})
        if presence:
            base["headers"] = presence
        if exact:
            base["headerMatches"] = exact
        methods = [None] if "*" in m.methods else list(m.methods)
        for method in methods:
            http.append({**({"method": method} if method is not None else {}), **base})
    tcp = [{"port": str(p.port), "protocol": "TCP"} for p in ports if p.protocol == "TCP"]
    assert tcp, "refused by check_grant: HTTP rules need a TCP port"
    return [{"ports": tcp, "rules": {"http": http}}]


def _unrestricted(rule: AccessRule) -> bool:
    """Every match of the rule admits any request (any path, any method, no header)."""
    return all(m.pathRegex == patterns.ANY and "*" in m.methods and not m.headers for m in rule.http)
