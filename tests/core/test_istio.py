"""Istio multi-primary: remote secrets, networks, exports by visibility, locality DestinationRules,
AuthorizationPolicies at the destination, what Istio cannot express, and where calls go
(loadbalancer.go, endpoint_builder.go at istio 1.30.3)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from meshfleet.core.meshes import mesh
from meshfleet.core.meshes.istio import OUTLIER_DETECTION, percentages
from meshfleet.core.objects import with_field
from meshfleet.core.plan import Plan, PlannedObject, plan
from meshfleet.core.views import Route, Share
from meshfleet.errors import FindingsError
from meshfleet.fleet.load import load_plan
from meshfleet.fleet.model import Fleet
from tests.conftest import ROOT
from tests.support.schemas import validate_object


def objects(p: Plan, cluster: str) -> dict[tuple[str, str, str], PlannedObject]:
    return {(o.kind, o.namespace, o.name): o for o in p.cluster(cluster).objects}


def routes(p: Plan, cluster: str, service: str, *, local: bool) -> tuple[Route, ...]:
    c = p.cluster(cluster)
    imported = next((i for i in c.imports if i.service == service), None)
    policy = next((x for x in c.policies if x.service == service), None)
    return mesh(c.mesh).routes(service, cluster, local, imported, policy)


def plan_of(doc: dict[str, Any]) -> Plan:
    return plan(Fleet.model_validate(doc))


def refused(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(FindingsError, match=r".") as err:
        plan_of(doc)
    return [(f.code.name, ".".join(map(str, f.loc)), f.message) for f in err.value.findings if f.severity == "error"]


def istio(region: str, **settings: Any) -> dict[str, Any]:
    return {"mesh": "istio", "region": region, **({"istio": settings} if settings else {})}


FLEET: dict[str, Any] = {
    "clusters": {"a1": istio("eu"), "a2": istio("eu"), "b": istio("us"), "c": istio("ap")},
    "services": {
        "shop/api": {
            "ports": [{"port": 8080, "name": "http"}],
            "serviceAccount": "api",
            "podLabels": {"app": "api"},
            "export": {"clusters": ["a2", "b", "c"]},
        }
    },
}


def with_policy(policy: dict[str, Any], doc: dict[str, Any] = FLEET) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["services"]["shop/api"]["trafficPolicy"] = policy
    return out


def rule(p: Plan, cluster: str) -> dict[str, Any]:
    dr = objects(p, cluster)[("DestinationRule", "shop", "api")]
    assert validate_object(dr.body) == []
    assert dr.body["spec"]["host"] == "api.shop.svc.cluster.local"
    traffic: dict[str, Any] = dr.body["spec"]["trafficPolicy"]
    return traffic


def test_each_primary_holds_a_remote_secret_for_every_other_istio_cluster() -> None:
    doc = copy.deepcopy(FLEET)
    doc["clusters"]["b"]["istio"] = {"clusterName": "us-prod", "namespace": "istio-main"}
    p = plan_of(doc)
    secrets = {c: {o.name: o for o in p.cluster(c).objects if o.kind == "Secret"} for c in ("a1", "b")}
    assert sorted(secrets["a1"]) == ["istio-remote-secret-a2", "istio-remote-secret-c", "istio-remote-secret-us-prod"]
    assert sorted(secrets["b"]) == ["istio-remote-secret-a1", "istio-remote-secret-a2", "istio-remote-secret-c"]
    to_b = secrets["a1"]["istio-remote-secret-us-prod"]
    assert to_b.kubeconfig_of == "b" and to_b.kubeconfig_field == ("stringData", "us-prod")
    assert to_b.body == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "istio-remote-secret-us-prod",
            "namespace": "istio-system",
            "labels": {"istio/multiCluster": "true"},
            "annotations": {"networking.istio.io/cluster": "us-prod"},
        },
    }
    assert "stringData" not in to_b.body, "the plan never holds a kubeconfig"
    assert {o.namespace for o in secrets["b"].values()} == {"istio-main"}
    assert validate_object(with_field(to_b.body, to_b.kubeconfig_field, "apiVersion: v1\nkind: Config\n")) == []
    settings = p.cluster("a1").settings
    assert settings is not None
    assert set(settings.objects) >= {o.id for o in secrets["a1"].values()}


def test_only_what_a_cluster_imports_is_not_cluster_local() -> None:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"]["import"] = {"clusters": ["a1", "b"]}
    p = plan_of(doc)
    for cluster, imported in (("a1", True), ("b", True), ("a2", False), ("c", False)):
        config = objects(p, cluster)[("ConfigMap", "istio-system", "meshfleet-mesh-config")]
        settings = json.loads(config.body["data"]["mesh"])["serviceSettings"]
        assert settings[0] == {"settings": {"clusterLocal": True}, "hosts": ["*"]}
        assert settings[1:] == (
            [{"settings": {"clusterLocal": False}, "hosts": ["api.shop.svc.cluster.local"]}] if imported else []
        )
        assert validate_object(config.body) == []
    # a1 does not run the service: a selector-less Service lets DNS answer for its name.
    svc = objects(p, "a1")[("Service", "shop", "api")]
    assert "selector" not in svc.body["spec"] and validate_object(svc.body) == []
    assert ("Service", "shop", "api") not in objects(p, "b"), "b runs it: the user's Service is there"
    (route,) = routes(p, "c", "shop/api", local=True)
    assert route.steady == (Share("c", 1),) and route.local_down == () and "cluster-local" in route.rule


def test_networks_label_the_istio_namespace_and_exporters_pass_their_hosts_through() -> None:
    doc = copy.deepcopy(FLEET)
    for name, network in (("a1", "n-eu"), ("a2", "n-eu"), ("b", "n-us"), ("c", "n-ap")):
        doc["clusters"][name]["istio"] = {"network": network}
    p = plan_of(doc)
    ns = objects(p, "b")[("Namespace", "", "istio-system")]
    assert ns.patch and ns.body["metadata"]["labels"] == {"topology.istio.io/network": "n-us"}
    assert validate_object(ns.body, partial=True) == []
    gateway = objects(p, "b")[("Gateway", "istio-system", "meshfleet-cross-network")]
    assert gateway.body["spec"]["servers"] == [
        {
            "port": {"number": 15443, "name": "tls", "protocol": "TLS"},
            "tls": {"mode": "AUTO_PASSTHROUGH"},
            "hosts": ["api.shop.svc.cluster.local"],
        }
    ]
    assert gateway.body["spec"]["selector"] == {"istio": "eastwestgateway"}
    assert validate_object(gateway.body) == []
    assert ("Gateway", "istio-system", "meshfleet-cross-network") not in objects(p, "a1"), "a1 exports nothing"
    assert ("Gateway", "istio-system", "meshfleet-cross-network") not in objects(plan_of(FLEET), "b"), "one network"
    del doc["clusters"]["c"]["istio"]
    (finding,) = [f for f in refused(doc) if f[0] == "istio-network-missing"]
    assert finding[1] == "clusters.c" and "n-eu, n-ap, n-us" not in finding[2] and "n-ap" not in finding[2]


def test_locality_prefers_the_local_cluster_then_its_region_then_the_rest() -> None:
    doc = with_policy({"lbType": "Locality"})
    doc["services"]["shop/api"]["export"]["clusters"] = ["a1", "a2", "b", "c"]
    p = plan_of(doc)
    assert rule(p, "a1") == {
        "loadBalancer": {
            "localityLbSetting": {
                "enabled": True,
                "failoverPriority": ["topology.kubernetes.io/region", "topology.istio.io/cluster"],
            }
        },
        "outlierDetection": OUTLIER_DETECTION,
    }
    (policy,) = p.cluster("a1").policies
    assert policy.tiers == ((Share("a1", 1),), (Share("a2", 1),), (Share("b", 1), Share("c", 1)))
    (route,) = routes(p, "a1", "shop/api", local=True)
    assert route.steady == (Share("a1", 1),) and route.local_down == (Share("a2", 1),)
    assert route.rule.endswith("then a2; then b, c")


def test_failover_with_targets_fails_over_by_region_in_their_order() -> None:
    p = plan_of(with_policy({"lbType": "FailOver", "targets": ["a2", "b", "c"]}))
    assert rule(p, "a1")["loadBalancer"]["localityLbSetting"] == {
        "enabled": True,
        "failoverPriority": ["topology.istio.io/cluster"],
        "failover": [{"from": "eu", "to": "us"}],
    }
    (policy,) = p.cluster("a1").policies
    assert policy.tiers == ((Share("a2", 1),), (Share("b", 1),), (Share("c", 1),))
    (route,) = routes(p, "a1", "shop/api", local=False)
    assert route.steady == route.local_down == (Share("a2", 1),)
    # From us, the first target outside its region is in eu.
    assert rule(p, "b")["loadBalancer"]["localityLbSetting"]["failover"] == [{"from": "us", "to": "eu"}]
    (from_b,) = routes(p, "b", "shop/api", local=True)
    assert from_b.steady == (Share("b", 1),) and from_b.local_down == (Share("a2", 1),)


def test_failover_targets_istio_cannot_order_or_choose_are_refused() -> None:
    found = refused(with_policy({"lbType": "FailOver", "targets": ["b", "a2", "c"]}))
    order = [f for f in found if f[0] == "istio-failover-order"]
    assert order and order[0][1] == "services.shop/api.trafficPolicy.targets"
    assert "the targets list b before a2" in order[0][2]
    subset = refused(with_policy({"lbType": "FailOver", "targets": ["b"]}))
    assert any(f[0] == "istio-targets" and "cannot leave out" in f[2] for f in subset)
    elsewhere = copy.deepcopy(FLEET)
    elsewhere["clusters"]["f"] = {"gateway": {"host": "10.0.0.1"}}
    elsewhere["services"]["shop/api"]["export"]["clusters"] = ["a2", "b", "c", "f"]
    found = refused(with_policy({"lbType": "Locality", "targets": ["a2", "b", "c", "f"]}, elsewhere))
    assert ("istio-targets", "services.shop/api.trafficPolicy.targets.3.cluster") in {f[:2] for f in found}


def test_active_active_spreads_or_distributes_whole_percentages_by_region() -> None:
    p = plan_of(with_policy({"lbType": "ActiveActive"}))
    assert rule(p, "a1") == {"loadBalancer": {"localityLbSetting": {"enabled": False}}}
    (spread,) = routes(p, "a1", "shop/api", local=False)
    assert spread.steady == (Share("a2", 1), Share("b", 1), Share("c", 1)) and "alike" in spread.rule
    weighted = with_policy(
        {
            "lbType": "ActiveActive",
            "clusters": ["a1"],
            "targets": [{"cluster": "b", "weight": 2}, {"cluster": "c", "weight": 1}],
        }
    )
    weighted["services"]["shop/api"]["export"]["clusters"] = ["b", "c"]
    p = plan_of(weighted)
    assert rule(p, "a1")["loadBalancer"]["localityLbSetting"] == {
        "enabled": True,
        "distribute": [{"from": "*", "to": {"ap/*": 33, "us/*": 67}}],
    }
    (route,) = routes(p, "a1", "shop/api", local=False)
    assert route.steady == (Share("b", 67), Share("c", 33)) and "distribute" in route.rule


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"a": 1, "b": 1, "c": 1}, {"a": 34, "b": 33, "c": 33}),
        ({"a": 999, "b": 1}, {"a": 99, "b": 1}),
        ({"a": 80, "b": 20}, {"a": 80, "b": 20}),
    ],
)
def test_percentages_sum_to_100_and_none_is_below_1(weights: dict[str, int], expected: dict[str, int]) -> None:
    assert percentages(weights) == expected


def test_weights_istio_cannot_distribute_are_refused() -> None:
    shared_region = refused(
        with_policy(
            {
                "lbType": "ActiveActive",
                "clusters": ["c"],
                "targets": [{"cluster": "a2", "weight": 50}, {"cluster": "b", "weight": 50}],
            },
            {
                **FLEET,
                "services": {"shop/api": {**FLEET["services"]["shop/api"], "export": {"clusters": ["a1", "a2", "b"]}}},
            },
        )
    )
    assert any(f[0] == "istio-weights" and "a1 and a2 are both in region eu" in f[2] for f in shared_region)
    own_copy = refused(
        with_policy(
            {
                "lbType": "ActiveActive",
                "clusters": ["b"],
                "targets": [{"cluster": "a2", "weight": 50}, {"cluster": "c", "weight": 50}],
            }
        )
    )
    assert any(f[0] == "istio-weights" and "b runs shop/api itself" in f[2] for f in own_copy)
    listed = plan_of(
        with_policy(
            {
                "lbType": "ActiveActive",
                "clusters": ["b"],
                "targets": [
                    {"cluster": "b", "weight": 60},
                    {"cluster": "a2", "weight": 20},
                    {"cluster": "c", "weight": 20},
                ],
            }
        )
    )
    assert rule(listed, "b")["loadBalancer"]["localityLbSetting"]["distribute"] == [
        {"from": "*", "to": {"ap/*": 20, "eu/*": 20, "us/*": 60}}
    ]
    zero = refused(
        with_policy(
            {
                "lbType": "ActiveActive",
                "clusters": ["a1"],
                "targets": [{"cluster": "a2", "weight": 0}, {"cluster": "b", "weight": 5}, "c"],
            }
        )
    )
    assert any(f[0] == "istio-weights" and f[2].endswith("c has none, a2 has 0") for f in zero)
    nowhere = refused(with_policy({"lbType": "ActiveActive", "clusters": ["a1"], "targets": []}))
    assert any(f[0] == "istio-targets" and "no target serves shop/api to a1" in f[2] for f in nowhere)
    on_failover = refused(with_policy({"lbType": "FailOver", "targets": [{"cluster": "a2", "weight": 5}, "b", "c"]}))
    assert ("istio-weights", "services.shop/api.trafficPolicy.targets.0.weight") in {f[:2] for f in on_failover}


def test_an_unexported_copy_others_import_and_a_partial_export_are_refused() -> None:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"]["localServiceAccounts"] = {"a1": "api"}
    doc["services"]["shop/api"]["ports"].append({"port": 9090, "name": "metrics"})
    doc["services"]["shop/api"]["export"]["ports"] = [8080]
    found = {f[0]: f for f in refused(doc)}
    assert found["istio-unexported-copy"][1] == "services.shop/api.localServiceAccounts.a1"
    assert "a2, b, c would call a1's copy too" in found["istio-unexported-copy"][2]
    assert found["istio-partial-export"][1] == "services.shop/api.export.ports"


ACCESS: dict[str, Any] = {
    "from": ["web/frontend"],
    "to": "shop/api",
    "http": [
        {"name": "write", "pathRegex": "/v1/orders.*", "methods": ["POST", "PUT"], "headers": [{"x-tenant": "acme"}]},
        {"name": "health", "pathRegex": "^/healthz$"},
    ],
}


def test_access_is_an_authorization_policy_where_the_pods_answer() -> None:
    doc = copy.deepcopy(FLEET)
    doc["clusters"]["b"]["istio"] = {"trustDomain": "us.example.org"}
    doc["access"] = {"orders": ACCESS}
    p = plan_of(doc)
    assert ("AuthorizationPolicy", "shop", "orders") not in objects(p, "a1"), "a1's calls are answered elsewhere"
    (grant,) = p.cluster("a1").grants
    assert grant.destination == "shop/api" and grant.enforcement == "destination"
    assert grant.enforced_at == ("a2", "b", "c")
    policy = objects(p, "a2")[("AuthorizationPolicy", "shop", "orders")]
    assert validate_object(policy.body) == []
    principals = ["cluster.local/ns/web/sa/frontend", "us.example.org/ns/web/sa/frontend"]
    assert policy.body["spec"] == {
        "selector": {"matchLabels": {"app": "api"}},
        "action": "ALLOW",
        "rules": [
            {
                "from": [{"source": {"principals": principals}}],
                "to": [{"operation": {"methods": ["POST", "PUT"], "paths": ["/v1/orders*"]}}],
                "when": [{"key": "request.headers[x-tenant]", "values": ["acme"]}],
            },
            {"from": [{"source": {"principals": principals}}], "to": [{"operation": {"paths": ["/healthz"]}}]},
        ],
    }
    assert p.warnings == ()


def test_a_rule_held_in_some_clusters_warns_that_istio_admits_callers_from_the_others() -> None:
    doc = copy.deepcopy(FLEET)
    doc["access"] = {"orders": {**ACCESS, "in": ["a1"]}}
    p = plan_of(doc)
    (warning,) = {
        w.message
        for w in p.warnings
        if w.code.name == "istio-grant-any-cluster" and "AuthorizationPolicy in b " in w.message
    }
    assert "admits web/frontend calling from a2, b, c too" in warning
    policy = objects(p, "b")[("AuthorizationPolicy", "shop", "orders")]
    assert policy.body["spec"]["rules"][0]["from"] == [{"source": {"principals": ["cluster.local/ns/web/sa/frontend"]}}]
    doc["access"]["orders"]["acknowledge"] = ["istio-grant-any-cluster"]
    assert all(w.acknowledged for w in plan_of(doc).warnings if w.code.name == "istio-grant-any-cluster")


def test_access_istio_cannot_express_is_refused_at_its_line() -> None:
    doc = copy.deepcopy(FLEET)
    del doc["services"]["shop/api"]["podLabels"]
    doc["access"] = {
        "orders": {
            **ACCESS,
            "http": [{"name": "mid", "pathRegex": "/v1/.*/orders"}, {"name": "h", "headers": [{"x-tenant": "a|b"}]}],
        }
    }
    found = {(f[0], f[1]) for f in refused(doc)}
    assert found >= {
        ("istio-access-selector", "access.orders.to"),
        ("istio-access-match", "access.orders.http.0.pathRegex"),
        ("istio-access-match", "access.orders.http.1.headers.0.x-tenant"),
    }


def test_the_committed_fleet_fails_over_by_region_and_splits_search_80_20() -> None:
    p = load_plan(ROOT / "fleet/istio.yaml")
    (checkout,) = routes(p, "eu-west-1", "shop/checkout", local=True)
    assert checkout.steady == (Share("eu-west-1", 1),) and checkout.local_down == (Share("eu-central-1", 1),)
    assert checkout.rule.endswith("then eu-central-1; then us-east-1")
    (search,) = routes(p, "eu-west-1", "shop/search", local=False)
    assert search.steady == (Share("eu-central-1", 80), Share("us-east-1", 20))
    assert not p.cluster("eu-central-1").policies[1:], "the weights hold for eu-west-1's callers only"
    for cluster in ("eu-west-1", "eu-central-1", "us-east-1"):
        secrets = [o for o in p.cluster(cluster).objects if o.kind == "Secret"]
        assert len(secrets) == 2 and all(o.kubeconfig_of not in (None, cluster) for o in secrets)
