"""Services checked against the workloads the fleet places: the Service, its ports, its pods' identity.

Why: once the fleet holds a service's workload (its resources place the Service), meshfleet can check
what FSM otherwise finds out alone, late and quietly: an export whose Service is missing in the
exporting cluster stays invalid (fsm-runtime-semantics.md §5); a Service whose ports or protocols are
not the fleet's makes imports that route nowhere, and FSM's control plane marks exporters whose
Services differ in type, ports or targetPort as conflicting (§6); pods that run under another service
account than the export names are refused by every access rule written for that identity; and an
access rule granted to a service account that does not exist where it is granted lets nobody in.

"The fleet holds it" is decided per object: a service's checks apply when some resource places its
Service (namespace/name) in some cluster; an access source's when some resource places that
ServiceAccount somewhere; a Service's selector and identity checks when the fleet places workloads in
its namespace in that cluster. Objects the fleet does not hold anywhere are someone else's, and not
checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meshfleet import codes
from meshfleet.core.access import access_clusters
from meshfleet.core.checks import Checks
from meshfleet.core.kinds import pod_template
from meshfleet.core.objects import split
from meshfleet.core.resolved import PlacedObject, ServiceTopology
from meshfleet.errors import Code, Loc
from meshfleet.fleet.model import Port


@dataclass(frozen=True)
class Workload:
    """An object that runs pods, with its pod template's labels, identity and container ports."""

    obj: PlacedObject
    template: tuple[str, ...]
    labels: dict[str, Any]
    service_account: str
    account_field: str | None
    """The pod spec field that names the service account (None: the default account is used)."""
    port_names: frozenset[str]

    def loc(self, *path: str | int) -> Loc:
        return (*self.obj.loc, *self.template, *path)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _workload(obj: PlacedObject) -> Workload | None:
    path = pod_template(obj.api_version, obj.kind)
    if path is None:
        return None
    node: Any = obj.body
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return None
    meta, spec = _mapping(node.get("metadata")), _mapping(node.get("spec"))
    labels = _mapping(meta.get("labels"))
    account_field = next((f for f in ("serviceAccountName", "serviceAccount") if isinstance(spec.get(f), str)), None)
    account = str(spec[account_field]) if account_field is not None else "default"
    port_names = {
        str(p["name"])
        for c in spec.get("containers") or ()
        if isinstance(c, dict)
        for p in c.get("ports") or ()
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    }
    return Workload(obj, path, dict(labels), account, account_field, frozenset(port_names))


class _Report:
    """Findings that differ only in their cluster, reported once naming every cluster (`{where}`)."""

    def __init__(self, checks: Checks) -> None:
        self.checks = checks
        self.found: dict[tuple[Loc, str, str, Code], list[str]] = {}

    def __call__(self, loc: Loc, cluster: str, message: str, hint: str, code: Code) -> None:
        self.found.setdefault((loc, message, hint, code), []).append(cluster)

    def flush(self) -> None:
        for (loc, message, hint, code), clusters in self.found.items():
            shown = sorted(set(clusters))
            where = "in " + (shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}")
            self.checks.problem(loc, message.replace("{where}", where), hint, code)


@dataclass
class _Cluster:
    """What the resources place in one cluster, by kind and name."""

    services: dict[tuple[str, str], PlacedObject] = field(default_factory=dict)
    accounts: dict[tuple[str, str], PlacedObject] = field(default_factory=dict)
    workloads: dict[str, list[Workload]] = field(default_factory=dict)


def _index(placed: Mapping[str, list[PlacedObject]]) -> dict[str, _Cluster]:
    out: dict[str, _Cluster] = {}
    for cluster, objects in placed.items():
        here = out[cluster] = _Cluster()
        for obj in objects:
            core = obj.group == ""
            if core and obj.kind == "Service":
                here.services[(obj.namespace, obj.name)] = obj
            elif core and obj.kind == "ServiceAccount":
                here.accounts[(obj.namespace, obj.name)] = obj
            else:
                w = _workload(obj)
                if w is not None:
                    here.workloads.setdefault(obj.namespace, []).append(w)
    return out


