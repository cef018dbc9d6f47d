"""Plan vs plan: what changes in which cluster, said in service terms first, with the risks on top.

Why: a reviewer of a fleet change has to know, before anything is applied, which cluster gains or
loses which service, endpoint, traffic policy or access grant, and whether the change can break
the fleet (a cluster or the control plane leaving, an export that others still import going away,
a gateway moving, a kubeconfig source switching, a cluster losing most of its objects). Pulumi's
preview lists resources; it cannot say any of that. This module compares two plans only, so it
works the same for two files, a file against a git revision, or a plan built in a test, and it
never sees a kubeconfig: the plan carries where a kubeconfig comes from, not what it holds, and any
field named `kubeconfig` is redacted anyway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, get_args

from meshfleet.core.plan import ClusterPlan, ObjectId, Plan, PlannedObject, Role
from meshfleet.fleet.model import KubeconfigFromContext, KubeconfigFromStackSecret

DEFAULT_MAX_DELETE_SHARE = 0.5
TEXT_FIELD_CAP = 20
MARKDOWN_FIELD_CAP = 8
MARKDOWN_ROW_CAP = 60
MARKDOWN_BUDGET = 40_000
"""Characters of one markdown diff; a GitHub comment holds 65,536 and may carry several fleets."""
VALUE_CAP = 160
REDACTED = "(redacted)"

ObjectOp = Literal["added", "removed", "changed"]
ClusterStatus = Literal["added", "removed", "changed", "unchanged"]
RiskKind = Literal[
    "control-plane-removed",
    "cluster-removed",
    "export-removed",
    "gateway-changed",
    "kubeconfig-changed",
    "cluster-id-changed",
    "mass-delete",
    "handover",
]
RISK_ORDER: tuple[RiskKind, ...] = get_args(RiskKind)  # the most severe first


class _Absent:
    """A field that one side does not have (distinct from any value a plan can hold, None included)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


# ---------------------------------------------------------------------------------------------
# The result


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ObjectChange:
    op: ObjectOp
    id: ObjectId
    old: PlannedObject | None
    new: PlannedObject | None
    fields: tuple[FieldChange, ...] = ()

    @property
    def role_change(self) -> tuple[Role, Role] | None:
        if self.old is not None and self.new is not None and self.old.role != self.new.role:
            return (self.old.role, self.new.role)
        return None

    @property
    def deletes(self) -> bool:
        """Removed from the cluster, not merely left behind (retained) or no longer patched."""
        return self.op == "removed" and self.old is not None and not self.old.retain and not self.old.patch


@dataclass(frozen=True)
class ClusterDiff:
    name: str
    old: ClusterPlan | None
    new: ClusterPlan | None
    attributes: tuple[FieldChange, ...]
    """Cluster-level changes: role, clusterKey, Pulumi identity, kubeconfig source, labels."""
    objects: tuple[ObjectChange, ...]

    @property
    def status(self) -> ClusterStatus:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed" if self.objects or self.attributes else "unchanged"

    def count(self, op: ObjectOp) -> int:
        return sum(1 for o in self.objects if o.op == op and (op != "changed" or o.fields))

    def role_changes(self) -> int:
        return sum(1 for o in self.objects if o.role_change is not None)


@dataclass(frozen=True)
class Risk:
    kind: RiskKind
    cluster: str
    message: str


@dataclass(frozen=True)
class Endpoint:
    cluster: str
    """The exporting cluster's name, or its clusterKey when no cluster of the plan carries that key."""
    cluster_key: str
    port: int
    host: str
    ip: str
    gateway_port: int
    path: str

    def address(self) -> str:
        ip = f" ({self.ip})" if self.ip and self.ip != self.host else ""
        return f"{self.host}:{self.gateway_port}{self.path}{ip}"

    def as_json(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "clusterKey": self.cluster_key, "port": self.port,
                "target": {"host": self.host, "ip": self.ip, "port": self.gateway_port, "path": self.path}}


@dataclass(frozen=True)
class ImportChange:
    cluster: str
    service: str
    old: tuple[Endpoint, ...] | None
    new: tuple[Endpoint, ...] | None

    @property
    def change(self) -> ObjectOp:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def describe(self, q: Callable[[str], str]) -> str:
        before = _exporters(self.old or ())
        after = _exporters(self.new or ())
        if self.old is None:
            return f"gains the import, from {_names(after, q)}"
        if self.new is None:
            return f"loses the import (it came from {_names(before, q)})"
        parts = []
        gained = [c for c in after if c not in before]
        lost = [c for c in before if c not in after]
        if gained:
            parts.append(f"gains endpoint{'s' if len(gained) > 1 else ''} {_names(gained, q)}")
        if lost:
            parts.append(f"loses endpoint{'s' if len(lost) > 1 else ''} {_names(lost, q)}")
        old_at = {(e.cluster, e.port): e for e in self.old}
        for e in self.new:
            was = old_at.get((e.cluster, e.port))
            if was is not None and was.address() != e.address():
                parts.append(f"endpoint {q(e.cluster)} port {e.port} moves {q(was.address())} -> {q(e.address())}")
        kept = [c for c in after if c in before]
        text = "; ".join(parts) if parts else "import changes"
        if lost and kept:
            text += f" (keeps {_names(kept, q)})"
        return text


