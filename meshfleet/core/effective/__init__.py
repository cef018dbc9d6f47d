"""The effective routing and access view: per consuming cluster and service, which clusters answer and in
what shares, and who may call it, with which requests, enforced where.

Why: a reviewer asks "when curl in cluster-2 calls httpbin, which clusters answer, in what shares, when
its local copy is down, and is it allowed?", not "which fields changed". This answers it from the plan's
typed views and each mesh's runtime rules (`Mesh.routes`, where its access adapter enforces, its access
mode as installed), never from the fleet file's words: where the fleet says more than the mesh
enforces, the view says what is enforced. It is pure and built once per plan; `meshfleet routes`,
`plan --format json` and the diff read the same `Effective`.

The package holds the records (`records`), how they are built from a plan (`builder`) and how they
are said in words and JSON (`words`); `Views` here builds each entry on first use, and every name is
importable from `meshfleet.core.effective`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from meshfleet.core.effective.builder import FleetIndex, opens
from meshfleet.core.effective.records import (
    ANY,
    MODE_SHORT,
    MODE_WORDS,
    Allowed,
    ClusterRoutes,
    Effective,
    Mode,
    ServiceRoutes,
    Serving,
    Side,
    Where,
    equal_split,
    servings,
)
from meshfleet.core.effective.words import (
    allowed_json,
    as_json,
    cluster_json,
    match_words,
    percent,
    requests_words,
    route_json,
    service_json,
    side_words,
)
from meshfleet.core.plan import Plan


def effective(plan: Plan) -> Effective:
    """The effective view of a whole plan: each member as a consumer of what it imports, runs or grants."""
    return Views(plan).whole()


class Views:
    """A plan's effective view, each (consumer, service) built on first use and kept: `meshfleet routes`
    asks for all of it, the diff only for what a change can touch and what it shows beside it.

    As in planning, the cyclic garbage collector is paused while entries are built: a large fleet's view
    is a few hundred thousand small records without cycles, and rescanning them tripled the time.
    """

    def __init__(self, plan: Plan) -> None:
        self._fleet = FleetIndex(plan)
        self._memo: dict[tuple[str, str], ServiceRoutes | None] = {}
        self._clusters: dict[str, ClusterRoutes] = {}
        self.members = tuple(c.name for c in plan.clusters if c.role == "member")

    def services(self, consumer: str) -> list[str]:
        """The services `consumer` calls: those it imports, runs, or holds access rules for."""
        return self._fleet.services(consumer) if consumer in self.members else []

    def identities(self, consumer: str, service: str) -> set[str]:
        """The service accounts `service` answers `consumer` as: its local pods', and the remote answers'."""
        if consumer not in self.members:
            return set()
        found = {a for a in (self._fleet.locals.get((consumer, service)),) if a is not None}
        imported = self._fleet.by_service(consumer)[0].get(service)
        found.update(identity for identity, _ in self._fleet.remote_identities(consumer, service, imported))
        return found

    @property
    def local_copies(self) -> dict[tuple[str, str], str]:
        """(cluster, service) -> the identity the service's pods answer as there."""
        return self._fleet.locals

    def granted_to(self, consumer: str, sources: Iterable[str]) -> list[str]:
        """The services `consumer`'s access rules are written for that name one of `sources`."""
        wanted = set(sources)
        if consumer not in self.members:
            return []
        return list(dict.fromkeys(g.service for g in self._fleet.plans[consumer].grants if wanted & set(g.sources)))

    def get(self, consumer: str, service: str) -> ServiceRoutes | None:
        key = (consumer, service)
        if key not in self._memo:
            with _collector_paused():
                self._memo[key] = self._fleet.entry(consumer, service) if consumer in self.members else None
        return self._memo[key]

    def mode(self, consumer: str) -> Mode:
        return self._fleet.mode(consumer)

    def cluster(self, name: str) -> ClusterRoutes | None:
        if name not in self.members:
            return None
        found = self._clusters.get(name)
        if found is None:
            with _collector_paused():
                services = tuple(e for s in self.services(name) if (e := self.get(name, s)) is not None)
                found = self._clusters[name] = ClusterRoutes(
                    name, self._fleet.plans[name].mesh, self.mode(name), services
                )
        return found

    def whole(self) -> Effective:
        with _collector_paused():
            return Effective(tuple(c for name in self.members if (c := self.cluster(name)) is not None))


@contextmanager
def _collector_paused() -> Iterator[None]:
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


__all__ = [
    "ANY",
    "MODE_SHORT",
    "MODE_WORDS",
    "Allowed",
    "ClusterRoutes",
    "Effective",
    "Mode",
    "ServiceRoutes",
    "Serving",
    "Side",
    "Views",
    "Where",
    "allowed_json",
    "as_json",
    "cluster_json",
    "effective",
    "equal_split",
    "match_words",
    "opens",
    "percent",
    "requests_words",
    "route_json",
    "service_json",
    "servings",
    "side_words",
]
