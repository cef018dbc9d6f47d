"""The demo fleets through `__main__.py`: providers, bindings, secrets and the kinds' special cases."""

from __future__ import annotations

import json

import pytest

from meshfleet.fleet.load import load_plan
from tests.components.conftest import (
    DEMO_CLUSTERS,
    MARKER,
    MEMBER_TYPE,
    StackRunner,
    check_kubeconfig,
    demo_text,
    is_secret,
    plain_strings,
    standalone,
    unwrap,
    with_namespaces_and_ingress,
)

SOURCES = ["stack-secret", "context"]
Stack = StackRunner


@pytest.mark.parametrize("source", SOURCES)
def test_one_provider_per_cluster_with_secret_kubeconfig_and_identifier(stack: Stack, source: str) -> None:
    run = stack(demo_text(), source)
    providers = run.providers()
    assert sorted(providers) == sorted(DEMO_CLUSTERS)
    for name, provider in providers.items():
        assert run.cluster_of(provider) == name
        assert provider.inputs["clusterIdentifier"] == name  # ClusterPlan.id: the name unless `id:` is set
        assert provider.inputs["enableServerSideApply"] == "true"
        check_kubeconfig(unwrap(provider.inputs["kubeconfig"]), name, source)
    assert sorted(r.name for r in run.registrations if r.type == MEMBER_TYPE) == sorted(DEMO_CLUSTERS)


def test_cluster_identifier_is_the_fleet_id(stack: Stack) -> None:
    text = demo_text().replace("  cluster-1:\n", "  cluster-1:\n    id: eks-prod-eu-1\n", 1)
    run = stack(text)
    assert run.providers()["cluster-1"].inputs["clusterIdentifier"] == "eks-prod-eu-1"
    assert run.providers()["cluster-2"].inputs["clusterIdentifier"] == "cluster-2"


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("variant", ["demo", "standalone"])
def test_every_object_uses_its_own_clusters_provider(stack: Stack, source: str, variant: str) -> None:
    run = stack(demo_text() if variant == "demo" else standalone(demo_text()), source)
    providers = {p.urn: p.name for p in run.providers().values()}
    objects = run.k8s_objects()
    assert objects
    for obj in objects:
        assert obj.custom
        assert obj.provider, f"{obj.name} would use the default provider"
        cluster = run.cluster_of(obj)
        assert providers[obj.provider_urn] == cluster, f"{obj.name} bound to {providers[obj.provider_urn]}"
        assert obj.name.startswith(f"{cluster}:")


@pytest.mark.parametrize("source", SOURCES)
def test_cluster_objects_carry_the_members_kubeconfig_as_a_secret(stack: Stack, source: str) -> None:
    run = stack(demo_text(), source)
    providers = run.providers()
    clusters = run.of_type("kubernetes:multicluster.flomesh.io/v1alpha1:Cluster")
    assert sorted(c.inputs["metadata"]["name"] for c in clusters) == ["cluster-1", "cluster-2", "cluster-3"]
    for c in clusters:
        member = c.inputs["metadata"]["name"]
        assert run.cluster_of(c) == "control-plane"
        kubeconfig = c.inputs["spec"]["kubeconfig"]
        assert is_secret(kubeconfig)
        assert unwrap(kubeconfig) == unwrap(providers[member].inputs["kubeconfig"])
        check_kubeconfig(unwrap(kubeconfig), member, source)
        # Only the kubeconfig is hidden: the gateway stays readable in previews.
        assert c.inputs["spec"]["gatewayHost"] == "192.168.1.110"


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("variant", ["demo", "standalone"])
def test_no_kubeconfig_byte_in_clear_anywhere(stack: Stack, source: str, variant: str) -> None:
    text = demo_text() if variant == "demo" else standalone(demo_text())
    run = stack(text, source)
    secrets_seen = 0
    for reg in run.registrations:
        for path, value in plain_strings(reg.inputs):
            assert MARKER not in value, f"{reg.type} {reg.name} shows a kubeconfig in clear at {path}"
        assert MARKER not in reg.name
        secrets_seen += json.dumps(reg.inputs).count(MARKER)
    assert secrets_seen > 0, "the markers must be somewhere (as secrets), or this test proves nothing"
    assert MARKER not in json.dumps(run.outputs)
    assert set(run.outputs) == {"mode", "fleet", "clusters"}
    assert not run.secret_outputs, "outputs are for humans and CI; none of them is a secret"


