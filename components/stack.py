"""The whole stack: which clusters it applies, their kubeconfigs, and what it reports.

Why: the fleet is always planned whole (an export in one cluster and the import it causes in
another must agree) and applied in shards. Kubeconfigs are resolved for every cluster the shard
touches before the first resource is registered, so a missing one stops the run cleanly instead
of leaving half a shard applied. Outputs describe the expected state, including what controllers
will derive, and never hold a secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from components.kubeconfig import Kubeconfigs
from components.member import MemberCluster
from components.settings import Settings, StackConfigError, select_clusters
from meshfleet.core.plan import ClusterPlan, Plan, PlannedObject
from meshfleet.errors import FleetError
from meshfleet.fleet.load import load_plan


def load(settings: Settings, project_dir: Path) -> Plan:
    """Plan the stack's fleet file; its problems are reported as the CLI reports them, with lines."""
    try:
        return load_plan(settings.fleet_path(project_dir), display=settings.fleet)
    except FleetError as e:
        raise StackConfigError(e.render()) from None


def deploy(plan: Plan, settings: Settings, project_dir: Path) -> dict[str, Any]:
    """Register this stack's shard of `plan`; return the stack outputs."""
    shard = select_clusters(plan, settings)
    source = Kubeconfigs(plan, pulumi.Config(), settings.fleet_path(project_dir).parent)

    kubeconfigs: dict[str, pulumi.Output[str]] = {}
    for cluster in shard:
        kubeconfigs[cluster.name] = source.get(cluster.name, f"the provider of {cluster.name}")
        for obj in cluster.applied():
            if obj.kubeconfig_of is not None:
                kubeconfigs[obj.kubeconfig_of] = source.get(
                    obj.kubeconfig_of, f"the {obj.kind} object {obj.name} in {cluster.name}"
                )

    for cluster in shard:
        MemberCluster(cluster, kubeconfigs, settings)
    return {
        "mode": plan.mode,
        "fleet": settings.fleet,
        "clusters": {c.name: _summary(c) for c in shard},
    }


def _summary(cluster: ClusterPlan) -> dict[str, Any]:
    derived = cluster.derived()
    return {
        "clusterKey": cluster.key if cluster.key is not None else "control-plane",
        "applied": len(cluster.applied()),
        "derived": len(derived),
        "derivedObjects": [_identity(o) for o in derived],
    }


def _identity(obj: PlannedObject) -> dict[str, str]:
    ident = {"apiVersion": obj.api_version, "kind": obj.kind, "name": obj.name}
    if obj.namespace:
        ident["namespace"] = obj.namespace
    return ident
