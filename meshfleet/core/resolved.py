"""The resolved fleet: who exports what, who imports it, and each cluster's settings after overrides.

Why: these facts are needed both to check a fleet and to plan it, by the core and by every mesh
adapter; they are plain records, computed once by `topology.resolve`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from meshfleet.errors import Finding, Loc
from meshfleet.fleet.model import Cluster, Fleet, PathRewrite, Port, Service, Target


def cluster_key(name: str, cluster: Cluster) -> str:
    """FSM's clusterKey: region/zone/group/name, each of the first three defaulting to `default`."""
    return f"{cluster.region}/{cluster.zone}/{cluster.group}/{name}"


_REGEX_SYNTAX = frozenset("^$\\.*+?()[]{}|")


def regex_literal(text: str) -> str:
    """`text` as a regular expression that matches exactly it, in the syntax Python, RE2 and JavaScript share
    (only their syntax characters are escaped: JavaScript refuses other escapes in unicode mode)."""
    return "".join("\\" + c if c in _REGEX_SYNTAX else c for c in text)


def is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ExportRule:
    """One exported port with its path (placeholders expanded) and path type."""

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
    """Placeholders expanded for this exporter."""
    path_loc: Loc
    path_type_loc: Loc = ()
    load_balancer_loc: Loc = ()
    path_rewrite_loc: Loc = ()
    path_template: str = ""
    """The path as written, placeholders unexpanded (for messages that hold for every exporter)."""


@dataclass(frozen=True)
class PolicySettings:
    """A service's traffic policy in one consuming cluster, overrides applied."""

    lb_type: str
    targets: tuple[Target, ...] | None
    loc: Loc
    targets_loc: Loc
    lb_type_loc: Loc

    def effective(self, consumer: str) -> tuple[Target, ...] | None:
        """The targets written for `consumer` (itself left out); None when none are listed."""
        return None if self.targets is None else tuple(t for t in self.targets if t.cluster != consumer)


@dataclass
class ServiceTopology:
    """One service across the fleet: its exporters and importers, and per-cluster settings."""

    ref: str
    namespace: str
    name: str
    spec: Service
    meshes: dict[str, str]
    exporters: list[str] = field(default_factory=list)
    exports: dict[str, ExportSettings] = field(default_factory=dict)
    ports: dict[str, tuple[Port, ...]] = field(default_factory=dict)
    endpoints: dict[str, list[str]] = field(default_factory=dict)
    """Per member: the exporters whose endpoints its mesh reaches."""
    importers: list[str] = field(default_factory=list)
    policies: dict[str, PolicySettings] = field(default_factory=dict)

    def endpoints_for(self, cluster: str) -> list[str]:
        """Exporting clusters whose endpoints `cluster` sees (its mesh decides which it reaches)."""
        return self.endpoints.get(cluster, [])

    def runs_in(self, cluster: str) -> bool:
        """The service has pods in `cluster`: it exports from there or runs there unexported."""
        return cluster in self.exports or cluster in self.spec.localServiceAccounts


@dataclass(frozen=True)
class PlacedObject:
    """One object of a resource as one cluster gets it: overrides, placeholders and replicas applied."""

    resource: str
    cluster: str
    body: dict[str, Any]
    loc: Loc
    """Where the object is written (its template entry, or its manifest document): findings about it
    carry this key path followed by the field's path in the object."""

    @property
    def api_version(self) -> str:
        return str(self.body["apiVersion"])

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"].get("namespace") or "")

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """Group, kind, namespace and name: what makes two objects one in a cluster, whatever the version."""
        return self.group, self.kind, self.namespace, self.name


@dataclass
class Topology:
    """The whole resolved fleet and every finding about it (errors and warnings)."""

    fleet: Fleet
    members: list[str]
    keys: dict[str, str]
    services: dict[str, ServiceTopology]
    meshes: dict[str, str]
    access_in: dict[str, list[str] | None] = field(default_factory=dict)
    """Each access rule's chosen clusters (None: wherever the service is reachable)."""
    placed: dict[str, list[PlacedObject]] = field(default_factory=dict)
    """Per cluster, the resources' objects placed there."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def control_plane(self) -> str | None:
        return self.fleet.controlPlane
