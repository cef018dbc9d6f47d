"""FSM's traffic policies: what the GlobalTrafficPolicy webhook refuses, and what FSM reads otherwise.

Why: FSM's webhook checks little of a policy (pkg/webhook/mcs/v1alpha1/globaltrafficpolicy.go:67-92)
and its runtime reads some words otherwise than a reader would: a weight of 0 or none is full weight,
FailOver has no order, Locality ignores its target. Each is refused or said here, at the policy's key.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshfleet.core.checks import Checks
from meshfleet.core.meshes.fsm.codes import (
    FAILOVER_UNORDERED,
    FAILOVER_WITHOUT_TARGET,
    LOCALITY_IGNORES_TARGETS,
    LOCALITY_TARGETS,
    MISSING_WEIGHT,
    NEGATIVE_WEIGHT,
    TARGET_LISTED_TWICE,
    TARGET_NOT_EXPORTER,
    WEIGHT_WITHOUT_ACTIVE_ACTIVE,
    ZERO_WEIGHT,
)
from meshfleet.core.resolved import PolicySettings, ServiceTopology
from meshfleet.errors import shortlist


def check_policy(
    checks: Checks, svc: ServiceTopology, consumer: str, policy: PolicySettings, exporters: Sequence[str]
) -> None:
    """`consumer`'s traffic policy for `svc`, whose FSM exporters (those its consumers reach) are `exporters`."""
    if policy.targets is not None:
        for i, t in enumerate(policy.targets):
            tloc = (*policy.targets_loc, i)
            if checks.cluster_ref(t.cluster, (*tloc, "cluster"), "be a traffic target") and t.cluster not in exporters:
                what = (
                    "does not export"
                    if t.cluster not in svc.exporters
                    else f"runs {checks.mesh(t.cluster)}, so FSM consumers cannot reach its export of"
                )
                checks.problem(
                    (*tloc, "cluster"),
                    f"traffic target {t.cluster!r} {what} {svc.ref}",
                    f"use an FSM exporter: {', '.join(exporters) or '(none)'}",
                    TARGET_NOT_EXPORTER,
                )
            if t.weight is not None and t.weight < 0:
                checks.problem(
                    (*tloc, "weight"),
                    f"weight {t.weight} is negative",
                    "use a weight of 1 or more, or remove the target to drain it",
                    NEGATIVE_WEIGHT,
                )
            if t.weight is not None and policy.lb_type != "ActiveActive":
                checks.problem(
                    (*tloc, "weight"),
                    f"weights only apply to ActiveActive, not {policy.lb_type}",
                    "remove the weight, or use lbType: ActiveActive",
                    WEIGHT_WITHOUT_ACTIVE_ACTIVE,
                )
        if len({t.cluster for t in policy.targets}) != len(policy.targets):
            checks.problem(
                policy.targets_loc, "a traffic target is listed twice", "list each cluster once", TARGET_LISTED_TWICE
            )
        if policy.lb_type == "ActiveActive":
            _check_weights(checks, svc, policy)
    effective = policy.effective(consumer)
    if policy.lb_type == "Locality" and effective is not None and len(effective) > 1:
        checks.problem_for(
            consumer,
            policy.targets_loc,
            f"Locality takes at most one target; {consumer} would get {len(effective)}",
            "keep one target, or use FailOver or ActiveActive",
            LOCALITY_TARGETS,
        )
    elif policy.lb_type == "Locality" and effective:
        # No policy and Locality alike ignore imports, targets included (traffic_policy.go:19-25;
        # service_import.go:21,90,185).
        written = ", ".join(t.cluster for t in policy.targets or ())
        checks.problem(
            policy.targets_loc,
            f"FSM's Locality ignores targets and imports: each consumer of "
            f"{svc.ref} calls only its own copy, never {written}",
            f"to call {written} when the local copy fails, use lbType: FailOver; to share the "
            "calls, ActiveActive; to stay local, remove targets",
            LOCALITY_IGNORES_TARGETS,
        )
    if policy.lb_type == "FailOver" and effective is not None and not effective:
        checks.problem_for(
            consumer,
            policy.targets_loc,
            f"FailOver needs at least one target other than {consumer} itself",
            "name the exporting clusters to fail over to, or leave targets out to use every exporter",
            FAILOVER_WITHOUT_TARGET,
        )
    targets = [t.cluster for t in effective] if effective is not None else svc.endpoints_for(consumer)
    if policy.lb_type == "FailOver" and len(targets) > 1:
        # fsm-runtime-semantics.md §3: FailOver targets are balanced round-robin (codebase/utils.js).
        checks.problem_for(
            consumer,
            policy.targets_loc if policy.targets is not None else policy.lb_type_loc,
            f"FSM balances {consumer}'s calls to {svc.ref} round-robin across the FailOver targets "
            f"{shortlist(targets)}, in no order: no target is tried first",
            "to prefer one cluster, use ActiveActive with weights; acknowledge failover-unordered "
            "where round-robin is meant",
            FAILOVER_UNORDERED,
        )


def _check_weights(checks: Checks, svc: ServiceTopology, policy: PolicySettings) -> None:
    """A weight of 0, and no weight, are full weight (100): traffic_policy.go:56-66,
    pkg/catalog/outbound_traffic_policies.go:276-278, repo/policy.go:244-247."""
    targets = policy.targets or ()
    weighted = [t.cluster for t in targets if t.weight]
    for i, t in enumerate(targets):
        tloc = (*policy.targets_loc, i)
        if t.weight == 0:
            checks.problem(
                (*tloc, "weight"),
                f"FSM reads weight 0 as full weight (100): {t.cluster} gets as "
                f"many calls to {svc.ref} as a target of weight 100, not none",
                f"to drain {t.cluster}, remove it from targets; otherwise give it a weight of 1 or more",
                ZERO_WEIGHT,
            )
        elif t.weight is None and weighted:
            checks.problem(
                tloc,
                f"target {t.cluster} has no weight beside weighted targets "
                f"({', '.join(weighted)}); FSM gives it full weight (100), not an even share",
                f"give {t.cluster} a weight, or remove it from targets to drain it",
                MISSING_WEIGHT,
            )
