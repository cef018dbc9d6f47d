"""Who exports what, who imports it, and whether the pieces agree.

Why: the cross-cluster facts (exporters, importers, effective per-cluster settings after overrides)
are needed both to check a fleet and to plan it. They are computed once, here, and every check
reports the key path of the words that are wrong so the loader can name the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import ip_address

from meshfleet.errors import Finding, FindingsError, Loc
from meshfleet.fleet.model import (
    Cluster,
    Fleet,
    PathRewrite,
    Port,
    Selection,
    Service,
    Target,
)


def cluster_key(name: str, cluster: Cluster) -> str:
    """FSM's clusterKey: region/zone/group/name, each of the first three defaulting to `default`."""
    return f"{cluster.region}/{cluster.zone}/{cluster.group}/{name}"


def is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ExportRule:
    port: Port
    path: str
    path_type: str


@dataclass(frozen=True)
class ExportSettings:
    """A service's export as one exporting cluster sees it, overrides applied."""

    rules: tuple[ExportRule, ...]
    service_account: str
    load_balancer: str | None
    session_sticky: bool | None
    path_rewrite: PathRewrite | None
    path_loc: Loc


@dataclass(frozen=True)
class PolicySettings:
    """A service's traffic policy in one consuming cluster, overrides applied."""

    lb_type: str
    targets: tuple[Target, ...] | None
    loc: Loc
    targets_loc: Loc


@dataclass
class ServiceTopology:
    ref: str
    namespace: str
    name: str
    spec: Service
    meshes: dict[str, str]
    exporters: list[str] = field(default_factory=list)
    exports: dict[str, ExportSettings] = field(default_factory=dict)
    ports: dict[str, tuple[Port, ...]] = field(default_factory=dict)
    importers: list[str] = field(default_factory=list)
    policies: dict[str, PolicySettings] = field(default_factory=dict)

    def endpoints_for(self, cluster: str) -> list[str]:
        """Exporting clusters whose endpoints `cluster` sees: the exporters of its own mesh, itself
        excluded (FSM and Linkerd never import their own export; MCS imports include it)."""
        mesh = self.meshes[cluster]
        return [e for e in self.exporters if self.meshes[e] == mesh and (e != cluster or mesh == "mcs")]


