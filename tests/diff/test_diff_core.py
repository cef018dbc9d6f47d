"""The pure diff on hand-built plans: field paths, redaction, bounds, and what counts as a risk."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from meshfleet import diff
from meshfleet.core.objects import Role
from meshfleet.core.plan import ClusterPlan, Mode, Plan, PlannedObject
from meshfleet.fleet.model import KubeconfigFromContext

CONTEXT = KubeconfigFromContext.model_validate({"from": "context", "context": "ctx"})


def obj(
    kind: str, name: str, spec: dict[str, Any], *, namespace: str = "app", role: Role = "applied", **flags: Any
) -> PlannedObject:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return PlannedObject(role, {"apiVersion": "v1", "kind": kind, "metadata": meta, "spec": spec}, **flags)


def plan(clusters: dict[str, list[PlannedObject]], *, mode: Mode = "control-plane") -> Plan:
    """A plan of objects only (no views): what the object-level comparison works on."""
    return Plan(
        mode=mode,
        clusters=tuple(
            ClusterPlan(
                name=n, id=n, key=f"r/z/g/{n}", role="member", mesh="fsm", kubeconfig=CONTEXT, objects=tuple(objs)
            )
            for n, objs in sorted(clusters.items())
        ),
    )


def paths(old: Any, new: Any) -> dict[str, tuple[Any, Any]]:
    return {f.path: (f.old, f.new) for f in diff.field_changes(old, new)}


def test_lists_of_mappings_are_matched_by_identity_not_position() -> None:
    old = {"targets": [{"clusterKey": "a", "weight": 1}, {"clusterKey": "b", "weight": 2}]}
    new = {"targets": [{"clusterKey": "b", "weight": 3}]}
    got = paths(old, new)
    assert got == {
        "targets[clusterKey=a]": ({"clusterKey": "a", "weight": 1}, diff.ABSENT),
        "targets[clusterKey=b].weight": (2, 3),
    }


def test_lists_without_a_distinct_key_fall_back_to_positions() -> None:
    old = {"sources": [{"name": "x", "namespace": "a"}, {"name": "x", "namespace": "b"}]}
    new = {"sources": [{"name": "x", "namespace": "a"}]}
    assert paths(old, new) == {"sources[1]": ({"name": "x", "namespace": "b"}, diff.ABSENT)}


def test_scalar_lists_are_one_value_and_odd_keys_are_quoted() -> None:
    old = {"methods": ["GET"], "annotations": {"a.io/x": "1"}}
    new = {"methods": ["GET", "POST"], "annotations": {"a.io/x": "2"}}
    assert paths(old, new) == {"methods": (["GET"], ["GET", "POST"]), 'annotations["a.io/x"]': ("1", "2")}


def test_types_matter_and_equal_values_do_not_show() -> None:
    assert paths({"a": 1}, {"a": True}) == {"a": (1, True)}
    assert paths({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 2}]}}) == {}


def test_a_new_mapping_is_listed_leaf_by_leaf() -> None:
    assert paths({}, {"clusterSet": {"name": "c", "zone": "z"}}) == {
        "clusterSet.name": (diff.ABSENT, "c"),
        "clusterSet.zone": (diff.ABSENT, "z"),
    }


def test_kubeconfig_fields_are_redacted_everywhere() -> None:
    secret = "apiVersion: v1\nusers: [{user: {token: SECRET}}]"
    a = plan({"cp": [obj("Cluster", "m", {"gatewayPort": 80}, namespace="")]})
    b = plan(
        {
            "cp": [
                obj("Cluster", "m", {"gatewayPort": 80, "kubeconfig": secret}, namespace=""),
                obj("Cluster", "n", {"kubeconfig": secret}, namespace=""),
            ]
        }
    )
    for old, new in ((a, b), (b, a)):
        d = diff.diff(old, new)
        out = diff.text(d, "a", "b") + diff.markdown(d, "a", "b") + json.dumps(diff.as_json(d, "a", "b"))
        assert "SECRET" not in out
        assert diff.REDACTED in out


def test_share_of_deleted_objects_counts_neither_retained_nor_patched_objects() -> None:
    before = [obj("ServiceExport", f"s{i}", {}) for i in range(4)]
    kept = [obj("Namespace", "app", {}, namespace="", retain=True), obj("MeshConfig", "m", {}, patch=True)]
    old = plan({"c": before + kept})
    # 4 of 6 objects leave the plan, but only 2 are deleted: 2/6 is under a half.
    new = plan({"c": before[:2]})
    assert not diff.diff(old, new).risks
    assert [r.kind for r in diff.diff(old, new, max_delete_share=0.3).risks] == ["mass-delete"]
    assert [r.kind for r in diff.diff(old, plan({"c": kept})).risks] == ["mass-delete"]


def test_max_delete_share_must_be_a_share() -> None:
    with pytest.raises(ValueError, match=r"max_delete_share must be between 0 and 1, not 1\.5"):
        diff.diff(plan({}), plan({}), max_delete_share=1.5)


def test_identical_plans_do_not_change() -> None:
    p = plan({"c": [obj("ServiceExport", "s", {"rules": [{"path": "/x"}]})]})
    d = diff.diff(p, p)
    assert not d.changed and not d.risks and not d.imports
    assert "nothing changes" in diff.text(d, "a", "a")


def test_a_role_change_alone_is_a_change() -> None:
    a = plan({"c": [obj("ServiceImport", "s", {"ports": []}, role="derived")]})
    b = plan({"c": [obj("ServiceImport", "s", {"ports": []}, role="applied")]})
    d = diff.diff(a, b)
    assert d.changed and d.role_changes() == 1 and d.total("changed") == 0
    (change,) = d.clusters[0].objects
    assert change.role_change == ("derived", "applied") and change.fields == ()


def test_markdown_is_bounded() -> None:
    many = {
        f"c{i:03}": [
            obj("ServiceExport", f"s{j}", {"rules": [{"path": f"/{j}/{k}", "n": k} for k in range(30)]})
            for j in range(80)
        ]
        for i in range(40)
    }
    changed = {
        n: [
            obj("ServiceExport", o.name, {"rules": [{"path": f"/{o.name[1:]}/{k}", "n": k + 1} for k in range(30)]})
            for o in objs
        ]
        for n, objs in many.items()
    }
    d = diff.diff(plan(many), plan(changed))
    md = diff.markdown(d, "a", "b")
    assert len(md.encode()) <= diff.MARKDOWN_BUDGET
    assert f"... and {30 - diff.MARKDOWN_FIELD_CAP} more" in md
    assert f"... and {80 - diff.MARKDOWN_ROW_CAP} more" in md
    assert re.search(
        r"\*\*Not shown here\*\* \(this comment is kept under 60,000 bytes\): \d+ cluster object lists\. "
        r"See the whole diff: `meshfleet diff OLD NEW --format text`",
        md,
    ), md[-400:]
    assert md.count("<details>") == md.count("</details>") >= 1
    text = diff.text(d, "a", "b")
    assert f"... and {30 - diff.TEXT_FIELD_CAP} more" in text
