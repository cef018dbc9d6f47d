"""Planned Kubernetes objects: their identity, their role, and the one collector that places them.

Why: every sink (Pulumi, render, diff) consumes the same objects; each is tagged `applied` (meshfleet
writes it) or `derived` (a controller in the fleet writes it; we predict it). Mesh adapters add their
objects through `Objects`, which refuses the same object written twice in one cluster and remembers
which namespaces the objects need. How an object is to be applied (a patch, retained, after others)
is a flag here, never an engine's annotation in the body: each sink says it its own way (Pulumi's
resource options, the GitOps engines' annotations, added by `sinks.gitops`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, overload

from meshfleet import codes
from meshfleet.errors import Finding, Loc

Role = Literal["applied", "derived"]

T = TypeVar("T")


class read_once(Generic[T]):
    """A property computed on first read and then kept in the instance, as `functools.cached_property`
    but without the lock Python 3.11 takes on every first read (five per planned object)."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> read_once[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> T | read_once[T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)  # later reads find it there
        return value


SHARED: dict[Hashable, Any] = {}
"""Parts of views and bodies equal in every plan this process makes, kept once (`PlanContext.shared`).
Cleared by the CLI before each command (`release_shared`); elsewhere (the Pulumi program, a test
session) it keeps one entry per distinct part the process has met (an exporter's endpoint), a few
thousand at 100k objects."""


def release_shared() -> None:
    SHARED.clear()


KIND_ORDER = {
    "Namespace": 0,
    "Cluster": 1,
    "MeshConfig": 2,
    "ServiceExport": 3,
    "ServiceImport": 4,
    "GlobalTrafficPolicy": 5,
    "HTTPRouteGroup": 6,
    "TrafficTarget": 7,
    "Service": 8,
    "Endpoints": 9,
    "EndpointSlice": 9,
    "Ingress": 10,
}
"""Apply order: what others live in first, then registrations, exports, imports, policies; others last."""


def qualified(namespace: str, name: str) -> str:
    """`namespace/name`, or the bare name of a cluster-scoped object: the one way names are shown."""
    return f"{namespace}/{name}" if namespace else name


def split(ref: str) -> tuple[str, str]:
    """A `namespace/name` reference (a service, a service account) as (namespace, name)."""
    namespace, _, name = ref.partition("/")
    return namespace, name


def with_field(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `body` with `value` at `path`; the mappings on the way are copied (or made), nothing
    else: the rest stays the plan's own, shared (the GitOps render's kubeconfig variable, the Pulumi
    program's annotations and kubeconfig Output)."""
    head, *rest = path
    inner = body.get(head, {}) if rest else None
    return {**body, head: with_field(inner, tuple(rest), value) if isinstance(inner, dict) else value}


@dataclass(frozen=True, order=True)
class ObjectId:
    """The identity of an object inside one cluster."""

    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {qualified(self.namespace, self.name)}"


@dataclass(frozen=True)
class PlannedObject:
    """One object of one cluster: its body, whether we write it, and how sinks must treat it."""

    role: Role
    body: dict[str, Any]
    patch: bool = False
    """A partial object another manager owns (FSM's MeshConfig): applied server-side, never created or deleted."""
    retain: bool = False
    """Left in the cluster when it leaves the fleet (namespaces hold things meshfleet does not own)."""
    relinquish: bool = False
    """A patch whose fields are given back when meshfleet stops applying it (annotations it added to a
    Service the user owns), where other patches are left in place."""
    kubeconfig_of: str | None = None
    """For objects that carry a member's kubeconfig (FSM `Cluster`): the member whose kubeconfig it holds."""
    kubeconfig_field: tuple[str, ...] = ("spec", "kubeconfig")
    """Where in the body that kubeconfig goes; the plan never holds it, sinks insert it."""
    after: tuple[ObjectId, ...] = ()
    """Objects of the same cluster that must exist before this one is applied (an FSM export's Service).
    The planner keeps those it plans itself: Pulumi waits for them (depends_on), Argo CD applies this
    one in a later sync wave, and Flux in a Kustomization that waits for the rest."""
    wave: int = 0
    """Its apply wave, set by the planner's apply order: 0, or one more than the latest wave of the
    objects in `after`. The GitOps sink turns it into the engine's own ordering."""

    # Read from the body once: every sink asks each object for its identity, several times (a 100k plan's
    # summary alone asked 375,000 times). A body is never changed once planned.
    @read_once
    def kind(self) -> str:
        return str(self.body["kind"])

    @read_once
    def api_version(self) -> str:
        return str(self.body["apiVersion"])

    @read_once
    def namespace(self) -> str:
        return str(self.body["metadata"].get("namespace", ""))

    @read_once
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @read_once
    def id(self) -> ObjectId:
        return ObjectId(self.api_version, self.kind, self.namespace, self.name)

    def sort_key(self) -> tuple[int, str, str, str]:
        return (KIND_ORDER.get(self.kind, 50), self.kind, self.namespace, self.name)


class Objects:
    """Collects each cluster's objects; the same object twice in one cluster is a finding."""

    def __init__(self, clusters: list[str]) -> None:
        self.by_cluster: dict[str, list[PlannedObject]] = {name: [] for name in clusters}
        self.namespaces: dict[str, set[str]] = {name: set() for name in clusters}
        self.origin: dict[tuple[str, ObjectId], Loc] = {}
        self.findings: list[Finding] = []

    def add(self, cluster: str, obj: PlannedObject, loc: Loc, *, needs_namespace: bool | None = None) -> ObjectId:
        """Add `obj` to `cluster`; `needs_namespace` defaults to "we create it" (applied, not a patch)."""
        key = (cluster, obj.id)
        if key in self.origin:
            self.findings.append(
                Finding(
                    loc,
                    f"{obj.id} would be written twice in cluster {cluster} "
                    f"(also from {'.'.join(str(p) for p in self.origin[key])})",
                    "rename one of them",
                    code=codes.DUPLICATE_OBJECT,
                )
            )
            return obj.id
        self.origin[key] = loc
        self.by_cluster[cluster].append(obj)
        if needs_namespace is None:
            needs_namespace = obj.role == "applied" and not obj.patch
        if needs_namespace and obj.namespace:
            self.namespaces[cluster].add(obj.namespace)
        return obj.id


__all__ = ["KIND_ORDER", "ObjectId", "Objects", "PlannedObject", "Role", "qualified", "with_field"]