@dataclass
class Topology:
    fleet: Fleet
    members: list[str]
    keys: dict[str, str]
    services: dict[str, ServiceTopology]
    meshes: dict[str, str]
    access_in: dict[str, list[str] | None] = field(default_factory=dict)
    """Each access rule's chosen clusters (None: wherever the service is reachable)."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def control_plane(self) -> str | None:
        return self.fleet.controlPlane


class _Resolver:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.findings: list[Finding] = []
        cp = fleet.controlPlane
        self.members = sorted(n for n in fleet.clusters if n != cp)
        self.access_in: dict[str, list[str] | None] = {}
        self.meshes: dict[str, str] = {n: str(c.mesh) for n, c in fleet.clusters.items()}

    def mesh(self, cluster: str) -> str:
        return self.meshes[cluster]

    def problem(self, loc: Loc, message: str, hint: str = "") -> None:
        self.findings.append(Finding(loc, message, hint))

    def known(self) -> str:
        return ", ".join(self.members) or "(none)"

    def select(self, sel: Selection, loc: Loc, what: str) -> list[str]:
        """Resolve a cluster choice to member names, reporting unknown and control-plane names."""
        if sel.all:
            return list(self.members)
        if sel.selector is not None:
            selector = sel.selector
            return [m for m in self.members if selector.matches(self.fleet.clusters[m].labels)]
        chosen: list[str] = []
        for i, name in enumerate(sel.names or []):
            if name == self.fleet.controlPlane:
                self.problem(
                    (*loc, i),
                    f"{name!r} is the FSM control-plane cluster and cannot {what}",
                    "the control plane only registers members; name a member cluster instead",
                )
            elif name not in self.fleet.clusters:
                self.problem((*loc, i), f"unknown cluster {name!r}", f"use one of: {self.known()}")
            elif name in chosen:
                self.problem((*loc, i), f"cluster {name!r} is listed twice", "list each cluster once")
            else:
                chosen.append(name)
        return sorted(chosen)

    def cluster_ref(self, name: str, loc: Loc, what: str) -> bool:
        if name == self.fleet.controlPlane:
            self.problem(loc, f"{name!r} is the FSM control-plane cluster and cannot {what}",
                         "name a member cluster instead")
            return False
        if name not in self.fleet.clusters:
            self.problem(loc, f"unknown cluster {name!r}", f"use one of: {self.known()}")
            return False
        return True


def resolve(fleet: Fleet) -> Topology:
    """Compute the fleet's topology and every cross-cluster problem (in `Topology.findings`)."""
    r = _Resolver(fleet)
    cp = fleet.controlPlane
    if cp is not None and cp not in fleet.clusters:
        r.problem(("controlPlane",), f"control-plane cluster {cp!r} is not under clusters",
                  f"add it under clusters, or use one of: {', '.join(sorted(fleet.clusters))}")
    if not r.members:
        r.problem(("clusters",), "the fleet has no member cluster", "add the clusters that run services")
    keys = {name: cluster_key(name, c) for name, c in fleet.clusters.items() if name != cp}
    for name, c in sorted(fleet.clusters.items()):
        if c.mesh != "fsm" and "fsm" in c.model_fields_set:
            r.problem(("clusters", name, "fsm"), f"cluster {name!r} runs {c.mesh}; fsm settings do not apply",
                      "remove fsm, or set mesh: fsm")
        if c.mesh != "linkerd" and "linkerd" in c.model_fields_set:
            r.problem(("clusters", name, "linkerd"), f"cluster {name!r} runs {c.mesh}; linkerd settings do not "
                      "apply", "remove linkerd, or set mesh: linkerd")
        if c.mesh != "mcs" and "mcs" in c.model_fields_set:
            r.problem(("clusters", name, "mcs"), f"cluster {name!r} runs {c.mesh}; mcs settings do not apply",
                      "remove mcs, or set mesh: mcs")
    if cp is not None:
        if fleet.clusters.get(cp) is not None and fleet.clusters[cp].mesh != "fsm":
            r.problem(("clusters", cp, "mesh"), "the FSM control-plane cluster must run FSM", "remove mesh")
        for m in r.members:
            if fleet.clusters[m].mesh == "fsm" and fleet.clusters[m].gateway is None:
                r.problem(("clusters", m), f"member {m!r} has no gateway; FSM's control plane refuses a Cluster "
                          "without gatewayHost", f"add clusters.{m}.gateway with host and port")

    services: dict[str, ServiceTopology] = {}
    for ref in sorted(fleet.services):
        services[ref] = _resolve_service(r, ref, fleet.services[ref])

    _check_paths(r, services)
    _check_access(r, services)
    return Topology(fleet=fleet, members=r.members, keys=keys, services=services, meshes=r.meshes,
                    access_in=r.access_in,
                    findings=r.findings)


def resolve_or_raise(fleet: Fleet) -> Topology:
    topo = resolve(fleet)
    if topo.findings:
        raise FindingsError(topo.findings)
    return topo


def _override_matches(r: _Resolver, svc: Service, base: Loc) -> list[set[str]]:
    """The member set each override applies to (resolved once, reporting bad names once)."""
    return [
        set(r.select(o.clusters, (*base, "overrides", i, "clusters"), "be overridden"))
        for i, o in enumerate(svc.overrides)
    ]