@dataclass(frozen=True)
class ExportChange:
    cluster: str
    service: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    fields: tuple[FieldChange, ...]

    @property
    def change(self) -> ObjectOp:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def describe(self, q: Callable[[str], str]) -> str:
        if self.new is None:
            return "stops exporting"
        paths = ", ".join(q(str(r.get("path"))) for r in self.new.get("rules", []))
        if self.old is None:
            return f"starts exporting at {paths}"
        shown = "; ".join(f"{f.path} {q(_show(f.old))} -> {q(_show(f.new))}" for f in self.fields[:3])
        more = f"; ... and {len(self.fields) - 3} more" if len(self.fields) > 3 else ""
        return f"changes its export: {shown}{more}"


@dataclass(frozen=True)
class Policy:
    lb_type: str
    targets: tuple[tuple[str, int | None], ...] | None

    def describe(self, q: Callable[[str], str]) -> str:
        if self.targets is None:
            return self.lb_type
        return f"{self.lb_type} to {_targets(self.targets, q)}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lbType": self.lb_type}
        if self.targets is not None:
            out["targets"] = [{"cluster": c, **({"weight": w} if w is not None else {})} for c, w in self.targets]
        return out


@dataclass(frozen=True)
class PolicyChange:
    cluster: str
    service: str
    old: Policy | None
    new: Policy | None

    @property
    def change(self) -> ObjectOp:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def describe(self, q: Callable[[str], str]) -> str:
        if self.old is None:
            assert self.new is not None
            return f"gets a traffic policy: {self.new.describe(q)}"
        if self.new is None:
            return f"drops its traffic policy ({self.old.describe(q)}); imports are ignored (Locality)"
        parts = []
        if self.old.lb_type != self.new.lb_type:
            parts.append(f"lbType {q(self.old.lb_type)} -> {q(self.new.lb_type)}")
        if self.old.targets != self.new.targets:
            parts.append(f"targets {_targets(self.old.targets, q)} -> {_targets(self.new.targets, q)}")
        return "traffic policy: " + "; ".join(parts)


@dataclass(frozen=True, order=True)
class Grant:
    cluster: str
    source: str
    """The calling service account, `namespace/name`."""
    destination: str
    """The service account called, `namespace/name` (SMI grants by identity, not by service)."""
    rule: str
    matches: tuple[str, ...]


@dataclass(frozen=True)
class GrantChange:
    change: Literal["added", "removed"]
    grant: Grant

    def describe(self, q: Callable[[str], str]) -> str:
        g = self.grant
        verb = "now lets" if self.change == "added" else "no longer lets"
        matches = ", ".join(g.matches)
        return (f"{verb} {q(g.source)} call service account {q(g.destination)} "
                f"(rule {q(g.rule)}{': ' + matches if matches else ''})")


@dataclass(frozen=True)
class MeshChange:
    cluster: str
    old: bool | None
    new: bool | None

    def describe(self, q: Callable[[str], str]) -> str:
        def say(v: bool | None) -> str:
            return "as installed" if v is None else "permissive" if v else "non-permissive"

        return f"mesh mode {say(self.old)} -> {say(self.new)}"


@dataclass(frozen=True)
class PlanDiff:
    old_mode: str
    new_mode: str
    clusters: tuple[ClusterDiff, ...]
    risks: tuple[Risk, ...]
    imports: tuple[ImportChange, ...]
    exports: tuple[ExportChange, ...]
    policies: tuple[PolicyChange, ...]
    grants: tuple[GrantChange, ...]
    mesh: tuple[MeshChange, ...]
    max_delete_share: float

    @property
    def changed(self) -> bool:
        return self.old_mode != self.new_mode or any(c.status != "unchanged" for c in self.clusters)

    def total(self, op: ObjectOp) -> int:
        return sum(c.count(op) for c in self.clusters)

    def role_changes(self) -> int:
        return sum(c.role_changes() for c in self.clusters)

    def services(self) -> list[tuple[str, list[tuple[str, str, Any]]]]:
        """Per service: (cluster, aspect, change) in a stable order, for the service summary."""
        by: dict[str, list[tuple[str, str, Any]]] = {}
        for i in self.imports:
            by.setdefault(i.service, []).append((i.cluster, "import", i))
        for e in self.exports:
            by.setdefault(e.service, []).append((e.cluster, "export", e))
        for p in self.policies:
            by.setdefault(p.service, []).append((p.cluster, "traffic-policy", p))
        order = {"export": 0, "import": 1, "traffic-policy": 2}
        return [(s, sorted(by[s], key=lambda t: (t[0], order[t[1]]))) for s in sorted(by)]


# ---------------------------------------------------------------------------------------------
# Comparing


def diff(old: Plan, new: Plan, *, max_delete_share: float = DEFAULT_MAX_DELETE_SHARE) -> PlanDiff:
    """Compare two plans; `max_delete_share` is the share of a cluster's objects a change may delete."""
    if not 0.0 <= max_delete_share <= 1.0:
        raise ValueError("max_delete_share must be between 0 and 1")
    olds = {c.name: c for c in old.clusters}
    news = {c.name: c for c in new.clusters}
    clusters = tuple(_cluster_diff(name, olds.get(name), news.get(name), old, new)
                     for name in sorted(set(olds) | set(news)))
    old_names, new_names = _key_names(old), _key_names(new)
    return PlanDiff(
        old_mode=old.mode,
        new_mode=new.mode,
        clusters=clusters,
        risks=tuple(_risks(old, new, clusters, max_delete_share)),
        imports=tuple(_imports(old, new)),
        exports=tuple(_exports(clusters)),
        policies=tuple(_policies(old, new, old_names, new_names)),
        grants=tuple(_grants(old, new)),
        mesh=tuple(_mesh(old, new)),
        max_delete_share=max_delete_share,
    )


