"""What one fleet file may ask for: how much it plans, and the names it makes up.

Why: a few lines of YAML can ask for millions of objects (200 services exported to and imported by
200 clusters is 40,000 imports listing 8 million endpoints), and names that meshfleet derives from
the user's words (`<rule>-<service account>` for a TrafficTarget) can exceed what Kubernetes or a
file system accepts although each word is fine. Both are checked on the validated model, cheaply
and before anything is planned, so the finding names the words that cause it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from meshfleet import codes
from meshfleet.core.meshes import MESHES
from meshfleet.core.meshes.smi import target_name as traffic_target_name
from meshfleet.errors import Finding, Loc
from meshfleet.fleet.model import Fleet, Selection, Service
from meshfleet.fleet.resources import IncludedObject

MAX_OBJECTS = 250_000
"""Objects one fleet may plan (applied and predicted, every cluster): about 2.7 times the largest
fleet `make bench` measures, and 500 MiB and 7 seconds of planning on the bench machine."""
MAX_RESOURCE_VALUES = 2_000_000
"""Values the resources' objects may plan together (each object's values times the clusters it is placed
in): about 200 MB of plan; a 1 MiB manifest placed in 100 clusters is well over it."""
MAX_ENDPOINTS = 1_000_000
"""Import endpoints one fleet may plan: every importing cluster lists every exporter of the
service, once per port (600 bytes and 5 microseconds each to plan)."""
OBJECT_NAME_MAX = 253
"""Kubernetes' limit on the name of a namespaced custom resource (a DNS-1123 subdomain)."""
FILE_NAME_MAX = 255
"""The longest file name common file systems accept, in bytes: `render` writes one file per object."""


@dataclass(frozen=True)
class Estimate:
    """An upper bound on what planning a fleet creates, with the service that asks most."""

    objects: int
    access_objects: int
    """Of `objects`, those the access rules make (an HTTPRouteGroup and TrafficTargets per cluster, a
    policy per cluster where the service runs)."""
    endpoints: int
    imports: int
    services: int
    widest: str | None
    """The service with the most import endpoints."""
    widest_importers: int
    widest_exporters: int
    resource_objects: int = 0
    """Of `objects`, those the resources place (and the namespaces they create)."""
    resource_values: int = 0
    widest_resource: str | None = None


