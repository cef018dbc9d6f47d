"""One service across the fleet: its ports, exporters, importers and export settings, checked.

Why: what a service means in each cluster (overrides applied) is computed once, here, and every
problem is reported at the key path of the words that are wrong. Mesh-specific checks are asked of
the mesh adapter of the cluster concerned.
"""

from __future__ import annotations

from collections.abc import Callable

from meshfleet import codes
from meshfleet.core.checks import Checks
from meshfleet.core.meshes import MESHES, mesh
from meshfleet.core.objects import split
from meshfleet.core.policies import resolve_policies
from meshfleet.core.resolved import ExportRule, ExportSettings, ServiceTopology, regex_literal
from meshfleet.errors import Loc
from meshfleet.fleet.model import Port, Service


def resolve_service(checks: Checks, ref: str, svc: Service) -> ServiceTopology:
    ns, name = split(ref)
    base: Loc = ("services", ref)
    topo = ServiceTopology(ref=ref, namespace=ns, name=name, spec=svc, meshes=checks.meshes)
    matches = [
        set(checks.select(o.clusters, (*base, "overrides", i, "clusters"), "be overridden"))
        for i, o in enumerate(svc.overrides)
    ]

    for cname in sorted(svc.localServiceAccounts):
        checks.cluster_ref(cname, (*base, "localServiceAccounts", cname), "run services")

    # Ports as each member sees them (overrides may change them; exporters must then agree).
    for m in checks.members:
        ports = tuple(svc.ports)
        for i, o in enumerate(svc.overrides):
            if m in matches[i] and o.ports is not None:
                ports = tuple(o.ports)
        topo.ports[m] = ports
    _check_port_list(checks, tuple(svc.ports), (*base, "ports"))
    for i, o in enumerate(svc.overrides):
        if o.ports is not None:
            _check_port_list(checks, tuple(o.ports), (*base, "overrides", i, "ports"))

    if svc.export is not None:
        exp_loc = (*base, "export")
        topo.exporters = checks.select(svc.export.clusters, (*exp_loc, "clusters"), "export services")
        if not topo.exporters and svc.export.clusters.names is None:
            checks.problem(
                (*exp_loc, "clusters"),
                "the export selects no member cluster",
                "name the exporting clusters, or fix the label selector",
                codes.EXPORT_SELECTS_NOTHING,
            )
        for e in topo.exporters:
            topo.exports[e] = _export_settings(checks, svc, ref, e, topo.ports[e], matches, base)
            adapter = mesh(checks.mesh(e))
            if adapter.capabilities.needs_gateway and checks.fleet.clusters[e].gateway is None:
                checks.problem(
                    (*exp_loc, "clusters"),
                    f"cluster {e!r} exports {ref} but has no gateway",
                    f"add clusters.{e}.gateway (host and port other clusters reach it on)",
                    codes.EXPORTER_WITHOUT_GATEWAY,
                )
            adapter.check_export(checks, topo, e, (*exp_loc, "clusters"))
        _check_exporters_agree(checks, topo, exp_loc)
    elif svc.import_ is not None or svc.trafficPolicy is not None:
        what = "import" if svc.import_ is not None else "trafficPolicy"
        checks.problem(
            (*base, what), f"{ref} has {what} but no export", "add export, or remove " + what, codes.NO_EXPORT
        )

    # Importers follow their own mesh: a cluster imports what the exporters its mesh reaches publish.
    reached: dict[str, list[str]] = {}  # per mesh: the exporters its consumers reach
    for m in checks.members:
        adapter = mesh(checks.mesh(m))
        if adapter.name not in reached:
            reached[adapter.name] = [e for e in topo.exporters if checks.mesh(e) in adapter.capabilities.reaches]
        others = reached[adapter.name]
        own = adapter.capabilities.imports_own_export or m not in others
        topo.endpoints[m] = others if own else [e for e in others if e != m]
    reachable = [m for m in checks.members if topo.endpoints_for(m)]
    if svc.import_ is not None:
        imp_loc = (*base, "import", "clusters")
        chosen = checks.select(svc.import_.clusters, imp_loc, "import services")
        if svc.import_.clusters.all:
            # `all` means every member that can import it: not the exporter itself, not another mesh.
            chosen = [c for c in chosen if c in reachable]
        for c in chosen:
            if c not in reachable and topo.exporters:
                found = ", ".join(f"{e} ({checks.mesh(e)})" for e in topo.exporters)
                why = (
                    "it is the only exporter"
                    if topo.exporters == [c]
                    else f"its mesh ({checks.mesh(c)}) cannot reach the exporters: {found}"
                )
                checks.problem_for(
                    c,
                    imp_loc,
                    f"cluster {c!r} cannot import {ref}: {why}",
                    f"export {ref} from {'an' if checks.mesh(c)[0] in 'aeiou' else 'a'} "
                    f"{checks.mesh(c)} cluster, or do not import it there",
                    codes.CANNOT_IMPORT,
                    same=why,
                )
        for adapter in MESHES.values():
            adapter.check_importers(checks, topo, chosen, reachable, imp_loc)
        topo.importers = [c for c in chosen if c in reachable]
    else:
        topo.importers = reachable

    if svc.trafficPolicy is not None and topo.exporters:
        resolve_policies(checks, topo, matches, base)
    for c in topo.importers:
        mesh(checks.mesh(c)).check_import(checks, topo, c)
    return topo