def _cluster_diff(name: str, old: ClusterPlan | None, new: ClusterPlan | None, old_plan: Plan,
                  new_plan: Plan) -> ClusterDiff:
    before = {o.id: o for o in old.objects} if old is not None else {}
    after = {o.id: o for o in new.objects} if new is not None else {}
    changes: list[ObjectChange] = []
    # The new plan's order (apply order), then what only the old plan had, in its order.
    for oid, o in after.items():
        was = before.get(oid)
        if was is None:
            changes.append(ObjectChange("added", oid, None, o))
            continue
        fields = () if was.body == o.body else tuple(field_changes(was.body, o.body))
        if fields or was.role != o.role:
            changes.append(ObjectChange("changed", oid, was, o, fields))
    changes.extend(ObjectChange("removed", oid, o, None) for oid, o in before.items() if oid not in after)
    attributes: list[FieldChange] = []
    if old is not None and new is not None:
        pairs: list[tuple[str, Any, Any]] = [
            ("role", old.role, new.role),
            ("mesh", getattr(old, "mesh", None), getattr(new, "mesh", None)),
            ("clusterKey", old.key, new.key),
            ("id", old.id, new.id),
            ("kubeconfig", kubeconfig_source(old), kubeconfig_source(new)),
            ("labels", old_plan.labels.get(name, {}), new_plan.labels.get(name, {})),
        ]
        attributes = [FieldChange(k, a, b) for k, a, b in pairs if a != b]
    return ClusterDiff(name, old, new, tuple(attributes), tuple(changes))


def kubeconfig_source(cluster: ClusterPlan) -> str:
    """Where the cluster's kubeconfig comes from, in words; never its contents."""
    src = cluster.kubeconfig
    if isinstance(src, KubeconfigFromContext):
        return f"context {src.context}" + (f" of {src.file}" if src.file else "")
    assert isinstance(src, KubeconfigFromStackSecret)
    return f"stack secret meshfleet:kubeconfigs.{cluster.name}"


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIST_KEYS = ("clusterKey", "name", "port", "portNumber", "path")


def field_changes(old: Any, new: Any, path: str = "", *, whole: bool = False) -> list[FieldChange]:
    """Field-by-field differences as dotted paths; list items are matched by an identity key when
    every item has a distinct one (endpoints by clusterKey, ports by name or port...). A mapping that
    only one side has is listed leaf by leaf; a list item that only one side has is shown whole."""
    if not whole and (old is ABSENT or new is ABSENT) and (isinstance(old, dict) or isinstance(new, dict)):
        side = old if old is not ABSENT else new
        if side:
            old = {} if old is ABSENT else old
            new = {} if new is ABSENT else new
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[FieldChange] = []
        for k in [*old, *(k for k in new if k not in old)]:
            sub = _join(path, str(k))
            a, b = old.get(k, ABSENT), new.get(k, ABSENT)
            if k == "kubeconfig":
                if a != b:
                    out.append(FieldChange(sub, ABSENT if a is ABSENT else REDACTED,
                                           ABSENT if b is ABSENT else REDACTED))
                continue
            out.extend(field_changes(a, b, sub))
        return out
    if isinstance(old, list) and isinstance(new, list) and _has_dicts(old, new):
        key = _list_key(old, new)
        if key is None:
            out = []
            for i in range(max(len(old), len(new))):
                a = old[i] if i < len(old) else ABSENT
                b = new[i] if i < len(new) else ABSENT
                out.extend(field_changes(a, b, f"{path}[{i}]", whole=a is ABSENT or b is ABSENT))
            return out
        olds = {item[key]: item for item in old}
        news = {item[key]: item for item in new}
        out = []
        for ident in [*olds, *(i for i in news if i not in olds)]:
            a, b = olds.get(ident, ABSENT), news.get(ident, ABSENT)
            out.extend(field_changes(a, b, f"{path}[{key}={ident}]", whole=a is ABSENT or b is ABSENT))
        return out
    if old is ABSENT and new is ABSENT:
        return []
    if type(old) is not type(new) or old != new:
        return [FieldChange(path or "(object)", _redact(old), _redact(new))]
    return []


def _has_dicts(a: list[Any], b: list[Any]) -> bool:
    return any(isinstance(x, dict) for x in (*a, *b))


def _list_key(a: list[Any], b: list[Any]) -> str | None:
    for key in _LIST_KEYS:
        ok = True
        for items in (a, b):
            if not all(isinstance(x, dict) and key in x and isinstance(x[key], str | int) for x in items):
                ok = False
                break
            if len({x[key] for x in items}) != len(items):
                ok = False
                break
        if ok:
            return key
    return None


def _join(path: str, key: str) -> str:
    if _IDENT.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k == "kubeconfig" else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


# --- service terms ---------------------------------------------------------------------------


def _key_names(plan: Plan) -> dict[str, str]:
    return {c.key: c.name for c in plan.clusters if c.key is not None}


def _by_kind(plan: Plan, kind: str) -> dict[tuple[str, str], PlannedObject]:
    """(cluster, namespace/name) -> object of that kind."""
    return {(c, f"{o.namespace}/{o.name}"): o for c, o in plan.objects() if o.kind == kind}


def _staying(new: Plan) -> set[str]:
    """The clusters of the new plan: what a leaving cluster imports or allows is noise beside its leaving
    (its exports are not: others lose them)."""
    return {c.name for c in new.clusters}


FSM_MCS = "multicluster.flomesh.io/"
KEP_MCS = "multicluster.x-k8s.io/"
MIRROR_CLUSTER = "mirror.linkerd.io/cluster-name"
MIRROR_FQ_NAME = "mirror.linkerd.io/remote-svc-fq-name"