def _resolve_service(r: _Resolver, ref: str, svc: Service) -> ServiceTopology:
    ns, _, name = ref.partition("/")
    base: Loc = ("services", ref)
    topo = ServiceTopology(ref=ref, namespace=ns, name=name, spec=svc, meshes=r.meshes)
    matches = _override_matches(r, svc, base)
    fleet = r.fleet

    for cname in sorted(svc.localServiceAccounts):
        r.cluster_ref(cname, (*base, "localServiceAccounts", cname), "run services")

    # Ports as each member sees them (overrides may change them; exporters must then agree).
    for m in r.members:
        ports = tuple(svc.ports)
        for i, o in enumerate(svc.overrides):
            if m in matches[i] and o.ports is not None:
                ports = tuple(o.ports)
        topo.ports[m] = ports
    _check_port_list(r, tuple(svc.ports), (*base, "ports"))
    for i, o in enumerate(svc.overrides):
        if o.ports is not None:
            _check_port_list(r, tuple(o.ports), (*base, "overrides", i, "ports"))

    if svc.export is not None:
        exp_loc = (*base, "export")
        topo.exporters = r.select(svc.export.clusters, (*exp_loc, "clusters"), "export services")
        if not topo.exporters and svc.export.clusters.names is None:
            r.problem((*exp_loc, "clusters"), "the export selects no member cluster",
                      "name the exporting clusters, or fix the label selector")
        for e in topo.exporters:
            topo.exports[e] = _export_settings(r, svc, ref, e, topo.ports[e], matches, base)
            _check_exporter(r, topo, e, (*exp_loc, "clusters"))
        _check_exporters_agree(r, topo, exp_loc)
    elif svc.import_ is not None or svc.trafficPolicy is not None:
        what = "import" if svc.import_ is not None else "trafficPolicy"
        r.problem((*base, what), f"{ref} has {what} but no export", "add export, or remove " + what)

    # Importers follow their own mesh: a cluster imports what exporters of its mesh publish. FSM's
    # control plane writes imports into every other FSM member, so with one the fleet cannot narrow
    # them; a cluster never imports its own FSM or Linkerd export (MCS imports everywhere).
    reachable = [m for m in r.members if topo.endpoints_for(m)] if topo.exporters else []
    if svc.import_ is not None:
        imp_loc = (*base, "import", "clusters")
        chosen = r.select(svc.import_.clusters, imp_loc, "import services")
        for c in chosen:
            if c not in reachable and topo.exporters:
                mesh = r.mesh(c)
                found = ", ".join(f"{e} ({r.mesh(e)})" for e in topo.exporters)
                if any(r.mesh(e) == mesh for e in topo.exporters if e != c):
                    continue
                why = "it is the only exporter" if topo.exporters == [c] else \
                    f"its mesh ({mesh}) cannot reach the exporters: {found}"
                r.problem(imp_loc, f"cluster {c!r} cannot import {ref}: {why}",
                          f"export {ref} from a {mesh} cluster, or do not import it into {c}")
        fsm_reachable = {c for c in reachable if r.mesh(c) == "fsm"}
        if fleet.controlPlane is not None and {c for c in chosen if r.mesh(c) == "fsm"} != fsm_reachable:
            r.problem(imp_loc, "FSM's control plane imports every export into every other FSM member; "
                      "it cannot restrict importers",
                      "remove import (use trafficPolicy.clusters to choose consumers), or run without controlPlane")
        topo.importers = [c for c in chosen if c in reachable]
    else:
        topo.importers = reachable

    if svc.trafficPolicy is not None and topo.exporters:
        _resolve_policies(r, topo, matches, base)

    for c in topo.importers:
        if r.mesh(c) == "mcs" or (r.mesh(c) == "fsm" and fleet.controlPlane is not None):
            continue  # imports written by the mesh's own controllers, who resolve gateway names
        for e in topo.endpoints_for(c):
            gw = fleet.clusters[e].gateway
            if gw is not None and gw.ip is None and not is_ip(gw.host):
                r.problem(("clusters", e, "gateway", "host"),
                          f"gateway host {gw.host!r} is a DNS name and meshfleet writes the imports of {ref}",
                          f"add clusters.{e}.gateway.ip (the address {gw.host} resolves to)")
    return topo


def _check_exporter(r: _Resolver, topo: ServiceTopology, e: str, loc: Loc) -> None:
    mesh = r.mesh(e)
    if mesh == "mcs":
        return  # the MCS implementation carries the traffic; no gateway of ours is involved
    if r.fleet.clusters[e].gateway is None:
        r.problem(loc, f"cluster {e!r} exports {topo.ref} but has no gateway",
                  f"add clusters.{e}.gateway (host and port other clusters reach it on)")
    if mesh == "linkerd":
        mirror = f"{topo.name}-{e}"
        if len(mirror) > 63:
            r.problem(loc, f"the mirror Service {mirror!r} of {topo.ref} from {e} is {len(mirror)} characters; "
                      "Kubernetes allows 63", "shorten the service or the cluster name")


