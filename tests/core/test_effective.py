"""The effective routing and access view: who answers each consumer's calls, in what shares, and who may
call, with which requests, enforced where; from the plan's views and each mesh's runtime rules."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from meshfleet.core.effective import ANY, Allowed, Effective, ServiceRoutes, effective, servings
from meshfleet.core.effective import builder as effective_builder
from meshfleet.core.meshes import mesh
from meshfleet.core.meshes.base import AccessAdapter, Mesh, PlanContext
from meshfleet.core.meshes.fsm import Fsm
from meshfleet.core.meshes.smi import Smi
from meshfleet.core.plan import plan
from meshfleet.core.resolved import ServiceTopology
from meshfleet.core.views import GrantView, HttpMatchView
from meshfleet.fleet.load import load_plan
from meshfleet.fleet.model import AccessRule, Fleet
from tests.conftest import ROOT


def view_of(doc: dict[str, Any]) -> Effective:
    return effective(plan(Fleet.model_validate(doc)))


def entry(view: Effective, consumer: str, service: str) -> ServiceRoutes:
    found = view.get(consumer, service)
    assert found is not None, (consumer, service)
    return found


def shares(s: ServiceRoutes, state: str = "steady") -> list[tuple[str, float]]:
    (route,) = s.routes
    return [(x.cluster, x.percent) for x in servings(getattr(route, state), s.consumer)]


def lines(s: ServiceRoutes, source: str) -> dict[str, Allowed]:
    found = [a for a in s.access if a.source == source]
    assert len({a.side for a in found}) == len(found)
    return {a.side: a for a in found}


GET_ROOT = HttpMatchView("all", "/", ("GET",))


def test_demo_cluster_2_httpbin_active_active_and_curls_access_where_enforced() -> None:
    view = effective(load_plan(ROOT / "fleet/demo.yaml"))
    s = entry(view, "cluster-2", "httpbin/httpbin")
    assert s.local and s.policy == "ActiveActive"
    # Steady: the local copy and both targets by weight (none written: 100 each); local copy down: the targets.
    assert shares(s) == [("cluster-2", 33.3), ("cluster-1", 33.3), ("cluster-3", 33.3)]
    assert shares(s, "local_down") == [("cluster-1", 50.0), ("cluster-3", 50.0)]
    cluster_2 = view.cluster("cluster-2")
    assert cluster_2 is not None and cluster_2.mode == "enforced"
    curl = lines(s, "curl/curl")
    # On cluster-2's own pods (answering as httpbin/default) GET / is enforced by their sidecars ...
    assert curl["local"] == Allowed(
        "curl/curl",
        "local",
        ("cluster-2",),
        "httpbin/default",
        ("curl-to-httpbin",),
        (GET_ROOT,),
        (GET_ROOT,),
        "local-pods",
        "by the sidecars of the local pods",
    )
    # ... the answers from cluster-1 and cluster-3 are reachable, and not held to GET /.
    remote = curl["remote"]
    assert (remote.clusters, remote.identity, remote.asked, remote.requests, remote.where) == (
        ("cluster-1", "cluster-3"),
        "httpbin/httpbin",
        (GET_ROOT,),
        None,
        "not-enforced",
    )
    assert remote.why.startswith("FSM does not restrict answers from other clusters")
    # Nobody else may call it there (non-permissive, no other rule).
    assert {a.source for a in s.access} == {"curl/curl"}


def test_an_fsm_grant_opens_every_service_answering_as_the_same_account() -> None:
    """SMI grants by identity: the rule written for httpbin also lets curl reach httpbin-cluster-3, whose
    exports answer as the same service account."""
    view = effective(load_plan(ROOT / "fleet/demo.yaml"))
    s = entry(view, "cluster-2", "httpbin/httpbin-cluster-3")
    assert not s.local and shares(s) == []  # no traffic policy: Locality, and Locality routes no import
    assert lines(s, "curl/curl")["remote"].rules == ("curl-to-httpbin",)


FLEET: dict[str, Any] = {
    "clusters": {
        "eu": {"gateway": {"host": "10.0.0.1"}},
        "us": {"gateway": {"host": "10.0.0.2"}},
        "ap": {"gateway": {"host": "10.0.0.3"}, "fsm": {"permissive": False}},
    },
    "services": {
        "shop/api": {
            "ports": [{"port": 80}],
            "serviceAccount": "api",
            "export": {"clusters": ["eu", "us"]},
            "trafficPolicy": {"lbType": "FailOver"},
        }
    },
    "acknowledge": ["failover-unordered"],
}


def with_service(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"].update(changes)
    return doc


def test_failover_is_round_robin_over_the_targets_and_a_standby_behind_the_local_copy() -> None:
    s = entry(view_of(FLEET), "ap", "shop/api")
    assert shares(s) == shares(s, "local_down") == [("eu", 50.0), ("us", 50.0)]
    assert "no order" in s.routes[0].rule
    local = entry(view_of(with_service(localServiceAccounts={"ap": "api-local"})), "ap", "shop/api")
    assert shares(local) == [("ap", 100.0)] and shares(local, "local_down") == [("eu", 50.0), ("us", 50.0)]


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ((80, 20), [("eu", 80.0), ("us", 20.0)]),
        ((None, None), [("eu", 50.0), ("us", 50.0)]),  # no weights: 100 each, an equal split
    ],
)
def test_active_active_shares_by_weight(
    weights: tuple[int | None, int | None], expected: list[tuple[str, float]]
) -> None:
    """FSM reads a missing weight (and 0) as 100; beside weighted targets both are refused by its checks,
    so the view sees either weights on every target or none."""
    targets = [
        {"cluster": c, **({"weight": w} if w is not None else {})} for c, w in zip(("eu", "us"), weights, strict=True)
    ]
    doc = with_service(trafficPolicy={"lbType": "ActiveActive", "targets": targets})
    s = entry(view_of(doc), "ap", "shop/api")
    assert shares(s) == expected
    assert [x.weight for x in s.routes[0].steady] == [w or 100 for w in weights]


def test_locality_and_no_policy_route_the_local_copy_only() -> None:
    for policy in ({"trafficPolicy": {"lbType": "Locality"}}, {"trafficPolicy": None}):
        doc = with_service(localServiceAccounts={"ap": "api"}, **policy)
        if policy["trafficPolicy"] is None:
            del doc["services"]["shop/api"]["trafficPolicy"]
        s = entry(view_of(doc), "ap", "shop/api")
        assert shares(s) == [("ap", 100.0)] and shares(s, "local_down") == []
        assert "imports route nothing" in s.routes[0].rule


def test_linkerd_reaches_the_mirror_only_by_its_mirror_name() -> None:
    view = effective(load_plan(ROOT / "fleet/linkerd-london-paris.yaml"))
    s = entry(view, "london", "default/bar")
    # london runs no bar of its own: its own name reaches nothing, only the mirror reaches paris.
    (mirror,) = s.routes
    assert (mirror.called_as, [x.cluster for x in mirror.steady]) == ("bar-paris.default", ["paris"])
    # Linkerd clusters get no access rules from meshfleet: any workload may call, nothing is enforced.
    london = view.cluster("london")
    assert london is not None and london.mode == "no-access-control"
    assert {(a.source, a.where) for a in s.access} == {(ANY, "not-enforced")}


def test_mcs_spreads_over_every_exporter_implementation_defined() -> None:
    view = effective(load_plan(ROOT / "fleet/mcs.yaml"))
    s = entry(view, "west-1", "shop/web")
    assert shares(s) == [("west-1", 50.0), ("west-2", 50.0)]
    assert "implementation-defined" in s.routes[0].rule and "shown even" in s.routes[0].rule


ACCESS: dict[str, Any] = {
    "reader": {
        "from": ["web/web"],
        "to": "shop/api",
        "in": ["ap"],
        "http": [{"name": "get", "pathRegex": "/v1/.*", "methods": ["GET"]}],
    }
}


@pytest.mark.parametrize(("permissive", "mode"), [(True, "permissive"), (None, "permissive-as-installed")])
def test_in_permissive_mode_any_workload_may_call_and_the_rule_is_not_enforced(
    permissive: bool | None, mode: str
) -> None:
    doc = with_service()
    doc["access"] = ACCESS
    if permissive is None:
        del doc["clusters"]["ap"]["fsm"]
    else:
        doc["clusters"]["ap"]["fsm"]["permissive"] = permissive
    view = view_of(doc)
    ap = view.cluster("ap")
    assert ap is not None and ap.mode == mode
    s = entry(view, "ap", "shop/api")
    anyone, web = lines(s, ANY)["remote"], lines(s, "web/web")["remote"]
    assert (anyone.requests, anyone.where) == (None, "not-enforced")
    assert (web.rules, web.requests, web.where) == (("reader",), None, "not-enforced")
    assert web.why.endswith("the rule is not enforced")


def test_an_import_that_takes_any_account_opens_to_every_grant_of_its_namespace() -> None:
    """FSM: an import with service account "*" matches any destination account of its namespace."""
    doc = with_service(serviceAccount="*")
    doc["services"]["shop/db"] = {
        "ports": [{"port": 5432}],
        "serviceAccount": "db",
        "localServiceAccounts": {"ap": "db"},
    }
    doc["access"] = {"to-db": {"from": ["web/web"], "to": "shop/db", "in": ["ap"]}}
    s = entry(view_of(doc), "ap", "shop/api")
    remote = lines(s, "web/web")["remote"]
    assert (remote.identity, remote.rules) == ("shop/*", ("to-db",))


class _AtDestination(AccessAdapter):
    """SMI's objects, enforced where the answering pods run (as a mesh like Istio would)."""

    name = "smi-at-destination"
    objects_word = Smi.objects_word
    enforcement = "destination"

    def plan_grants(
        self,
        ctx: PlanContext,
        rule_name: str,
        rule: AccessRule,
        svc: ServiceTopology,
        cluster: str,
        identities: Sequence[str],
    ) -> tuple[GrantView, ...]:
        return tuple(
            dataclasses.replace(g, enforcement="destination")
            for g in Smi().plan_grants(ctx, rule_name, rule, svc, cluster, identities)
        )


