"""The whole stack: which clusters it applies, their kubeconfigs, and what it reports.

Why: the fleet is always planned whole (an export in one cluster and the import it causes in
another must agree) and applied in shards. Kubeconfigs are resolved for every cluster the shard
touches before the first resource is registered, so a missing one stops the run cleanly instead
of leaving half a shard applied. Outputs describe the expected state, including what controllers
will derive, and never hold a secret.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components import shards
from components.kubeconfig import Kubeconfigs, placeholder
from components.member import Identity, MemberCluster
from components.settings import Settings, StackConfigError, select_names
from meshfleet.core.meshes import mesh
from meshfleet.core.plan import ClusterPlan, Plan, PlannedObject
from meshfleet.errors import FleetError
from meshfleet.fleet.includes import LocalFiles
from meshfleet.fleet.load import load_fleet, parse
from meshfleet.fleet.model import Fleet


@dataclass(frozen=True)
class Loaded:
    """The stack's fleet file as written (every cluster, decommissioned ones too) and its plan."""

    fleet: Fleet
    plan: Plan


def load(settings: Settings, project_dir: Path) -> Loaded:
    """Parse and plan the stack's fleet file (and the manifest files its resources name, beside it); its
    problems are reported as the CLI reports them, with lines."""
    try:
        path = settings.fleet_path(project_dir)
        doc = parse(path, display=settings.fleet)
        loaded = load_fleet(doc, LocalFiles(path.parent, str(Path(settings.fleet).parent)))
        found = Loaded(loaded.fleet, loaded.plan())
    except FleetError as e:
        raise StackConfigError(e.render()) from None
    # The plan lives as long as the program, and Pulumi keeps about 160 objects alive per resource while
    # it registers: frozen, the cyclic collector's full passes (most of a 10k-object run) skip the plan.
    gc.freeze()
    return found


def deploy(loaded: Loaded, settings: Settings, project_dir: Path) -> dict[str, Any]:
    """Register this stack's shard of the fleet; return the stack outputs."""
    fleet, planned = loaded.fleet, loaded.plan
    known = sorted(fleet.clusters)
    labels = {name: dict(c.labels) for name, c in fleet.clusters.items()}
    shard = select_names(known, labels, settings)
    others = shards.claims(project_dir, settings.fleet_path(project_dir), known, labels)
    unclaimed = shards.check(pulumi.get_stack(), shard, others, known) if others else []
    if unclaimed:
        pulumi.log.warn(f"no committed stack file applies {', '.join(unclaimed)} of {settings.fleet}")

    source = Kubeconfigs(
        {n: c.kubeconfig for n, c in fleet.clusters.items()}, pulumi.Config(), settings.fleet_path(project_dir).parent
    )
    plans = {c.name: c for c in planned.clusters}
    kubeconfigs: dict[str, pulumi.Output[str]] = {}
    for name in shard:
        c = fleet.clusters[name]
        if c.decommissioned:
            kubeconfigs[name] = pulumi.Output.secret(placeholder(c.id or name))
            continue
        kubeconfigs[name] = source.get(name, f"the provider of {name}")
        for obj in plans[name].applied():
            if obj.kubeconfig_of is not None:
                where = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
                needed_for = f"the {mesh(plans[name].mesh).title} {obj.kind} object {where} in {name}"
                kubeconfigs[obj.kubeconfig_of] = source.get(obj.kubeconfig_of, needed_for, remote=True)

    for name in shard:
        c = fleet.clusters[name]
        identity = Identity(name, c.id or name, tuple(c.formerNames), c.decommissioned)
        MemberCluster(identity, plans.get(name), kubeconfigs, settings)
    return {
        "mode": planned.mode,
        "fleet": settings.fleet,
        "clusters": {n: _summary(plans[n]) if n in plans else {"decommissioned": True} for n in shard},
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
