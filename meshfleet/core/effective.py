"""The effective routing and access view: per consuming cluster and service, which clusters answer and in
what shares, and who may call it, with which requests, enforced where.

Why: a reviewer asks "when curl in cluster-2 calls httpbin, which clusters answer, in what shares, when
its local copy is down, and is it allowed?", not "which fields changed". This answers it from the plan's
typed views and each mesh's runtime rules (`Mesh.routes`, where its access adapter enforces, its access
mode as installed), never from the fleet file's words: where the fleet says more than the mesh
enforces, the view says what is enforced. It is pure and built once per plan; `meshfleet routes`,
`plan --format json` and the diff read the same `Effective`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from meshfleet.core.meshes import mesh
from meshfleet.core.objects import qualified, split
from meshfleet.core.plan import ClusterPlan, Plan
from meshfleet.core.views import ExportView, GrantView, HttpMatchView, ImportView, PolicyView, Route, Share

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

    def filtered(self, cluster: str | None = None, service: str | None = None,
                 source: str | None = None) -> Effective:
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
        self._fleet = _Fleet(plan)
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
        imported = self._fleet._by_service(consumer)[0].get(service)
        found.update(identity for identity, _ in self._fleet._remote(consumer, service, imported))
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
                found = self._clusters[name] = ClusterRoutes(name, self._fleet.plans[name].mesh, self.mode(name),
                                                             services)
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


# --- building it ---------------------------------------------------------------------------------


class _Grants:
    """One cluster's grants by the identity they let callers reach."""

    def __init__(self, grants: Iterable[GrantView]) -> None:
        self.by_identity: dict[str, list[GrantView]] = {}
        self.by_namespace: dict[str, list[GrantView]] = {}
        for g in grants:
            self.by_identity.setdefault(g.destination, []).append(g)
            self.by_namespace.setdefault(split(g.destination)[0], []).append(g)

    def reaching(self, identity: str) -> list[GrantView]:
        """The grants that open `identity`: written for it, for `namespace/*`, or (when `identity` is
        `namespace/*`, an import that takes any account) for any account of its namespace."""
        namespace, name = split(identity)
        if name == ANY:
            return list(self.by_namespace.get(namespace, ()))
        return [*self.by_identity.get(identity, ()), *self.by_identity.get(qualified(namespace, ANY), ())]


def opens(destination: str, identity: str) -> bool:
    """A grant written for `destination` lets callers reach answers as `identity` (the rule of
    `_Grants.reaching`: the same account, a grant for any account of the namespace, or an identity that
    takes any account of the grant's namespace)."""
    if destination == identity:
        return True
    (dn, dname), (inn, iname) = split(destination), split(identity)
    return dn == inn and ANY in (dname, iname)


_Granted = dict[str, tuple[tuple[str, ...], tuple[HttpMatchView, ...], frozenset[str] | None]]
"""Per source: the rules naming it, the requests they allow, and the other clusters whose objects hold
them (meshes that enforce where the answers come from; None: wherever it answers)."""


def _by_source(grants: Iterable[GrantView]) -> _Granted:
    """Each source the grants name, with the rules naming it, the requests they allow, where they hold."""
    rules: dict[str, list[str]] = {}
    asked: dict[str, list[HttpMatchView]] = {}
    at: dict[str, set[str] | None] = {}
    for g in grants:
        for source in g.sources:
            if g.rule not in rules.setdefault(source, []):
                rules[source].append(g.rule)
            have = asked.setdefault(source, [])
            have.extend(m for m in g.matches if m not in have)
            where = at.setdefault(source, set())
            if where is not None:
                if g.enforced_at is None:
                    at[source] = None
                else:
                    where.update(g.enforced_at)
    return {s: (tuple(sorted(rules[s])), tuple(asked[s]), None if at[s] is None else frozenset(at[s] or ()))
            for s in sorted(rules)}


_ByService = tuple[dict[str, ImportView], dict[str, PolicyView], set[str]]
"""A consumer's imports and policies by service, and the services its grants are written for."""


