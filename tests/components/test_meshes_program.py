"""The Cilium and Istio fleets through `__main__.py`: each object on its own cluster's provider, the
patches of the user's Services forced and given back on delete, and Istio's remote secrets carrying
the other members' kubeconfigs as secret inputs only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components import StackConfigError
from tests.components.conftest import (
    MARKER,
    ROOT,
    Run,
    StackRunner,
    fake_kubeconfig,
    is_secret,
    merged_kubeconfig,
    plain_strings,
    unwrap,
)

ISTIO = ROOT / "fleet/istio.yaml"
CILIUM = ROOT / "fleet/cilium.yaml"
SOURCES = ["stack-secret", "context"]
Stack = StackRunner


def clusters_of(fleet: Path) -> list[str]:
    return sorted(yaml.safe_load(fleet.read_text())["clusters"])


def run(stack: Stack, fleet: Path, source: str) -> Run:
    names = clusters_of(fleet)
    if source == "stack-secret":
        return stack(fleet.read_text(), kubeconfigs={c: fake_kubeconfig(c) for c in names})
    return stack(fleet.read_text(), "context", context_file=merged_kubeconfig({f"kind-{c}": c for c in names}))


def provider_kubeconfig(r: Run, cluster: str) -> str:
    text: str = unwrap(r.providers()[cluster].inputs["kubeconfig"])
    return text


@pytest.mark.parametrize("fleet", [CILIUM, ISTIO], ids=["cilium", "istio"])
@pytest.mark.parametrize("source", SOURCES)
def test_every_object_is_on_its_own_clusters_provider(stack: Stack, fleet: Path, source: str) -> None:
    r = run(stack, fleet, source)
    providers = {p.urn: p.name for p in r.providers().values()}
    assert sorted(providers.values()) == clusters_of(fleet)
    objects = r.k8s_objects()
    assert len(objects) > 2 * len(providers)
    for obj in objects:
        assert obj.provider, f"{obj.name} would use the default provider"
        cluster = r.cluster_of(obj)
        assert providers[obj.provider_urn] == cluster and obj.name.startswith(f"{cluster}:")


@pytest.mark.parametrize("source", SOURCES)
def test_istio_remote_secrets_hold_the_other_members_kubeconfigs_as_secrets_only(stack: Stack, source: str) -> None:
    r = run(stack, ISTIO, source)
    secrets = [reg for reg in r.k8s_objects() if reg.type == "kubernetes:core/v1:Secret"]
    names = clusters_of(ISTIO)
    assert sorted((r.cluster_of(s), s.inputs["metadata"]["name"]) for s in secrets) == sorted(
        (holder, f"istio-remote-secret-{member}") for holder in names for member in names if member != holder
    )
    for s in secrets:
        member = s.inputs["metadata"]["annotations"]["networking.istio.io/cluster"]
        assert s.inputs["metadata"]["labels"] == {"istio/multiCluster": "true"}
        assert is_secret(s.inputs["stringData"]), "the kubeconfig must reach Pulumi as a secret input"
        assert unwrap(s.inputs["stringData"]) == {member: provider_kubeconfig(r, member)}
        assert f"{MARKER}{member}-token" in provider_kubeconfig(r, member)
        assert not [v for _, v in plain_strings(s.inputs) if MARKER in v]
    # Nothing else shows a kubeconfig byte in clear, and the markers are there, as secrets.
    for reg in r.registrations:
        assert not [path for path, v in plain_strings(reg.inputs) if MARKER in v], reg.name
    assert sum(json.dumps(reg.inputs).count(MARKER) for reg in secrets) > 0
    assert MARKER not in json.dumps(r.outputs) and not r.secret_outputs


def test_patches_are_forced_with_the_fixed_field_manager_and_service_annotations_are_given_back(stack: Stack) -> None:
    cilium = run(stack, CILIUM, "stack-secret")
    services = cilium.of_type("kubernetes:core/v1:ServicePatch")
    assert sorted((cilium.cluster_of(s), s.inputs["metadata"]["name"]) for s in services) == [
        ("eu-1", "catalog"),
        ("eu-2", "catalog"),
        ("us-1", "catalog"),
        ("us-1", "reviews"),
    ]
    for s in services:
        annotations = s.inputs["metadata"]["annotations"]
        assert annotations["pulumi.com/patchFieldManager"] == "meshfleet"
        assert annotations["pulumi.com/patchForce"] == "true"
        assert annotations["service.cilium.io/global"] == "true"
        # Deleting the patch hands the annotations back: an ended export stops being shared.
        assert s.retain_on_delete is False and "spec" not in s.inputs
    created = [r for r in cilium.k8s_objects() if r.type == "kubernetes:core/v1:Service"]
    assert sorted((cilium.cluster_of(s), s.inputs["metadata"]["name"]) for s in created) == [
        ("eu-1", "reviews"),
        ("eu-2", "reviews"),
    ]
    istio = run(stack, ISTIO, "stack-secret")
    namespaces = istio.of_type("kubernetes:core/v1:NamespacePatch")
    assert {istio.cluster_of(n) for n in namespaces} == set(clusters_of(ISTIO))
    for n in namespaces:
        assert n.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
        assert n.inputs["metadata"]["labels"]["topology.istio.io/network"] in ("net-eu", "net-us")
        assert n.retain_on_delete is True, "a network label stays when meshfleet stops applying it"


def test_an_istio_kubeconfig_istiod_cannot_use_never_goes_into_a_remote_secret(stack: Stack) -> None:
    names = clusters_of(ISTIO)
    kubeconfigs = {c: fake_kubeconfig(c) for c in names}
    kubeconfigs["us-east-1"] = kubeconfigs["us-east-1"].replace(
        "https://us-east-1.example:6443", "https://127.0.0.1:6443"
    )
    with pytest.raises(
        StackConfigError,
        match="cluster us-east-1's kubeconfig goes into the Istio Secret object "
        "istio-system/istio-remote-secret-us-east-1 in eu-central-1",
    ) as err:
        stack(ISTIO.read_text(), kubeconfigs=kubeconfigs)
    assert "loopback" in str(err.value) and MARKER not in str(err.value)
    assert stack.last is not None and stack.last.registrations == []
