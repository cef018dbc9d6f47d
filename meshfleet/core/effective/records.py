"""The effective view's records: routes and access lines per consumer and service, and the access modes.

Why: `meshfleet routes`, the plan's JSON and the diff all read these frozen records; they hold what the
meshes do, in the consumer's terms, and nothing about how they were computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from meshfleet.core.views import HttpMatchView, Route, Share

Side = Literal["local", "remote"]
"""The consumer's own pods, or the answers that come from other clusters."""
Where = Literal["local-pods", "destination", "not-enforced"]
"""Who holds a caller to the requests its rules name: the consumer's own pods (their sidecars), the
answering cluster, or nobody."""
Mode = Literal["enforced", "permissive", "permissive-as-installed", "no-access-control"]
"""A consumer's access mode: only granted sources may call, or every workload may call every service."""

ANY = "*"
"""The source that stands for every workload (permissive mode, a mesh without access control)."""

MODE_WORDS: dict[Mode, str] = {
    "enforced": "access rules enforced: they decide who may call",
    "permissive": "permissive: every workload may call every service; access rules are not enforced",
    "permissive-as-installed": "permissive as installed (the fleet sets no mode and the mesh's default is "
    "permissive): access rules are not enforced",
    "no-access-control": "no access control: meshfleet writes no access rules for this mesh",
}
MODE_SHORT: dict[Mode, str] = {
    "enforced": "access rules enforced",
    "permissive": "permissive mode",
    "permissive-as-installed": "permissive as installed",
    "no-access-control": "no access control in this mesh",
}


class Serving(NamedTuple):
    """A cluster that answers a route, its weight as the mesh applies it, and its share of the calls
    (computed where a route is shown, from the mesh's `Share`s)."""

    cluster: str
    weight: int
    percent: float
    """Its share of the calls in percent, rounded to a tenth."""
    local: bool
    """It is the consumer's own copy."""


@dataclass(frozen=True)
class Allowed:
    """What one source may call on one side of a service, and whether the mesh holds it to the
    requests its rules name (where the fleet says more than the mesh enforces, `requests` says what
    is enforced and `asked` what the rules say)."""

    source: str
    """The calling service account, `namespace/name`; `*`: any workload."""
    side: Side
    clusters: tuple[str, ...]
    """The clusters that answer on this side."""
    identity: str
    """The service account the answers come from, `namespace/name` (`namespace/*`: any of it)."""
    rules: tuple[str, ...]
    """The access rules that let the source call (none for `*`)."""
    asked: tuple[HttpMatchView, ...]
    """The requests those rules allow, as written."""
    requests: tuple[HttpMatchView, ...] | None
    """The requests the mesh lets through; None: any request."""
    where: Where
    why: str
    """Why it is (not) enforced there, in words."""


@dataclass(frozen=True)
class ServiceRoutes:
    """One consuming cluster and one service it calls: its routes, and who may call it there."""

    consumer: str
    service: str
    local: bool
    """The service has pods in the consumer."""
    policy: str | None
    """The traffic policy's lbType given to the consumer's mesh; None: none."""
    routes: tuple[Route, ...]
    """Per name the consumer calls, the serving clusters and their weights (the mesh's `routes`)."""
    access: tuple[Allowed, ...]


@dataclass(frozen=True)
class ClusterRoutes:
    """A member cluster as a consumer: its mesh, its access mode, and each service it calls."""

    name: str
    mesh: str
    mode: Mode
    services: tuple[ServiceRoutes, ...]


@dataclass(frozen=True)
class Effective:
    """The whole fleet's effective routes and access, member by member."""

    clusters: tuple[ClusterRoutes, ...]
    _index: dict[tuple[str, str], ServiceRoutes] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for c in self.clusters:
            for s in c.services:
                self._index[(s.consumer, s.service)] = s

    def get(self, consumer: str, service: str) -> ServiceRoutes | None:
        return self._index.get((consumer, service))

    def cluster(self, name: str) -> ClusterRoutes | None:
        return next((c for c in self.clusters if c.name == name), None)

    def filtered(self, cluster: str | None = None, service: str | None = None, source: str | None = None) -> Effective:
        """Only `cluster`, only `service`, and only what `source` may call (with its access lines and
        the `*` ones that include it)."""
        out = []
        for c in self.clusters:
            if cluster is not None and c.name != cluster:
                continue
            kept = []
            for s in c.services:
                if service is not None and s.service != service:
                    continue
                if source is not None:
                    mine = tuple(a for a in s.access if a.source in (source, ANY))
                    if not mine:
                        continue
                    s = ServiceRoutes(s.consumer, s.service, s.local, s.policy, s.routes, mine)
                kept.append(s)
            if kept or (service is None and source is None):
                out.append(ClusterRoutes(c.name, c.mesh, c.mode, tuple(kept)))
        return Effective(tuple(out))


def servings(shares: Iterable[Share], consumer: str) -> tuple[Serving, ...]:
    """Shares as the mesh applies them, with each cluster's percentage of the calls."""
    shares = tuple(shares)
    total = sum(s.weight for s in shares)
    factor = 100 / total if total else 0.0
    return tuple(Serving(s.cluster, s.weight, round(s.weight * factor, 1), s.cluster == consumer) for s in shares)


def equal_split(shares: tuple[Share, ...] | tuple[Serving, ...]) -> bool:
    """Two or more clusters with the same weight (weights nobody wrote, or written alike)."""
    return len(shares) > 1 and len({s.weight for s in shares}) == 1