def _fsm_endpoints(obj: PlannedObject, names: dict[str, str]) -> list[Endpoint]:
    out = []
    for port in obj.body.get("spec", {}).get("ports", []):
        for ep in port.get("endpoints", []):
            t = ep.get("target", {})
            key = str(ep.get("clusterKey", ""))
            out.append(Endpoint(names.get(key, key), key, int(port.get("port", 0)), str(t.get("host", "")),
                                str(t.get("ip", "")), int(t.get("port", 0)), str(t.get("path", ""))))
    return out


def _mirror_endpoints(o: PlannedObject, endpoints: PlannedObject | None, keys: dict[str, str]) -> list[Endpoint]:
    meta = o.body["metadata"]
    exporter = str(meta["labels"][MIRROR_CLUSTER])
    subsets = endpoints.body.get("subsets", []) if endpoints is not None else []
    first = subsets[0] if subsets else {}
    addresses = first.get("addresses", [])
    ip = str(addresses[0].get("ip", "")) if addresses else ""
    gateway_ports = [int(p.get("port", 0)) for p in first.get("ports", [])]
    out = []
    for i, port in enumerate(o.body.get("spec", {}).get("ports", [])):
        gw_port = gateway_ports[i] if i < len(gateway_ports) else 0
        out.append(Endpoint(exporter, keys.get(exporter, exporter), int(port.get("port", 0)), ip, ip, gw_port, ""))
    return out


def import_views(plan: Plan) -> dict[tuple[str, str], tuple[Endpoint, ...]]:
    """(cluster, namespace/service) -> the endpoints it imports, whichever mesh writes the import.

    FSM's ServiceImport lists its endpoints. A KEP-1645 ServiceImport lists none: its endpoints are
    the clusterset's exporters (without an address in the plan). Linkerd mirrors a service as
    `<name>-<exporter>`: a Service and its Endpoints at the exporter's gateway.
    """
    names = _key_names(plan)
    keys = {c.name: c.key or c.name for c in plan.clusters}
    kep_exporters: dict[str, list[str]] = {}
    mirror_endpoints: dict[tuple[str, str, str], PlannedObject] = {}
    for cluster, o in plan.objects():
        if o.kind == "ServiceExport" and o.api_version.startswith(KEP_MCS):
            kep_exporters.setdefault(f"{o.namespace}/{o.name}", []).append(cluster)
        if o.kind == "Endpoints" and MIRROR_CLUSTER in o.body["metadata"].get("labels", {}):
            mirror_endpoints[(cluster, o.namespace, o.name)] = o
    found: dict[tuple[str, str], list[Endpoint]] = {}
    for cluster, o in plan.objects():
        service = f"{o.namespace}/{o.name}"
        if o.kind == "ServiceImport" and o.api_version.startswith(FSM_MCS):
            found.setdefault((cluster, service), []).extend(_fsm_endpoints(o, names))
        elif o.kind == "ServiceImport" and o.api_version.startswith(KEP_MCS):
            ports = [int(p.get("port", 0)) for p in o.body.get("spec", {}).get("ports", [])]
            found.setdefault((cluster, service), []).extend(
                Endpoint(e, keys.get(e, e), p, "", "", 0, "") for e in kep_exporters.get(service, []) for p in ports)
        elif o.kind == "Service" and MIRROR_CLUSTER in o.body["metadata"].get("labels", {}):
            remote = str(o.body["metadata"].get("annotations", {}).get(MIRROR_FQ_NAME, o.name)).split(".")[0]
            endpoints = mirror_endpoints.get((cluster, o.namespace, o.name))
            found.setdefault((cluster, f"{o.namespace}/{remote}"), []).extend(_mirror_endpoints(o, endpoints, keys))
    return {k: tuple(sorted(v, key=lambda e: (e.cluster, e.port))) for k, v in found.items()}


def _imports(old: Plan, new: Plan) -> Iterable[ImportChange]:
    a, b = import_views(old), import_views(new)
    staying = _staying(new)
    for key in sorted(k for k in set(a) | set(b) if k[0] in staying):
        ea, eb = a.get(key), b.get(key)
        if ea != eb:
            yield ImportChange(key[0], key[1], ea, eb)


def _exports(clusters: tuple[ClusterDiff, ...]) -> Iterable[ExportChange]:
    found = []
    for c in clusters:
        for o in c.objects:
            if o.id.kind != "ServiceExport":
                continue
            sa = o.old.body.get("spec", {}) if o.old is not None else None
            sb = o.new.body.get("spec", {}) if o.new is not None else None
            if sa != sb:
                # The object's own field list, relative to its spec (computed once, in _cluster_diff).
                fields = tuple(FieldChange(f.path.removeprefix("spec."), f.old, f.new)
                               for f in o.fields if f.path.startswith("spec."))
                found.append(ExportChange(c.name, f"{o.id.namespace}/{o.id.name}", sa, sb, fields))
    return sorted(found, key=lambda e: (e.service, e.cluster))


def _policy(obj: PlannedObject, names: dict[str, str]) -> Policy:
    spec = obj.body.get("spec", {})
    targets = spec.get("targets")
    return Policy(
        str(spec.get("lbType", "")),
        None if targets is None else tuple(
            (names.get(str(t.get("clusterKey")), str(t.get("clusterKey"))), t.get("weight")) for t in targets),
    )


