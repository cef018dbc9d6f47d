"""FSM releases: each cluster's objects in the API group its own release serves, checked against that
release's schemas; a control plane spans one group only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from meshfleet.core.meshes.fsm import versions
from meshfleet.core.plan import Plan, plan
from meshfleet.core.topology import resolve
from meshfleet.fleet.load import load_document, load_plan, parse
from meshfleet.fleet.model import Fleet, fsm_release
from tests.conftest import ROOT
from tests.support.schemas import schema_set_for_fsm, validate_object

MULTICLUSTER_KINDS = {"Cluster", "ServiceExport", "ServiceImport", "GlobalTrafficPolicy"}


def groups(p: Plan, cluster: str) -> set[str]:
    return {o.api_version for o in p.cluster(cluster).objects if o.kind in MULTICLUSTER_KINDS}


def problems(fleet: Path) -> list[str]:
    """Every object of the fleet's plan against the schemas of the release its cluster runs."""
    p, written = load_plan(fleet), load_document(parse(fleet))
    found = []
    for c in p.clusters:
        schema_set = schema_set_for_fsm(versions.version(written, c.name))
        found += [
            f"{c.name}: {m}" for o in c.objects for m in validate_object(o.body, partial=o.patch, schema_set=schema_set)
        ]
    return found


def test_the_v1_2_demo_is_the_demo_in_flomesh_io_valid_against_v1_2_schemas() -> None:
    old, new = load_plan(ROOT / "fleet/demo-v1.2.yaml"), load_plan(ROOT / "fleet/demo.yaml")
    assert {g for c in old.clusters for g in groups(old, c.name)} == {"flomesh.io/v1alpha1"}
    assert {g for c in new.clusters for g in groups(new, c.name)} == {"multicluster.flomesh.io/v1alpha1"}
    assert [(c.name, len(c.objects)) for c in old.clusters] == [(c.name, len(c.objects)) for c in new.clusters]
    for c in old.clusters:
        for a, b in zip(c.objects, new.cluster(c.name).objects, strict=True):
            assert a.body["spec"] == b.body["spec"] and a.kind == b.kind, "only the group differs"
    assert problems(ROOT / "fleet/demo-v1.2.yaml") == []
    # The sets are distinct: v1.2's objects are unknown to a current FSM, and the other way round.
    export = next(o for o in old.cluster("cluster-1").objects if o.kind == "ServiceExport")
    assert "unknown apiVersion/kind flomesh.io/v1alpha1 ServiceExport" in validate_object(export.body)[0]
    current = next(o for o in new.cluster("cluster-1").objects if o.kind == "ServiceExport")
    assert validate_object(current.body, schema_set="fsm-v1.2")


def test_a_mixed_version_fleet_writes_each_cluster_in_its_own_group() -> None:
    p = load_plan(ROOT / "fleet/fsm-upgrade.yaml")
    assert groups(p, "cluster-1") == groups(p, "cluster-3") == {"flomesh.io/v1alpha1"}
    assert groups(p, "cluster-2") == {"multicluster.flomesh.io/v1alpha1"}
    settings = p.cluster("cluster-2").settings
    assert settings is not None
    assert settings.api_group == "multicluster.flomesh.io"
    assert problems(ROOT / "fleet/fsm-upgrade.yaml") == []
    # cluster-2 (v1.4.1) imports from v1.2.9 exporters: the import is the same but for its group.
    imported = next(o for o in p.cluster("cluster-2").objects if o.kind == "ServiceImport" and o.name == "httpbin")
    v12 = load_plan(ROOT / "fleet/demo-standalone.yaml").cluster("cluster-2")
    same = next(o for o in v12.objects if o.kind == "ServiceImport" and o.name == "httpbin")
    assert imported.body == same.body


def doc_with(default: str | None, cp: str | None, member: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "fleet/demo.yaml").read_text())
    if default is not None:
        doc["fsm"] = {"version": default}
    if cp is not None:
        doc["clusters"]["control-plane"]["fsm"] = {"version": cp}
    if member is not None:
        doc["clusters"]["cluster-3"]["fsm"] = {"version": member}
    return doc


@pytest.mark.parametrize(
    ("default", "cp", "member", "refused"),
    [
        (None, None, "v1.2.9", {("clusters", "cluster-3", "fsm", "version")}),
        (None, "v1.2.9", None, {("clusters", f"cluster-{n}") for n in (1, 2, 3)}),
        ("v1.2.9", "v1.4.1", None, {("fsm", "version")}),
        ("v1.2.9", None, "v1.2.0", set()),
        ("v1.3.0", None, "v1.5.2", set()),
        (None, None, "v1.3.8", set()),
    ],
)
def test_a_control_plane_spans_one_api_group(
    default: str | None, cp: str | None, member: str | None, refused: set[tuple[str, ...]]
) -> None:
    found = [
        f
        for f in resolve(Fleet.model_validate(doc_with(default, cp, member))).findings
        if f.code.name == "fsm-versions-differ"
    ]
    assert {f.loc for f in found} == refused
    assert all(f.severity == "error" and "connector" in f.message for f in found)


def test_the_control_planes_cluster_objects_are_in_its_own_group() -> None:
    p = plan(Fleet.model_validate(doc_with("v1.2.9", None, None)))
    assert groups(p, "control-plane") == {"flomesh.io/v1alpha1"}


@pytest.mark.parametrize(
    ("written", "release"), [("v1.2.9", (1, 2)), ("1.3", (1, 3)), ("v1.4.0-rc.1", (1, 4)), ("v2.0.0", (2, 0))]
)
def test_releases_are_read_as_written(written: str, release: tuple[int, int]) -> None:
    assert fsm_release(written) == release


@pytest.mark.parametrize(
    ("written", "says"), [("v1.1.4", "older than v1.2"), ("latest", "is not a release"), ("1", "is not a release")]
)
def test_versions_meshfleet_does_not_write_for_are_refused(written: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Fleet.model_validate({"fsm": {"version": written}, "clusters": {"c1": {}}})
