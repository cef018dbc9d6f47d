"""Apply order: the plan orders each cluster's objects once (every object after those it names in `after`,
kind order otherwise) and every sink keeps that order: `render --stdout`, the rendered kustomization's
`resources:` list, and `kubectl kustomize` over the rendered directory."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from meshfleet.core.objects import ObjectId
from meshfleet.core.plan import ClusterPlan, Plan
from meshfleet.fleet.load import load_plan
from tests.conftest import ROOT, run_cli

FLEET = ROOT / "fleet" / "demo-full.yaml"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(FLEET)


def ident(doc: dict[str, object]) -> tuple[str, str, str]:
    meta = doc["metadata"]
    assert isinstance(meta, dict)
    return str(doc["kind"]), str(meta.get("namespace", "")), str(meta["name"])


def assert_waits_kept(cluster: ClusterPlan, order: list[tuple[str, str, str]]) -> None:
    """Each object of `order` after what its planned object names in `after`, and after its namespace."""
    position = {o: i for i, o in enumerate(order)}
    checked = 0
    for obj in cluster.objects:
        me = (obj.kind, obj.namespace, obj.name)
        if me not in position:
            continue
        for first in obj.after:
            assert position[(first.kind, first.namespace, first.name)] < position[me], f"{me} before {first}"
            checked += 1
        if ("Namespace", "", obj.namespace) in position:
            assert position[("Namespace", "", obj.namespace)] < position[me], f"{me} before its namespace"
    assert checked, f"{cluster.name}: no object waits for another"


def waiting_clusters(plan: Plan) -> list[ClusterPlan]:
    found = [c for c in plan.clusters if any(o.after for o in c.objects)]
    assert [c.name for c in found] == ["cluster-1", "cluster-3"]
    return found


def test_the_plan_puts_each_object_after_those_it_waits_for(plan: Plan) -> None:
    for cluster in waiting_clusters(plan):
        assert_waits_kept(cluster, [(o.kind, o.namespace, o.name) for o in cluster.objects])
        exports = [i for i, o in enumerate(cluster.objects) if o.kind == "ServiceExport"]
        assert exports and exports[0] > max(i for i, o in enumerate(cluster.objects) if o.kind == "Service")


def test_objects_that_wait_for_nothing_stay_in_kind_order(plan: Plan) -> None:
    for cluster in plan.clusters:
        free = [o for o in cluster.objects if not o.after]
        assert free == sorted(free, key=lambda o: o.sort_key()), cluster.name
        waiting = [o for o in cluster.objects if o.after]
        assert waiting == sorted(waiting, key=lambda o: o.sort_key()), cluster.name


def test_render_stdout_prints_each_object_after_those_it_waits_for(plan: Plan) -> None:
    for cluster in waiting_clusters(plan):
        result = run_cli("render", str(FLEET), "--cluster", cluster.name, "--stdout")
        assert result.code == 0, result
        docs = [d for d in yaml.safe_load_all(result.out) if d]
        assert len(docs) == len(cluster.applied())
        assert_waits_kept(cluster, [ident(d) for d in docs])


def test_the_kustomization_lists_each_object_after_those_it_waits_for(plan: Plan, tmp_path: Path) -> None:
    result = run_cli("render", str(FLEET), "--out", str(tmp_path / "out"))
    assert result.code == 0, result
    for cluster in waiting_clusters(plan):
        where = tmp_path / "out" / cluster.name
        listed = yaml.safe_load((where / "kustomization.yaml").read_text())["resources"]
        assert_waits_kept(cluster, [ident(yaml.safe_load((where / name).read_text())) for name in listed])


def test_kubectl_kustomize_keeps_services_before_their_exports(plan: Plan, tmp_path: Path) -> None:
    """kustomize sorts by kind unless told otherwise (`sortOptions`, legacy by default): Namespaces, then
    built-in kinds such as ServiceAccount and Service, custom resources after them. That order keeps every
    wait meshfleet plans (an FSM export after its Service and ServiceAccount)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = run_cli("render", str(FLEET), "--out", str(tmp_path / "out"))
    assert result.code == 0, result
    for cluster in waiting_clusters(plan):
        built = subprocess.run(
            [kubectl, "kustomize", str(tmp_path / "out" / cluster.name)], capture_output=True, text=True, check=True
        ).stdout
        assert_waits_kept(cluster, [ident(d) for d in yaml.safe_load_all(built) if d])


def test_an_export_waits_for_its_service_and_identity(plan: Plan) -> None:
    [export] = [o for o in plan.cluster("cluster-1").objects if o.kind == "ServiceExport" and o.name == "httpbin"]
    assert export.after == (
        ObjectId("v1", "Service", "httpbin", "httpbin"),
        ObjectId("v1", "ServiceAccount", "httpbin", "httpbin"),
    )