def _check_port_list(r: _Resolver, ports: tuple[Port, ...], loc: Loc) -> None:
    seen: set[int] = set()
    names_seen: set[str] = set()
    for i, p in enumerate(ports):
        if p.port in seen:
            r.problem((*loc, i, "port"), f"port {p.port} is listed twice", "list each port once")
        if p.name is not None and p.name in names_seen:
            r.problem((*loc, i, "name"), f"port name {p.name!r} is used twice", "give each port its own name")
        seen.add(p.port)
        if p.name is not None:
            names_seen.add(p.name)
    if len(ports) > 1 and any(p.name is None for p in ports):
        r.problem(loc, "a Service with several ports must name each of them", "add a name to every port")


def _export_settings(r: _Resolver, svc: Service, ref: str, cluster: str, ports: tuple[Port, ...],
                     matches: list[set[str]], base: Loc) -> ExportSettings:
    assert svc.export is not None
    exp = svc.export
    path, path_type, port_list = exp.path, exp.pathType, exp.ports
    lb, sticky, rewrite = exp.loadBalancer, exp.sessionSticky, exp.pathRewrite
    sa = svc.serviceAccount
    path_loc: Loc = (*base, "export", "path")
    ports_loc: Loc = (*base, "export", "ports")
    for i, o in enumerate(svc.overrides):
        if cluster not in matches[i]:
            continue
        if o.serviceAccount is not None:
            sa = o.serviceAccount
        if o.export is not None:
            ov = o.export
            if ov.path is not None:
                path, path_loc = ov.path, (*base, "overrides", i, "export", "path")
            if ov.pathType is not None:
                path_type = ov.pathType
            if ov.ports is not None:
                port_list, ports_loc = ov.ports, (*base, "overrides", i, "export", "ports")
            lb = ov.loadBalancer if ov.loadBalancer is not None else lb
            sticky = ov.sessionSticky if ov.sessionSticky is not None else sticky
            rewrite = ov.pathRewrite if ov.pathRewrite is not None else rewrite

    by_number = {p.port: p for p in ports}
    chosen: list[Port] = []
    if port_list is None:
        chosen = list(ports)
    else:
        for j, number in enumerate(port_list):
            if number not in by_number:
                r.problem((*ports_loc, j), f"port {number} is not a port of {ref}",
                          f"use one of: {', '.join(str(p) for p in sorted(by_number))}")
            else:
                chosen.append(by_number[number])
    ns, _, name = ref.partition("/")
    rules = tuple(
        ExportRule(port=p, path=_expand(path, cluster=cluster, namespace=ns, name=name, port=p.port),
                   path_type=path_type)
        for p in chosen
    )
    return ExportSettings(rules=rules, service_account=sa, load_balancer=lb, session_sticky=sticky,
                          path_rewrite=rewrite, path_loc=path_loc)


def _expand(template: str, **values: object) -> str:
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", str(v))
    return out


def _check_exporters_agree(r: _Resolver, topo: ServiceTopology, loc: Loc) -> None:
    """Exporters of one service must agree: FSM refuses a later export whose Service ports differ,
    and an export without a rule for some port wipes that port's endpoints in every import."""
    if not topo.exporters:
        return
    first = topo.exporters[0]
    exported = {e: [rule.port.port for rule in topo.exports[e].rules] for e in topo.exporters}
    for e in topo.exporters[1:]:
        if topo.ports[e] != topo.ports[first]:
            r.problem((*loc, "clusters"),
                      f"exporters of {topo.ref} have different ports: {first} has "
                      f"{_ports(topo.ports[first])}, {e} has {_ports(topo.ports[e])}",
                      "FSM marks the later export Conflict; give every exporter the same ports")
            return
        if exported[e] != exported[first]:
            r.problem((*loc, "clusters"),
                      f"exporters of {topo.ref} export different ports: {first} exports "
                      f"{', '.join(map(str, exported[first]))}, {e} exports {', '.join(map(str, exported[e]))}",
                      "FSM drops the endpoints of a port one exporter leaves out; export the same ports everywhere")
            return
    accounts = {s.service_account for s in topo.exports.values()}
    if len(accounts) > 1:
        r.problem((*loc, "clusters"),
                  f"exporters of {topo.ref} use different service accounts ({', '.join(sorted(accounts))})",
                  "FSM keeps only the last export's serviceAccountName in every import; use one")


