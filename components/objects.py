"""How one planned object becomes one Pulumi resource: which class, which name, which options.

Why: the plan grows kinds (Linkerd mirroring brings Services, Endpoints, EndpointSlices); no new
code should be needed here when it does. Built-in Kubernetes kinds go to pulumi-kubernetes' typed
class for their group/version, found by the SDK's own module layout (the typed classes accept
top-level fields such as Endpoints' `subsets` that `CustomResource` drops), everything else is a
`CustomResource`. Objects FSM owns are `*Patch` resources with a fixed field manager: a patch
applies our fields server-side and, when removed, gives them back instead of deleting the object.
"""

from __future__ import annotations

import copy
import importlib
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from meshfleet.core.plan import PlannedObject

FIELD_MANAGER = "meshfleet"
PATCH_FIELD_MANAGER = "pulumi.com/patchFieldManager"
SKIP_AWAIT = "pulumi.com/skipAwait"

# Kinds whose await waits for status that the controllers of a mesh fleet do not publish (an
# Ingress waits for .status.loadBalancer, which FSM's pipy ingress never sets): without this,
# `pulumi up` hangs until its timeout although the object is in place.
SKIP_AWAIT_KINDS = frozenset({("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1beta1", "Ingress")})

# Fields written by controllers, not by us: a diff on them is never ours to revert.
CONTROLLER_FIELDS: dict[str, tuple[str, ...]] = {
    # FSM's fsm-controller stamps every export with the hash it last processed.
    "ServiceExport": ('metadata.annotations["multicluster.flomesh.io/export-hash"]',),
}

# API groups served by Kubernetes itself; every other group is a CRD's. A `*.k8s.io` group may
# still belong to a CRD (gateway.networking.k8s.io): those have no module in pulumi-kubernetes.
_BUILTIN_DOTLESS_GROUPS = frozenset({"apps", "autoscaling", "batch", "extensions", "policy"})


def logical_name(cluster: str, obj: PlannedObject) -> str:
    """`cluster-2:GlobalTrafficPolicy:httpbin/httpbin`: unique per stack, stable across runs.

    The URN holds the type and this name but not the parent, so the cluster is part of it; the
    apiVersion is in the type already. A change of any part is a delete and a create in Pulumi.
    """
    where = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
    return f"{cluster}:{obj.kind}:{where}"


def builtin_module(api_version: str) -> Any | None:
    """pulumi-kubernetes' module for a built-in group/version (`pulumi_kubernetes.networking.v1`)."""
    group, _, version = api_version.rpartition("/")
    if group and group not in _BUILTIN_DOTLESS_GROUPS and not group.endswith(".k8s.io"):
        return None
    package = group.split(".")[0] if group else "core"
    if not re.fullmatch(r"[a-z0-9]+", package) or not re.fullmatch(r"v[0-9a-z]+", version):
        return None
    try:
        return importlib.import_module(f"{k8s.__name__}.{package}.{version}")
    except ImportError:
        return None


def builtin_class(api_version: str, kind: str, *, patch: bool = False) -> type[pulumi.CustomResource] | None:
    module = builtin_module(api_version)
    if module is None:
        return None
    cls = getattr(module, f"{kind}Patch" if patch else kind, None)
    if isinstance(cls, type) and issubclass(cls, pulumi.CustomResource):
        return cls
    if "/" not in api_version:
        # A core kind this SDK lacks: a CustomResource would get the token kubernetes:v1:<kind>,
        # which is not the provider's core/v1 type.
        raise TypeError(f"pulumi-kubernetes has no class core/v1 {kind}{'Patch' if patch else ''}; upgrade it")
    return None


def ignore_changes(obj: PlannedObject) -> list[str]:
    return ["status", *CONTROLLER_FIELDS.get(obj.kind, ())]


def sink_body(obj: PlannedObject) -> dict[str, Any]:
    """The plan's body plus the annotations that steer pulumi-kubernetes (never the plan's own)."""
    body = copy.deepcopy(obj.body)
    extra: dict[str, str] = {}
    if obj.patch:
        extra[PATCH_FIELD_MANAGER] = FIELD_MANAGER
    if (obj.api_version, obj.kind) in SKIP_AWAIT_KINDS:
        extra[SKIP_AWAIT] = "true"
    if extra:
        meta = body.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), **extra}
    return body


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def register(
    name: str, obj: PlannedObject, body: dict[str, Any], opts: pulumi.ResourceOptions
) -> pulumi.CustomResource:
    """Register `body` (the object's sink body, possibly holding Outputs) with the right class."""
    fields = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
    typed = builtin_class(obj.api_version, obj.kind, patch=obj.patch)
    if typed is not None:
        kwargs = {_CAMEL.sub("_", k).lower(): v for k, v in fields.items()}
        resource: pulumi.CustomResource = typed(name, opts=opts, **kwargs)
        return resource
    extra = sorted(set(fields) - {"metadata", "spec"})
    if extra:
        raise TypeError(
            f"{obj.id} ({obj.api_version}) has top-level fields {', '.join(extra)}; pulumi-kubernetes' "
            "CustomResource applies only metadata and spec, so they would be dropped silently"
        )
    cls = k8s.apiextensions.CustomResourcePatch if obj.patch else k8s.apiextensions.CustomResource
    custom: pulumi.CustomResource = cls(
        name,
        api_version=obj.api_version,
        kind=obj.kind,
        metadata=fields.get("metadata"),
        spec=fields.get("spec"),
        opts=opts,
    )
    return custom
