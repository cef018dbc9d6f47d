"""SMI access control (`HTTPRouteGroup` + `TrafficTarget`), the access adapter FSM clusters use.

Why: the fleet writes access in service terms ("curl may GET / on httpbin"); SMI grants by identity.
Per rule and cluster this writes one HTTPRouteGroup of the rule's matches and one TrafficTarget per
service account under which the service answers there (its local pods, and each exporter's identity
for the remote endpoints). A TrafficTarget lives in its destination's namespace.

FSM enforces the HTTP matches on local pods only: answers from other clusters come through the
exporter's ingress, which accepts any route (fsm-runtime-semantics.md §7); a rule whose matches
narrow calls that remote endpoints also answer is a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meshfleet.core.checks import Checks
from meshfleet.core.meshes.base import AccessAdapter, PlanContext, match_views
from meshfleet.core.objects import PlannedObject, qualified, split
from meshfleet.core.resolved import ServiceTopology
from meshfleet.core.views import GrantView
from meshfleet.errors import Code, Loc
from meshfleet.fleet.model import AccessRule, HttpMatch

ACCESS_API = "access.smi-spec.io/v1alpha3"
SPECS_API = "specs.smi-spec.io/v1alpha4"
ROUTING_POLICIES = frozenset({"FailOver", "ActiveActive"})
"""lbTypes under which a consumer sends calls to other clusters (Locality ignores imports)."""
ANY_PATH = frozenset({".*", "^.*", "/.*", "^/.*", ".*$", "^.*$", "^/.*$"})

ACCESS_MATCHES_LOCAL_ONLY = Code(
    "access-matches-local-only",
    "warning",
    "an access rule's HTTP matches narrow calls that remote endpoints answer too, and "
    "FSM enforces them on local pods only",
)


def narrows(match: HttpMatch) -> bool:
    """The match allows less than every call (a method, a path, a header)."""
    return "*" not in match.methods or match.pathRegex not in ANY_PATH or bool(match.headers)


def target_name(rule: str, account: str) -> str:
    """The TrafficTarget written for an access rule and one service account of its service."""
    return f"{rule}-{'any' if account == '*' else account}"


class Smi(AccessAdapter):
    name = "smi"
    objects_word = "SMI TrafficTargets"
    enforcement = "local-pods-only"
    codes = (ACCESS_MATCHES_LOCAL_ONLY,)

    def check_grant(self, checks: Checks, rule_name: str, rule: AccessRule, svc: ServiceTopology, cluster: str) -> None:
        # The consumer's outbound route to an imported service is a wildcard
        # (pkg/catalog/outbound_traffic_policies.go:183-189) and the exporter accepts whatever arrives
        # through its ingress with a wildcard principal and route (pkg/catalog/multi_cluster.go:53-78).
        policy = svc.policies.get(cluster)
        remote = svc.endpoints_for(cluster) if cluster in svc.importers else []
        if not remote or policy is None or policy.lb_type not in ROUTING_POLICIES:
            return
        narrow = [m for m in rule.http if narrows(m)]
        if len(narrow) < len(rule.http) or not narrow:
            return  # one match allows every call: the rule narrows nothing
        exporters = ", ".join(sorted(svc.exports))
        checks.problem(
            ("access", rule_name, "http"),
            f"FSM enforces the HTTP matches of {rule_name} only where {svc.ref}'s own pods answer: calls "
            f"that reach it in another cluster (exported from {exporters}) pass whatever their method, "
            "path and headers (the route to an import is a wildcard, and the exporter's ingress accepts "
            "any route)",
            "restrict those calls in the service itself, or acknowledge access-matches-local-only where "
            "the matches are meant for the local pods",
            ACCESS_MATCHES_LOCAL_ONLY,
        )

    def plan_grants(
        self,
        ctx: PlanContext,
        rule_name: str,
        rule: AccessRule,
        svc: ServiceTopology,
        cluster: str,
        identities: Sequence[str],
    ) -> tuple[GrantView, ...]:
        loc: Loc = ("access", rule_name)
        ns = svc.namespace
        views = match_views(rule)
        matches = []
        for v in views:
            match: dict[str, Any] = {"name": v.name, "pathRegex": v.path_regex, "methods": list(v.methods)}
            if v.headers:
                match["headers"] = [dict(h) for h in v.headers]
            matches.append(match)
        sources = [split(s) for s in rule.from_]
        routes = {
            "apiVersion": SPECS_API,
            "kind": "HTTPRouteGroup",
            "metadata": {"name": rule_name, "namespace": ns},
            "spec": {"matches": matches},
        }
        route_id = ctx.objects.add(cluster, PlannedObject("applied", routes), loc)
        grants = []
        for sa in identities:
            target = {
                "apiVersion": ACCESS_API,
                "kind": "TrafficTarget",
                "metadata": {"name": target_name(rule_name, sa), "namespace": ns},
                "spec": {
                    "destination": {"kind": "ServiceAccount", "name": sa, "namespace": ns},
                    "rules": [{"kind": "HTTPRouteGroup", "name": rule_name, "matches": [m.name for m in rule.http]}],
                    "sources": [
                        {"kind": "ServiceAccount", "name": name, "namespace": namespace} for namespace, name in sources
                    ],
                },
            }
            target_id = ctx.objects.add(cluster, PlannedObject("applied", target), loc)
            grants.append(
                GrantView(
                    rule_name,
                    qualified(ns, sa),
                    svc.ref,
                    tuple(rule.from_),
                    tuple(views),
                    self.enforcement,
                    objects=(route_id, target_id),
                )
            )
        return tuple(grants)
