"""Overrides: KubeFed's JSON-patch subset and the strategic-merge subset, and the merge table against
Kubernetes' own OpenAPI definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from meshfleet.core.kinds import MERGE_LISTS, STATUS_LISTS
from meshfleet.core.kinds import Path as FieldPath
from meshfleet.core.patches import PatchError, json_patch, pointer, strategic_merge

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 1,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1",
                        "ports": [{"containerPort": 80}],
                        "env": [{"name": "A", "value": "1"}],
                        "args": ["--a"],
                    },
                    {"name": "sidecar", "image": "envoy"},
                ]
            }
        },
    },
}


def test_replace_add_and_remove_as_kubefed_applies_them() -> None:
    out = json_patch(DEPLOYMENT, "replace", "/spec/replicas", 4)
    out = json_patch(out, "add", "/metadata/annotations", {"team": "a"})
    out = json_patch(out, "add", "/spec/template/spec/containers/0/args/-", "--b")
    out = json_patch(out, "add", "/spec/template/spec/containers/0/args/0", "--first")
    out = json_patch(out, "remove", "/spec/template/spec/containers/1")
    assert out["spec"]["replicas"] == 4
    assert out["metadata"]["annotations"] == {"team": "a"}
    assert out["spec"]["template"]["spec"]["containers"] == [
        {**DEPLOYMENT["spec"]["template"]["spec"]["containers"][0], "args": ["--first", "--a", "--b"]}
    ]
    assert DEPLOYMENT["spec"]["replicas"] == 1, "the template is left as it was"


def test_pointer_escapes() -> None:
    assert pointer("/metadata/annotations/example.com~1team~0x") == ["metadata", "annotations", "example.com/team~x"]
    out = json_patch({"metadata": {"annotations": {}}}, "add", "/metadata/annotations/example.com~1team", "a")
    assert out == {"metadata": {"annotations": {"example.com/team": "a"}}}


@pytest.mark.parametrize(
    ("op", "path", "message"),
    [
        ("replace", "/spec/replica", "/spec/replica does not exist in the object"),
        ("remove", "/metadata/annotations", "/metadata/annotations does not exist"),
        ("add", "/spec/strategy/type", "/spec/strategy does not exist"),
        ("replace", "/spec/template/spec/containers/2/image", "/spec/template/spec/containers/2 does not exist"),
        ("add", "/spec/template/spec/containers/3", "the list has 2 items"),
        ("replace", "/spec/template/spec/containers/01", "the list has 2 items"),
        ("replace", "/spec/replicas/x", "/spec/replicas is a number, not a mapping or a list"),
    ],
)
def test_a_path_the_object_does_not_have_is_refused(op: str, path: str, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        json_patch(DEPLOYMENT, op, path, "x")


LISTS = MERGE_LISTS[("apps", "Deployment")]


def test_strategic_merge_merges_keyed_lists_by_their_key_and_replaces_the_rest() -> None:
    patch = {
        "metadata": {"labels": {"tier": "front", "app": None}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:2",
                            "ports": [{"containerPort": 443}],
                            "env": [{"name": "A", "value": "2"}],
                            "args": ["--only"],
                        },
                        {"name": "new", "image": "busybox"},
                    ]
                }
            }
        },
    }
    out = strategic_merge(DEPLOYMENT, patch, LISTS)
    web, sidecar, new = out["spec"]["template"]["spec"]["containers"]
    assert out["metadata"]["labels"] == {"tier": "front"}, "null removes a key"
    assert web == {
        "name": "web",
        "image": "nginx:2",
        "ports": [{"containerPort": 80}, {"containerPort": 443}],
        "env": [{"name": "A", "value": "2"}],
        "args": ["--only"],
    }
    assert sidecar == {"name": "sidecar", "image": "envoy"}
    assert new == {"name": "new", "image": "busybox"}


def test_strategic_merge_unions_plain_value_lists_kubernetes_merges() -> None:
    body = {"metadata": {"name": "x", "finalizers": ["a"]}}
    assert strategic_merge(body, {"metadata": {"finalizers": ["b", "a"]}}, MERGE_LISTS[("", "ConfigMap")])["metadata"][
        "finalizers"
    ] == ["a", "b"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
            "item 0 of spec.template.spec.containers has no 'name'",
        ),
        ({"spec": {"$patch": "replace"}}, "the directive '\\$patch'"),
        ({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}]}}}}, "setElementOrder"),
        ({"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "delete"}]}}}}, "'\\$patch'"),
    ],
)
def test_what_the_subset_does_not_take_is_refused(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(PatchError, match=message):
        strategic_merge(DEPLOYMENT, patch, LISTS)


# --- the merge table, against Kubernetes' OpenAPI definitions (kubernetes-validate's copy) ----------

DEFINITIONS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.33.0-local-strict"
ROOTS = {
    ("", "Pod"): "io.k8s.api.core.v1.Pod",
    ("apps", "Deployment"): "io.k8s.api.apps.v1.Deployment",
    ("apps", "StatefulSet"): "io.k8s.api.apps.v1.StatefulSet",
    ("apps", "DaemonSet"): "io.k8s.api.apps.v1.DaemonSet",
    ("apps", "ReplicaSet"): "io.k8s.api.apps.v1.ReplicaSet",
    ("batch", "Job"): "io.k8s.api.batch.v1.Job",
    ("batch", "CronJob"): "io.k8s.api.batch.v1.CronJob",
    ("", "Service"): "io.k8s.api.core.v1.Service",
    ("", "ServiceAccount"): "io.k8s.api.core.v1.ServiceAccount",
    ("", "ConfigMap"): "io.k8s.api.core.v1.ConfigMap",
    ("", "Namespace"): "io.k8s.api.core.v1.Namespace",
    **{
        ("rbac.authorization.k8s.io", k): f"io.k8s.api.rbac.v1.{k}"
        for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    },
}


def merged_lists(
    defs: dict[str, Any], name: str, at: FieldPath = (), seen: frozenset[str] = frozenset()
) -> dict[FieldPath, str]:
    """Every list under a definition (status left out) that strategic merge merges, with its merge key."""
    found: dict[FieldPath, str] = {}
    for field, prop in (defs[name].get("properties") or {}).items():
        if not at and field == "status":
            continue
        here = (*at, field)
        kinds = prop.get("type")
        refs = [prop, *prop.get("allOf", [])]
        if kinds == "array" or (isinstance(kinds, list) and "array" in kinds):
            if "merge" in prop.get("x-kubernetes-patch-strategy", ""):
                found[here] = prop.get("x-kubernetes-patch-merge-key", "")
            refs, here = [prop.get("items", {})], (*here, "*")
        for r in refs:
            ref = r.get("$ref", "").rpartition("/")[2]
            if ref and ref not in seen:
                found.update(merged_lists(defs, ref, here, seen | {ref}))
    return found


def test_the_merge_table_is_kubernetes_own() -> None:
    defs = json.loads((DEFINITIONS / "_definitions.json").read_text())["$defs"]
    assert set(ROOTS) == set(MERGE_LISTS)
    for kind, root in ROOTS.items():
        want = {p: k for p, k in merged_lists(defs, root, seen=frozenset({root})).items() if p not in STATUS_LISTS}
        assert dict(MERGE_LISTS[kind]) == want, kind
