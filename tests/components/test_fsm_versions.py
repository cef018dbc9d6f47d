"""A fleet on FSM v1.2 under Pulumi's mocks: its kinds become resources of group flomesh.io, and the
CRD preflight reads v1.2's CRDs; a mixed-version fleet registers each cluster in its own group."""

from __future__ import annotations

import re

import pytest

from components.objects import crd_name
from meshfleet.core.plan import PlannedObject
from tests.components.conftest import CRD_TYPE, ROOT, EchoMocks, StackRunner

V1_2 = (ROOT / "fleet" / "demo-v1.2.yaml").read_text(encoding="utf-8")


def test_the_v1_2_demo_registers_flomesh_io_kinds_after_reading_their_crds(stack: StackRunner) -> None:
    run = stack(V1_2)
    kinds = {r.type for r in run.k8s_objects() if "flomesh.io" in r.type and "config." not in r.type}
    assert kinds == {
        f"kubernetes:flomesh.io/v1alpha1:{k}" for k in ("Cluster", "ServiceExport", "GlobalTrafficPolicy")
    }, "imports are FSM's, predicted"
    reads = {r.id for r in run.reads if r.type == CRD_TYPE}
    assert {
        "clusters.flomesh.io",
        "serviceexports.flomesh.io",
        "globaltrafficpolicies.flomesh.io",
        "meshconfigs.config.flomesh.io",
    } <= reads
    assert not any("multicluster.flomesh.io" in crd for crd in reads)
    reads_by = {(run.cluster_of(r), r.id): r.urn for r in run.reads}
    for obj in run.k8s_objects():
        if obj.type == "kubernetes:flomesh.io/v1alpha1:ServiceExport":
            assert reads_by[(run.cluster_of(obj), "serviceexports.flomesh.io")] in obj.dependencies


def test_a_v1_2_cluster_without_the_v1_2_crds_fails_the_preview_naming_it(stack: StackRunner) -> None:
    missing = "serviceexports.flomesh.io"
    with pytest.raises(Exception, match=re.escape(f"resource '{missing}' does not exist")):
        stack(V1_2, mocks_=EchoMocks(missing=frozenset({missing})))


def test_the_crd_of_a_v1_2_kind_is_named_in_its_own_group() -> None:
    for kind, crd in (("Cluster", "clusters.flomesh.io"), ("GlobalTrafficPolicy", "globaltrafficpolicies.flomesh.io")):
        probe = PlannedObject("applied", {"apiVersion": "flomesh.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}})
        assert crd_name(probe) == crd


def test_a_mixed_version_fleet_registers_each_cluster_in_its_own_group(stack: StackRunner) -> None:
    run = stack((ROOT / "fleet" / "fsm-upgrade.yaml").read_text(encoding="utf-8"))
    groups: dict[str, set[str]] = {}
    for obj in run.k8s_objects():
        kind = obj.type.rpartition(":")[2]
        if kind in ("ServiceExport", "ServiceImport", "GlobalTrafficPolicy"):
            groups.setdefault(run.cluster_of(obj), set()).add(obj.type.split(":")[1])
    assert groups == {
        "cluster-1": {"flomesh.io/v1alpha1"},
        "cluster-2": {"multicluster.flomesh.io/v1alpha1"},
        "cluster-3": {"flomesh.io/v1alpha1"},
    }
