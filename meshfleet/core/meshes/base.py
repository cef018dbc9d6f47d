"""The one interface every mesh adapter implements, and the access-policy adapter interface.

Why: each mesh's knowledge (what it can do, what it refuses, the objects it needs, how it really
routes) lives in one module behind this interface, so that topology and planning loop over the
registry instead of branching on mesh names, and a new mesh is one more module.

A mesh adapter answers four questions:
- **capabilities**: does it import its own export, apply traffic policies, need a gateway, and which
  exporters' meshes can its consumers reach? Where does it enforce access (its access adapter)?
- **checks**, called by topology with a `Checks` to report findings at key paths: the fleet as a whole,
  each member running it, each export, the chosen importers, each import, each traffic policy, and
  every export of its clusters together.
- **objects and views**, called by the planner with a `PlanContext`: per cluster, per export, per
  import and per traffic policy it adds its objects (`ctx.objects.add`) and returns the typed view
  built from the same values. An access adapter does the same per access rule and cluster.
- **runtime rules**: `routes` says where a consumer's calls really go, from the views.
- **late effects**, for the diff's risks: what the mesh keeps in effect, or does late, when the fleet
  changes around it (an export setting turned off, a control plane or a registered member leaving,
  objects passing from applied to derived); the diff says when, the adapter what it means.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from meshfleet.core.checks import Checks
from meshfleet.core.objects import SHARED, Objects, split
from meshfleet.core.resolved import PolicySettings, ServiceTopology, Topology, is_ip
from meshfleet.core.views import (
    Enforcement,
    ExportView,
    GatewayView,
    GrantView,
    HttpMatchView,
    ImportView,
    MeshSettingsView,
    PolicyView,
    PortView,
    Route,
)
from meshfleet.errors import Code, Loc
from meshfleet.fleet.model import AccessRule, Cluster, Fleet, Port

T = TypeVar("T")

GATEWAY_NEEDS_IP = Code(
    "gateway-needs-ip",
    "error",
    "meshfleet writes an import's addresses, and an exporter's gateway is a DNS name without ip",
)


@dataclass(frozen=True)
class Capabilities:
    """What a mesh does with the fleet's words; the core reads these, never a mesh's name."""

    reaches: frozenset[str]
    """The meshes whose exports this mesh's consumers import (today: its own)."""
    imports_own_export: bool
    """A cluster that exports a service also imports it (KEP-1645 imports exist in every cluster)."""
    traffic_policies: bool
    """Consumers apply the fleet's traffic policies (lbType, targets, weights)."""
    needs_gateway: bool
    """Exporters must name the gateway other clusters reach them through."""
    permissive_by_default: bool = False
    """Where meshfleet leaves the mesh's access mode as installed, every workload may call every other
    (FSM's preset: `enablePermissiveTrafficPolicyMode: true`), so access rules are not enforced."""


@dataclass
class PlanContext:
    """What a mesh adapter may read and write while planning: the resolved fleet and the objects."""

    topology: Topology
    objects: Objects
    memo: dict[tuple[str, ...], Any] = field(default_factory=dict)
    """Values an adapter builds once per plan and shares between consumers (an export's endpoints)."""

    @property
    def fleet(self) -> Fleet:
        return self.topology.fleet

    @property
    def control_plane(self) -> str | None:
        return self.topology.fleet.controlPlane

    def cluster(self, name: str) -> Cluster:
        return self.topology.fleet.clusters[name]

    def key(self, name: str) -> str:
        return self.topology.keys[name]

    def shared(self, key: Hashable, value: T) -> T:
        """The process's one copy of `value`, known by `key` (a value equal in every plan: an exporter's
        endpoint). `diff` plans both fleets in one process, and what is equal in both is then the same
        object: Python compares it by identity, not field by field (at 100k objects the imports of both
        plans list 415,000 endpoints each). Only for values no one changes once planned."""
        found: T = SHARED.setdefault(key, value)
        return found


class AccessAdapter(ABC):
    """Turns access rules (written in service terms) into one family of access-policy objects."""

    name: ClassVar[str]
    objects_word: ClassVar[str]
    """What the rules become, for messages: "SMI TrafficTargets"."""
    enforcement: ClassVar[Enforcement]
    codes: ClassVar[tuple[Code, ...]] = ()

    def check_rule(self, checks: Checks, rule_name: str, rule: AccessRule, cluster: str) -> None:
        """Report what this adapter cannot express of `rule` in `cluster` (by default: nothing)."""
        return None

    def check_grant(self, checks: Checks, rule_name: str, rule: AccessRule, svc: ServiceTopology, cluster: str) -> None:
        """Report where `rule`, holding in `cluster` for `svc`, is enforced otherwise than it reads
        (by default: nothing)."""
        return None

    @abstractmethod
    def plan_grants(
        self,
        ctx: PlanContext,
        rule_name: str,
        rule: AccessRule,
        svc: ServiceTopology,
        cluster: str,
        identities: Sequence[str],
    ) -> tuple[GrantView, ...]:
        """Add the objects that enforce `rule` in `cluster`, where `svc` answers as `identities`."""


