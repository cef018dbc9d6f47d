"""fleet/demo-full.yaml under Pulumi's mocks: the resources' objects on their own cluster's provider,
typed where pulumi-kubernetes has a class, and every ServiceExport after its Service."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshfleet.fleet.load import load_plan
from tests.components.conftest import ROOT, Run, fleet_config, run_program

FLEET = ROOT / "fleet" / "demo-full.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    home = tmp_path_factory.mktemp("home")
    where = tmp_path_factory.mktemp("fleet")
    shutil.copy(FLEET, where / FLEET.name)
    shutil.copytree(ROOT / "fleet" / "demo-full", where / "demo-full")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("HOME", str(home))
    try:
        return run_program(*fleet_config(load_plan(FLEET), where / FLEET.name, home, monkeypatch))
    finally:
        monkeypatch.undo()


def test_every_object_is_on_its_own_clusters_provider(run: Run) -> None:
    providers = {p.urn: p.name for p in run.providers().values()}
    objects = run.k8s_objects()
    assert len(objects) == sum(len(c.applied()) for c in load_plan(FLEET).clusters)
    for obj in objects:
        cluster = run.cluster_of(obj)
        assert providers[obj.provider_urn] == cluster, obj.name
        assert obj.name.startswith(f"{cluster}:")


def test_resources_use_pulumi_kubernetes_typed_classes(run: Run) -> None:
    types = {r.name: r.type for r in run.k8s_objects()}
    assert types["cluster-2:Deployment:curl/curl"] == "kubernetes:apps/v1:Deployment"
    assert types["cluster-1:ServiceAccount:httpbin/httpbin"] == "kubernetes:core/v1:ServiceAccount"
    assert types["cluster-3:Service:httpbin/httpbin-cluster-3"] == "kubernetes:core/v1:Service"
    # Namespaces are patched, never created over one the user already has.
    assert types["cluster-2:Namespace:curl"] == "kubernetes:core/v1:NamespacePatch"


def test_every_service_export_depends_on_its_service_and_identity(run: Run) -> None:
    by_name = {r.name: r for r in run.k8s_objects()}
    exports = [r for r in run.k8s_objects() if r.type.endswith(":ServiceExport")]
    assert len(exports) == 4
    for export in exports:
        cluster, _, where = export.name.split(":")
        service = by_name[f"{cluster}:Service:{where}"]
        account = by_name[f"{cluster}:ServiceAccount:httpbin/httpbin"]
        namespace = by_name[f"{cluster}:Namespace:httpbin"]
        assert {service.urn, account.urn, namespace.urn} <= set(export.dependencies), export.name
        assert run.registrations.index(service) < run.registrations.index(export)


def test_the_deployment_answers_with_its_clusters_name_on_the_wire(run: Run) -> None:
    for n in (1, 2, 3):
        reg = next(r for r in run.k8s_objects() if r.name == f"cluster-{n}:Deployment:httpbin/httpbin")
        script = reg.inputs["spec"]["template"]["spec"]["containers"][0]["command"][2]
        assert f"Hi, I am from cluster-{n} and controlled by mesh!" in script


def test_a_secret_in_a_template_stops_the_stack_before_anything_is_registered(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.settings import StackConfigError
    from tests.components.conftest import secret_config

    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "clusters:\n  c1: {}\nresources:\n  db:\n    clusters: [c1]\n    template:\n"
        "      apiVersion: v1\n      kind: Secret\n      metadata: {name: db, namespace: shop}\n"
        "      stringData: {password: MARKER-SECRET-db}\n",
        encoding="utf-8",
    )
    config, keys = secret_config({"c1": "apiVersion: v1\nkind: Config\n"})
    registered: list[Run] = []
    with pytest.raises(StackConfigError, match="secret-in-template") as err:
        run_program({"meshfleet:fleet": str(fleet), **config}, keys, started=registered.append)
    assert "MARKER-SECRET" not in str(err.value)
    assert registered[0].k8s_objects() == []
