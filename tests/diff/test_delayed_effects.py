"""Risks for changes FSM applies late or never: an export setting turned off that stays live on its
Ingress, a member its control plane keeps serving, imports handed over to a control plane."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from meshfleet.core.plan import Plan, plan
from meshfleet.diff import Risk, diff
from meshfleet.diff.describe import object_line
from meshfleet.fleet.model import Fleet
from tests.conftest import ROOT


def demo() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "fleet/demo.yaml").read_text())
    return loaded


def planned(doc: dict[str, Any]) -> Plan:
    return plan(Fleet.model_validate(doc))


def risks(old: dict[str, Any], new: dict[str, Any], kind: str) -> list[Risk]:
    return [r for r in diff(planned(old), planned(new)).risks if r.kind == kind]


def with_export(**settings: Any) -> dict[str, Any]:
    doc = demo()
    doc["services"]["httpbin/httpbin"]["export"].update(settings)
    return doc


def test_turning_session_stickiness_off_is_a_risk_naming_the_annotation_to_remove() -> None:
    on, off = with_export(sessionSticky=True), with_export(sessionSticky=False)
    found = risks(on, off, "setting-stays")
    assert sorted(r.cluster for r in found) == ["cluster-1", "cluster-3"]
    assert all("httpbin/httpbin turns sessionSticky off" in r.message for r in found)
    assert (
        "`kubectl annotate ingress -n httpbin svcexp-ing-httpbin pipy.ingress.kubernetes.io/session-sticky-`"
        in found[0].message
    )
    assert risks(on, demo(), "setting-stays") != [], "leaving the setting out turns it off too"
    assert risks(off, on, "setting-stays") == [], "turning it on takes effect"


def test_removing_a_path_rewrite_is_a_risk_and_changing_one_is_not() -> None:
    rewrite = with_export(pathRewrite={"from": "^/{cluster}/httpbin-mesh/?", "to": "/"})
    (first, _) = risks(rewrite, demo(), "setting-stays")
    assert "turns pathRewrite off" in first.message
    assert (
        "pipy.ingress.kubernetes.io/rewrite-target-from- pipy.ingress.kubernetes.io/rewrite-target-to-" in first.message
    )
    other = with_export(pathRewrite={"from": "^/{cluster}/httpbin-mesh", "to": "/"})
    assert risks(rewrite, other, "setting-stays") == [], "FSM overwrites an annotation that is still set"


def test_a_member_leaving_the_control_plane_or_changing_its_key_lingers_in_fsm() -> None:
    old = demo()
    gone = copy.deepcopy(old)
    del gone["clusters"]["cluster-3"]
    gone["services"]["httpbin/httpbin"]["export"]["clusters"] = ["cluster-1"]
    gone["services"]["httpbin/httpbin"]["trafficPolicy"]["targets"] = ["cluster-1"]
    del gone["services"]["httpbin/httpbin-cluster-3"]
    (r,) = risks(old, gone, "member-lingers")
    assert r.cluster == "cluster-3" and "keeps its connector running" in r.message
    assert (
        "first stop exporting from cluster-3" in r.message and "rollout restart deployment/fsm-controller" in r.message
    )
    moved = copy.deepcopy(old)
    moved["clusters"]["cluster-1"]["region"] = "eu"
    (r,) = risks(old, moved, "member-lingers")
    assert r.cluster == "cluster-1"
    assert "(default/default/default/cluster-1 -> eu/default/default/cluster-1)" in r.message


def test_without_a_control_plane_a_member_leaves_without_lingering() -> None:
    old = yaml.safe_load((ROOT / "fleet/demo-standalone.yaml").read_text())
    moved = copy.deepcopy(old)
    moved["clusters"]["cluster-1"]["region"] = "eu"
    assert risks(old, moved, "member-lingers") == []


def test_handing_imports_to_a_control_plane_names_the_safe_order() -> None:
    old = yaml.safe_load((ROOT / "fleet/demo-standalone.yaml").read_text())
    found = risks(old, demo(), "handover")
    assert sorted(r.cluster for r in found) == ["cluster-1", "cluster-2", "cluster-3"]
    assert all(
        "adopts the ServiceImports meshfleet applied" in r.message and "kubectl annotate serviceexport" in r.message
        for r in found
    )


def test_a_linkerd_cluster_that_leaves_keeps_its_namespaces_and_nothing_of_fsm() -> None:
    three: dict[str, Any] = yaml.safe_load((ROOT / "fleet/linkerd-london-paris.yaml").read_text())
    three["clusters"]["berlin"] = {
        "mesh": "linkerd",
        "region": "eu",
        "zone": "berlin",
        "gateway": {"host": "192.0.2.40"},
    }
    three["services"]["shop/cart"] = {
        "createNamespace": True,
        "ports": [{"port": 80, "protocol": "TCP", "name": "http"}],
        "export": {"clusters": ["paris"]},
        "import": {"clusters": ["berlin"]},
    }
    two = copy.deepcopy(three)
    del two["clusters"]["berlin"]
    two["services"]["shop/cart"]["import"]["clusters"] = ["london"]
    (r,) = risks(three, two, "cluster-removed")
    assert r.message == (
        "cluster berlin leaves the fleet: meshfleet deletes the 2 objects it applied there "
        "(1 kept: retained namespaces)"
    )
    found = diff(planned(three), planned(two)).risks
    assert [x.kind for x in found if x.kind in ("control-plane-removed", "handover", "member-lingers")] == []
    assert not any("FSM" in x.message for x in found)


def test_a_patch_leaving_the_fleet_says_what_stays_of_it_on_its_owners_object() -> None:
    cilium: dict[str, Any] = yaml.safe_load((ROOT / "fleet/cilium.yaml").read_text())
    without = copy.deepcopy(cilium)
    del without["services"]["shop/catalog"]["export"]
    del without["services"]["shop/catalog"]["trafficPolicy"]
    del without["access"]
    removed = {
        (c.name, o.id.kind, o.id.name): object_line(o)
        for c in diff(planned(cilium), planned(without)).clusters
        for o in c.objects
        if o.op == "removed" and o.old is not None and o.old.patch
    }
    given_back = "its owner's object: Pulumi gives back the fields meshfleet set; under Argo CD or Flux they stay"
    assert removed[("eu-1", "Service", "catalog")] == ("-", "applied, patch", given_back)
    stays = {r.cluster: r.message for r in risks(cilium, without, "setting-stays")}
    assert sorted(stays) == ["eu-1", "eu-2", "us-1"]
    assert stays["eu-2"] == (
        "Service shop/catalog in eu-2 keeps service.cilium.io/affinity, service.cilium.io/global, "
        "service.cilium.io/shared under Argo CD or Flux (neither prunes a partial object), and Cilium acts on "
        "them; Pulumi gives them back; under GitOps remove them: kubectl annotate service -n shop catalog "
        "service.cilium.io/affinity- service.cilium.io/global- service.cilium.io/shared-"
    )
    fewer = yaml.safe_load((ROOT / "tests/cases/diff/demo-without-cluster-3.yaml").read_text())
    left = [
        object_line(o)[2]
        for c in diff(planned(demo()), planned(fewer)).clusters
        for o in c.objects
        if o.op == "removed" and o.id.kind == "MeshConfig"
    ]
    assert left == ["its owner's object: left as it is, no longer patched"]