class _Chooser:
    """Cluster selections resolved to member names, each distinct label selector once."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.members = [n for n in fleet.clusters if n != fleet.controlPlane]
        self.member_set = set(self.members)
        self.mesh = {n: str(c.mesh) for n, c in fleet.clusters.items()}
        self.by_mesh = Counter(self.mesh[m] for m in self.members)
        self._cache: dict[str, list[str]] = {}
        # What one export makes in a cluster: its mesh says (Mesh.export_size).
        self.export_objects = {n: MESHES[c.mesh].export_size(c) for n, c in fleet.clusters.items()}

    def select(self, sel: Selection) -> list[str]:
        if sel.all:
            return self.members
        if sel.selector is not None:
            key = sel.selector.model_dump_json()
            found = self._cache.get(key)
            if found is None:
                selector = sel.selector
                found = [m for m in self.members if selector.matches(self.fleet.clusters[m].labels)]
                self._cache[key] = found
            return found
        return sorted({n for n in sel.names or () if n in self.member_set})


def _values(value: object) -> int:
    stack, n = [value], 0
    while stack:
        v = stack.pop()
        n += 1
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return n


def _resources(
    fleet: Fleet, ch: _Chooser, included: Mapping[str, tuple[IncludedObject, ...]]
) -> tuple[int, int, str | None]:
    """Objects and values the resources place, and the resource that places most values."""
    objects = values = 0
    widest: tuple[int, str | None] = (0, None)
    for name, res in fleet.resources.items():
        bodies = (
            [o.body for o in included.get(name, ())]
            if res.manifests is not None
            else [res.template]
            if isinstance(res.template, dict)
            else list(res.template or ())
        )
        names = res.clusters.names
        placed = len(ch.select(res.clusters)) + (1 if names and fleet.controlPlane in names else 0)
        objects += placed * (len(bodies) + (len(bodies) if res.createNamespace else 0))
        planned = placed * sum(_values(b) for b in bodies)
        values += planned
        if planned > widest[0]:
            widest = (planned, name)
    return objects, values, widest[1]


def estimate(fleet: Fleet, included: Mapping[str, tuple[IncludedObject, ...]] | None = None) -> Estimate:
    """How many objects and import endpoints planning `fleet` creates, at most, without planning it.

    Linear in the fleet file: a selection by name costs its names, `all` and the default a count,
    and each distinct label selector one pass over the members.
    """
    ch = _Chooser(fleet)
    enforcing = sum(n for mesh, n in ch.by_mesh.items() if MESHES[mesh].access is not None)
    # Each member's own objects (FSM: its MeshConfig patch and Cluster registration; Istio: its mesh
    # config and a remote secret per other Istio member).
    objects = sum(MESHES[mesh].cluster_size(n) * n for mesh, n in ch.by_mesh.items())
    endpoints = imports = 0
    widest: tuple[int, str | None, int, int] = (0, None, 0, 0)
    namespaces: set[str] = set()
    for ref, svc in fleet.services.items():
        if svc.createNamespace:
            namespaces.add(ref.partition("/")[0])
        if svc.export is None:
            continue
        exporters = ch.select(svc.export.clusters)
        if not exporters:
            continue
        exporting = Counter(ch.mesh[e] for e in exporters)
        exporter_set = set(exporters)
        ports = max([len(svc.ports), *(len(o.ports) for o in svc.overrides if o.ports is not None)])
        objects += sum(ch.export_objects[e] for e in exporters)
        if svc.import_ is None or svc.import_.clusters.all:
            importing: Counter[str] = Counter(ch.by_mesh)
            own = Counter(ch.mesh[e] for e in exporters)  # exporters that also import (all do)
        else:
            chosen = ch.select(svc.import_.clusters)
            importing = Counter(ch.mesh[c] for c in chosen)
            own = Counter(ch.mesh[c] for c in chosen if c in exporter_set)
        svc_imports = svc_endpoints = 0
        for mesh, count in importing.items():
            adapter = MESHES[mesh]
            sources = sum(exporting.get(m, 0) for m in adapter.capabilities.reaches)
            if not sources:
                continue
            if adapter.capabilities.imports_own_export:
                got, listed = count, count * sources
            else:
                # Each importer lists every other exporter; an importer that is the only exporter gets nothing.
                listed = count * sources - own.get(mesh, 0)
                got = count - (own.get(mesh, 0) if sources == 1 else 0)
            svc_imports += got
            planned, listed_endpoints = adapter.import_size(got, listed, ports, svc.trafficPolicy is not None)
            objects += planned
            svc_endpoints += listed_endpoints
        imports += svc_imports
        endpoints += svc_endpoints
        if svc_endpoints > widest[0]:
            widest = (svc_endpoints, ref, sum(importing.values()), len(exporters))
    # Meshes that enforce at the destination write one policy per rule in each cluster where the
    # service runs, whichever clusters the rule holds in.
    at_destination = sum(
        n for mesh, n in ch.by_mesh.items() if (a := MESHES[mesh].access) is not None and a.enforcement == "destination"
    )
    access = 0
    for rule in fleet.access.values():
        target = fleet.services.get(rule.to)
        if target is None:
            continue
        where = len(ch.select(rule.in_)) if rule.in_ is not None else enforcing
        access += where * (1 + len(_accounts(target)))  # an HTTPRouteGroup, a TrafficTarget per account
        if at_destination:
            runs = len(ch.select(target.export.clusters)) if target.export is not None else 0
            access += min(at_destination, runs + len(target.localServiceAccounts))
    objects += access + len(namespaces) * len(ch.members)
    placed, values, widest_resource = _resources(fleet, ch, included or {})
    return Estimate(
        objects=objects + placed,
        access_objects=access,
        endpoints=endpoints,
        imports=imports,
        services=len(fleet.services),
        widest=widest[1],
        widest_importers=widest[2],
        widest_exporters=widest[3],
        resource_objects=placed,
        resource_values=values,
        widest_resource=widest_resource,
    )


def size_findings(fleet: Fleet, included: Mapping[str, tuple[IncludedObject, ...]] | None = None) -> list[Finding]:
    """A finding when the fleet would plan more than MAX_OBJECTS objects or MAX_ENDPOINTS endpoints, or
    its resources more than MAX_RESOURCE_VALUES values."""
    est = estimate(fleet, included)
    split = (
        "split the fleet into several fleet files (by region or by team, each with the clusters and "
        "services that talk to each other), or narrow `import:` and `export:` to the clusters that need them"
    )
    split_access = (
        "split the fleet into several fleet files (by region or by team), or hold each access rule only "
        "in the clusters that need it (`in:`)"
    )
    found: list[Finding] = []
    if est.endpoints > MAX_ENDPOINTS:
        widest: Loc = ("services", est.widest) if est.widest is not None else ("services",)
        found.append(
            Finding(
                widest,
                f"the fleet would plan {est.endpoints:,} import endpoints (services x importing "
                "clusters x exporting clusters: each import lists every exporter, per port); a fleet "
                f"file may plan at most {MAX_ENDPOINTS:,}. The widest service, here, is imported by "
                f"{est.widest_importers} clusters from {est.widest_exporters} exporters",
                split,
                code=codes.FLEET_TOO_LARGE,
            )
        )
    if est.resource_values > MAX_RESOURCE_VALUES:
        found.append(
            Finding(
                ("resources", est.widest_resource or ""),
                "the resources would plan "
                f"{est.resource_values:,} values (each object's values times the clusters it is placed "
                f"in); a fleet file may plan at most {MAX_RESOURCE_VALUES:,}. This resource places the "
                "most",
                "place large objects in fewer clusters, or split the fleet into several fleet files",
                code=codes.FLEET_TOO_LARGE,
            )
        )
    if est.objects > MAX_OBJECTS:
        rest = est.objects - est.access_objects
        parts = (
            f"{rest:,} for {est.services:,} service{'s' if est.services != 1 else ''} x their importing "
            f"clusters, {est.access_objects:,} for {len(fleet.access):,} access rules x the clusters they hold in"
        )
        where: Loc = ("access",) if est.access_objects > rest else ("services",)
        found.append(
            Finding(
                where,
                f"the fleet would plan about {est.objects:,} objects ({parts}); a fleet file may "
                f"plan at most {MAX_OBJECTS:,}",
                split_access if where == ("access",) else split,
                code=codes.FLEET_TOO_LARGE,
            )
        )
    return found


def _accounts(svc: Service) -> set[str]:
    """Every service account the service may answer as (each access rule gets a TrafficTarget per account)."""
    found = {svc.serviceAccount, *svc.localServiceAccounts.values()}
    found.update(o.serviceAccount for o in svc.overrides if o.serviceAccount is not None)
    return found


def rendered_file_name(kind: str, namespace: str, name: str, *, predicted: bool = False) -> str:
    """The file `render` writes an object to (see meshfleet.sinks.layout.file_name, which a test
    holds to this)."""
    return ("predicted." if predicted else "") + f"{kind.lower()}.{namespace or '_'}.{name}.yaml"


def derived_name_findings(fleet: Fleet) -> list[Finding]:
    """Names meshfleet derives that Kubernetes or a file system would refuse, at the words that make them."""
    found: list[Finding] = []
    for rule_name, rule in sorted(fleet.access.items()):
        svc = fleet.services.get(rule.to)
        if svc is None:
            continue
        namespace = rule.to.partition("/")[0]
        for account, where in _account_sources(rule.to, svc):
            name = traffic_target_name(rule_name, account)
            file_name = rendered_file_name("TrafficTarget", namespace, name)
            if len(name) > OBJECT_NAME_MAX:
                found.append(
                    Finding(
                        ("access", rule_name),
                        f"the TrafficTarget name {_short(name)} (rule "
                        f"{rule_name!r} and the service account at {where}) is {len(name)} characters; "
                        f"Kubernetes allows {OBJECT_NAME_MAX}",
                        "shorten the rule name or the service account",
                        code=codes.DERIVED_NAME_INVALID,
                    )
                )
            elif len(file_name.encode()) > FILE_NAME_MAX:
                found.append(
                    Finding(
                        ("access", rule_name),
                        f"the TrafficTarget {_short(name)} (rule {rule_name!r} "
                        f"and the service account at {where}) would be rendered to a file name of "
                        f"{len(file_name.encode())} bytes; file systems allow {FILE_NAME_MAX}",
                        "shorten the rule name, the service account or the namespace",
                        code=codes.DERIVED_NAME_INVALID,
                    )
                )
    return found


def _account_sources(ref: str, svc: Service) -> Iterable[tuple[str, str]]:
    seen: set[str] = set()
    base = f"services.{ref}"
    candidates = [(svc.serviceAccount, f"{base}.serviceAccount")]
    candidates += [(sa, f"{base}.localServiceAccounts.{c}") for c, sa in sorted(svc.localServiceAccounts.items())]
    candidates += [
        (o.serviceAccount, f"{base}.overrides[{i}].serviceAccount")
        for i, o in enumerate(svc.overrides)
        if o.serviceAccount is not None
    ]
    for account, where in candidates:
        if account not in seen:
            seen.add(account)
            yield account, where


def _short(name: str) -> str:
    return repr(name) if len(name) <= 60 else repr(name[:40]) + f"... ({len(name)} characters)"
