"""Access rules as Istio AuthorizationPolicies, enforced in the clusters whose pods answer.

Why: Istio admits callers by principal (`<trust domain>/ns/<namespace>/sa/<account>`) and matches
paths and headers exactly, by prefix or by suffix only; this adapter checks what a rule may say,
writes one AuthorizationPolicy per rule and destination, and warns where principals, which carry no
cluster, admit callers from clusters outside the rule's `in`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meshfleet.core.checks import Checks
from meshfleet.core.meshes import patterns
from meshfleet.core.meshes.base import (
    AccessAdapter,
    PlanContext,
    match_views,
)
from meshfleet.core.meshes.istio.codes import ISTIO_ACCESS_MATCH, ISTIO_ACCESS_SELECTOR, ISTIO_GRANT_ANY_CLUSTER
from meshfleet.core.meshes.istio.names import NAME, SECURITY_API, members, serving
from meshfleet.core.objects import ObjectId, PlannedObject, qualified, split
from meshfleet.core.resolved import ServiceTopology
from meshfleet.core.views import (
    GrantView,
)
from meshfleet.errors import Loc
from meshfleet.fleet.model import AccessRule


class AuthorizationPolicies(AccessAdapter):
    """Access rules as Istio AuthorizationPolicies in the clusters whose pods answer: enforced at the destination."""

    name = "istio-authorization-policy"
    objects_word = "Istio AuthorizationPolicies"
    enforcement = "destination"
    codes = (ISTIO_ACCESS_SELECTOR, ISTIO_ACCESS_MATCH, ISTIO_GRANT_ANY_CLUSTER)

    def check_grant(self, checks: Checks, rule_name: str, rule: AccessRule, svc: ServiceTopology, cluster: str) -> None:
        loc: Loc = ("access", rule_name)
        for i, m in enumerate(rule.http):
            if patterns.glob(m.pathRegex) is None:
                checks.problem(
                    (*loc, "http", i, "pathRegex"),
                    f"Istio matches a path exactly, by prefix (/api*) or "
                    f"by suffix (*.png); {m.pathRegex!r} is none of them",
                    "write the path, a path followed by '.*', or '.*' followed by a path",
                    ISTIO_ACCESS_MATCH,
                )
            for j, header in enumerate(m.headers or ()):
                for key, value in header.items():
                    if patterns.glob(value) is None:
                        checks.problem(
                            (*loc, "http", i, "headers", j, key),
                            f"Istio matches a header's value "
                            f"exactly, by prefix or by suffix; {value!r} is none of them",
                            "write the value, a value followed by '.*', or '.*' followed by a value",
                            ISTIO_ACCESS_MATCH,
                        )
        dests = [d for d in serving(svc, cluster) if checks.mesh(d) == NAME]
        if dests and not svc.spec.podLabels:
            checks.problem(
                (*loc, "to"),
                f"an AuthorizationPolicy selects the pods it protects by label, and {svc.ref} names none",
                f"set services.{svc.ref}.podLabels (its Service's selector)",
                ISTIO_ACCESS_SELECTOR,
            )
        if rule.in_ is None:
            return
        chosen = set(checks.select(rule.in_, (*loc, "in"), "hold access rules"))
        for d in dests:
            callers = [x for x in members(checks.fleet, checks.members) if d in serving(svc, x) and x not in chosen]
            if callers:
                checks.problem(
                    (*loc, "in"),
                    f"Istio principals carry no cluster: the AuthorizationPolicy in {d} "
                    f"admits {', '.join(rule.from_)} calling from {', '.join(callers)} too, where the rule "
                    "does not hold",
                    f"add {', '.join(callers)} to in, or acknowledge istio-grant-any-cluster",
                    ISTIO_GRANT_ANY_CLUSTER,
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
        matches = match_views(rule)
        domain = ctx.cluster(cluster).istio.trustDomain
        at: dict[str, list[str]] = {}
        ids: dict[str, ObjectId] = {}
        for d in serving(svc, cluster):
            if ctx.topology.meshes[d] != NAME:
                continue
            account = _answers_as(svc, d)
            ids[account] = self._admit(ctx, rule_name, rule, svc, d, domain)
            at.setdefault(account, []).append(d)
        return tuple(
            GrantView(
                rule_name,
                qualified(svc.namespace, account),
                svc.ref,
                tuple(rule.from_),
                matches,
                self.enforcement,
                tuple(d for d in at.get(account, []) if d != cluster) or None,
                objects=(ids[account],) if account in ids else (),
            )
            for account in identities
        )

    def _admit(
        self, ctx: PlanContext, rule_name: str, rule: AccessRule, svc: ServiceTopology, dest: str, domain: str
    ) -> ObjectId:
        """The rule's AuthorizationPolicy in `dest`, admitting its sources in trust domain `domain`."""
        memo = (NAME, "policy", rule_name, dest)
        found: tuple[dict[str, Any], ObjectId] | None = ctx.memo.get(memo)
        if found is None:
            body: dict[str, Any] = {
                "apiVersion": SECURITY_API,
                "kind": "AuthorizationPolicy",
                "metadata": {"name": rule_name, "namespace": svc.namespace},
                "spec": {
                    "selector": {"matchLabels": dict(sorted(svc.spec.podLabels.items()))},
                    "action": "ALLOW",
                    "rules": [_rule(m) for m in rule.http],
                },
            }
            found = (body, ctx.objects.add(dest, PlannedObject("applied", body), ("access", rule_name)))
            ctx.memo[memo] = found
        body, oid = found
        wanted = [f"{domain}/ns/{ns}/sa/{sa}" for ns, sa in (split(s) for s in rule.from_)]
        for entry in body["spec"]["rules"]:
            principals: list[str] = entry["from"][0]["source"]["principals"]
            principals.extend(p for p in wanted if p not in principals)
            principals.sort()
        return oid


def _answers_as(svc: ServiceTopology, cluster: str) -> str:
    local = svc.spec.localServiceAccounts.get(cluster)
    return local if local is not None else svc.exports[cluster].service_account


def _rule(match: Any) -> dict[str, Any]:
    """One HTTP match as an AuthorizationPolicy rule (its principals filled per destination)."""
    entry: dict[str, Any] = {"from": [{"source": {"principals": []}}]}
    operation: dict[str, Any] = {}
    if "*" not in match.methods:
        operation["methods"] = list(match.methods)
    path = patterns.glob(match.pathRegex)
    assert path is not None, "refused by check_grant"
    if path.kind != "any":
        operation["paths"] = [path.istio()]
    if operation:
        entry["to"] = [{"operation": operation}]
    when = []
    for header in match.headers or ():
        for key, value in sorted(header.items()):
            value_glob = patterns.glob(value)
            assert value_glob is not None, "refused by check_grant"
            when.append({"key": f"request.headers[{key}]", "values": [value_glob.istio()]})
    if when:
        entry["when"] = when
    return entry