def check_workloads(
    checks: Checks,
    services: Mapping[str, ServiceTopology],
    access_in: Mapping[str, list[str] | None],
    placed: Mapping[str, list[PlacedObject]],
) -> None:
    """Report where the placed workloads contradict the services and access rules (see the module)."""
    index = _index(placed)
    report = _Report(checks)
    for _ref, topo in sorted(services.items()):
        _check_service(checks, report, topo, index)
    report.flush()
    for rule_name, rule in sorted(checks.fleet.access.items()):
        target = services.get(rule.to)
        if target is None or rule_name not in access_in:
            continue
        granted = access_clusters(target, access_in[rule_name])
        for i, source in enumerate(rule.from_):
            key = split(source)
            held = sorted(c for c, here in index.items() if key in here.accounts)
            if not held:
                continue
            for g in granted:
                if g not in held:
                    checks.problem(
                        ("access", rule_name, "from", i),
                        f"{source} is granted access to {rule.to} in {g}, but the resources place the "
                        f"ServiceAccount {source} only in {', '.join(held)}: no pod of {g} runs as it",
                        f"place it (and the workload that uses it) in {g} too, or narrow `in:`",
                        codes.IDENTITY_MISSING,
                    )


def _check_service(checks: Checks, report: _Report, topo: ServiceTopology, index: Mapping[str, _Cluster]) -> None:
    key = (topo.namespace, topo.name)
    held = {c: here.services[key] for c, here in sorted(index.items()) if key in here.services}
    if not held:
        return
    for e in topo.exporters:
        if e not in held:
            checks.problem(
                ("services", topo.ref, "export", "clusters"),
                f"{topo.ref} is exported from {e}, but the resources place its Service only in "
                f"{', '.join(held)}; FSM keeps an export without its Service invalid",
                f"place the Service (and its workload) in {e} too, or stop exporting from {e}",
                codes.SERVICE_MISSING,
            )
    identities = {e: s.service_account for e, s in topo.exports.items()}
    identities.update(topo.spec.localServiceAccounts)
    first: tuple[str, tuple[Any, ...]] | None = None
    for cluster, svc in held.items():
        if cluster not in identities:
            continue
        shape = _check_ports(report, topo, cluster, svc, topo.ports.get(cluster, tuple(topo.spec.ports)))
        if shape is None:
            continue  # an ExternalName Service: nothing behind it to check
        if first is None:
            first = (cluster, shape)
        elif shape != first[1]:
            checks.problem(
                (*svc.loc, "spec", "ports"),
                f"the Service {topo.ref} in {cluster} differs from its copy in {first[0]} in type, "
                "ports or targetPort; FSM's control plane marks such an export Conflict",
                "give the Service the same type and ports in every cluster",
                codes.SERVICE_PORTS_DIFFER,
            )
        _check_pods(report, topo, cluster, svc, identities[cluster], index[cluster])


