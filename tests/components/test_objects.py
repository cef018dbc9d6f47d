"""Kinds the demo does not have yet (Linkerd mirroring: Service, Endpoints, EndpointSlice) need no new code."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pytest
from pulumi.runtime.rpc import _RESOURCE_MODULES
from pulumi_kubernetes._utilities import Module as KubernetesModule

from components.member import Identity, MemberCluster
from components.objects import builtin_class, builtin_module, logical_name
from components.settings import Settings
from meshfleet.core.plan import ClusterPlan, PlannedObject
from meshfleet.fleet.load import load_plan
from tests.components.conftest import (
    DEMO,
    EchoMocks,
    Run,
    run_program,
    unwrap,
    unwrapped,
    without_sink_annotations,
)

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mirror"}}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "httpbin-east",
        "namespace": "mirror",
        "labels": {"mirror.linkerd.io/mirrored-service": "true"},
    },
    "spec": {"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}], "type": "ClusterIP"},
}
ENDPOINTS = {
    "apiVersion": "v1",
    "kind": "Endpoints",
    "metadata": {"name": "httpbin-east", "namespace": "mirror"},
    "subsets": [{"addresses": [{"ip": "10.0.0.7"}], "ports": [{"name": "http", "port": 4143, "protocol": "TCP"}]}],
}
SLICE = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {
        "name": "httpbin-east-1",
        "namespace": "mirror",
        "labels": {"kubernetes.io/service-name": "httpbin-east"},
    },
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.0.0.7"], "conditions": {"ready": True}}],
    "ports": [{"name": "http", "port": 4143, "protocol": "TCP"}],
}
INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "meshfleet-httpbin", "namespace": "mirror"},
    "spec": {
        "ingressClassName": "nginx",
        "rules": [
            {
                "http": {
                    "paths": [
                        {
                            "path": "/x",
                            "pathType": "ImplementationSpecific",
                            "backend": {"service": {"name": "httpbin", "port": {"number": 8080}}},
                        }
                    ]
                }
            }
        ],
    },
}
CONFIGMAP_PATCH = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "fsm-config", "namespace": "fsm-system"},
    "data": {"mirror": "true"},
}
GATEWAY_ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "httpbin", "namespace": "mirror"},
    "spec": {"parentRefs": [{"name": "gw"}]},
}


def cluster(*objects: PlannedObject) -> ClusterPlan:
    """A member named east holding `objects` (its kubeconfig is handed in, never looked up)."""
    some_member = load_plan(DEMO).cluster("cluster-1")
    return dataclasses.replace(some_member, name="east", id="east-id", objects=objects)


def apply(plan: ClusterPlan) -> Run:
    def body() -> None:
        identity = Identity(plan.name, plan.id)
        MemberCluster(identity, plan, {"east": pulumi.Output.secret("KUBECONFIG-east")}, Settings())

    # Gateway API's CRDs are not vendored: this cluster serves HTTPRoute v1 all the same.
    served = {"httproutes.gateway.networking.k8s.io": ["v1"], "things.example.io": ["v1"]}
    return run_program({}, body=body, mocks_=EchoMocks(served=served))


def test_new_built_in_kinds_get_their_typed_classes_with_every_top_level_field() -> None:
    # In apply order, as the plan gives them: the namespace first.
    objects = [PlannedObject("applied", NS, retain=True)]
    objects += [PlannedObject("applied", b) for b in (SERVICE, ENDPOINTS, SLICE, INGRESS, GATEWAY_ROUTE)]
    objects += [PlannedObject("applied", CONFIGMAP_PATCH, patch=True)]
    run = apply(cluster(*objects))
    by_name = {r.name: r for r in run.k8s_objects()}
    expected_types = {
        "east:Namespace:mirror": "kubernetes:core/v1:NamespacePatch",
        "east:Service:mirror/httpbin-east": "kubernetes:core/v1:Service",
        "east:Endpoints:mirror/httpbin-east": "kubernetes:core/v1:Endpoints",
        "east:EndpointSlice:mirror/httpbin-east-1": "kubernetes:discovery.k8s.io/v1:EndpointSlice",
        "east:Ingress:mirror/meshfleet-httpbin": "kubernetes:networking.k8s.io/v1:Ingress",
        "east:ConfigMap:fsm-system/fsm-config": "kubernetes:core/v1:ConfigMapPatch",
        "east:HTTPRoute:mirror/httpbin": "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
    }
    assert {n: r.type for n, r in by_name.items()} == expected_types
    provider = run.providers()["east"]
    assert unwrap(provider.inputs["kubeconfig"]) == "KUBECONFIG-east"
    assert provider.inputs["clusterIdentifier"] == "east-id"
    namespace = by_name["east:Namespace:mirror"]
    for obj in objects:
        reg = by_name[logical_name("east", obj)]
        assert without_sink_annotations(reg.inputs) == obj.body, reg.name
        assert reg.provider_urn == provider.urn
        assert (namespace.urn in reg.dependencies) == (obj.namespace == "mirror"), reg.name
    assert by_name["east:Ingress:mirror/meshfleet-httpbin"].inputs["metadata"]["annotations"] == {
        "pulumi.com/skipAwait": "true"
    }
    for patch in ("east:ConfigMap:fsm-system/fsm-config", "east:Namespace:mirror"):
        assert by_name[patch].inputs["metadata"]["annotations"] == {
            "pulumi.com/patchFieldManager": "meshfleet",
            "pulumi.com/patchForce": "true",
        }
        assert by_name[patch].retain_on_delete is True
    assert [r.id for r in run.reads] == ["httproutes.gateway.networking.k8s.io"]
    assert run.reads[0].provider.rpartition("::")[0] == provider.urn
    assert by_name["east:HTTPRoute:mirror/httpbin"].dependencies != []


def test_a_custom_resource_with_fields_outside_spec_keeps_them_under_its_own_type() -> None:
    """A template may hold any kind: a custom resource with fields beside spec is registered whole, under
    the type token the provider serves custom resources by, never truncated to metadata and spec."""
    odd: dict[str, Any] = {
        "apiVersion": "example.io/v1",
        "kind": "Thing",
        "metadata": {"name": "t", "namespace": "x"},
        "data": {"k": "v"},
        "rules": [{"verbs": ["get"]}],
    }
    run = apply(cluster(PlannedObject("applied", odd)))
    [reg] = run.k8s_objects()
    assert reg.type == "kubernetes:example.io/v1:Thing"
    assert unwrapped(reg.inputs) == odd
    assert reg.provider_urn == run.providers()["east"].urn
    assert [r.id for r in run.reads] == ["things.example.io"]


def test_a_patch_of_a_custom_resource_with_fields_outside_spec_is_refused_not_truncated() -> None:
    odd: dict[str, Any] = {
        "apiVersion": "example.io/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
        "data": {"k": "v"},
    }
    with pytest.raises(TypeError, match="top-level fields data"):
        apply(cluster(PlannedObject("applied", odd, patch=True)))


@pytest.mark.parametrize(
    ("api_version", "kind", "cls"),
    [
        ("v1", "Service", "pulumi_kubernetes.core.v1.Service"),
        ("v1", "Endpoints", "pulumi_kubernetes.core.v1.Endpoints"),
        ("discovery.k8s.io/v1", "EndpointSlice", "pulumi_kubernetes.discovery.v1.EndpointSlice"),
        ("networking.k8s.io/v1", "Ingress", "pulumi_kubernetes.networking.v1.Ingress"),
        ("rbac.authorization.k8s.io/v1", "Role", "pulumi_kubernetes.rbac.v1.Role"),
        ("apps/v1", "Deployment", "pulumi_kubernetes.apps.v1.Deployment"),
        ("multicluster.flomesh.io/v1alpha1", "ServiceExport", None),
        ("gateway.networking.k8s.io/v1", "HTTPRoute", None),
        ("multicluster.x-k8s.io/v1alpha1", "ServiceImport", None),
        ("snapshot.storage.k8s.io/v1", "VolumeSnapshot", None),
        ("networking.k8s.io/v1", "NotAKind", None),
    ],
)
def test_class_for_a_kind(api_version: str, kind: str, cls: str | None) -> None:
    found = builtin_class(api_version, kind)
    assert (f"{found.__module__.rsplit('.', 1)[0]}.{found.__name__}" if found else None) == cls


def test_a_core_kind_the_sdk_lacks_is_an_error_not_a_wrong_type() -> None:
    with pytest.raises(TypeError, match="core/v1 Gizmo"):
        builtin_class("v1", "Gizmo")


def test_every_api_group_pulumi_kubernetes_serves_is_found() -> None:
    """The group -> module rule agrees with the SDK's own registry for every Kubernetes group."""
    keys = [k.removeprefix("kubernetes:") for k in _RESOURCE_MODULES if k.startswith("kubernetes:")]
    groups = [k for k in keys if k.split("/")[0] not in ("helm.sh", "kustomize", "yaml", "meta")]
    assert len(groups) > 50
    for key in groups:
        group, version = key.split("/")
        module = builtin_module(version if group == "core" else f"{group}/{version}")
        assert module is not None, key
        (registered,) = _RESOURCE_MODULES[f"kubernetes:{key}"]
        assert isinstance(registered, KubernetesModule), key
        assert module.__name__ == registered.mod_info["fqn"], key