def _ports(ports: tuple[Port, ...]) -> str:
    return ", ".join(f"{p.port}/{p.protocol}" for p in ports)


def _resolve_policies(r: _Resolver, topo: ServiceTopology, matches: list[set[str]], base: Loc) -> None:
    svc = topo.spec
    tp = svc.trafficPolicy
    assert tp is not None
    loc: Loc = (*base, "trafficPolicy")
    if tp.clusters is not None:
        consumers = r.select(tp.clusters, (*loc, "clusters"), "consume services")
        for c in consumers:
            if r.mesh(c) != "fsm":
                r.problem((*loc, "clusters"), f"cluster {c!r} runs {r.mesh(c)}; a GlobalTrafficPolicy is FSM's",
                          "choose FSM clusters, or leave clusters out")
            elif c not in topo.importers:
                r.problem((*loc, "clusters"), f"cluster {c!r} gets a traffic policy for {topo.ref} but imports "
                          "nothing of it" + (" (it is the only exporter)" if c in topo.exporters else ""),
                          "choose clusters that import the service")
        consumers = [c for c in consumers if c in topo.importers and r.mesh(c) == "fsm"]
    else:
        consumers = [c for c in topo.importers if r.mesh(c) == "fsm"]

    for c in consumers:
        lb_type, targets, targets_loc = tp.lbType, tp.targets, (*loc, "targets")
        for i, o in enumerate(svc.overrides):
            if c in matches[i] and o.trafficPolicy is not None:
                if o.trafficPolicy.lbType is not None:
                    lb_type = o.trafficPolicy.lbType
                if o.trafficPolicy.targets is not None:
                    targets = o.trafficPolicy.targets
                    targets_loc = (*base, "overrides", i, "trafficPolicy", "targets")
        topo.policies[c] = PolicySettings(lb_type=lb_type, targets=tuple(targets) if targets is not None else None,
                                          loc=loc, targets_loc=targets_loc)

    # Check each distinct target list once (at its own location), then each cluster's effective list.
    checked: set[Loc] = set()
    for c, pol in sorted(topo.policies.items()):
        if pol.targets is not None and pol.targets_loc not in checked:
            checked.add(pol.targets_loc)
            for i, t in enumerate(pol.targets):
                tloc = (*pol.targets_loc, i)
                fsm_exporters = [e for e in topo.exporters if r.mesh(e) == "fsm"]
                if r.cluster_ref(t.cluster, (*tloc, "cluster"), "be a traffic target") and \
                        t.cluster not in fsm_exporters:
                    what = "does not export" if t.cluster not in topo.exporters else \
                        f"runs {r.mesh(t.cluster)}, so FSM consumers cannot reach its export of"
                    r.problem((*tloc, "cluster"), f"traffic target {t.cluster!r} {what} {topo.ref}",
                              f"use an FSM exporter: {', '.join(fsm_exporters) or '(none)'}")
                if t.weight is not None and t.weight < 0:
                    r.problem((*tloc, "weight"), f"weight {t.weight} is negative", "use a weight of 0 or more")
                if t.weight is not None and pol.lb_type != "ActiveActive":
                    r.problem((*tloc, "weight"), f"weights only apply to ActiveActive, not {pol.lb_type}",
                              "remove the weight, or use lbType: ActiveActive")
            if pol.targets is not None and len({t.cluster for t in pol.targets}) != len(pol.targets):
                r.problem(pol.targets_loc, "a traffic target is listed twice", "list each cluster once")
        effective = [t for t in (pol.targets or ()) if t.cluster != c] if pol.targets is not None else None
        if pol.lb_type == "Locality" and effective is not None and len(effective) > 1:
            r.problem(pol.targets_loc, f"Locality takes at most one target; {c} would get {len(effective)}",
                      "keep one target, or use FailOver or ActiveActive")
        if pol.lb_type == "FailOver" and effective is not None and not effective:
            r.problem(pol.targets_loc, f"FailOver needs at least one target other than {c} itself",
                      "name the exporting clusters to fail over to, or leave targets out to use every exporter")