def _check_ports(
    report: _Report, topo: ServiceTopology, cluster: str, svc: PlacedObject, ports: tuple[Port, ...]
) -> tuple[Any, ...] | None:
    """The fleet's ports against the Service's; the Service's type and ports as FSM compares them."""
    spec = _mapping(svc.body.get("spec"))
    if spec.get("type") == "ExternalName":
        report(
            (*svc.loc, "spec", "type"),
            cluster,
            f"the Service {topo.ref} {{where}} is an ExternalName Service, which FSM does not export",
            "export a Service with a selector",
            codes.SERVICE_SELECTS_NOTHING,
        )
        return None
    listed = [p for p in spec.get("ports") or () if isinstance(p, dict)]
    by_number = {p.get("port"): (i, p) for i, p in enumerate(listed)}
    for want in ports:
        found = by_number.get(want.port)
        if found is None:
            have = ", ".join(str(p.get("port")) for p in listed) or "none"
            report(
                (*svc.loc, "spec", "ports"),
                cluster,
                f"the Service {topo.ref} {{where}} has no port {want.port} "
                f"(it has {have}), which services.{topo.ref}.ports lists",
                "give the Service and the fleet the same ports",
                codes.SERVICE_PORTS_DIFFER,
            )
            continue
        i, p = found
        for name, theirs, mine in (
            ("protocol", p.get("protocol", "TCP"), want.protocol),
            ("name", p.get("name"), want.name),
            ("appProtocol", p.get("appProtocol"), want.appProtocol),
        ):
            if mine is not None and theirs != mine:
                report(
                    (*svc.loc, "spec", "ports", i, name) if name in p else (*svc.loc, "spec", "ports", i),
                    cluster,
                    f"port {want.port} of the Service {topo.ref} {{where}} has {name} {theirs!r}; "
                    f"services.{topo.ref}.ports says {mine!r}",
                    f"write the same {name} in the Service and the fleet",
                    codes.SERVICE_PORTS_DIFFER,
                )
    shape = tuple(
        sorted(
            (p.get("port"), p.get("protocol", "TCP"), str(p.get("targetPort", p.get("port"))), p.get("nodePort"))
            for p in listed
            if isinstance(p.get("port"), int)
        )
    )
    return (spec.get("type", "ClusterIP"), shape)


def _check_pods(
    report: _Report, topo: ServiceTopology, cluster: str, svc: PlacedObject, identity: str, here: _Cluster
) -> None:
    """The Service's selector picks the fleet's pods there, which run as the service's identity."""
    spec = _mapping(svc.body.get("spec"))
    workloads = here.workloads.get(topo.namespace, [])
    if not workloads:
        return  # the pods are someone else's: nothing to compare
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        report(
            (*svc.loc, "spec"),
            cluster,
            f"the Service {topo.ref} {{where}} has no selector, so it has no endpoints for FSM to export",
            "select the pods of its workload (spec.selector)",
            codes.SERVICE_SELECTS_NOTHING,
        )
        return
    chosen = [w for w in workloads if all(w.labels.get(k) == v for k, v in selector.items())]
    if not chosen:
        shown = ", ".join(f"{w.obj.kind} {w.obj.name}" for w in workloads)
        report(
            (*svc.loc, "spec", "selector"),
            cluster,
            f"the selector of the Service {topo.ref} {{where}} matches "
            f"the pods of no workload the fleet places in {topo.namespace} ({shown})",
            "make the selector match the pod template's labels",
            codes.SERVICE_SELECTS_NOTHING,
        )
        return
    listed = [p for p in spec.get("ports") or () if isinstance(p, dict)]
    for i, p in enumerate(listed):
        target = p.get("targetPort")
        if isinstance(target, str) and not any(target in w.port_names for w in chosen):
            report(
                (*svc.loc, "spec", "ports", i, "targetPort"),
                cluster,
                f"targetPort {target!r} of the Service {topo.ref} {{where}} names no container port of its pods",
                "name the container port, or give the number",
                codes.SERVICE_PORTS_DIFFER,
            )
    if identity == "*":
        return
    for w in chosen:
        where = w.loc("spec", w.account_field) if w.account_field else w.loc("spec")
        if w.service_account != identity:
            runs = f"run as {w.service_account}" + ("" if w.account_field else " (no serviceAccountName)")
            report(
                where,
                cluster,
                f"the pods of {w.obj.kind} {w.obj.name} {{where}} {runs}, but the fleet says "
                f"{topo.ref} answers there as {identity}; access rules for {identity} would not reach them",
                f"set serviceAccountName: {identity}, or the service's serviceAccount",
                codes.IDENTITY_MISMATCH,
            )
        elif identity != "default" and (topo.namespace, identity) not in here.accounts:
            report(
                where,
                cluster,
                f"the pods of {w.obj.kind} {w.obj.name} {{where}} run as {identity}, which the "
                "resources do not place there: Kubernetes refuses to start them",
                f"place the ServiceAccount {topo.namespace}/{identity} there with the workload",
                codes.IDENTITY_MISSING,
            )


__all__ = ["check_workloads"]