class _Fleet:
    """A plan's views, indexed once for every consumer."""

    def __init__(self, plan: Plan) -> None:
        self.plans = {c.name: c for c in plan.clusters}
        self.exports: dict[tuple[str, str], ExportView] = {(c.name, e.service): e for c in plan.clusters
                                                           for e in c.exports}
        self.locals = {(c.name, v.service): v.service_account for c in plan.clusters for v in c.local}
        self._grants: dict[str, _Grants] = {}
        self._granted: dict[tuple[str, str], _Granted] = {}
        self._modes: dict[str, Mode] = {}
        self._views: dict[str, _ByService] = {}

    def grants(self, cluster: str) -> _Grants:
        found = self._grants.get(cluster)
        if found is None:
            found = self._grants[cluster] = _Grants(self.plans[cluster].grants)
        return found

    def granted(self, cluster: str, identity: str) -> _Granted:
        """The sources `cluster`'s grants let reach `identity`, with their rules and requests."""
        found = self._granted.get((cluster, identity))
        if found is None:
            found = self._granted[(cluster, identity)] = _by_source(self.grants(cluster).reaching(identity))
        return found

    def mode(self, cluster: str) -> Mode:
        found = self._modes.get(cluster)
        if found is None:
            c = self.plans[cluster]
            m = mesh(c.mesh)
            permissive = c.settings.permissive if c.settings is not None else None
            if m.enforcement == "none":
                found = "no-access-control"
            elif permissive:
                found = "permissive"
            elif permissive is None and m.capabilities.permissive_by_default:
                found = "permissive-as-installed"
            else:
                found = "enforced"
            self._modes[cluster] = found
        return found

    def services(self, consumer: str) -> list[str]:
        c = self.plans[consumer]
        return sorted({*(i.service for i in c.imports), *(v.service for v in c.local), *(g.service for g in c.grants)})

    def _by_service(self, consumer: str) -> _ByService:
        found = self._views.get(consumer)
        if found is None:
            c = self.plans[consumer]
            found = self._views[consumer] = ({i.service: i for i in c.imports}, {p.service: p for p in c.policies},
                                             {g.service for g in c.grants})
        return found

    def entry(self, consumer: str, service: str) -> ServiceRoutes | None:
        """What `consumer` calls `service` for, or None when it neither imports, runs nor grants it."""
        c = self.plans[consumer]
        imports, policies, granted = self._by_service(consumer)
        local = (consumer, service) in self.locals
        imported = imports.get(service)
        if not local and imported is None and service not in granted:
            return None
        policy = policies.get(service)
        return ServiceRoutes(consumer, service, local, policy.lb_type if policy is not None else None,
                             mesh(c.mesh).routes(service, consumer, local, imported, policy),
                             self.access(c, service, local, imported))

    @staticmethod
    def _at_destination(title: str, side: Side, identity: str, clusters: tuple[str, ...],
                        granted: _Granted) -> list[Allowed]:
        """Meshes that enforce where the answers come from (Istio AuthorizationPolicies, Cilium network
        policies): the consumer's rules, written into the answering clusters, admit their sources for their
        requests there; pods no rule's policy selects admit any workload (both meshes allow until a policy
        selects the pods)."""
        out: list[Allowed] = []
        covered: set[str] = set()
        for source, (rules, asked, at) in granted.items():
            held = clusters if side == "local" or at is None else tuple(x for x in clusters if x in at)
            if held:
                where: Where = "local-pods" if side == "local" else "destination"
                why = "by the local pods' proxies" if side == "local" else "by the answering clusters' proxies"
                out.append(Allowed(source, side, held, identity, rules, asked, asked, where, why))
                covered.update(held)
        open_ = tuple(x for x in clusters if x not in covered)
        if open_:
            out.append(Allowed(ANY, side, open_, identity, (), (), None, "not-enforced",
                               f"no access rule selects these pods: {title} lets any workload call"))
        return out

    def _remote(self, consumer: str, service: str, imported: ImportView | None) -> list[tuple[str, tuple[str, ...]]]:
        """The identities remote answers come from, each with its clusters: the import's one account
        where the mesh records it, else each exporter's."""
        if imported is None:
            return []
        clusters = list(dict.fromkeys(e.cluster for e in imported.endpoints if e.cluster != consumer))
        if not clusters:
            return []
        namespace = split(service)[0]
        if imported.service_account is not None:
            return [(qualified(namespace, imported.service_account), tuple(clusters))]
        by: dict[str, list[str]] = {}
        for e in clusters:
            export = self.exports.get((e, service))
            account = export.service_account_name if export is not None else ANY
            by.setdefault(qualified(namespace, account), []).append(e)
        return [(identity, tuple(cs)) for identity, cs in sorted(by.items())]

    def access(self, c: ClusterPlan, service: str, local: bool, imported: ImportView | None) -> tuple[Allowed, ...]:
        sides: list[tuple[Side, str, tuple[str, ...]]] = []
        if local:
            sides.append(("local", self.locals[(c.name, service)], (c.name,)))
        sides.extend(("remote", identity, clusters) for identity, clusters in self._remote(c.name, service, imported))
        mode = self.mode(c.name)
        m = mesh(c.mesh)
        out: list[Allowed] = []
        for side, identity, clusters in sides:
            granted = self.granted(c.name, identity)
            if mode != "enforced":
                out.append(Allowed(ANY, side, clusters, identity, (), (), None, "not-enforced",
                                   f"{MODE_SHORT[mode]}: any workload may call"))
                out.extend(Allowed(source, side, clusters, identity, rules, asked, None, "not-enforced",
                                   f"{MODE_SHORT[mode]}: the rule is not enforced")
                           for source, (rules, asked, _) in granted.items())
            elif m.enforcement == "local-pods-only":
                # FSM (SMI): non-permissive, only granted sources reach the service; their rules' requests
                # hold on the local pods, not on the answers from other clusters.
                if side == "local":
                    out.extend(Allowed(source, side, clusters, identity, rules, asked, asked, "local-pods",
                                       "by the sidecars of the local pods")
                               for source, (rules, asked, _) in granted.items())
                else:
                    out.extend(Allowed(source, side, clusters, identity, rules, asked, None, "not-enforced",
                                       f"{m.title} does not restrict answers from other clusters: its route to an "
                                       "imported service takes any request, and the exporter's gateway lets it in")
                               for source, (rules, asked, _) in granted.items())
            else:
                out.extend(self._at_destination(m.title, side, identity, clusters, granted))
        order = {"local": 0, "remote": 1}
        return tuple(sorted(out, key=lambda a: (order[a.side], a.source != ANY, a.source, a.clusters)))