@pytest.mark.parametrize("protect", [True, False])
def test_meshconfig_is_a_forced_patch_with_a_fixed_field_manager_retained_on_delete(
    stack: Stack, protect: bool
) -> None:
    run = stack(demo_text(), config={"protect": json.dumps(protect)})
    meshconfigs = {run.cluster_of(r): r for r in run.k8s_objects() if r.inputs.get("kind") == "MeshConfig"}
    assert {r.type for r in meshconfigs.values()} == {"kubernetes:config.flomesh.io/v1alpha3:MeshConfigPatch"}
    assert sorted(meshconfigs) == ["cluster-1", "cluster-2", "cluster-3"]
    for patch in meshconfigs.values():
        assert patch.inputs["metadata"]["annotations"]["pulumi.com/patchFieldManager"] == "meshfleet"
        # Forced: FSM's bootstrap owns the field (a conflict otherwise, on the first `up` only).
        assert patch.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
        # Retained: relinquishing the required permissive-mode field is rejected (provider.go:2627-2633).
        assert patch.retain_on_delete is True
        assert patch.protect is False
    assert meshconfigs["cluster-2"].inputs["spec"] == {"traffic": {"enablePermissiveTrafficPolicyMode": False}}
    # The exporters need FSM's ingress mode.
    assert (
        meshconfigs["cluster-1"].inputs["spec"]
        == meshconfigs["cluster-3"].inputs["spec"]
        == {"ingress": {"enabled": True}}
    )


def test_no_service_import_when_fsm_runs_the_control_plane(stack: Stack) -> None:
    run = stack(demo_text())
    assert not [r for r in run.k8s_objects() if "ServiceImport" in r.type]
    # ... but the stack outputs still predict them, per cluster.
    derived = run.outputs["clusters"]["cluster-2"]["derivedObjects"]
    assert {
        "apiVersion": "multicluster.flomesh.io/v1alpha1",
        "kind": "ServiceImport",
        "namespace": "httpbin",
        "name": "httpbin",
    } in derived


def test_standalone_applies_the_service_imports_in_each_consumer(stack: Stack) -> None:
    run = stack(standalone(demo_text()))
    imports = run.of_type("kubernetes:multicluster.flomesh.io/v1alpha1:ServiceImport")
    by_cluster: dict[str, set[str]] = {}
    for r in imports:
        by_cluster.setdefault(run.cluster_of(r), set()).add(r.inputs["metadata"]["name"])
    assert by_cluster == {
        "cluster-1": {"httpbin", "httpbin-cluster-3"},
        "cluster-2": {"httpbin", "httpbin-cluster-1", "httpbin-cluster-3"},
        "cluster-3": {"httpbin", "httpbin-cluster-1"},
    }
    cluster2 = run.providers()["cluster-2"].urn
    assert all(r.provider_urn == cluster2 for r in imports if run.cluster_of(r) == "cluster-2")
    assert "control-plane" not in run.providers()


