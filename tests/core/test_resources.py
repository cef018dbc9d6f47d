"""Resources placed on members: placement, placeholders, overrides, namespaces, replicas, order."""

from __future__ import annotations

from typing import Any

import pytest

from meshfleet.core.objects import ObjectId
from meshfleet.core.plan import Plan, plan
from meshfleet.core.templates import placeholders
from meshfleet.errors import FindingsError
from meshfleet.fleet.model import Fleet

CLUSTERS: dict[str, Any] = {
    "hub": {},
    "eu-1": {
        "region": "eu",
        "zone": "eu-a",
        "group": "blue",
        "labels": {"tier": "prod"},
        "gateway": {"host": "10.0.0.1"},
    },
    "us-1": {"region": "us", "labels": {"tier": "prod"}, "gateway": {"host": "10.0.0.2"}},
    "lab": {"mesh": "linkerd"},
}
CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings"},
    "data": {"where": "{cluster} in {region}/{zone}/{group}", "literal": "{{cluster}}", "json": '{"a": {"b": 1}}'},
}


def planned(resources: dict[str, Any], *, control_plane: bool = True, **extra: Any) -> Plan:
    doc = {"clusters": CLUSTERS, "resources": resources, **extra}
    if control_plane:
        doc["controlPlane"] = "hub"
    else:
        doc["clusters"] = {k: v for k, v in CLUSTERS.items() if k != "hub"}
    return plan(Fleet.model_validate(doc))


def bodies(p: Plan, kind: str) -> dict[str, dict[str, Any]]:
    return {c.name: o.body for c in p.clusters for o in c.objects if o.kind == kind}


def refused(resources: dict[str, Any], **extra: Any) -> list[str]:
    with pytest.raises(FindingsError) as err:
        planned(resources, **extra)
    return [
        f"{f.code.name}: {'.'.join(map(str, f.loc))}: {f.message}" for f in err.value.findings if f.severity == "error"
    ]


def test_placement_by_names_all_and_selector() -> None:
    p = planned(
        {
            "by-name": {"clusters": ["hub", "eu-1"], "namespace": "ops", "template": CONFIG},
            "everywhere": {"clusters": "all", "namespace": "all", "template": CONFIG},
            "prod": {"clusters": {"matchLabels": {"tier": "prod"}}, "namespace": "prod", "template": CONFIG},
        }
    )
    where = {(c.name, o.namespace) for c in p.clusters for o in c.objects if o.kind == "ConfigMap"}
    assert where == {
        ("hub", "ops"),
        ("eu-1", "ops"),
        ("eu-1", "all"),
        ("us-1", "all"),
        ("lab", "all"),  # `all` is the members, not the control plane
        ("eu-1", "prod"),
        ("us-1", "prod"),
    }


def test_placeholders_are_each_clusters_words_in_string_values_only() -> None:
    p = planned({"cm": {"clusters": ["eu-1", "us-1", "hub"], "namespace": "ops", "template": CONFIG}})
    data = {c: b["data"] for c, b in bodies(p, "ConfigMap").items()}
    assert data["eu-1"] == {"where": "eu-1 in eu/eu-a/blue", "literal": "{cluster}", "json": '{"a": {"b": 1}}'}
    assert data["us-1"]["where"] == "us-1 in us/default/default"
    assert data["hub"]["where"] == "hub in default/default/default"
    assert placeholders(
        {"{cluster}": ["{cluster}", 3, None]}, {"cluster": "x", "region": "", "zone": "", "group": ""}
    ) == {"{cluster}": ["x", 3, None]}


def test_overrides_apply_in_order_to_the_clusters_they_select() -> None:
    p = planned(
        {
            "cm": {
                "clusters": "all",
                "namespace": "ops",
                "template": CONFIG,
                "overrides": [
                    {
                        "clusters": {"matchLabels": {"tier": "prod"}},
                        "patch": [{"path": "/data/where", "value": "prod {cluster}"}],
                    },
                    {"clusters": ["us-1"], "merge": {"data": {"where": "us only", "extra": "yes", "json": None}}},
                    {
                        "clusters": ["us-1", "eu-1"],
                        "patch": [{"op": "add", "path": "/metadata/labels", "value": {"r": "{region}"}}],
                    },
                ],
            }
        }
    )
    data = {c: b["data"] for c, b in bodies(p, "ConfigMap").items()}
    assert data["eu-1"]["where"] == "prod eu-1"
    assert data["us-1"] == {"where": "us only", "literal": "{cluster}", "extra": "yes"}
    assert data["lab"]["where"] == "lab in default/default/default"
    assert bodies(p, "ConfigMap")["eu-1"]["metadata"] == {"name": "settings", "namespace": "ops", "labels": {"r": "eu"}}


