"""Who exports what, who imports it, and whether the pieces agree: the fleet resolved and checked.

Why: the cross-cluster facts (exporters, importers, effective per-cluster settings after overrides)
are needed both to check a fleet and to plan it. They are computed once, here, and every check
reports the key path of the words that are wrong so the loader can name the line. What one mesh
refuses is asked of its adapter; this module knows no mesh by name.
"""

from __future__ import annotations

from collections.abc import Mapping

from meshfleet import codes
from meshfleet.core.access import access_clusters, check_access, identities, reachable_clusters
from meshfleet.core.checks import Checks
from meshfleet.core.meshes import MESHES, mesh
from meshfleet.core.resolved import (
    ExportRule,
    ExportSettings,
    PolicySettings,
    ServiceTopology,
    Topology,
    cluster_key,
    is_ip,
)
from meshfleet.core.resources import place_resources
from meshfleet.core.services import resolve_service
from meshfleet.core.workloads import check_workloads
from meshfleet.fleet.model import Fleet
from meshfleet.fleet.resources import IncludedObject


def resolve(fleet: Fleet, included: Mapping[str, tuple[IncludedObject, ...]] | None = None) -> Topology:
    """Compute the fleet's topology and every finding about it (in `Topology.findings`); `included` holds
    the objects the loader read from the resources' manifest files."""
    checks = Checks(fleet)
    cp = fleet.controlPlane
    if cp is not None and cp not in fleet.clusters:
        checks.problem(
            ("controlPlane",),
            f"control-plane cluster {cp!r} is not under clusters",
            f"add it under clusters, or use one of: {', '.join(sorted(fleet.clusters))}",
            codes.UNKNOWN_CONTROL_PLANE,
        )
    if not checks.members:
        checks.problem(
            ("clusters",), "the fleet has no member cluster", "add the clusters that run services", codes.NO_MEMBERS
        )
    keys = {name: cluster_key(name, c) for name, c in fleet.clusters.items() if name != cp}
    for name, c in sorted(fleet.clusters.items()):
        for other in MESHES.values():
            if c.mesh != other.name and other.settings is not None and other.settings in c.model_fields_set:
                checks.problem(
                    ("clusters", name, other.settings),
                    f"cluster {name!r} runs {c.mesh}; {other.settings} settings do not apply",
                    f"remove {other.settings}, or set mesh: {other.name}",
                    codes.SETTINGS_OF_ANOTHER_MESH,
                )
    for adapter in MESHES.values():
        adapter.check_fleet(checks)
    for m in checks.members:
        mesh(checks.mesh(m)).check_cluster(checks, m)

    services = {ref: resolve_service(checks, ref, fleet.services[ref]) for ref in sorted(fleet.services)}
    for adapter in MESHES.values():
        adapter.check_services(checks, services)
    access_in = check_access(checks, services)
    placed = place_resources(checks, included or {})
    check_workloads(checks, services, access_in, placed)
    return Topology(
        fleet=fleet,
        members=checks.members,
        keys=keys,
        services=services,
        meshes=checks.meshes,
        access_in=access_in,
        placed=placed,
        findings=checks.findings,
    )


__all__ = [
    "ExportRule",
    "ExportSettings",
    "PolicySettings",
    "ServiceTopology",
    "Topology",
    "access_clusters",
    "cluster_key",
    "identities",
    "is_ip",
    "reachable_clusters",
    "resolve",
]
