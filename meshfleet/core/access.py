"""Access rules in service terms: where each holds, and the identities the service answers as there.

Why: a rule names a service and the clusters it holds in; the mesh grants by identity. Which
clusters can enforce it (those whose mesh has an access adapter) and which service accounts answer
for the service in each (local pods, remote exporters) are the same question for every mesh.
"""

from __future__ import annotations

from meshfleet import codes
from meshfleet.core.checks import Checks
from meshfleet.core.meshes import MESHES, access_adapters, mesh
from meshfleet.core.resolved import ServiceTopology
from meshfleet.errors import Loc


def enforces_access(meshes: dict[str, str], cluster: str) -> bool:
    return mesh(meshes[cluster]).access is not None


def check_access(checks: Checks, services: dict[str, ServiceTopology]) -> dict[str, list[str] | None]:
    """Check every access rule; returns each rule's chosen clusters (None: wherever it is reachable)."""
    access_in: dict[str, list[str] | None] = {}
    for rule_name, rule in sorted(checks.fleet.access.items()):
        loc: Loc = ("access", rule_name)
        topo = services.get(rule.to)
        if topo is None:
            checks.problem(
                (*loc, "to"),
                f"unknown service {rule.to!r}",
                f"use one of: {', '.join(sorted(services)) or '(no services)'}",
                codes.UNKNOWN_SERVICE,
            )
            continue
        reachable = set(reachable_clusters(topo))
        access_in[rule_name] = None
        if rule.in_ is not None:
            clusters = checks.select(rule.in_, (*loc, "in"), "hold access rules")
            access_in[rule_name] = clusters
            for c in clusters:
                if not enforces_access(checks.meshes, c):
                    words = " or ".join(a.objects_word for a in access_adapters())
                    titles = " or ".join(m.title for m in MESHES.values() if m.access is not None)
                    checks.problem_for(
                        c,
                        (*loc, "in"),
                        f"cluster {c!r} runs {checks.mesh(c)}; access rules become "
                        f"{words}, which only {titles} clusters enforce",
                        f"choose {titles} clusters",
                        codes.ACCESS_NOT_ENFORCED,
                        same=checks.mesh(c),
                    )
                elif c not in reachable:
                    checks.problem_for(
                        c,
                        (*loc, "in"),
                        f"{rule.to} does not exist in cluster {c!r}: it neither runs there nor is imported there",
                        "add it to localServiceAccounts, or import it there",
                        codes.SERVICE_NOT_THERE,
                    )
        names_seen: set[str] = set()
        for i, match in enumerate(rule.http):
            if match.name in names_seen:
                checks.problem(
                    (*loc, "http", i, "name"),
                    f"match name {match.name!r} is used twice",
                    "give each match its own name",
                    codes.DUPLICATE_MATCH_NAME,
                )
            names_seen.add(match.name)
        for c in access_clusters(topo, access_in[rule_name]):
            adapter = mesh(checks.mesh(c)).access
            assert adapter is not None
            adapter.check_rule(checks, rule_name, rule, c)
            adapter.check_grant(checks, rule_name, rule, topo, c)
    return access_in


def reachable_clusters(topo: ServiceTopology) -> list[str]:
    """Clusters that enforce access where the service answers: where it runs, plus where it is imported."""
    found = set(topo.spec.localServiceAccounts) | set(topo.exporters) | set(topo.importers)
    return sorted(c for c in found if c in topo.meshes and enforces_access(topo.meshes, c))


def access_clusters(topo: ServiceTopology, chosen: list[str] | None) -> list[str]:
    reachable = reachable_clusters(topo)
    return reachable if chosen is None else [c for c in chosen if c in reachable]


def identities(topo: ServiceTopology, cluster: str) -> list[str]:
    """Service accounts under which `topo`'s service answers in `cluster`.

    Local pods answer as the local service account (or the export's one where the cluster exports);
    remote endpoints answer as the service account their export names.
    """
    found: set[str] = set()
    local = topo.spec.localServiceAccounts.get(cluster)
    if local is not None:
        found.add(local)
    elif cluster in topo.exports:
        found.add(topo.exports[cluster].service_account)
    if cluster in topo.importers:
        for e in topo.endpoints_for(cluster):
            found.add(topo.exports[e].service_account)
    return sorted(found)
