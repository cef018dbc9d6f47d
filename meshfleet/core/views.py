"""Typed service views: what a cluster's plan means in service terms, beside its objects.

Why: the diff, the plan summary and the effective routing view must not read objects back (a body
is one mesh's encoding; a new field in it would be silently missed). Each mesh adapter fills these
frozen records from the same values it writes its bodies from, and everything downstream compares
and prints records. A record's `keys` identify it among the items of a tuple (endpoints by cluster and
port...); `objects` (compare=False) link a view to its objects and are not part of its meaning.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from meshfleet.core.objects import ObjectId

Enforcement = Literal["local-pods-only", "destination", "none"]
"""Where a mesh enforces an access grant's HTTP matches: on the destination's local pods only (FSM:
answers from other clusters are not restricted), at every destination, or nowhere."""


@dataclass(frozen=True)
class GatewayView:
    """Where other clusters reach a member: its mesh gateway's host, resolved ip and port."""

    host: str
    ip: str | None
    port: int


@dataclass(frozen=True)
class PortView:
    """A service port as the mesh carries it across clusters."""

    keys: ClassVar[tuple[str, ...]] = ("port",)

    port: int
    protocol: str
    name: str | None = None
    app_protocol: str | None = None


@dataclass(frozen=True)
class Address:
    """Where a consumer's mesh sends one endpoint's traffic: the exporter's gateway and path."""

    host: str
    ip: str
    port: int
    path: str

    def describe(self) -> str:
        ip = f" ({self.ip})" if self.ip and self.ip != self.host else ""
        return f"{self.host}:{self.port}{self.path}{ip}"


@dataclass(frozen=True)
class EndpointView:
    """One exporting cluster's endpoint for one port of an imported service."""

    keys: ClassVar[tuple[str, ...]] = ("cluster", "port")

    cluster: str
    cluster_key: str
    port: int
    target: Address | None = None
    """None where the mesh's own implementation routes and meshfleet writes no address (MCS)."""
    called_as: str = ""
    """The name a client in the consuming cluster calls to reach this endpoint (Linkerd: the mirror)."""