def _policies(old: Plan, new: Plan, old_names: dict[str, str], new_names: dict[str, str]) -> Iterable[PolicyChange]:
    a, b = _by_kind(old, "GlobalTrafficPolicy"), _by_kind(new, "GlobalTrafficPolicy")
    staying = _staying(new)
    for key in sorted(k for k in set(a) | set(b) if k[0] in staying):
        pa = _policy(a[key], old_names) if key in a else None
        pb = _policy(b[key], new_names) if key in b else None
        if pa != pb:
            yield PolicyChange(key[0], key[1], pa, pb)


def _grant_set(plan: Plan) -> set[Grant]:
    out = set()
    for cluster, o in plan.objects():
        if o.kind != "TrafficTarget":
            continue
        spec = o.body.get("spec", {})
        dest = spec.get("destination", {})
        destination = f"{dest.get('namespace', o.namespace)}/{dest.get('name', '')}"
        for rule in spec.get("rules", []):
            matches = tuple(str(m) for m in rule.get("matches", []))
            for src in spec.get("sources", []):
                source = f"{src.get('namespace', '')}/{src.get('name', '')}"
                out.add(Grant(cluster, source, destination, str(rule.get("name", "")), matches))
    return out


def _grants(old: Plan, new: Plan) -> Iterable[GrantChange]:
    staying = _staying(new)
    a = {g for g in _grant_set(old) if g.cluster in staying}
    b = _grant_set(new)
    changes = [GrantChange("removed", g) for g in a - b] + [GrantChange("added", g) for g in b - a]
    return sorted(changes, key=lambda c: (c.grant, c.change))


def _permissive(plan: Plan) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for c in plan.clusters:
        out[c.name] = None
        for o in c.objects:
            if o.kind == "MeshConfig":
                v = o.body.get("spec", {}).get("traffic", {}).get("enablePermissiveTrafficPolicyMode")
                out[c.name] = v if isinstance(v, bool) else None
    return out


def _mesh(old: Plan, new: Plan) -> Iterable[MeshChange]:
    a, b = _permissive(old), _permissive(new)
    for name in sorted(set(a) & set(b)):
        if a[name] != b[name]:
            yield MeshChange(name, a[name], b[name])


# --- risks -----------------------------------------------------------------------------------


def _gateways(plan: Plan) -> dict[str, dict[str, Any]]:
    """Each member's gateway address: the plan's own record, then registrations and import targets."""
    out: dict[str, dict[str, Any]] = {}
    for c in plan.clusters:
        if c.gateway is not None:
            out[c.name] = {"host": c.gateway.host, "port": c.gateway.port, "ip": c.gateway.ip or c.gateway.host}
    for _cluster, o in plan.objects():
        if o.kind == "Cluster" and o.api_version.startswith(FSM_MCS):
            spec = o.body.get("spec", {})
            out[o.name] = {"host": spec.get("gatewayHost"), "port": spec.get("gatewayPort")}
    for endpoints in import_views(plan).values():
        for e in endpoints:
            if e.host:
                out[e.cluster] = {"host": e.host, "port": e.gateway_port, "ip": e.ip}
    return out


def _address(gw: dict[str, Any], fields: Iterable[str]) -> str:
    fields = list(fields)
    text = f"{gw.get('host')}:{gw.get('port')}" if "host" in fields or "port" in fields else ""
    if "ip" in fields and gw.get("ip") and gw.get("ip") != gw.get("host"):
        text += f" (ip {gw.get('ip')})"
    return text.strip() or "?"


def _risks(old: Plan, new: Plan, clusters: tuple[ClusterDiff, ...], share: float) -> Iterable[Risk]:
    risks: list[Risk] = []
    for c in clusters:
        if c.old is not None and c.old.role == "control-plane" and (c.new is None or c.new.role != "control-plane"):
            registrations = sum(1 for o in c.old.objects if o.kind == "Cluster")
            then = ("meshfleet writes the ServiceImports itself from now on (standalone)" if new.mode == "standalone"
                    else "another cluster takes over as control plane")
            leaves = "leaves the fleet" if c.new is None else "is no longer the control plane"
            risks.append(Risk("control-plane-removed", c.name,
                              f"the FSM control plane {c.name} {leaves}: its {registrations} cluster registrations "
                              f"are deleted and it stops writing ServiceImports; {then}"))
        elif c.new is None and c.old is not None:
            applied = [o for o in c.old.objects if o.role == "applied"]
            kept = sum(1 for o in applied if o.retain or o.patch)
            keep = f" ({kept} kept: retained namespaces and FSM's own objects)" if kept else ""
            risks.append(Risk("cluster-removed", c.name,
                              f"cluster {c.name} leaves the fleet: meshfleet deletes the "
                              f"{len(applied) - kept} objects it applied there{keep}"))
    risks.extend(_export_risks(old, new))
    old_gw, new_gw = _gateways(old), _gateways(new)
    for c in clusters:
        if c.old is None or c.new is None:
            continue
        a, b = old_gw.get(c.name), new_gw.get(c.name)
        if a and b:
            known = [k for k in ("host", "ip", "port") if a.get(k) is not None and b.get(k) is not None]
            if any(a[k] != b[k] for k in known):
                risks.append(Risk("gateway-changed", c.name,
                                  f"the gateway of {c.name} moves from {_address(a, known)} to {_address(b, known)}; "
                                  "every cluster importing from it must reach the new address"))
        for f in c.attributes:
            if f.path == "kubeconfig":
                risks.append(Risk("kubeconfig-changed", c.name,
                                  f"the kubeconfig of {c.name} now comes from {f.new} (was {f.old}); "
                                  "check that it still reaches the same cluster"))
            if f.path == "id":
                risks.append(Risk("cluster-id-changed", c.name,
                                  f"the identity of {c.name}'s Pulumi provider changes ({f.old} -> {f.new}); "
                                  "Pulumi replaces every object in that cluster"))
        total = len(c.old.objects)
        deleted = sum(1 for o in c.objects if o.deletes)
        if total and deleted / total > share:
            risks.append(Risk("mass-delete", c.name,
                              f"{c.name} loses {deleted} of its {total} objects ({deleted / total:.0%}), "
                              f"more than --max-delete-share {share:.0%}"))
        handed = [o for o in c.objects if o.role_change == ("applied", "derived")]
        if handed:
            risks.append(Risk("handover", c.name,
                              f"{c.name}: {len(handed)} objects go from applied to predicted: meshfleet deletes them "
                              "and FSM's control plane must write them again (a gap until it does)"))
    rank = {k: i for i, k in enumerate(RISK_ORDER)}
    return sorted(risks, key=lambda r: (rank[r.kind], r.cluster, r.message))


