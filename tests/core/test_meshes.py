"""Linkerd mirroring, the KEP-1645 MCS API, mixed fleets, placement by label and overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from meshfleet.core.plan import Plan, plan
from meshfleet.fleet.load import load_plan
from meshfleet.fleet.model import Fleet

ROOT = Path(__file__).resolve().parents[2]


def objects(p: Plan, cluster: str) -> dict[tuple[str, str, str], Any]:
    return {(o.kind, o.namespace, o.name): o for o in p.cluster(cluster).objects}


def test_london_mirrors_bar_from_paris() -> None:
    p = load_plan(ROOT / "fleet/linkerd-london-paris.yaml")
    london = objects(p, "london")
    assert set(london) == {("Service", "default", "bar-paris"), ("Endpoints", "default", "bar-paris")}
    service = london[("Service", "default", "bar-paris")].body
    assert "selector" not in service["spec"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}]
    assert service["metadata"]["annotations"]["mirror.linkerd.io/remote-svc-fq-name"] == "bar.default.svc.cluster.local"
    assert service["metadata"]["labels"] == {
        "mirror.linkerd.io/cluster-name": "paris",
        "mirror.linkerd.io/mirrored-service": "true",
    }
    endpoints = london[("Endpoints", "default", "bar-paris")]
    assert endpoints.role == "applied"
    assert endpoints.body["subsets"] == [
        {"addresses": [{"ip": "203.0.113.30"}], "ports": [{"name": "http", "port": 4143, "protocol": "TCP"}]}
    ]
    annotations = endpoints.body["metadata"]["annotations"]
    assert annotations["mirror.linkerd.io/remote-svc-fq-name"] == "bar.default.svc.cluster.local"
    assert annotations["mirror.linkerd.io/remote-gateway-identity"].startswith("linkerd-gateway.linkerd-multicluster.")
    # Static mirroring needs nothing in Paris beyond the gateway it already runs.
    assert p.cluster("paris").objects == ()


def test_mcs_exports_and_predicted_imports_follow_each_clusters_api_version() -> None:
    p = load_plan(ROOT / "fleet/mcs.yaml")
    for cluster, version in (("west-1", "v1beta1"), ("west-2", "v1beta1"), ("east-1", "v1alpha1")):
        objs = objects(p, cluster)
        imports = {k: o for k, o in objs.items() if k[0] == "ServiceImport"}
        assert {k[2] for k in imports} == {"web", "cart"}, "MCS imports exist in every cluster, exporters too"
        for o in imports.values():
            assert o.role == "derived" and o.api_version == f"multicluster.x-k8s.io/{version}"
        exports = {k[2] for k in objs if k[0] == "ServiceExport"}
        assert exports == ({"web", "cart"} if cluster.startswith("west") else {"cart"})
        assert objs[("Namespace", "", "shop")].retain
    web = objects(p, "east-1")[("ServiceImport", "shop", "web")].body
    assert web["spec"] == {
        "type": "ClusterSetIP",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "https", "port": 443, "protocol": "TCP"}],
    }


def test_mixed_fleet_imports_follow_the_consuming_mesh() -> None:
    p = load_plan(ROOT / "fleet/mixed.yaml")
    kinds = {c.name: {(o.kind, o.api_version) for o in c.objects} for c in p.clusters}
    for c in ("linkerd-eu", "linkerd-us"):
        assert kinds[c] == {("Service", "v1"), ("Endpoints", "v1")}
    for c in ("mcs-eu", "mcs-us"):
        assert kinds[c] == {
            ("ServiceExport", "multicluster.x-k8s.io/v1beta1"),
            ("ServiceImport", "multicluster.x-k8s.io/v1beta1"),
        }
    for c in ("fsm-eu", "fsm-us", "fsm-ap"):
        assert all(not v.startswith("multicluster.x-k8s.io") and v != "v1" for _, v in kinds[c])
    us = objects(p, "linkerd-eu")[("Endpoints", "payments", "ledger-linkerd-us")].body
    assert us["subsets"][0]["ports"][0]["port"] == 4200
    assert us["metadata"]["annotations"]["mirror.linkerd.io/remote-svc-fq-name"] == "ledger.payments.svc.us.local"


def load_doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "fleet" / name).read_text())
    return loaded


def plan_of(doc: dict[str, Any]) -> Plan:
    return plan(Fleet.model_validate(doc))


def test_placement_by_label_selects_exactly_the_labelled_clusters() -> None:
    doc = load_doc("mixed.yaml")
    p = plan_of(doc)
    exporters = sorted(c for c, o in p.objects() if o.kind == "ServiceExport" and o.name == "api")
    assert exporters == ["fsm-eu", "fsm-us"]
    doc["clusters"]["fsm-ap"]["labels"]["region"] = "us"  # now matched by the selector too
    exporters = sorted(c for c, o in plan_of(doc).objects() if o.kind == "ServiceExport" and o.name == "api")
    assert exporters == ["fsm-ap", "fsm-eu", "fsm-us"]


def test_an_override_changes_only_the_selected_clusters() -> None:
    doc = load_doc("mixed.yaml")
    without = copy.deepcopy(doc)
    del without["services"]["shop/api"]["overrides"]
    with_o = {(c, o.id): o.body for c, o in plan_of(doc).objects()}
    without_o = {(c, o.id): o.body for c, o in plan_of(without).objects()}
    assert with_o.keys() == without_o.keys(), "an override changes settings, never which objects exist"
    differing = sorted({k[0] for k in with_o if with_o[k] != without_o[k]})
    # fsm-us exports on another path (its export, its Ingress, and the imports that point at it);
    # fsm-ap, the only ap cluster, gets ActiveActive with weights.
    assert differing == ["fsm-ap", "fsm-eu", "fsm-us"]
    gtp = objects(plan_of(doc), "fsm-ap")[("GlobalTrafficPolicy", "shop", "api")].body["spec"]
    assert gtp == {
        "lbType": "ActiveActive",
        "targets": [
            {"clusterKey": "eu/default/default/fsm-eu", "weight": 70},
            {"clusterKey": "us/default/default/fsm-us", "weight": 30},
        ],
    }
    for c in ("fsm-eu", "fsm-us"):
        assert objects(plan_of(doc), c)[("GlobalTrafficPolicy", "shop", "api")].body["spec"]["lbType"] == "FailOver"
    eu = objects(plan_of(doc), "fsm-eu")
    assert (
        eu[("ServiceExport", "shop", "api")].body
        == objects(plan_of(without), "fsm-eu")[("ServiceExport", "shop", "api")].body
    ), "the eu export is not overridden"