@dataclass(frozen=True)
class ImportView:
    """A service as one consuming cluster imports it: its ports and the exporters' endpoints."""

    keys: ClassVar[tuple[str, ...]] = ("service",)

    service: str
    ports: tuple[PortView, ...]
    endpoints: tuple[EndpointView, ...]
    service_account: str | None = None
    """The identity the consumer's mesh expects of the remote endpoints, where it records one."""
    objects: tuple[ObjectId, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ExportRuleView:
    """One exported port and the path other clusters reach it on (None where the mesh has no path)."""

    keys: ClassVar[tuple[str, ...]] = ("port_number",)

    port_number: int
    path: str | None = None
    path_type: str | None = None


@dataclass(frozen=True)
class PathRewriteView:
    """The rewrite the exporter's gateway applies to the path (a regex and its replacement)."""

    from_: str
    to: str


@dataclass(frozen=True)
class ExportView:
    """A service as one exporting cluster exports it."""

    keys: ClassVar[tuple[str, ...]] = ("service",)

    service: str
    ports: tuple[PortView, ...]
    """The exported ports as the service defines them (protocol, name, appProtocol)."""
    service_account_name: str
    rules: tuple[ExportRuleView, ...]
    load_balancer: str | None = None
    session_sticky: bool | None = None
    path_rewrite: PathRewriteView | None = None
    objects: tuple[ObjectId, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class TargetView:
    """A traffic target: an exporting cluster and its weight as written (None: not written)."""

    keys: ClassVar[tuple[str, ...]] = ("cluster",)

    cluster: str
    weight: int | None = None


@dataclass(frozen=True)
class PolicyView:
    """A service's traffic policy in one consuming cluster, as meshfleet gives it to the mesh.

    `targets` are the targets written (None: none written); what the mesh makes of them (FSM: a
    weight of 0 or none counts as 100, FailOver has no order) is its `routes` rule.
    """

    keys: ClassVar[tuple[str, ...]] = ("service",)

    service: str
    lb_type: str
    targets: tuple[TargetView, ...] | None
    tiers: tuple[tuple[Share, ...], ...] | None = None
    """Where the mesh sends the calls, as the adapter computed it from more than the targets (Istio:
    the clusters' localities): the clusters of the first tier share the calls by weight while any of
    them answers, then the next tier's. None where the mesh's routes rule needs no more than the targets."""
    objects: tuple[ObjectId, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class HttpMatchView:
    """One HTTP match of an access rule: path regex, methods, headers."""

    keys: ClassVar[tuple[str, ...]] = ("name",)

    name: str
    path_regex: str
    methods: tuple[str, ...]
    headers: tuple[tuple[tuple[str, str], ...], ...] = ()


@dataclass(frozen=True)
class GrantView:
    """An access rule as one cluster enforces it: who may call one identity of a service, and how."""

    keys: ClassVar[tuple[str, ...]] = ("rule", "destination")

    rule: str
    destination: str
    """The service account called, `namespace/name` (`namespace/*`: any); meshes grant by identity."""
    service: str
    sources: tuple[str, ...]
    """The calling service accounts, `namespace/name`."""
    matches: tuple[HttpMatchView, ...]
    enforcement: Enforcement
    enforced_at: tuple[str, ...] | None = None
    """The other clusters whose objects enforce this grant (meshes that enforce at the destination:
    the clusters that answer this cluster's calls); `objects` names those objects there too. None:
    this cluster only."""
    objects: tuple[ObjectId, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class LocalView:
    """A service with pods in a cluster (exported from there or running unexported) and the identity
    those pods answer as, `namespace/name`."""

    keys: ClassVar[tuple[str, ...]] = ("service",)

    service: str
    service_account: str


@dataclass(frozen=True)
class MeshSettingsView:
    """A member's mesh settings that meshfleet sets; None leaves what is installed."""

    permissive: bool | None = None
    """Whether the mesh lets every workload call every other (no access rule enforced)."""
    ingress: bool | None = None
    """The mesh's ingress mode, which its exports need, is switched on (None: left as installed)."""
    local_dns_proxy: str | None = None
    """The mesh's DNS proxy is on, forwarding to this upstream (None: left as installed)."""
    api_group: str | None = None
    """The API group the member's mesh serves its multicluster kinds in, for meshes whose releases differ
    in it (None: the mesh has one)."""
    objects: tuple[ObjectId, ...] = field(default=(), compare=False)
    """The member's own objects that carry these settings (Istio: its mesh config and remote secrets)."""


@dataclass(frozen=True)
class Share:
    """One serving cluster and its relative weight, as the mesh applies it."""

    cluster: str
    weight: int


@dataclass(frozen=True)
class Route:
    """Where one consumer's calls to one service go, per its mesh's runtime rules."""

    called_as: str
    steady: tuple[Share, ...]
    """While the consumer's local copy answers (or always, when it has none)."""
    local_down: tuple[Share, ...]
    """When the local copy is absent or failing."""
    rule: str
    """The rule applied, in words, e.g. "FailOver: round-robin over the targets, no order"."""


def compared_fields(record: Any) -> tuple[dataclasses.Field[Any], ...]:
    """The fields that make up a record's meaning (every field but the linked objects)."""
    return tuple(f for f in dataclasses.fields(record) if f.compare)


def json_name(name: str) -> str:
    """A field's name in JSON: camelCase, a trailing underscore (`from_`) dropped."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(p.title() for p in rest)


def as_json(value: Any) -> Any:
    """A view as plain JSON: camelCase keys, unset (None) fields left out, linked objects left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            json_name(f.name): as_json(getattr(value, f.name))
            for f in compared_fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, tuple | list):
        return [as_json(v) for v in value]
    return value