def _serving(plan: Plan) -> dict[tuple[str, str], set[str]]:
    """(exporter, service) -> the clusters importing that service from that exporter."""
    out: dict[tuple[str, str], set[str]] = {}
    for (importer, service), endpoints in import_views(plan).items():
        for e in endpoints:
            if e.cluster != importer:
                out.setdefault((e.cluster, service), set()).add(importer)
    return out


def _export_risks(old: Plan, new: Plan) -> Iterable[Risk]:
    # An export is an object (FSM, KEP-1645) or, with Linkerd, only the mirrors its importers hold.
    still = set(_by_kind(new, "ServiceExport")) | set(_serving(new))
    for (cluster, service), importers in sorted(_serving(old).items()):
        if (cluster, service) in still:
            continue
        who = sorted(importers)
        yield Risk("export-removed", cluster,
                   f"{service} is no longer exported from {cluster}, which {', '.join(who)} "
                   f"import{'s' if len(who) == 1 else ''}")


# ---------------------------------------------------------------------------------------------
# Output


def _exporters(endpoints: Iterable[Endpoint]) -> list[str]:
    seen: list[str] = []
    for e in endpoints:
        if e.cluster not in seen:
            seen.append(e.cluster)
    return seen


def _names(items: Iterable[str], q: Callable[[str], str]) -> str:
    return ", ".join(q(i) for i in items) or "nowhere"


def _targets(targets: tuple[tuple[str, int | None], ...] | None, q: Callable[[str], str]) -> str:
    if targets is None:
        return "(every exporter)"
    if not targets:
        return "(none)"
    return ", ".join(q(c) + (f" weight {w}" if w is not None else "") for c, w in targets)


def _show(value: Any, cap: int = VALUE_CAP) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, sort_keys=False, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= cap else text[: cap - 3] + "..."


def _role(o: PlannedObject) -> str:
    role = "applied" if o.role == "applied" else "predicted"
    extra = ", patch" if o.patch else ""
    extra += ", kept on delete" if o.retain else ""
    return role + extra


def _cluster_head(c: ClusterDiff) -> str:
    plan = c.new or c.old
    assert plan is not None
    what = "FSM control plane" if plan.role == "control-plane" else f"member {plan.key}"
    return f"{c.name} ({what})"


def _cluster_counts(c: ClusterDiff) -> str:
    if c.status == "added":
        return f"joins the fleet; {len(c.objects)} objects added"
    if c.status == "removed":
        return f"leaves the fleet; {len(c.objects)} objects removed"
    parts = [f"{n} {word}" for n, word in ((c.count("added"), "added"), (c.count("removed"), "removed"),
                                           (c.count("changed"), "changed")) if n]
    ups = sum(1 for o in c.objects if o.role_change == ("derived", "applied"))
    downs = sum(1 for o in c.objects if o.role_change == ("applied", "derived"))
    if ups:
        parts.append(f"{ups} predicted -> applied")
    if downs:
        parts.append(f"{downs} applied -> predicted")
    parts.extend(f"{f.path} {_plain(f.old)} -> {_plain(f.new)}" for f in c.attributes)
    return ", ".join(parts)


def _plain(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={x}" for k, x in v.items()) + "}"
    return str(v)


def _mode(mode: str) -> str:
    return "with an FSM control plane" if mode == "control-plane" else "standalone"


def _totals(d: PlanDiff) -> str:
    n_old = sum(1 for c in d.clusters if c.old is not None)
    n_new = sum(1 for c in d.clusters if c.new is not None)
    by = {s: sum(1 for c in d.clusters if c.status == s) for s in ("added", "removed", "changed")}
    cl = ", ".join(f"{n} {s}" for s, n in by.items() if n) or "none changed"
    return (f"clusters {n_old} -> {n_new} ({cl}); objects: {d.total('added')} added, {d.total('removed')} removed, "
            f"{d.total('changed')} changed, {d.role_changes()} change role")


def _object_line(o: ObjectChange) -> tuple[str, str, str]:
    """(mark, role, note) for one object change."""
    if o.op == "added":
        assert o.new is not None
        return "+", _role(o.new), ""
    if o.op == "removed":
        assert o.old is not None
        note = "" if o.deletes else "stays in the cluster" if o.old.retain else "FSM's object, no longer patched"
        return "-", _role(o.old), note
    assert o.new is not None
    rc = o.role_change
    role = f"{_word(rc[0])} -> {_word(rc[1])}" if rc else _role(o.new)
    return ("~" if o.fields else ">"), role, ""


def _word(role: Role) -> str:
    return "applied" if role == "applied" else "predicted"


