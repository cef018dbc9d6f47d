"""meshfleet's CrossGuard rules, as plain validation functions the pack serves and the tests call.

Why: the program's own tests show what it registers today; these rules hold any program, and any
hand edit of it, to the same lines when it runs for real (`pulumi preview/up --policy-pack policy`):

- explicit-provider: every `kubernetes:*` resource names a provider, never a default one (the
  ambient kubeconfig is some cluster, not necessarily the object's);
- forced-patches: every `*Patch` carries the fixed field manager and force, or the first `up`
  conflicts with the fields FSM's bootstrap owns (preview does not show it);
- protected-registrations: in a protected stack every FSM `Cluster` and every `ServiceExport` is
  protected. A policy never sees a deletion (it checks what the program registers), but the engine
  refuses to delete a resource whose state is protected (pulumi's step.go:647) and to replace one
  protected before and after (step_generator.go:1957); requiring protect on every run closes the
  one gap, a program that drops protect and replaces in the same run.

The pack's `__main__.py` wraps these in a `PolicyPack`; constructing one starts a server, so the
tests import only this module.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

FIELD_MANAGER = "meshfleet"
PATCH_FIELD_MANAGER = "pulumi.com/patchFieldManager"
PATCH_FORCE = "pulumi.com/patchForce"
PROTECTED_STACKS = ["prod", "prod-*"]
# group/kind of the objects whose loss unjoins a cluster or withdraws a service from the fleet.
REGISTRATIONS = {("multicluster.flomesh.io", "Cluster"), ("multicluster.flomesh.io", "ServiceExport"),
                 ("multicluster.x-k8s.io", "ServiceExport")}


def _group_kind(resource_type: str) -> tuple[str, str] | None:
    """`kubernetes:multicluster.flomesh.io/v1alpha1:Cluster` -> ("multicluster.flomesh.io", "Cluster")."""
    package, _, rest = resource_type.partition(":")
    module, _, kind = rest.partition(":")
    if package != "kubernetes" or not kind:
        return None
    group = module.rpartition("/")[0]
    return (group if group != "core" else ""), kind


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
            "cluster's provider (ResourceOptions(provider=...))", None)


def forced_patches(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not (args.resource_type.startswith("kubernetes:") and args.resource_type.endswith("Patch")):
        return
    metadata: Any = args.props.get("metadata") or {}
    annotations: Mapping[str, Any] = metadata.get("annotations") or {}
    if annotations.get(PATCH_FIELD_MANAGER) != FIELD_MANAGER:
        report_violation(f"{args.name} must carry the annotation {PATCH_FIELD_MANAGER}: {FIELD_MANAGER} "
                         "(else every patch gets its own random field manager)", None)
    if annotations.get(PATCH_FORCE) != "true":
        report_violation(f"{args.name} must carry the annotation {PATCH_FORCE}: \"true\" (else the first `up` "
                         "conflicts with the fields another manager owns)", None)


def protected_registrations(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _group_kind(args.resource_type) not in REGISTRATIONS:
        return
    patterns = list(args.get_config().get("protectedStacks", PROTECTED_STACKS))
    stack = _stack(args.urn)
    if any(fnmatch.fnmatchcase(stack, p) for p in patterns) and not args.opts.protect:
        report_violation(
            f"{args.name} is not protected in stack {stack}: deleting or replacing it would unjoin a cluster or "
            "withdraw a service. Set meshfleet:protect true; to delete it on purpose, `pulumi state unprotect` "
            "it first", None)


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
        description="In a protected stack, FSM Clusters and ServiceExports cannot be deleted or replaced.",
        validate=protected_registrations,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={
            "protectedStacks": {"type": "array", "items": {"type": "string"}, "default": PROTECTED_STACKS},
        }),
    ),
)
