"""The seeds' demo, object for object: what FSM's docs show, checked field by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshfleet.core.plan import Plan, PlannedObject
from meshfleet.core.views import MeshSettingsView
from meshfleet.fleet.load import load_plan

ROOT = Path(__file__).resolve().parents[2]
HOST = "192.168.1.110"


def key(n: int) -> str:
    return f"default/default/default/cluster-{n}"


def find(plan: Plan, cluster: str, kind: str, name: str, namespace: str = "") -> PlannedObject:
    for o in plan.cluster(cluster).objects:
        if (o.kind, o.name, o.namespace) == (kind, name, namespace):
            return o
    raise AssertionError(f"{kind} {namespace}/{name} not planned in {cluster}")


@pytest.fixture(scope="module")
def demo() -> Plan:
    return load_plan(ROOT / "fleet/demo.yaml")


@pytest.fixture(scope="module")
def standalone() -> Plan:
    return load_plan(ROOT / "fleet/demo-standalone.yaml")


def test_control_plane_registers_each_member(demo: Plan) -> None:
    cp = demo.cluster("control-plane")
    assert cp.role == "control-plane" and cp.key is None
    assert [o.name for o in cp.applied()] == ["cluster-1", "cluster-2", "cluster-3"]
    for n in (1, 2, 3):
        obj = find(demo, "control-plane", "Cluster", f"cluster-{n}")
        assert obj.api_version == "multicluster.flomesh.io/v1alpha1"
        assert "namespace" not in obj.body["metadata"]
        assert obj.body["spec"] == {
            "region": "default",
            "zone": "default",
            "group": "default",
            "gatewayHost": HOST,
            "gatewayPort": 80 + n,
            "fsmNamespace": "fsm-system",
            "fsmMeshConfigName": "fsm-mesh-config",
        }
        assert obj.kubeconfig_of == f"cluster-{n}"
        assert "kubeconfig" not in obj.body["spec"], "the plan never holds a kubeconfig"


@pytest.mark.parametrize("n", [1, 3])
def test_exporters_export_both_services(demo: Plan, n: int) -> None:
    c = f"cluster-{n}"
    for name, path in (("httpbin", f"/{c}/httpbin-mesh"), (f"httpbin-{c}", f"/{c}/httpbin-mesh-{c}")):
        exp = find(demo, c, "ServiceExport", name, "httpbin")
        assert exp.role == "applied"
        assert exp.body["spec"] == {
            "serviceAccountName": "httpbin",
            "rules": [{"portNumber": 8080, "path": path, "pathType": "Prefix"}],
        }
        ing = find(demo, c, "Ingress", f"svcexp-ing-{name}", "httpbin")
        assert ing.role == "derived"
        assert ing.body["spec"]["ingressClassName"] == "pipy"
        assert ing.body["spec"]["rules"] == [
            {
                "http": {
                    "paths": [
                        {
                            "path": path,
                            "pathType": "Prefix",
                            "backend": {"service": {"name": name, "port": {"number": 8080}}},
                        }
                    ]
                }
            }
        ]
    assert {o.kind for o in demo.cluster(c).applied()} == {"ServiceExport", "MeshConfig"}
    mc = find(demo, c, "MeshConfig", "fsm-mesh-config", "fsm-system")
    assert mc.patch and mc.body["spec"] == {"ingress": {"enabled": True}}, "an exporter needs FSM's ingress mode"


def endpoint(n: int, path: str) -> dict[str, object]:
    return {"clusterKey": key(n), "target": {"host": HOST, "ip": HOST, "port": 80 + n, "path": path}}


@pytest.mark.parametrize(("cluster", "sources"), [("cluster-2", [1, 3]), ("cluster-1", [3]), ("cluster-3", [1])])
def test_imports_predicted_with_sorted_endpoints(demo: Plan, cluster: str, sources: list[int]) -> None:
    imp = find(demo, cluster, "ServiceImport", "httpbin", "httpbin")
    assert imp.role == "derived"
    assert imp.body["spec"] == {
        "type": "ClusterSetIP",
        "serviceAccountName": "httpbin",
        "ports": [
            {"port": 8080, "protocol": "TCP", "endpoints": [endpoint(n, f"/cluster-{n}/httpbin-mesh") for n in sources]}
        ],
    }


@pytest.mark.parametrize("n", [1, 3])
def test_per_cluster_service_imported_by_the_two_others(demo: Plan, n: int) -> None:
    name = f"httpbin-cluster-{n}"
    holders = sorted(
        c.name for c in demo.clusters if any(o.name == name and o.kind == "ServiceImport" for o in c.objects)
    )
    assert holders == sorted({"cluster-1", "cluster-2", "cluster-3"} - {f"cluster-{n}"})
    imp = find(demo, "cluster-2", "ServiceImport", name, "httpbin")
    assert imp.body["spec"]["ports"][0]["endpoints"] == [endpoint(n, f"/cluster-{n}/httpbin-mesh-cluster-{n}")]


def test_consumer_policy_access_and_meshconfig(demo: Plan) -> None:
    gtp = find(demo, "cluster-2", "GlobalTrafficPolicy", "httpbin", "httpbin")
    assert gtp.body["spec"] == {"lbType": "ActiveActive", "targets": [{"clusterKey": key(1)}, {"clusterKey": key(3)}]}
    routes = [o for o in demo.cluster("cluster-2").applied() if o.kind == "HTTPRouteGroup"]
    assert len(routes) == 1 and routes[0].namespace == "httpbin"
    assert routes[0].body["spec"]["matches"] == [{"name": "all", "pathRegex": "/", "methods": ["GET"]}]
    targets = [o for o in demo.cluster("cluster-2").applied() if o.kind == "TrafficTarget"]
    assert sorted(t.body["spec"]["destination"]["name"] for t in targets) == ["default", "httpbin"]
    for t in targets:
        assert t.namespace == "httpbin"
        assert t.body["spec"]["destination"]["namespace"] == "httpbin"
        assert t.body["spec"]["sources"] == [{"kind": "ServiceAccount", "name": "curl", "namespace": "curl"}]
        assert t.body["spec"]["rules"] == [{"kind": "HTTPRouteGroup", "name": routes[0].name, "matches": ["all"]}]
    mc = find(demo, "cluster-2", "MeshConfig", "fsm-mesh-config", "fsm-system")
    assert mc.patch and mc.role == "applied"
    assert mc.body["spec"] == {"traffic": {"enablePermissiveTrafficPolicyMode": False}}
    assert demo.cluster("cluster-2").settings == MeshSettingsView(False, api_group="multicluster.flomesh.io")


def test_standalone_is_the_same_with_imports_applied(demo: Plan, standalone: Plan) -> None:
    assert standalone.mode == "standalone" and demo.mode == "control-plane"
    assert [c.name for c in standalone.clusters] == ["cluster-1", "cluster-2", "cluster-3"]
    for c in ("cluster-1", "cluster-2", "cluster-3"):
        with_cp = {o.id: o for o in demo.cluster(c).objects}
        alone = {o.id: o for o in standalone.cluster(c).objects}
        assert set(alone) == set(with_cp) | {o.id for o in alone.values() if o.kind == "MeshConfig"}
        for oid, obj in alone.items():
            if obj.kind == "MeshConfig":
                spec = obj.body["spec"]
                assert spec["clusterSet"] == {"region": "default", "zone": "default", "group": "default", "name": c}
                assert {k: v for k, v in spec.items() if k != "clusterSet"} == with_cp[oid].body["spec"]
                continue
            assert obj.body == with_cp[oid].body, oid
            expected_role = "applied" if obj.kind == "ServiceImport" else with_cp[oid].role
            assert obj.role == expected_role, oid
