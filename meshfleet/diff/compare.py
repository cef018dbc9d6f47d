"""Plan vs plan: what changes in which cluster, in service terms and object by object, with the risks.

Why: a reviewer of a fleet change has to know, before anything is applied, which cluster gains or
loses which service, endpoint, traffic policy or access grant, and whether the change can break the
fleet. This compares two plans only (their views and objects), so it works the same for two files,
a file against a git revision, or a plan built in a test, and it never sees a kubeconfig: the plan
carries where a kubeconfig comes from, not what it holds, and any field named `kubeconfig` is
redacted anyway.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

from meshfleet.core.effective import Views
from meshfleet.core.plan import Plan
from meshfleet.diff.objects import ClusterDiff, ObjectOp, cluster_diff
from meshfleet.diff.risks import Risk, risks
from meshfleet.diff.routes import AccessChange, RouteChange, access_changes, route_changes, touched
from meshfleet.diff.services import (
    GrantChange,
    MeshChange,
    ServiceChange,
    grant_changes,
    mesh_changes,
    service_changes,
)
from meshfleet.errors import Finding, format_loc

DEFAULT_MAX_DELETE_SHARE = 0.5
_ORDER = {"export": 0, "import": 1, "traffic-policy": 2}


@dataclass(frozen=True)
class PlanDiff:
    """Everything that changes between two plans, in service terms first (routes and access, from each
    plan's effective view), then views and objects, and the new fleet's warnings."""

    old_mode: str
    new_mode: str
    clusters: tuple[ClusterDiff, ...]
    risks: tuple[Risk, ...]
    changes: tuple[ServiceChange, ...]
    grants: tuple[GrantChange, ...]
    mesh: tuple[MeshChange, ...]
    max_delete_share: float
    warnings: tuple[Finding, ...] = ()
    """The new fleet's warnings."""
    introduced: frozenset[tuple[str, str, str]] = frozenset()
    """(code, key, message) of the warnings the old fleet did not have."""
    routes: tuple[RouteChange, ...] = ()
    """Per consumer and service, who answers before and after."""
    access: tuple[AccessChange, ...] = ()
    """Per consumer, service and source, what it may call before and after, and where that is enforced."""
    old_view: Views | None = None
    new_view: Views | None = None
    """Each plan's effective view, kept for what renders the diff (entries are built once, on first use)."""

    @property
    def changed(self) -> bool:
        """Something changes: the mode, a cluster or object, or what a view means."""
        return (
            self.old_mode != self.new_mode
            or any(c.status != "unchanged" for c in self.clusters)
            or bool(self.changes or self.grants or self.mesh or self.routes or self.access)
        )

    @property
    def imports(self) -> tuple[ServiceChange, ...]:
        return tuple(c for c in self.changes if c.aspect == "import")

    @property
    def exports(self) -> tuple[ServiceChange, ...]:
        return tuple(c for c in self.changes if c.aspect == "export")

    @property
    def policies(self) -> tuple[ServiceChange, ...]:
        return tuple(c for c in self.changes if c.aspect == "traffic-policy")

    def total(self, op: ObjectOp) -> int:
        return sum(c.count(op) for c in self.clusters)

    def role_changes(self) -> int:
        return sum(c.role_changes() for c in self.clusters)

    def changed_services(self) -> list[str]:
        """Every service something changes for: its routes, access, views or grants."""
        found = {c.service for c in self.changes} | {r.service for r in self.routes} | {a.service for a in self.access}
        found |= {g.service for g in self.grants}
        return sorted(found)

    def services(self) -> list[tuple[str, list[ServiceChange]]]:
        """Per service, its changes by cluster (export, import, traffic policy), services in order."""
        by: dict[str, list[ServiceChange]] = {}
        for c in self.changes:
            by.setdefault(c.service, []).append(c)
        return [(s, sorted(by[s], key=lambda c: (c.cluster, _ORDER[c.aspect]))) for s in sorted(by)]

    def is_new(self, warning: Finding) -> bool:
        return _warning_key(warning) in self.introduced


def _warning_key(f: Finding) -> tuple[str, str, str]:
    return (f.code.name, format_loc(f.loc), f.message)


def diff(old: Plan, new: Plan, *, max_delete_share: float = DEFAULT_MAX_DELETE_SHARE) -> PlanDiff:
    """Compare two plans; `max_delete_share` is the share of a cluster's objects a change may delete.

    As in planning, the cyclic garbage collector is paused: two large plans hold millions of small
    objects without cycles, and rescanning them while the diff allocates cost most of its time.
    """
    if not 0.0 <= max_delete_share <= 1.0:
        raise ValueError(f"max_delete_share must be between 0 and 1, not {max_delete_share}")
    paused = gc.isenabled()
    gc.disable()
    try:
        return _diff(old, new, max_delete_share)
    finally:
        if paused:
            gc.enable()


def _diff(old: Plan, new: Plan, max_delete_share: float) -> PlanDiff:
    olds = {c.name: c for c in old.clusters}
    news = {c.name: c for c in new.clusters}
    clusters = tuple(
        cluster_diff(name, olds.get(name), news.get(name), old, new) for name in sorted(set(olds) | set(news))
    )
    before = {_warning_key(w) for w in old.warnings}
    changes, grants, mesh = service_changes(old, new), grant_changes(old, new), mesh_changes(old, new)
    old_view, new_view = Views(old), Views(new)
    pairs = touched(old_view, new_view, changes, grants, mesh, clusters)
    return PlanDiff(
        old_mode=old.mode,
        new_mode=new.mode,
        clusters=clusters,
        risks=risks(old, new, clusters, max_delete_share),
        changes=changes,
        grants=grants,
        mesh=mesh,
        max_delete_share=max_delete_share,
        warnings=new.warnings,
        introduced=frozenset(k for w in new.warnings if (k := _warning_key(w)) not in before),
        routes=route_changes(old_view, new_view, pairs),
        access=access_changes(old_view, new_view, pairs),
        old_view=old_view,
        new_view=new_view,
    )