# --- words and JSON, shared by `meshfleet routes`, the plan's JSON and the diff ------------------


def percent(value: float) -> str:
    """A share in percent: `50%`, `33.3%`."""
    return f"{value:.0f}%" if value == int(value) else f"{value:.1f}%"


def match_words(m: HttpMatchView) -> str:
    """One HTTP match in words: `GET, HEAD /get`, `any method /.*`, with its headers."""
    methods = "any method" if ANY in m.methods else ", ".join(m.methods)
    text = f"{methods} {m.path_regex}"
    for headers in m.headers:
        text += " with " + ", ".join(f"{k}: {v}" for k, v in headers)
    return text


def requests_words(matches: tuple[HttpMatchView, ...] | None) -> str:
    """The requests a caller may send: its matches in words, or `any request`."""
    if matches is None:
        return "any request"
    return "; ".join(match_words(m) for m in matches) or "no request"


def side_words(a: Allowed) -> str:
    """Who answers on an access line's side: `local pods in cluster-2`, `cluster-1, cluster-3`."""
    clusters = ", ".join(a.clusters)
    return f"local pods in {clusters}" if a.side == "local" else f"remote: {clusters}"


def _serving_json(shares: tuple[Serving, ...]) -> list[dict[str, object]]:
    return [{"cluster": s.cluster, "weight": s.weight, "percent": s.percent, "local": s.local} for s in shares]


def _match_json(m: HttpMatchView) -> dict[str, object]:
    out: dict[str, object] = {"name": m.name, "pathRegex": m.path_regex, "methods": list(m.methods)}
    if m.headers:
        out["headers"] = [dict(h) for h in m.headers]
    return out


def route_json(r: Route, consumer: str) -> dict[str, object]:
    return {"calledAs": r.called_as, "steady": _serving_json(servings(r.steady, consumer)),
            "localDown": _serving_json(servings(r.local_down, consumer)), "equalSplit": equal_split(r.steady),
            "rule": r.rule}


def allowed_json(a: Allowed) -> dict[str, object]:
    """One access line; `requests` null is any request, `asked` what the rules say."""
    return {"source": a.source, "side": a.side, "clusters": list(a.clusters), "identity": a.identity,
            "rules": list(a.rules), "asked": [_match_json(m) for m in a.asked],
            "requests": None if a.requests is None else [_match_json(m) for m in a.requests],
            "enforced": a.where != "not-enforced", "where": a.where, "why": a.why}


def service_json(s: ServiceRoutes) -> dict[str, object]:
    return {"service": s.service, "local": s.local, "policy": s.policy,
            "routes": [route_json(r, s.consumer) for r in s.routes], "access": [allowed_json(a) for a in s.access]}


def as_json(e: Effective) -> list[dict[str, object]]:
    """Each member as a consumer: a stable structure whose keys never depend on the data."""
    return [{"name": c.name, "mesh": c.mesh, "mode": c.mode, "modeDescription": MODE_WORDS[c.mode],
             "services": [service_json(s) for s in c.services]} for c in e.clusters]
