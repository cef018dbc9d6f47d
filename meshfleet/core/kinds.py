"""What meshfleet knows about Kubernetes kinds it does not write itself: scope, pods, merge keys.

Why: a resource may hold any object. To place it, meshfleet must know whether its kind is
namespaced (built-in kinds below; a custom kind is namespaced when the object names a namespace),
where a workload keeps its pod template (for the cross-checks between a Service, its pods and the
identity an export claims), and how Kubernetes' strategic merge treats each list of the kinds whose
strategic-merge patches meshfleet applies (`MERGE_LISTS`, checked against Kubernetes' OpenAPI
definitions by the tests).
"""

from __future__ import annotations

from collections.abc import Mapping

Path = tuple[str, ...]
"""A field path inside an object; `*` stands for every item of a list."""


def group_of(api_version: str) -> str:
    """The API group of `apps/v1` (`apps`); the core group is ``""``."""
    group, _, _version = api_version.rpartition("/")
    return group


CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceSlice"),
    }
)
"""Built-in kinds that live outside namespaces. A custom kind is cluster-scoped when its object names no
namespace and its resource sets none."""

BUILTIN_GROUPS: frozenset[str] = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "discovery.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "coordination.k8s.io",
        "certificates.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "events.k8s.io",
        "resource.k8s.io",
        "storagemigration.k8s.io",
        "internal.apiserver.k8s.io",
    }
)
"""API groups Kubernetes serves itself; every other group is a custom resource's."""


def is_builtin(api_version: str) -> bool:
    return group_of(api_version) in BUILTIN_GROUPS


def cluster_scoped(api_version: str, kind: str) -> bool:
    return (group_of(api_version), kind) in CLUSTER_SCOPED


POD_TEMPLATE: dict[tuple[str, str], Path] = {
    ("", "Pod"): (),
    ("", "ReplicationController"): ("spec", "template"),
    ("apps", "Deployment"): ("spec", "template"),
    ("apps", "StatefulSet"): ("spec", "template"),
    ("apps", "DaemonSet"): ("spec", "template"),
    ("apps", "ReplicaSet"): ("spec", "template"),
    ("batch", "Job"): ("spec", "template"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
}
"""Where each workload kind holds its pods' metadata and spec (a Pod is its own template)."""

SCALABLE: frozenset[tuple[str, str]] = frozenset(
    {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")}
)
"""Kinds whose `spec.replicas` replica scheduling sets (KubeFed schedules Deployments and ReplicaSets)."""


def pod_template(api_version: str, kind: str) -> Path | None:
    return POD_TEMPLATE.get((group_of(api_version), kind))


# --- strategic merge ---------------------------------------------------------------------------------
# Lists that Kubernetes' strategic merge merges (patchStrategy "merge") and their merge keys; every
# other list of these kinds is replaced whole. "" is a list of plain values merged as a set. Source:
# the Go types' patchStrategy/patchMergeKey tags, as the OpenAPI definitions carry them
# (x-kubernetes-patch-strategy, x-kubernetes-patch-merge-key); tests/core/test_patches.py walks those
# definitions and holds this table to them.

_CONTAINER_LISTS = {"env": "name", "ports": "containerPort", "volumeMounts": "mountPath", "volumeDevices": "devicePath"}
_POD_SPEC_LISTS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "topologySpreadConstraints": "topologyKey",
}


def _meta(at: Path) -> dict[Path, str]:
    return {(*at, "metadata", "finalizers"): "", (*at, "metadata", "ownerReferences"): "uid"}


def _pod_template(at: Path) -> dict[Path, str]:
    spec = (*at, "spec")
    out = {**_meta(at), **{(*spec, f): key for f, key in _POD_SPEC_LISTS.items()}}
    for containers in ("containers", "initContainers", "ephemeralContainers"):
        out.update({(*spec, containers, "*", f): key for f, key in _CONTAINER_LISTS.items()})
    out.update(_meta((*spec, "volumes", "*", "ephemeral", "volumeClaimTemplate")))
    return out


MERGE_LISTS: Mapping[tuple[str, str], Mapping[Path, str]] = {
    ("", "Pod"): {**_meta(()), **_pod_template(())},
    **{
        ("apps", k): {**_meta(()), **_pod_template(("spec", "template"))}
        for k in ("Deployment", "DaemonSet", "ReplicaSet")
    },
    ("apps", "StatefulSet"): {
        **_meta(()),
        **_pod_template(("spec", "template")),
        **_meta(("spec", "volumeClaimTemplates", "*")),
    },
    ("batch", "Job"): {**_meta(()), **_pod_template(("spec", "template"))},
    ("batch", "CronJob"): {
        **_meta(()),
        **_meta(("spec", "jobTemplate")),
        **_pod_template(("spec", "jobTemplate", "spec", "template")),
    },
    ("", "Service"): {**_meta(()), ("spec", "ports"): "port"},
    ("", "ServiceAccount"): {**_meta(()), ("secrets",): "name"},
    ("", "ConfigMap"): _meta(()),
    ("", "Namespace"): _meta(()),
    **{
        ("rbac.authorization.k8s.io", k): _meta(())
        for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    },
}
"""The kinds whose strategic-merge patches meshfleet applies, and their merged lists."""

STATUS_LISTS: frozenset[Path] = frozenset({("spec", "volumeClaimTemplates", "*", "status", "conditions")})
"""Merged lists under a `status` (written by controllers, never by a template): left out of MERGE_LISTS."""


__all__ = [
    "CLUSTER_SCOPED",
    "MERGE_LISTS",
    "POD_TEMPLATE",
    "SCALABLE",
    "cluster_scoped",
    "group_of",
    "is_builtin",
    "pod_template",
]