def text(d: PlanDiff, old_name: str, new_name: str) -> str:
    head = f"{old_name} -> {new_name}"
    if not d.changed:
        n = sum(len(c.new.objects) for c in d.clusters if c.new is not None)
        return f"{head}: nothing changes ({len(d.clusters)} clusters, {n} objects are the same)\n"
    out = [head]
    if d.old_mode != d.new_mode:
        out.append(f"mode: {_mode(d.old_mode)} -> {_mode(d.new_mode)}")
    out.append(_totals(d))
    out.append("")

    def q(s: str) -> str:
        return s

    if d.risks:
        out.append(f"RISKS ({len(d.risks)}):")
        out.extend(f"  ! {r.kind}: {r.message}" for r in d.risks)
    else:
        out.append("RISKS: none")
    out.append("")
    services = d.services()
    if services:
        out.append("SERVICES:")
        for service, items in services:
            out.append(f"  {service}")
            out.extend(f"    {cluster}: {change.describe(q)}" for cluster, _aspect, change in items)
        out.append("")
    if d.grants or d.mesh:
        out.append("ACCESS:")
        out.extend(f"  {m.cluster}: {m.describe(q)}" for m in d.mesh)
        out.extend(f"  {g.grant.cluster}: {g.describe(q)}" for g in d.grants)
        out.append("")
    out.append("CLUSTERS:")
    unchanged = [c.name for c in d.clusters if c.status == "unchanged"]
    for c in d.clusters:
        if c.status == "unchanged":
            continue
        out.append(f"  {_cluster_head(c)}: {_cluster_counts(c)}")
        for o in c.objects:
            mark, role, note = _object_line(o)
            out.append(f"    {mark} {o.id} ({role})" + (f": {note}" if note else ""))
            out.extend(f"        {f.path}: {_show(f.old)} -> {_show(f.new)}" for f in o.fields[:TEXT_FIELD_CAP])
            if len(o.fields) > TEXT_FIELD_CAP:
                out.append(f"        ... and {len(o.fields) - TEXT_FIELD_CAP} more")
    if unchanged:
        out.append(f"  unchanged: {', '.join(unchanged)}")
    return "\n".join(out) + "\n"


# --- markdown --------------------------------------------------------------------------------


def _code(s: str) -> str:
    s = s.replace("\n", " ").replace("|", "\\|")
    fence = "``" if "`" in s else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _md(s: str) -> str:
    """Plain text in a table cell or list item: nothing that starts markup or splits a cell."""
    s = s.replace("\n", " ").replace(" -> ", " → ").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", s)


def markdown(d: PlanDiff, old_name: str, new_name: str, *, budget: int = MARKDOWN_BUDGET) -> str:
    """A pull-request comment: risks first, then services, then one <details> block per cluster."""
    out = [f"## meshfleet diff: {_code(old_name)} → {_code(new_name)}", ""]
    if not d.changed:
        n = sum(len(c.new.objects) for c in d.clusters if c.new is not None)
        out += [f"No changes: {len(d.clusters)} clusters, {n} objects are the same.", ""]
        return "\n".join(out)
    if d.risks:
        out += [f"### ⚠️ Risks ({len(d.risks)})", ""]
        out += [f"- **{r.kind}** ({_code(r.cluster)}): {_md(r.message)}" for r in d.risks]
    else:
        out += ["### Risks", "", "None found."]
    out.append("")
    out += ["### Summary", ""]
    if d.old_mode != d.new_mode:
        out += [f"Mode: {_mode(d.old_mode)} → {_mode(d.new_mode)}.", ""]
    totals = _totals(d)
    out += [_md(totals[:1].upper() + totals[1:]) + ".", ""]
    services = d.services()
    if services:
        out += ["| Service | Cluster | Change |", "| --- | --- | --- |"]
        rows = [partial(_service_row, s, c, ch) for s, items in services for c, _a, ch in items]
        out += _capped_rows(rows, 3)
        out.append("")
    if d.grants or d.mesh:
        out += ["| Cluster | Access change |", "| --- | --- |"]
        access: list[Callable[[], str]] = [partial(_access_row, m.cluster, m) for m in d.mesh]
        access += [partial(_access_row, g.grant.cluster, g) for g in d.grants]
        out += _capped_rows(access, 2)
        out.append("")
    out += ["### Clusters", ""]
    unchanged = [c.name for c in d.clusters if c.status == "unchanged"]
    changed = [c for c in d.clusters if c.status != "unchanged"]
    used = _size(out)
    for i, c in enumerate(changed):
        block = _cluster_block(c, budget - used)
        if block is None:
            rest = len(changed) - i
            out += [f"_... and {rest} more changed cluster{'s' if rest > 1 else ''}: "
                    "run `meshfleet diff` locally for the whole list._", ""]
            break
        out += block
        used += _size(block)
    if unchanged:
        out += [f"Unchanged: {', '.join(_code(n) for n in unchanged)}.", ""]
    return "\n".join(out)


def _service_row(service: str, cluster: str, change: Any) -> str:
    return f"| {_code(service)} | {_code(cluster)} | {_md_describe(change)} |"


def _access_row(cluster: str, change: Any) -> str:
    return f"| {_code(cluster)} | {_md_describe(change)} |"


def _md_describe(change: Any) -> str:
    # Descriptions quote names with code spans; the rest is escaped plain text.
    parts = re.split(r"(\x00[^\x00]*\x00)", change.describe(lambda s: f"\x00{s}\x00"))
    return "".join(_code(p.strip("\x00")) if p.startswith("\x00") else _md(p) for p in parts)