def _check_port_list(checks: Checks, ports: tuple[Port, ...], loc: Loc) -> None:
    seen: set[int] = set()
    names_seen: set[str] = set()
    for i, p in enumerate(ports):
        if p.port in seen:
            checks.problem(
                (*loc, i, "port"), f"port {p.port} is listed twice", "list each port once", codes.DUPLICATE_PORT
            )
        if p.name is not None and p.name in names_seen:
            checks.problem(
                (*loc, i, "name"),
                f"port name {p.name!r} is used twice",
                "give each port its own name",
                codes.DUPLICATE_PORT,
            )
        seen.add(p.port)
        if p.name is not None:
            names_seen.add(p.name)
    if len(ports) > 1 and any(p.name is None for p in ports):
        checks.problem(
            loc, "a Service with several ports must name each of them", "add a name to every port", codes.UNNAMED_PORTS
        )


def _export_settings(
    checks: Checks, svc: Service, ref: str, cluster: str, ports: tuple[Port, ...], matches: list[set[str]], base: Loc
) -> ExportSettings:
    assert svc.export is not None
    exp = svc.export
    path, path_type, port_list = exp.path, exp.pathType, exp.ports
    lb, sticky, rewrite = exp.loadBalancer, exp.sessionSticky, exp.pathRewrite
    sa = svc.serviceAccount
    path_loc: Loc = (*base, "export", "path")
    ports_loc: Loc = (*base, "export", "ports")
    locs: dict[str, Loc] = {k: (*base, "export", k) for k in ("pathType", "loadBalancer", "pathRewrite")}
    for i, o in enumerate(svc.overrides):
        if cluster not in matches[i]:
            continue
        if o.serviceAccount is not None:
            sa = o.serviceAccount
        if o.export is not None:
            ov = o.export
            here: Loc = (*base, "overrides", i, "export")
            if ov.path is not None:
                path, path_loc = ov.path, (*here, "path")
            if ov.pathType is not None:
                path_type, locs["pathType"] = ov.pathType, (*here, "pathType")
            if ov.ports is not None:
                port_list, ports_loc = ov.ports, (*here, "ports")
            if ov.loadBalancer is not None:
                lb, locs["loadBalancer"] = ov.loadBalancer, (*here, "loadBalancer")
            sticky = ov.sessionSticky if ov.sessionSticky is not None else sticky
            if ov.pathRewrite is not None:
                rewrite, locs["pathRewrite"] = ov.pathRewrite, (*here, "pathRewrite")

    by_number = {p.port: p for p in ports}
    chosen: list[Port] = []
    if port_list is None:
        chosen = list(ports)
    else:
        for j, number in enumerate(port_list):
            if number not in by_number:
                checks.problem(
                    (*ports_loc, j),
                    f"port {number} is not a port of {ref}",
                    f"use one of: {', '.join(str(p) for p in sorted(by_number))}",
                    codes.UNKNOWN_PORT,
                )
            else:
                chosen.append(by_number[number])
    ns, name = split(ref)
    rules = tuple(
        ExportRule(
            port=p, path=_expand(path, cluster=cluster, namespace=ns, name=name, port=p.port), path_type=path_type
        )
        for p in chosen
    )
    if rewrite is not None:
        # `from` is a regular expression: what is substituted into it is escaped (`to` is plain text).
        rewrite = rewrite.model_copy(
            update={
                "from_": _expand(rewrite.from_, escape=regex_literal, cluster=cluster, namespace=ns, name=name),
                "to": _expand(rewrite.to, cluster=cluster, namespace=ns, name=name),
            }
        )
    return ExportSettings(
        rules=rules,
        service_account=sa,
        load_balancer=lb,
        session_sticky=sticky,
        path_rewrite=rewrite,
        path_loc=path_loc,
        path_type_loc=locs["pathType"],
        load_balancer_loc=locs["loadBalancer"],
        path_rewrite_loc=locs["pathRewrite"],
        path_template=path,
    )


def _expand(template: str, escape: Callable[[str], str] = str, **values: object) -> str:
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", escape(str(v)))
    return out


def _check_exporters_agree(checks: Checks, topo: ServiceTopology, loc: Loc) -> None:
    """Exporters of one service must agree: FSM refuses a later export whose Service ports differ,
    and an export without a rule for some port wipes that port's endpoints in every import."""
    if not topo.exporters:
        return
    first = topo.exporters[0]
    exported = {e: [rule.port.port for rule in topo.exports[e].rules] for e in topo.exporters}
    for e in topo.exporters[1:]:
        if topo.ports[e] != topo.ports[first]:
            checks.problem(
                (*loc, "clusters"),
                f"exporters of {topo.ref} have different ports: {first} has "
                f"{_ports(topo.ports[first])}, {e} has {_ports(topo.ports[e])}",
                "FSM marks the later export Conflict; give every exporter the same ports",
                codes.EXPORTERS_DISAGREE,
            )
            return
        if exported[e] != exported[first]:
            checks.problem(
                (*loc, "clusters"),
                f"exporters of {topo.ref} export different ports: {first} exports "
                f"{', '.join(map(str, exported[first]))}, {e} exports {', '.join(map(str, exported[e]))}",
                "FSM drops the endpoints of a port one exporter leaves out; export the same ports everywhere",
                codes.EXPORTERS_DISAGREE,
            )
            return
    accounts = {s.service_account for s in topo.exports.values()}
    if len(accounts) > 1:
        checks.problem(
            (*loc, "clusters"),
            f"exporters of {topo.ref} use different service accounts ({', '.join(sorted(accounts))})",
            "FSM keeps only the last export's serviceAccountName in every import; use one",
            codes.EXPORTERS_DISAGREE,
        )


def _ports(ports: tuple[Port, ...]) -> str:
    return ", ".join(f"{p.port}/{p.protocol}" for p in ports)
