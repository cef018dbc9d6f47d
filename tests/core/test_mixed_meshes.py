"""A fleet of all five meshes: who imports from whom, and what is refused when meshes cannot talk."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from meshfleet.core.plan import plan
from meshfleet.errors import FindingsError
from meshfleet.fleet.load import load_plan
from meshfleet.fleet.model import Fleet
from tests.conftest import ROOT
from tests.support.schemas import validate_object

CASE = ROOT / "tests/cases/mixed/five-meshes.yaml"


def test_each_consumer_imports_from_its_own_meshs_exporters_only() -> None:
    p = load_plan(CASE)
    sources = {c.name: {e.cluster for i in c.imports for e in i.endpoints} for c in p.clusters}
    assert sources == {
        "fsm-a": set(),
        "fsm-b": {"fsm-a"},
        "cilium-a": {"cilium-a"},
        "cilium-b": {"cilium-a"},
        "istio-a": {"istio-a"},
        "istio-b": {"istio-a"},
        "linkerd-a": set(),
        "mcs-a": set(),
    }
    # Each mesh writes its own objects for the one traffic policy and the one access rule.
    kinds = {c.name: sorted({o.kind for o in c.objects}) for c in p.clusters}
    assert kinds["fsm-b"] == ["GlobalTrafficPolicy", "HTTPRouteGroup", "MeshConfig", "ServiceImport", "TrafficTarget"]
    assert kinds["cilium-a"] == ["CiliumNetworkPolicy", "Service"]
    assert kinds["istio-b"] == ["ConfigMap", "DestinationRule", "Secret", "Service"]
    enforcement = {c.name: {g.enforcement for g in c.grants} for c in p.clusters if c.grants}
    assert enforcement == {
        "fsm-a": {"local-pods-only"},
        "fsm-b": {"local-pods-only"},
        "cilium-a": {"destination"},
        "cilium-b": {"destination"},
        "istio-a": {"destination"},
        "istio-b": {"destination"},
    }
    # Only Istio clusters hold each other's kubeconfigs.
    assert {(c.name, o.kubeconfig_of) for c in p.clusters for o in c.objects if o.kubeconfig_of} == {
        ("istio-a", "istio-b"),
        ("istio-b", "istio-a"),
    }
    for c in p.clusters:
        for o in c.objects:
            assert validate_object(o.body, partial=o.patch) == [], (c.name, str(o.id))


def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CASE.read_text())
    return loaded


@pytest.mark.parametrize(
    ("consumer", "exporters"),
    [
        ("istio-b", ["cilium-a"]),
        ("cilium-b", ["istio-a"]),
        ("istio-b", ["fsm-a"]),
        ("cilium-b", ["mcs-a"]),
        ("fsm-b", ["cilium-a"]),
        ("linkerd-a", ["istio-a"]),
    ],
)
def test_an_import_across_meshes_is_refused_at_the_import_line(consumer: str, exporters: list[str]) -> None:
    d = copy.deepcopy(doc())
    svc = d["services"]["shop/api"]
    svc["export"]["clusters"] = exporters
    svc["import"] = {"clusters": [consumer]}
    del svc["trafficPolicy"]
    d["access"] = {}
    with pytest.raises(FindingsError, match=f"cluster '{consumer}' cannot import shop/api") as err:
        plan(Fleet.model_validate(d))
    (finding,) = [f for f in err.value.findings if f.code.name == "cannot-import"]
    assert finding.loc == ("services", "shop/api", "import", "clusters")


def test_a_target_in_another_mesh_is_refused_for_cilium_and_istio_consumers() -> None:
    d = copy.deepcopy(doc())
    d["services"]["shop/api"]["trafficPolicy"] = {
        "lbType": "FailOver",
        "targets": ["fsm-a"],
        "clusters": ["cilium-b", "istio-b"],
    }
    with pytest.raises(FindingsError, match="fsm-a") as err:
        plan(Fleet.model_validate(d))
    assert {f.code.name for f in err.value.findings if f.severity == "error"} == {"cilium-targets", "istio-targets"}