class Mesh(ABC):
    """One mesh: its capabilities, checks, objects, views and runtime rules."""

    name: ClassVar[str]
    """The word a cluster's `mesh` names it by (a literal of `fleet.model.Mesh`)."""
    title: ClassVar[str]
    """How messages name it: "FSM"."""
    derived_by: ClassVar[str] = ""
    """Who writes the objects it plans as predicted (role "derived"), for the header of their files;
    empty: "<title>'s controllers"."""
    settings: ClassVar[str | None]
    """The `Cluster` field holding its settings, if it has any."""
    capabilities: ClassVar[Capabilities]
    codes: ClassVar[tuple[Code, ...]] = ()

    def __init__(self, access: AccessAdapter | None = None) -> None:
        self.access = access

    @property
    def enforcement(self) -> Enforcement:
        return self.access.enforcement if self.access is not None else "none"

    def gateway(self, cluster: Cluster) -> GatewayView | None:
        """Where other clusters reach a member of this mesh."""
        gw = cluster.gateway
        return None if gw is None else GatewayView(gw.host, gw.ip, gw.port)

    def namespace_metadata(self, cluster: Cluster) -> tuple[dict[str, str], dict[str, str]]:
        """The labels and annotations that put a namespace meshfleet creates in this mesh, as the mesh's
        own CLI does (by default none)."""
        return {}, {}

    # --- checks (each reports through `checks`; by default a mesh adds none) ----------------------

    def check_fleet(self, checks: Checks) -> None:
        """The fleet as a whole (run for every registered mesh)."""
        return None

    def check_cluster(self, checks: Checks, name: str) -> None:
        """A member cluster that runs this mesh."""
        return None

    def check_export(self, checks: Checks, svc: ServiceTopology, exporter: str, loc: Loc) -> None:
        """`exporter`, a cluster of this mesh, exports `svc`."""
        return None

    def check_importers(
        self, checks: Checks, svc: ServiceTopology, chosen: Sequence[str], reachable: Sequence[str], loc: Loc
    ) -> None:
        """`import.clusters` chose `chosen` among the members that can import `svc`."""
        return None

    def check_import(self, checks: Checks, svc: ServiceTopology, consumer: str) -> None:
        """`consumer`, a cluster of this mesh, imports `svc`."""
        return None

    def check_policy(self, checks: Checks, svc: ServiceTopology, consumer: str, policy: PolicySettings) -> None:
        """`consumer`, a cluster of this mesh, gets `policy` for `svc`."""
        return None

    def check_services(self, checks: Checks, services: Mapping[str, ServiceTopology]) -> None:
        """Every service together (checks across services in one cluster)."""
        return None

    # --- objects and views -----------------------------------------------------------------------

    def plan_cluster(self, ctx: PlanContext, name: str) -> MeshSettingsView:
        """A member's own objects (and any it needs elsewhere); its mesh settings."""
        return MeshSettingsView()

    @abstractmethod
    def plan_export(self, ctx: PlanContext, svc: ServiceTopology, exporter: str) -> ExportView:
        """The objects that export `svc` from `exporter`."""

    @abstractmethod
    def plan_import(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> ImportView:
        """The objects that import `svc` into `consumer`."""

    def cluster_size(self, members: int) -> int:
        """At most how many objects one member of this mesh plans for itself (and for it elsewhere, such
        as a registration in a control plane), in a fleet where `members` clusters run this mesh."""
        return 2

    @abstractmethod
    def export_size(self, cluster: Cluster) -> int:
        """At most how many objects one export from `cluster` plans (for the size bound checked on
        the fleet file before anything is planned)."""

    @abstractmethod
    def import_size(self, importers: int, listed: int, ports: int, policy: bool) -> tuple[int, int]:
        """At most how many objects and import endpoints `importers` consumers of one service plan,
        listing `listed` exporters between them, over `ports` ports, with a traffic policy or not."""

    def plan_policy(self, ctx: PlanContext, svc: ServiceTopology, consumer: str) -> PolicyView:
        """The objects that apply `svc`'s traffic policy in `consumer` (meshes that apply policies)."""
        raise TypeError(f"{self.title} applies no traffic policies; topology gives it none")

    # --- changes the mesh applies late or never ---------------------------------------------------

    def export_change_risks(self, cluster: str, old: ExportView, new: ExportView) -> tuple[str, ...]:
        """What of `old` the mesh keeps in effect when `cluster`'s export changes to `new`, each with
        its fix, for the diff's risks (by default: nothing; the change takes effect)."""
        return ()

    def patched_objects(self) -> str | None:
        """How the diff names the objects of other managers this mesh's members patch, which stay when a
        member leaves the fleet ("FSM's own objects"; by default None: it patches none)."""
        return None

    def control_plane_removal_risks(
        self, cluster: str, registrations: int, leaves_fleet: bool, successor: bool
    ) -> tuple[str, ...]:
        """What stops when `cluster`, this mesh's control plane holding `registrations` member
        registrations, leaves the fleet (`leaves_fleet`) or its role, and another cluster takes over
        (`successor`) or none does, for the diff's risks (by default: nothing beyond its objects)."""
        return ()

    def handover_risks(self, cluster: str, objects: int) -> tuple[str, ...]:
        """What the mesh's controllers do with `objects` objects of `cluster` that meshfleet applied and
        now predicts (they pass from applied to derived), each with its safe order (by default:
        nothing)."""
        return ()

    def member_removal_risks(self, control_plane: str, member: str) -> tuple[str, ...]:
        """What `control_plane`, a cluster of this mesh, keeps serving of `member` once meshfleet removes
        its registration, each with its safe order (by default: nothing)."""
        return ()

    def member_key_risks(self, control_plane: str, member: str, old_key: str, new_key: str) -> tuple[str, ...]:
        """What `control_plane`, a cluster of this mesh, keeps serving under `member`'s old key when its
        registration changes from `old_key` to `new_key`, each with its safe order (by default:
        nothing)."""
        return ()

    # --- runtime rules ---------------------------------------------------------------------------

    @abstractmethod
    def routes(
        self, service: str, consumer: str, local: bool, imported: ImportView | None, policy: PolicyView | None
    ) -> tuple[Route, ...]:
        """Where `consumer`'s calls to `service` (`namespace/name`) go: per name it calls, the serving
        clusters and their weights, while its own copy answers and when that copy is absent or failing
        (`local`: the service runs in `consumer`)."""


def port_views(ports: Iterable[Port]) -> tuple[PortView, ...]:
    """A service's ports as views (the same values the objects carry)."""
    return tuple(PortView(p.port, p.protocol, p.name, p.appProtocol) for p in ports)


def match_views(rule: AccessRule) -> tuple[HttpMatchView, ...]:
    """An access rule's requests as views (headers as sorted pairs): what every access adapter grants."""
    return tuple(
        HttpMatchView(m.name, m.pathRegex, tuple(m.methods), tuple(tuple(sorted(h.items())) for h in m.headers or ()))
        for m in rule.http
    )


def called_as(service: str) -> str:
    """How a client calls a service by its own name: `name.namespace`."""
    namespace, name = split(service)
    return f"{name}.{namespace}"


def require_gateway_ips(checks: Checks, svc: ServiceTopology, consumer: str) -> None:
    """meshfleet writes `consumer`'s import of `svc` itself, so each exporter's gateway needs an ip."""
    for e in svc.endpoints_for(consumer):
        gw = checks.fleet.clusters[e].gateway
        if gw is not None and gw.ip is None and not is_ip(gw.host):
            checks.problem(
                ("clusters", e, "gateway", "host"),
                f"gateway host {gw.host!r} is a DNS name and meshfleet writes the imports of {svc.ref}",
                f"add clusters.{e}.gateway.ip (the address {gw.host} resolves to)",
                GATEWAY_NEEDS_IP,
            )


def export_ports_loc(checks: Checks, svc: ServiceTopology, exporter: str) -> Loc:
    """Where the list of ports `exporter` exports is written: the last override of it that selects
    `exporter`, or the export's own `ports`."""
    base: Loc = ("services", svc.ref)
    for i in reversed(range(len(svc.spec.overrides))):
        o = svc.spec.overrides[i]
        if (
            o.export is not None
            and o.export.ports is not None
            and exporter in checks.select(o.clusters, (*base, "overrides", i, "clusters"), "be overridden")
        ):
            return (*base, "overrides", i, "export", "ports")
    return (*base, "export", "ports")