def _capped_rows(rows: Sequence[Callable[[], str]], columns: int) -> list[str]:
    """At most MARKDOWN_ROW_CAP rows; rows are built lazily, so a huge diff costs only what is shown."""
    shown = [row() for row in rows[:MARKDOWN_ROW_CAP]]
    if len(rows) <= MARKDOWN_ROW_CAP:
        return shown
    more = len(rows) - MARKDOWN_ROW_CAP
    return [*shown, "| " + " | ".join([f"... and {more} more"] + [""] * (columns - 1)) + " |"]


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _cluster_block(c: ClusterDiff, room: int) -> list[str] | None:
    """One cluster's <details> block in at most `room` characters (rows cut short), or None."""
    summary = f"<b>{_md(c.name)}</b> ({_md(_cluster_head(c)[len(c.name) + 2:-1])}): {_md(_cluster_counts(c))}"
    head = ["<details>", f"<summary>{summary}</summary>", "", "| Change | Object | Role | Fields |",
            "| --- | --- | --- | --- |"]
    tail = ["", "</details>", ""]
    room -= _size(head) + _size(tail) + 200  # 200: the "... and N more" row
    rows: list[str] = []
    for o in c.objects:
        mark, role, note = _object_line(o)
        change = {"+": "added", "-": "removed", "~": "changed", ">": "role"}[mark]
        role += f"; {note}" if note else ""
        fields = [f"{_code(f.path)}: {_code(_show(f.old, 100))} → {_code(_show(f.new, 100))}"
                  for f in o.fields[:MARKDOWN_FIELD_CAP]]
        if len(o.fields) > MARKDOWN_FIELD_CAP:
            fields.append(f"... and {len(o.fields) - MARKDOWN_FIELD_CAP} more")
        row = f"| {change} | {_code(str(o.id))} | {_md(role)} | {'<br>'.join(fields)} |"
        if room - len(row) - 1 < 0 or len(rows) == MARKDOWN_ROW_CAP:
            if not rows:
                return None
            more = len(c.objects) - len(rows)
            rows.append(f"| ... and {more} more |  |  |  |")
            break
        room -= len(row) + 1
        rows.append(row)
    return head + rows + tail


# --- json ------------------------------------------------------------------------------------


def _field_json(f: FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"path": f.path}
    if f.old is not ABSENT:
        out["old"] = f.old
    if f.new is not ABSENT:
        out["new"] = f.new
    return out


def _object_json(o: ObjectChange) -> dict[str, Any]:
    out: dict[str, Any] = {
        "change": o.op,
        "apiVersion": o.id.api_version,
        "kind": o.id.kind,
        "namespace": o.id.namespace,
        "name": o.id.name,
        "role": {k: v.role for k, v in (("old", o.old), ("new", o.new)) if v is not None},
    }
    if o.op == "changed":
        out["fields"] = [_field_json(f) for f in o.fields]
    else:
        body = o.new.body if o.new is not None else o.old.body if o.old is not None else {}
        out["object"] = _redact(body)
    return out


def as_json(d: PlanDiff, old_name: str, new_name: str) -> dict[str, Any]:
    """A stable structure: keys never depend on the data; lists are in the plans' order."""

    def q(s: str) -> str:
        return s

    def pair(old: Any, new: Any) -> dict[str, Any]:
        return {"old": old, "new": new}

    return {
        "old": old_name,
        "new": new_name,
        "changed": d.changed,
        "mode": pair(d.old_mode, d.new_mode),
        "maxDeleteShare": d.max_delete_share,
        "totals": {"added": d.total("added"), "removed": d.total("removed"), "changed": d.total("changed"),
                   "roleChanged": d.role_changes()},
        "risks": [{"kind": r.kind, "cluster": r.cluster, "message": r.message} for r in d.risks],
        "services": [
            {"service": s, "changes": [_service_json(c, a, ch, q) for c, a, ch in items]}
            for s, items in d.services()
        ],
        "access": [
            {"cluster": g.grant.cluster, "change": g.change, "source": g.grant.source,
             "destination": g.grant.destination, "rule": g.grant.rule, "matches": list(g.grant.matches),
             "description": g.describe(q)}
            for g in d.grants
        ],
        "mesh": [{"cluster": m.cluster, "permissive": pair(m.old, m.new), "description": m.describe(q)}
                 for m in d.mesh],
        "clusters": [
            {
                "name": c.name,
                "change": c.status,
                "role": pair(c.old.role if c.old else None, c.new.role if c.new else None),
                "clusterKey": pair(c.old.key if c.old else None, c.new.key if c.new else None),
                "kubeconfig": pair(kubeconfig_source(c.old) if c.old else None,
                                   kubeconfig_source(c.new) if c.new else None),
                "attributes": [_field_json(f) for f in c.attributes],
                "objects": [_object_json(o) for o in c.objects],
            }
            for c in d.clusters
        ],
    }


def _service_json(cluster: str, aspect: str, change: Any, q: Callable[[str], str]) -> dict[str, Any]:
    out: dict[str, Any] = {"cluster": cluster, "aspect": aspect, "change": change.change,
                           "description": change.describe(q)}
    if isinstance(change, ImportChange):
        out["endpoints"] = {"old": [e.as_json() for e in change.old] if change.old is not None else None,
                            "new": [e.as_json() for e in change.new] if change.new is not None else None}
    elif isinstance(change, ExportChange):
        out["spec"] = {"old": change.old, "new": change.new}
    elif isinstance(change, PolicyChange):
        out["policy"] = {"old": change.old.as_json() if change.old else None,
                         "new": change.new.as_json() if change.new else None}
    return out


__all__ = ["DEFAULT_MAX_DELETE_SHARE", "PlanDiff", "Risk", "as_json", "diff", "field_changes", "markdown", "text"]