def test_namespaces_kinds_and_the_resources_default() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader"},
        "rules": [],
    }
    widget = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    p = planned(
        {
            "r": {"clusters": ["eu-1"], "namespace": "ops", "template": [role, widget, CONFIG]},
            "loose": {"clusters": ["eu-1"], "template": {**widget, "metadata": {"name": "cluster-wide"}}},
        }
    )
    by_id = {o.id: o for o in p.cluster("eu-1").objects}
    assert ObjectId("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader") in by_id
    assert ObjectId("example.io/v1", "Widget", "ops", "w") in by_id
    assert ObjectId("example.io/v1", "Widget", "", "cluster-wide") in by_id, "a custom kind with no namespace anywhere"
    assert list(by_id[ObjectId("v1", "ConfigMap", "ops", "settings")].body["metadata"]) == ["name", "namespace"]


def test_created_namespaces_are_put_in_each_clusters_mesh() -> None:
    p = planned(
        {"app": {"clusters": ["eu-1", "lab", "hub"], "namespace": "shop", "createNamespace": True, "template": CONFIG}},
        clusters={**CLUSTERS, "eu-1": {**CLUSTERS["eu-1"], "fsm": {"meshName": "prod-mesh"}}},
    )
    ns = bodies(p, "Namespace")
    assert ns["eu-1"]["metadata"]["labels"] == {"flomesh.io/monitored-by": "prod-mesh"}
    assert ns["eu-1"]["metadata"]["annotations"]["flomesh.io/sidecar-injection"] == "enabled"
    assert "labels" not in ns["lab"]["metadata"]
    assert ns["lab"]["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"
    # The control plane's namespace is in no mesh; that it stays is the plan's flag (retain), which
    # each sink says its own way, never an engine's annotation in the body.
    assert ns["hub"]["metadata"] == {"name": "shop"}
    assert all(o.retain for c in p.clusters for o in c.objects if o.kind == "Namespace")


def test_replicas_are_split_over_the_placement() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "x"}]}},
        },
    }
    p = planned(
        {
            "web": {
                "clusters": ["eu-1", "us-1", "lab"],
                "namespace": "web",
                "template": [deployment, CONFIG],
                "replicaScheduling": {
                    "totalReplicas": 7,
                    "clusters": {
                        "eu-1": {"weight": 2},
                        "us-1": {"maxReplicas": 1},
                        "*": {"weight": 1, "minReplicas": 2},
                    },
                },
            }
        }
    )
    replicas = {c: b["spec"]["replicas"] for c, b in bodies(p, "Deployment").items()}
    assert replicas == {"eu-1": 4, "us-1": 1, "lab": 2}


def test_two_resources_writing_one_object_in_a_cluster_are_refused_whatever_the_version() -> None:
    old = {
        "apiVersion": "apps/v1beta2",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "web"},
        "spec": {},
    }
    new = {**old, "apiVersion": "apps/v1"}
    found = refused(
        {"a": {"clusters": ["eu-1", "us-1"], "template": new}, "b": {"clusters": ["us-1"], "template": old}}
    )
    assert found == [
        "duplicate-object: resources.b.template: Deployment web/web would be placed twice in cluster "
        "us-1: also by resource a"
    ]


def test_a_namespace_meshfleet_creates_is_not_written_again() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    found = refused(
        {
            "app": {"clusters": ["eu-1"], "namespace": "shop", "createNamespace": True, "template": CONFIG},
            "ns": {"clusters": ["eu-1"], "template": ns},
        }
    )
    assert found == [
        "duplicate-object: resources.ns.template: Namespace shop in cluster eu-1: meshfleet plans it "
        "itself (from resources.app.createNamespace)"
    ]


def test_service_exports_wait_for_their_service_and_identity_only_where_the_fleet_writes_them() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
    }
    doc: dict[str, Any] = {
        "services": {
            "web/web": {"ports": [{"port": 80}], "serviceAccount": "web", "export": {"clusters": ["eu-1"]}},
            "api/api": {"ports": [{"port": 80}], "serviceAccount": "api", "export": {"clusters": ["us-1"]}},
        }
    }
    p = planned({"web": {"clusters": ["eu-1"], "namespace": "web", "template": [service]}}, **doc)
    exports = {c.name: o for c in p.clusters for o in c.objects if o.kind == "ServiceExport"}
    assert exports["eu-1"].after == (ObjectId("v1", "Service", "web", "web"),)
    assert exports["eu-1"].wave == 1 and "annotations" not in exports["eu-1"].body["metadata"]
    assert exports["us-1"].after == () and exports["us-1"].wave == 0, (
        "api/api's Service is not the fleet's: its export waits for nothing meshfleet writes"
    )


def test_line_breaks_and_tabs_are_taken_in_objects_only() -> None:
    from meshfleet.errors import FleetError
    from meshfleet.fleet.document import parse_text

    text = (
        "clusters:\n  c1: {}\nresources:\n  s:\n    clusters: [c1]\n    template:\n      apiVersion: v1\n"
        "      kind: ConfigMap\n      metadata: {name: s, namespace: x}\n      data:\n        script: |\n"
        "          echo a\n          \techo b\n"
    )
    assert parse_text(text, "f.yaml").data["resources"]["s"]["template"]["data"]["script"] == "echo a\n\techo b\n"
    with pytest.raises(FleetError, match="line break"):
        parse_text("clusters:\n  c1:\n    region: |\n      eu\n", "f.yaml")