def _check_paths(r: _Resolver, services: dict[str, ServiceTopology]) -> None:
    """FSM refuses an export whose path and pathType already exist on any Ingress of the cluster."""
    owners: dict[tuple[str, str, str], str] = {}
    for ref, topo in services.items():
        for cluster, settings in topo.exports.items():
            if r.mesh(cluster) != "fsm":
                continue  # only FSM turns exports into Ingress paths
            for rule in settings.rules:
                k = (cluster, rule.path, rule.path_type)
                if k in owners:
                    other = owners[k]
                    who = f"{ref} exports" if other == ref else f"{ref} and {other} both export"
                    r.problem(settings.path_loc,
                              f"{who} path {rule.path} ({rule.path_type}) twice in cluster {cluster}; "
                              "FSM refuses the later one",
                              "give each export its own path, e.g. with {name} or {port} in the template")
                else:
                    owners[k] = ref


def _check_access(r: _Resolver, services: dict[str, ServiceTopology]) -> None:
    for rule_name, rule in sorted(r.fleet.access.items()):
        loc: Loc = ("access", rule_name)
        topo = services.get(rule.to)
        if topo is None:
            r.problem((*loc, "to"), f"unknown service {rule.to!r}",
                      f"use one of: {', '.join(sorted(services)) or '(no services)'}")
            continue
        reachable = set(reachable_clusters(topo))
        r.access_in[rule_name] = None
        if rule.in_ is not None:
            clusters = r.select(rule.in_, (*loc, "in"), "hold access rules")
            r.access_in[rule_name] = clusters
            for c in clusters:
                if r.mesh(c) != "fsm":
                    r.problem((*loc, "in"), f"cluster {c!r} runs {r.mesh(c)}; access rules become SMI "
                              "TrafficTargets, which only FSM clusters enforce", "choose FSM clusters")
                elif c not in reachable:
                    r.problem((*loc, "in"), f"{rule.to} does not exist in cluster {c!r}: it neither runs "
                              "there nor is imported there", "add it to localServiceAccounts, or import it there")
        names_seen: set[str] = set()
        for i, match in enumerate(rule.http):
            if match.name in names_seen:
                r.problem((*loc, "http", i, "name"), f"match name {match.name!r} is used twice",
                          "give each match its own name")
            names_seen.add(match.name)


def reachable_clusters(topo: ServiceTopology) -> list[str]:
    """FSM clusters where a service answers: where it runs, plus where it is imported."""
    found = set(topo.spec.localServiceAccounts) | set(topo.exporters) | set(topo.importers)
    return sorted(c for c in found if topo.meshes.get(c) == "fsm")


def access_clusters(topo: ServiceTopology, chosen: list[str] | None) -> list[str]:
    reachable = reachable_clusters(topo)
    return reachable if chosen is None else [c for c in chosen if c in reachable]


def identities(topo: ServiceTopology, cluster: str) -> list[str]:
    """Service accounts under which `topo`'s service answers in `cluster`.

    Local pods answer as the local service account (or the export's one where the cluster exports);
    remote endpoints answer as the service account their export names.
    """
    found: set[str] = set()
    local = topo.spec.localServiceAccounts.get(cluster)
    if local is not None:
        found.add(local)
    elif cluster in topo.exports:
        found.add(topo.exports[cluster].service_account)
    if cluster in topo.importers:
        for e in topo.endpoints_for(cluster):
            found.add(topo.exports[e].service_account)
    return sorted(found)
