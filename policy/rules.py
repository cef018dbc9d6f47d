"""meshfleet's CrossGuard rules, as plain validation functions the pack serves and the tests call.

Why: the program's own tests show what it registers today; these rules hold any program, and any
hand edit of it, to the same lines when it runs for real (`pulumi preview/up --policy-pack policy`):

- explicit-provider: every `kubernetes:*` resource names a provider, never a default one (the
  ambient kubeconfig is some cluster, not necessarily the object's);
- forced-patches: every `*Patch` carries the fixed field manager and force, or the first `up`
  conflicts with the fields FSM's bootstrap owns (preview does not show it);
- protected-registrations: in a protected stack every object that joins a cluster or shares a
  service with the fleet is protected: its loss breaks every other cluster's calls to that cluster
  or service. These are FSM's `Cluster` and `ServiceExport` (in `multicluster.flomesh.io`, and
  `flomesh.io` as FSM v1.2 serves them), the MCS `ServiceExport`, Istio's remote secrets (a Secret
  labelled `istio/multiCluster: "true"`) and cross-network Gateway, and a Cilium global Service that
  shares its endpoints (`service.cilium.io/global: "true"`, `shared` not "false"; on a cluster that
  runs the service it is a `ServicePatch`). Imports (Linkerd's mirrors, a standalone FSM
  `ServiceImport`, a Cilium global Service with `shared: "false"`, Istio's selector-less Service)
  break one consumer's calls, and traffic policies change which cluster answers: the program
  protects the created ones all the same in a protected stack, but they are not held to it here
  (Istio's import is a plain Service, which no rule could tell from any other). A policy never sees
  a deletion (it checks what the program registers), but the engine refuses to delete a resource
  whose state is protected (pulumi's step.go:647) and to replace one protected before and after
  (step_generator.go:1957); requiring protect on every run closes the one gap, a program that
  drops protect and replaces in the same run.

The constants come from `meshfleet` (installed in the pack's virtualenv), never from components/,
which is not on the pack's path: the pack runs with its own directory first on sys.path.
The pack's `__main__.py` wraps these in a `PolicyPack`; constructing one starts a server, so the
tests import only this module.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any, get_args

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from meshfleet.core.meshes import cilium, istio
from meshfleet.core.meshes.fsm import versions as fsm_versions
from meshfleet.fleet.model import McsApiVersion
from meshfleet.kube.apply import FIELD_MANAGER, PATCH_FIELD_MANAGER, PATCH_FORCE

PROTECTED_STACKS = ["prod", "prod-*"]
FSM_GROUPS = frozenset({fsm_versions.GROUP, fsm_versions.GROUP_V1_2})
MCS_GROUPS = frozenset(v.rpartition("/")[0] for v in get_args(McsApiVersion))
ISTIO_GROUP = istio.NETWORKING_API.rpartition("/")[0]


def _group_kind(resource_type: str) -> tuple[str, str] | None:
    """`kubernetes:multicluster.flomesh.io/v1alpha1:Cluster` -> ("multicluster.flomesh.io", "Cluster")."""
    package, _, rest = resource_type.partition(":")
    module, _, kind = rest.partition(":")
    if package != "kubernetes" or not kind:
        return None
    group = module.rpartition("/")[0]
    return (group if group != "core" else ""), kind


def registration(resource_type: str, props: Mapping[str, Any]) -> str | None:
    """What the object is when its loss unjoins a cluster or withdraws a service from the fleet, else None."""
    found = _group_kind(resource_type)
    if found is None:
        return None
    group, kind = found
    metadata: Any = props.get("metadata") or {}
    labels: Mapping[str, Any] = metadata.get("labels") or {}
    annotations: Mapping[str, Any] = metadata.get("annotations") or {}
    if group in FSM_GROUPS and kind in ("Cluster", "ServiceExport"):
        return f"an FSM {kind}"
    if group in MCS_GROUPS and kind == "ServiceExport":
        return "an MCS ServiceExport"
    if (group, kind) == ("", "Secret") and labels.get(istio.MULTICLUSTER_LABEL) == "true":
        return "an Istio remote secret"
    if (group, kind) == (ISTIO_GROUP, "Gateway") and metadata.get("name") == istio.CROSS_NETWORK_GATEWAY:
        return "Istio's cross-network Gateway"
    if (
        (group, kind) in (("", "Service"), ("", "ServicePatch"))
        and annotations.get(cilium.GLOBAL) == "true"
        and str(annotations.get(cilium.SHARED, "true")).lower() != "false"
    ):
        return "a Cilium global Service that shares its endpoints"
    return None


def _stack(urn: str) -> str:
    """The stack of `urn:pulumi:<stack>::<project>::...`."""
    return urn.removeprefix("urn:pulumi:").partition("::")[0]


def explicit_provider(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not args.resource_type.startswith("kubernetes:"):
        return
    provider = args.provider
    if provider is None or provider.name == "default" or provider.name.startswith("default_"):
        report_violation(
            f"{args.name} uses the default Kubernetes provider (the ambient kubeconfig); bind it to its "
            "cluster's provider (ResourceOptions(provider=...))",
            None,
        )


def forced_patches(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not (args.resource_type.startswith("kubernetes:") and args.resource_type.endswith("Patch")):
        return
    metadata: Any = args.props.get("metadata") or {}
    annotations: Mapping[str, Any] = metadata.get("annotations") or {}
    if annotations.get(PATCH_FIELD_MANAGER) != FIELD_MANAGER:
        report_violation(
            f"{args.name} must carry the annotation {PATCH_FIELD_MANAGER}: {FIELD_MANAGER} "
            "(else every patch gets its own random field manager)",
            None,
        )
    if annotations.get(PATCH_FORCE) != "true":
        report_violation(
            f'{args.name} must carry the annotation {PATCH_FORCE}: "true" (else the first `up` '
            "conflicts with the fields another manager owns)",
            None,
        )


def protected_registrations(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    what = registration(args.resource_type, args.props)
    if what is None:
        return
    patterns = list(args.get_config().get("protectedStacks", PROTECTED_STACKS))
    stack = _stack(args.urn)
    if any(fnmatch.fnmatchcase(stack, p) for p in patterns) and not args.opts.protect:
        report_violation(
            f"{args.name} ({what}) is not protected in stack {stack}: deleting or replacing it would unjoin a "
            "cluster or withdraw a service. Set meshfleet:protect true; to delete it on purpose, "
            "`pulumi state unprotect` it first",
            None,
        )


POLICIES = (
    ResourceValidationPolicy(
        name="explicit-provider",
        description="Every Kubernetes resource is bound to its cluster's own provider.",
        validate=explicit_provider,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="forced-patches",
        description="Every patch carries meshfleet's field manager and pulumi.com/patchForce.",
        validate=forced_patches,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="protected-registrations",
        description="In a protected stack, what joins a cluster or shares a service cannot be deleted or replaced.",
        validate=protected_registrations,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(
            properties={
                "protectedStacks": {"type": "array", "items": {"type": "string"}, "default": PROTECTED_STACKS},
            }
        ),
    ),
)
