"""The apply-order function alone, on hand-made objects: waves from `after`, then kind, namespace
and name; each object keeps its wave as a fact, its body untouched (no engine's annotation: the
GitOps sink adds those); `after` cut to the cluster's applied objects; objects that wait for each
other are a bug."""

from __future__ import annotations

from typing import Any

import pytest

from meshfleet.core.objects import ObjectId, PlannedObject, Role
from meshfleet.core.plan import apply_order


def obj(kind: str, name: str, *after: ObjectId, role: Role = "applied") -> PlannedObject:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "ns"}}
    return PlannedObject(role, body, after=after)


def ident(o: PlannedObject) -> ObjectId:
    return o.id


def test_without_waits_objects_go_by_kind_order_then_name() -> None:
    objects = [obj("Service", "b"), obj("ConfigMap", "a"), obj("Service", "a"), obj("ServiceExport", "b")]
    assert [(o.kind, o.name) for o in apply_order(objects)] == [
        ("ServiceExport", "b"),
        ("Service", "a"),
        ("Service", "b"),
        ("ConfigMap", "a"),
    ]


def test_each_object_comes_one_wave_after_the_latest_it_waits_for() -> None:
    svc = obj("Service", "z")
    export = obj("ServiceExport", "a", ident(svc))
    policy = obj("ConfigMap", "a", ident(export))
    elsewhere = ObjectId("v1", "Service", "ns", "not-in-this-cluster")
    lone = obj("ConfigMap", "b", elsewhere)
    derived = obj("ServiceImport", "c", ident(svc), role="derived")
    out = apply_order([policy, lone, export, derived, svc])
    assert [(o.kind, o.name) for o in out] == [
        ("Service", "z"),
        ("ConfigMap", "b"),
        ("ServiceExport", "a"),
        ("ServiceImport", "c"),
        ("ConfigMap", "a"),
    ]
    by_name = {(o.kind, o.name): o for o in out}
    assert {k: o.wave for k, o in by_name.items()} == {
        ("Service", "z"): 0,
        ("ConfigMap", "b"): 0,  # what it waits for is not in the cluster
        ("ServiceExport", "a"): 1,
        ("ServiceImport", "c"): 1,  # predicted, but placed in the order all the same
        ("ConfigMap", "a"): 2,
    }
    assert by_name[("ConfigMap", "b")].after == ()
    assert by_name[("ServiceImport", "c")].after == (ident(svc),)
    assert all("annotations" not in o.body["metadata"] for o in out), "waves are facts, not annotations"
    assert export.wave == 0 and export.after == (ident(svc),), "the planner's objects are not changed in place"


def test_objects_that_wait_for_each_other_are_a_bug() -> None:
    a_id = ObjectId("v1", "ConfigMap", "ns", "a")
    b = obj("ConfigMap", "b", a_id)
    a = obj("ConfigMap", "a", ident(b))
    with pytest.raises(AssertionError, match=r"^objects wait for each other: ConfigMap ns/a, ConfigMap ns/b$"):
        apply_order([a, b])
