"""Cilium ClusterMesh: global Services and their affinity, CiliumNetworkPolicies at the destination,
what Cilium cannot express, and where a consumer's calls go (affinity.rst, clustermesh.go)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshfleet.core.meshes import mesh
from meshfleet.core.meshes.cilium import AFFINITY, GLOBAL, SHARED
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


ACCOUNT = "io.cilium.k8s.policy.serviceaccount"
NAMESPACE = "k8s:io.kubernetes.pod.namespace"
FLEET: dict[str, Any] = {
    "clusters": {"a": {"mesh": "cilium"}, "b": {"mesh": "cilium"}, "c": {"mesh": "cilium"}},
    "services": {
        "shop/api": {
            "ports": [{"port": 8080, "name": "http"}, {"port": 9090, "name": "metrics"}],
            "serviceAccount": "api",
            "export": {"clusters": ["a", "b"]},
        }
    },
}


def plan_of(doc: dict[str, Any]) -> Plan:
    return plan(Fleet.model_validate(doc))


def refused(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(FindingsError, match=r".") as err:
        plan_of(doc)
    return [(f.code.name, ".".join(map(str, f.loc)), f.message) for f in err.value.findings if f.severity == "error"]


def test_exporters_patch_the_users_service_and_consumers_get_a_selector_less_one() -> None:
    p = plan_of(FLEET)
    for exporter in ("a", "b"):
        svc = objects(p, exporter)[("Service", "shop", "api")]
        assert svc.patch and svc.relinquish and not svc.retain
        assert "spec" not in svc.body, "a patch of the user's Service sets annotations only"
        assert svc.body["metadata"]["annotations"][GLOBAL] == "true"
        assert svc.body["metadata"]["annotations"][SHARED] == "true"
        assert validate_object(svc.body, partial=True) == []
    consumer = objects(p, "c")[("Service", "shop", "api")]
    assert not consumer.patch and consumer.role == "applied"
    assert consumer.body["metadata"]["annotations"] == {GLOBAL: "true", SHARED: "false"}
    assert "selector" not in consumer.body["spec"]
    assert consumer.body["spec"]["ports"] == [
        {"name": "http", "port": 8080, "protocol": "TCP"},
        {"name": "metrics", "port": 9090, "protocol": "TCP"},
    ]
    assert validate_object(consumer.body) == []
    # An exporter imports the other exporter's backends too (one global Service, its own included).
    assert {e.cluster for e in p.cluster("a").imports[0].endpoints} == {"a", "b"}
    assert {e.cluster for e in p.cluster("c").imports[0].endpoints} == {"a", "b"}


def test_a_local_unexported_copy_is_global_but_not_shared() -> None:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"]["localServiceAccounts"] = {"c": "api-local"}
    svc = objects(plan_of(doc), "c")[("Service", "shop", "api")]
    assert svc.patch and svc.body["metadata"]["annotations"][SHARED] == "false"


@pytest.mark.parametrize(
    ("lb_type", "affinity"), [("Locality", "local"), ("FailOver", "local"), ("ActiveActive", "none")]
)
def test_traffic_policies_become_the_affinity_of_the_consumers_service(lb_type: str, affinity: str) -> None:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"]["trafficPolicy"] = {"lbType": lb_type}
    p = plan_of(doc)
    for cluster in ("a", "b", "c"):
        annotations = objects(p, cluster)[("Service", "shop", "api")].body["metadata"]["annotations"]
        assert annotations[AFFINITY] == affinity
        (policy,) = p.cluster(cluster).policies
        assert policy.objects == (p.cluster(cluster).imports[0].objects[0],), "the affinity lives on the Service"
    assert AFFINITY not in objects(plan_of(FLEET), "c")[("Service", "shop", "api")].body["metadata"]["annotations"]


def test_affinity_local_prefers_local_backends_and_none_spreads_over_all() -> None:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"]["trafficPolicy"] = {"lbType": "FailOver"}
    p = plan_of(doc)
    (route,) = routes(p, "a", "shop/api", local=True)
    assert route.steady == (Share("a", 1),) and route.local_down == (Share("b", 1),)
    assert "local backends while any is healthy" in route.rule
    (remote_only,) = routes(p, "c", "shop/api", local=False)
    assert remote_only.steady == remote_only.local_down == (Share("a", 1), Share("b", 1))
    doc["services"]["shop/api"]["trafficPolicy"] = {"lbType": "ActiveActive"}
    (spread,) = routes(plan_of(doc), "a", "shop/api", local=True)
    assert spread.steady == (Share("a", 1), Share("b", 1)) and spread.local_down == (Share("b", 1),)
    assert "affinity none" in spread.rule
    (unset,) = routes(plan_of(FLEET), "a", "shop/api", local=True)
    assert unset.steady == spread.steady


def test_a_service_not_imported_is_reached_locally_only() -> None:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"]["import"] = {"clusters": ["a", "b"]}
    doc["services"]["shop/api"]["localServiceAccounts"] = {"c": "api"}
    p = plan_of(doc)
    (route,) = routes(p, "c", "shop/api", local=True)
    assert route.steady == (Share("c", 1),) and route.local_down == ()
    assert routes(p, "c", "other/svc", local=False) == ()


def test_weights_and_target_subsets_are_refused_at_their_line() -> None:
    doc = copy.deepcopy(FLEET)
    doc["clusters"]["d"] = {"mesh": "cilium"}
    doc["services"]["shop/api"]["export"]["clusters"] = ["a", "b", "d"]
    doc["services"]["shop/api"]["trafficPolicy"] = {
        "lbType": "ActiveActive",
        "targets": [{"cluster": "a", "weight": 80}, "b"],
    }
    found = refused(doc)
    assert ("cilium-weights", "services.shop/api.trafficPolicy.targets.0.weight") in {f[:2] for f in found}
    subsets = [f for f in found if f[0] == "cilium-targets"]
    assert subsets and all(f[1] == "services.shop/api.trafficPolicy.targets" for f in subsets)
    assert any("targets cannot leave out d" in f[2] for f in subsets)


def test_an_exporter_that_would_not_import_and_a_partial_export_are_refused() -> None:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"]["import"] = {"clusters": ["a", "c"]}
    doc["services"]["shop/api"]["export"]["ports"] = [8080]
    codes = {f[0]: f for f in refused(doc)}
    assert codes["cilium-exporter-imports"][1] == "services.shop/api.import.clusters"
    assert "b cannot export it without importing it" in codes["cilium-exporter-imports"][2]
    assert codes["cilium-partial-export"][1] == "services.shop/api.export.ports"
    assert "without port(s) 9090" in codes["cilium-partial-export"][2]


ACCESS: dict[str, Any] = {
    "from": ["web/frontend", "shop/batch"],
    "to": "shop/api",
    "http": [
        {
            "name": "read",
            "pathRegex": "/v1/.*",
            "methods": ["GET", "HEAD"],
            "headers": [{"x-tenant": "acme", "x-trace": ".*"}],
        }
    ],
}


def test_access_is_one_policy_per_destination_admitting_the_callers_clusters() -> None:
    doc = copy.deepcopy(FLEET)
    doc["clusters"]["b"]["cilium"] = {"clusterName": "cluster-b"}
    doc["access"] = {"read": {**ACCESS, "in": ["c"]}}
    p = plan_of(doc)
    # The rule holds in c, whose calls a and b answer: the policies live in a and b, none in c.
    assert ("CiliumNetworkPolicy", "shop", "read") not in objects(p, "c")
    (grant,) = p.cluster("c").grants
    assert grant.enforcement == "destination" and grant.enforced_at == ("a", "b")
    for dest in ("a", "b"):
        cnp = objects(p, dest)[("CiliumNetworkPolicy", "shop", "read")]
        assert validate_object(cnp.body) == []
        spec = cnp.body["spec"]
        assert spec["endpointSelector"] == {"matchLabels": {ACCOUNT: "api"}}
        (rule,) = spec["ingress"]
        from_c = [{"key": "io.cilium.k8s.policy.cluster", "operator": "In", "values": ["c"]}]
        assert rule["fromEndpoints"] == [
            {"matchLabels": {ACCOUNT: "batch", NAMESPACE: "shop"}, "matchExpressions": from_c},
            {"matchLabels": {ACCOUNT: "frontend", NAMESPACE: "web"}, "matchExpressions": from_c},
        ]
        assert rule["toPorts"] == [
            {
                "ports": [{"port": "8080", "protocol": "TCP"}, {"port": "9090", "protocol": "TCP"}],
                "rules": {
                    "http": [
                        {
                            "method": method,
                            "path": "/v1/.*",
                            "headers": ["x-trace"],
                            "headerMatches": [{"name": "x-tenant", "value": "acme"}],
                        }
                        for method in ("GET", "HEAD")
                    ]
                },
            }
        ]
    # Held everywhere, each destination admits every cluster it answers, by Cilium's cluster-name.
    doc["access"] = {"read": ACCESS}
    p = plan_of(doc)
    values = objects(p, "a")[("CiliumNetworkPolicy", "shop", "read")].body["spec"]["ingress"][0]["fromEndpoints"][0]
    assert values["matchExpressions"][0]["values"] == ["a", "c", "cluster-b"]
    grants = {g.rule: g for g in p.cluster("a").grants}
    assert grants["read"].enforced_at == ("b",) and grants["read"].objects


def test_a_rule_that_admits_any_request_opens_the_ports_at_l4() -> None:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"]["ports"] = [
        {"port": 8080, "name": "http"},
        {"port": 53, "name": "dns", "protocol": "UDP"},
    ]
    doc["access"] = {"any": {"from": ["web/frontend"], "to": "shop/api"}}
    cnp = objects(plan_of(doc), "a")[("CiliumNetworkPolicy", "shop", "any")]
    assert cnp.body["spec"]["ingress"][0]["toPorts"] == [
        {"ports": [{"port": "8080", "protocol": "TCP"}, {"port": "53", "protocol": "UDP"}]}
    ]
    assert validate_object(cnp.body) == []


def test_access_cilium_cannot_express_is_refused_at_its_line() -> None:
    doc = copy.deepcopy(FLEET)
    doc["services"]["shop/api"]["serviceAccount"] = "*"
    doc["access"] = {"read": {**ACCESS, "http": [{"name": "read", "headers": [{"x-tenant": "acme|globex"}]}]}}
    codes = {(f[0], f[1]) for f in refused(doc)}
    assert ("cilium-access-identity", "access.read.to") in codes
    assert ("cilium-access-match", "access.read.http.0.headers.0.x-tenant") in codes
    doc["services"]["shop/api"]["podLabels"] = {"app": "api"}
    doc["access"]["read"]["http"] = [{"name": "read", "headers": [{"x-tenant": "acme"}]}]
    cnp = objects(plan_of(doc), "a")[("CiliumNetworkPolicy", "shop", "read")]
    assert cnp.body["spec"]["endpointSelector"] == {"matchLabels": {"app": "api"}}
    doc["services"]["shop/api"]["ports"] = [{"port": 53, "protocol": "UDP"}]
    assert ("cilium-access-match", "access.read.http") in {(f[0], f[1]) for f in refused(doc)}


def test_the_committed_fleet_shares_catalog_and_reviews_as_the_readme_says() -> None:
    p = load_plan(ROOT / "fleet/cilium.yaml")
    eu2 = objects(p, "eu-2")
    assert eu2[("Service", "shop", "catalog")].body["metadata"]["annotations"][SHARED] == "false"
    assert eu2[("Service", "shop", "reviews")].patch is False
    (catalog,) = routes(p, "eu-2", "shop/catalog", local=True)
    assert catalog.steady == (Share("eu-2", 1),) and catalog.local_down == (Share("eu-1", 1), Share("us-1", 1))
    (reviews,) = routes(p, "eu-1", "shop/reviews", local=False)
    assert reviews.steady == reviews.local_down == (Share("us-1", 1),)
    # us-1 is us-east-1 to Cilium: the policy in eu-1 admits it by that name.
    cnp = objects(p, "eu-1")[("CiliumNetworkPolicy", "shop", "frontend-reads-catalog")]
    assert cnp.body["spec"]["ingress"][0]["fromEndpoints"][0]["matchExpressions"][0]["values"] == [
        "eu-1",
        "eu-2",
        "us-east-1",
    ]
