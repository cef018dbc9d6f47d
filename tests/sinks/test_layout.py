"""The per-cluster layout: file names, the files of a subset of clusters, the files holding kubeconfigs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshfleet.core.objects import Role
from meshfleet.core.plan import PlannedObject
from meshfleet.fleet.load import load_plan
from meshfleet.sinks import layout

ROOT = Path(__file__).resolve().parents[2]


def obj(kind: str, namespace: str | None, name: str, role: Role = "applied") -> PlannedObject:
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return PlannedObject(role, {"apiVersion": "v1", "kind": kind, "metadata": metadata})


def test_file_names() -> None:
    assert layout.file_name(obj("ServiceExport", "httpbin", "httpbin")) == "serviceexport.httpbin.httpbin.yaml"
    assert layout.file_name(obj("Cluster", None, "cluster-1")) == "cluster._.cluster-1.yaml"
    assert layout.file_name(obj("ServiceImport", "ns", "svc", "derived")) == "predicted.serviceimport.ns.svc.yaml"


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("ns", "c1\n"),
        ("ns\n", "c1"),
        ("ns", "../x"),
        ("ns", "a/b"),
        ("..", "x"),
        ("ns", ""),
        ("ns", "-x"),
        ("ns", "X"),
        ("n s", "x"),
        ("ns", ".hidden"),
    ],
)
def test_file_names_refuse_what_is_no_plain_name(namespace: str, name: str) -> None:
    shown = name if namespace == "ns" else namespace
    with pytest.raises(ValueError, match=re.escape(f"refusing to derive a file name from {shown!r}")):
        layout.file_name(obj("ServiceExport", namespace, name))


def test_files_of_some_clusters_are_those_clusters_files() -> None:
    plan = load_plan(ROOT / "fleet/demo.yaml")
    every = dict(layout.files(plan))
    some = [c for c in plan.clusters if c.name in ("cluster-2", "control-plane")]
    assert dict(layout.files(plan, clusters=some)) == {
        k: v for k, v in every.items() if k.split("/")[0] in ("cluster-2", "control-plane")
    }
    for cluster in plan.clusters:
        assert {f"{cluster.name}/{f.name}": f.text for f in layout.render_cluster(plan, cluster)} == {
            k: v for k, v in every.items() if k.startswith(cluster.name + "/")
        }


def test_kubeconfig_files_are_the_cluster_objects() -> None:
    plan = load_plan(ROOT / "fleet/demo.yaml")
    assert layout.kubeconfig_files(plan) == {f"control-plane/cluster._.cluster-{n}.yaml" for n in (1, 2, 3)}
    assert layout.kubeconfig_files(load_plan(ROOT / "fleet/demo-standalone.yaml")) == frozenset()
    given = {f"cluster-{n}": f"kubeconfig of cluster-{n}\n" for n in (1, 2, 3)}
    holders = {rel for rel, text in layout.files(plan, given) if "kubeconfig of cluster-" in text}
    assert holders == layout.kubeconfig_files(plan)