def test_where_the_mesh_enforces_at_the_destination_remote_answers_are_held_to_the_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mesh that enforces access where the answers come from (as Istio and Cilium do, writing the
    consumer's rule into the answering clusters): remote answers are held to the rule's requests."""
    fsm: Mesh = Fsm(access=_AtDestination())
    monkeypatch.setattr(effective_builder, "mesh", lambda name: fsm if name == "fsm" else mesh(name))
    doc = with_service(localServiceAccounts={"ap": "api"})
    doc["access"] = {
        "web-reads": {
            "from": ["web/web"],
            "to": "shop/api",
            "in": ["ap"],
            "http": [{"name": "get", "pathRegex": "/", "methods": ["GET"]}],
        }
    }
    s = entry(view_of(doc), "ap", "shop/api")
    web = lines(s, "web/web")
    get = (HttpMatchView("get", "/", ("GET",)),)
    assert (web["local"].requests, web["local"].where) == (get, "local-pods")
    remote = web["remote"]
    assert (remote.clusters, remote.requests, remote.where) == (("eu", "us"), get, "destination")
    assert remote.why == "by the answering clusters' proxies"


def test_filters_keep_one_cluster_one_service_and_what_one_source_may_call() -> None:
    view = effective(load_plan(ROOT / "fleet/demo.yaml"))
    only = view.filtered(cluster="cluster-2", service="httpbin/httpbin")
    assert [(c.name, [s.service for s in c.services]) for c in only.clusters] == [("cluster-2", ["httpbin/httpbin"])]
    curl = view.filtered(source="curl/curl")
    # curl/curl may call in cluster-2 (granted) and, as any workload, in the permissive clusters.
    assert {c.name for c in curl.clusters} == {"cluster-1", "cluster-2", "cluster-3"}
    assert all(a.source in ("curl/curl", ANY) for c in curl.clusters for s in c.services for a in s.access)
    granted = curl.cluster("cluster-2")
    assert granted is not None
    assert {a.source for s in granted.services for a in s.access} == {"curl/curl"}
    assert view.filtered(source="nobody/nobody").cluster("cluster-2") is None


def test_istio_holds_remote_answers_to_the_rule_and_admits_anyone_where_no_rule_selects_the_pods() -> None:
    view = effective(load_plan(ROOT / "fleet/istio.yaml"))
    checkout = lines(entry(view, "eu-central-1", "shop/checkout"), "shop/frontend")
    assert (checkout["local"].where, checkout["remote"].where) == ("local-pods", "destination")
    assert checkout["remote"].requests == checkout["remote"].asked != ()
    assert checkout["remote"].clusters == ("eu-west-1", "us-east-1")
    search = entry(view, "eu-central-1", "shop/search")
    assert {(a.source, a.side, a.where) for a in search.access} == {
        (ANY, "local", "not-enforced"),
        (ANY, "remote", "not-enforced"),
    }
    assert all(a.why == "no access rule selects these pods: Istio lets any workload call" for a in search.access)
