"""Building the effective view from a plan's views: who answers a consumer's calls, and who may make them.

Why: the answers come from each mesh's runtime rules (`Mesh.routes`) and the access lines from the
grants written where the mesh enforces them (the consumer's pods, the answering clusters, or nowhere
in permissive mode); indexing the plan once per fleet keeps a large fleet's view fast to build.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshfleet.core.effective.records import (
    ANY,
    MODE_SHORT,
    Allowed,
    Mode,
    ServiceRoutes,
    Side,
    Where,
)
from meshfleet.core.meshes import mesh
from meshfleet.core.objects import qualified, split
from meshfleet.core.plan import ClusterPlan, Plan
from meshfleet.core.views import ExportView, GrantView, HttpMatchView, ImportView, PolicyView


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
    return {
        s: (tuple(sorted(rules[s])), tuple(asked[s]), None if at[s] is None else frozenset(at[s] or ()))
        for s in sorted(rules)
    }


_ByService = tuple[dict[str, ImportView], dict[str, PolicyView], set[str]]
"""A consumer's imports and policies by service, and the services its grants are written for."""


class FleetIndex:
    """A plan's views, indexed once for every consumer."""

    def __init__(self, plan: Plan) -> None:
        self.plans = {c.name: c for c in plan.clusters}
        self.exports: dict[tuple[str, str], ExportView] = {
            (c.name, e.service): e for c in plan.clusters for e in c.exports
        }
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

    def by_service(self, consumer: str) -> _ByService:
        """`consumer`'s imports and policies by service, and the services its grants are for (built once)."""
        found = self._views.get(consumer)
        if found is None:
            c = self.plans[consumer]
            found = self._views[consumer] = (
                {i.service: i for i in c.imports},
                {p.service: p for p in c.policies},
                {g.service for g in c.grants},
            )
        return found

    def entry(self, consumer: str, service: str) -> ServiceRoutes | None:
        """What `consumer` calls `service` for, or None when it neither imports, runs nor grants it."""
        c = self.plans[consumer]
        imports, policies, granted = self.by_service(consumer)
        local = (consumer, service) in self.locals
        imported = imports.get(service)
        if not local and imported is None and service not in granted:
            return None
        policy = policies.get(service)
        return ServiceRoutes(
            consumer,
            service,
            local,
            policy.lb_type if policy is not None else None,
            mesh(c.mesh).routes(service, consumer, local, imported, policy),
            self.access(c, service, local, imported),
        )

    @staticmethod
    def _at_destination(
        title: str, side: Side, identity: str, clusters: tuple[str, ...], granted: _Granted
    ) -> list[Allowed]:
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
            out.append(
                Allowed(
                    ANY,
                    side,
                    open_,
                    identity,
                    (),
                    (),
                    None,
                    "not-enforced",
                    f"no access rule selects these pods: {title} lets any workload call",
                )
            )
        return out

    def remote_identities(
        self, consumer: str, service: str, imported: ImportView | None
    ) -> list[tuple[str, tuple[str, ...]]]:
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
        sides.extend(
            ("remote", identity, clusters) for identity, clusters in self.remote_identities(c.name, service, imported)
        )
        mode = self.mode(c.name)
        m = mesh(c.mesh)
        out: list[Allowed] = []
        for side, identity, clusters in sides:
            granted = self.granted(c.name, identity)
            where: Where
            if mode == "enforced" and m.enforcement != "local-pods-only":
                out.extend(self._at_destination(m.title, side, identity, clusters, granted))
                continue
            if mode != "enforced":
                anyone = f"{MODE_SHORT[mode]}: any workload may call"
                out.append(Allowed(ANY, side, clusters, identity, (), (), None, "not-enforced", anyone))
                held, where, why = False, "not-enforced", f"{MODE_SHORT[mode]}: the rule is not enforced"
            elif side == "local":
                # FSM (SMI): non-permissive, only granted sources reach the service; their rules' requests
                # hold on the local pods, not on the answers from other clusters.
                held, where, why = True, "local-pods", "by the sidecars of the local pods"
            else:
                held, where = False, "not-enforced"
                why = (
                    f"{m.title} does not restrict answers from other clusters: its route to an "
                    "imported service takes any request, and the exporter's gateway lets it in"
                )
            out.extend(
                Allowed(source, side, clusters, identity, rules, asked, asked if held else None, where, why)
                for source, (rules, asked, _) in granted.items()
            )
        order = {"local": 0, "remote": 1}
        return tuple(sorted(out, key=lambda a: (order[a.side], a.source != ANY, a.source, a.clusters)))


# --- words and JSON, shared by `meshfleet routes`, the plan's JSON and the diff ------------------