def test_ingresses_skip_await_and_namespaces_are_retained_and_awaited_by_their_objects(stack: Stack) -> None:
    run = stack(with_namespaces_and_ingress(standalone(demo_text())))
    ingresses = run.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    assert [run.cluster_of(i) for i in ingresses] == ["cluster-3", "cluster-3"]
    for ingress in ingresses:
        assert ingress.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
        assert ingress.inputs["spec"]["ingressClassName"] == "nginx"

    assert not [r for r in run.k8s_objects() if r.type == "kubernetes:core/v1:Namespace"], "never a plain create"
    namespaces = {run.cluster_of(n): n for n in run.of_type("kubernetes:core/v1:NamespacePatch")}
    assert sorted(namespaces) == ["cluster-1", "cluster-2", "cluster-3"]
    for ns in namespaces.values():
        assert ns.inputs["metadata"]["name"] == "httpbin"
        assert ns.retain_on_delete is True
        assert ns.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
        assert ns.inputs["metadata"]["annotations"]["pulumi.com/patchFieldManager"] == "meshfleet"
    for obj in run.k8s_objects():
        in_httpbin = obj.inputs["metadata"].get("namespace") == "httpbin"
        assert (namespaces[run.cluster_of(obj)].urn in obj.dependencies) == in_httpbin, obj.name
        assert obj.retain_on_delete is obj.type.endswith("Patch"), obj.name


@pytest.mark.parametrize("protect", [True, False])
def test_protect_covers_everything_but_patches(stack: Stack, protect: bool) -> None:
    run = stack(with_namespaces_and_ingress(standalone(demo_text())), config={"protect": json.dumps(protect)})
    objects = run.k8s_objects()
    patches = [r for r in objects if r.type.endswith("Patch")]
    assert patches
    assert all(r.protect is False for r in patches)
    assert all(r.protect is protect for r in objects if r not in patches)


def test_no_ignore_rule_that_could_do_nothing(stack: Stack) -> None:
    """Inputs never hold status or FSM's export-hash annotation, and the provider splits ignore paths
    on "." (await.go:753): such rules did nothing, so there are none."""
    run = stack(with_namespaces_and_ingress(standalone(demo_text())))
    assert run.k8s_objects()
    for obj in run.k8s_objects():
        assert obj.ignore_changes == [], obj.name
        assert "status" not in obj.inputs, obj.name


def test_outputs_summarise_each_applied_cluster(stack: Stack) -> None:
    run = stack(demo_text())
    plan = load_plan(run.outputs["fleet"])
    assert run.outputs["mode"] == "control-plane"
    assert sorted(run.outputs["clusters"]) == sorted(DEMO_CLUSTERS)
    for c in plan.clusters:
        out = run.outputs["clusters"][c.name]
        assert out["clusterKey"] == (c.key or "control-plane")
        assert out["applied"] == len(c.applied()) == len([r for r in run.k8s_objects() if run.cluster_of(r) == c.name])
        assert out["derived"] == len(c.derived())
        assert [(d["kind"], d.get("namespace", ""), d["name"]) for d in out["derivedObjects"]] == [
            (o.kind, o.namespace, o.name) for o in c.derived()
        ]
    assert run.outputs["clusters"]["cluster-2"]["clusterKey"] == "default/default/default/cluster-2"


def test_providers_send_no_unreachable_switch_so_the_environment_decides(stack: Stack) -> None:
    """An explicit value, even false, would override PULUMI_K8S_DELETE_UNREACHABLE and
    PULUMI_K8S_SKIP_UPDATE_UNREACHABLE (provider.go:619-649) and be stored in the state."""
    run = stack(with_namespaces_and_ingress(standalone(demo_text())))
    assert all(p.provider == "" for p in run.providers().values())  # providers are not provided for
    for p in run.providers().values():
        assert set(p.inputs) == {"kubeconfig", "clusterIdentifier", "enableServerSideApply"}


def test_a_broken_fleet_is_reported_with_its_line(stack: Stack) -> None:
    from components import StackConfigError

    text = demo_text().replace("lbType: ActiveActive", "lbType: Sideways", 1)
    with pytest.raises(StackConfigError) as err:
        stack(text)
    assert "fleet.yaml:" in str(err.value)
    assert "Sideways" in str(err.value)
