"""How one planned object becomes one Pulumi resource: which class, which name, which options.

Why: the plan grows kinds (Linkerd mirroring brings Services, Endpoints, EndpointSlices); no new
code should be needed here when it does. Built-in Kubernetes kinds go to pulumi-kubernetes' typed
class for their group/version, found by the SDK's own module layout (the typed classes accept
top-level fields such as Endpoints' `subsets` that `CustomResource` drops), everything else is a
`CustomResource`.

Anything that may already exist when meshfleet first applies it is a `*Patch` resource (a
server-side apply with a fixed field manager, forced): objects FSM owns (MeshConfig) and
namespaces (the workload may run there already, or an earlier run left it behind). A plain
create of an existing object fails since pulumi-kubernetes 4.29 (`upsertExistingObjects` is off),
and preview hides that. Patches are retained on delete: removing one would hand back fields a
CRD may require (MeshConfig's permissive mode), which the API server rejects.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from meshfleet.core.objects import with_field
from meshfleet.core.plan import PlannedObject
from meshfleet.kube.apply import FIELD_MANAGER, PATCH_FIELD_MANAGER, PATCH_FORCE

# Every patch carries the field manager and force of meshfleet.kube.apply (the policy pack requires
# both). Without force, a patch that changes a field another manager set (FSM's bootstrap owns every
# MeshConfig field it created) is a conflict on the first `up`, which preview does not show:
# preview skips creating patches (provider.go:1728-1735) and forces when nothing exists yet
# (await.go:1031-1043).

SKIP_AWAIT = "pulumi.com/skipAwait"

# Kinds whose await waits for status that the controllers of a mesh fleet do not publish (an
# Ingress waits for .status.loadBalancer, which FSM's pipy ingress never sets): without this,
# `pulumi up` hangs until its timeout although the object is in place.
SKIP_AWAIT_KINDS = frozenset({("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1beta1", "Ingress")})

# No `ignoreChanges`: the inputs never hold what controllers write (status, FSM's export-hash
# annotation), ignoreChanges only filters inputs, and the provider splits ignore paths on "."
# (await.go:753), so a dotted annotation key could never have matched anyway.

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


def is_patch(obj: PlannedObject) -> bool:
    """Applied as a `*Patch`: FSM's objects, and namespaces (which may exist before meshfleet)."""
    return obj.patch or (obj.api_version == "v1" and obj.kind == "Namespace")


def crd_name(obj: PlannedObject) -> str | None:
    """`serviceexports.multicluster.flomesh.io`: the CRD that serves `obj`, None for a built-in kind.

    The plural is the lower-cased kind plus "s" ("y" -> "ies"), as every CRD the plans use
    declares it (checked against the upstream manifests by the tests).
    """
    group, _, _version = obj.api_version.rpartition("/")
    if not group or builtin_module(obj.api_version) is not None:
        return None
    kind = obj.kind.lower()
    plural = kind[:-1] + "ies" if kind.endswith("y") and kind[-2:-1] not in "aeiou" else kind + "s"
    return f"{plural}.{group}"


def sink_body(obj: PlannedObject, kubeconfig: pulumi.Output[str] | None = None) -> dict[str, Any]:
    """The plan's body plus the annotations that steer pulumi-kubernetes (never the plan's own) and, for
    an object that carries a member's kubeconfig, that kubeconfig at its field.

    Only the mappings on the way to what is added are new; the rest is the plan's own, shared: read it,
    never change it (Pulumi only reads it). A deep copy per object stayed alive until the object was
    registered, and every garbage collection meanwhile walked it.
    """
    body = obj.body
    extra: dict[str, str] = {}
    if is_patch(obj):
        extra[PATCH_FIELD_MANAGER] = FIELD_MANAGER
        extra[PATCH_FORCE] = "true"
    if (obj.api_version, obj.kind) in SKIP_AWAIT_KINDS:
        extra[SKIP_AWAIT] = "true"
    if extra:
        annotations = body.get("metadata", {}).get("annotations") or {}
        body = with_field(body, ("metadata", "annotations"), {**annotations, **extra})
    if kubeconfig is not None:
        # The mesh reads the member's kubeconfig from the object in plain text (FSM's Cluster spec,
        # an Istio remote secret's data); here it stays a secret Output, so only the API server
        # ever sees the bytes.
        body = with_field(body, obj.kubeconfig_field, kubeconfig)
    return body


class GenericObject(pulumi.CustomResource):
    """A custom resource of any shape: every top-level field of the object is an input, under the type
    token `kubernetes:<apiVersion>:<kind>` the provider serves custom resources by."""

    def __init__(
        self, name: str, api_version: str, kind: str, fields: dict[str, Any], opts: pulumi.ResourceOptions
    ) -> None:
        super().__init__(
            f"kubernetes:{api_version}:{kind}", name, {"apiVersion": api_version, "kind": kind, **fields}, opts
        )


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def register(
    name: str, obj: PlannedObject, body: dict[str, Any], opts: pulumi.ResourceOptions
) -> pulumi.CustomResource:
    """Register `body` (the object's sink body, possibly holding Outputs) with the right class."""
    fields = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
    patch = is_patch(obj)
    typed = builtin_class(obj.api_version, obj.kind, patch=patch)
    if typed is not None:
        kwargs = {_CAMEL.sub("_", k).lower(): v for k, v in fields.items()}
        resource: pulumi.CustomResource = typed(name, opts=opts, **kwargs)
        return resource
    extra = sorted(set(fields) - {"metadata", "spec"})
    if extra and not patch:
        # A custom resource with fields beside spec (a template may hold any kind): the provider takes
        # the object as its inputs under the kind's own type token, as pulumi-kubernetes' CustomResource
        # does with metadata and spec only (its Python class would drop the rest silently).
        return GenericObject(name, obj.api_version, obj.kind, fields, opts)
    if extra:
        raise TypeError(
            f"{obj.id} ({obj.api_version}) has top-level fields {', '.join(extra)}; pulumi-kubernetes' "
            "CustomResourcePatch applies only metadata and spec, so they would be dropped silently"
        )
    cls = k8s.apiextensions.CustomResourcePatch if patch else k8s.apiextensions.CustomResource
    custom: pulumi.CustomResource = cls(
        name,
        api_version=obj.api_version,
        kind=obj.kind,
        metadata=fields.get("metadata"),
        spec=fields.get("spec"),
        opts=opts,
    )
    return custom
