"""Resources placed on members: each template object as each cluster of its placement gets it.

Why: a resource is KubeFed's federated type (template, placement, overrides, replica scheduling) in
the fleet's words. Here it becomes, per cluster, plain objects: the template, then the overrides that
select the cluster (JSON patch or strategic merge, in the order written), then the placeholders
(`{cluster}`, `{region}`, `{zone}`, `{group}` in string values; `{{cluster}}` writes `{cluster}`),
then the cluster's share of the replicas. Every problem is reported at the words that cause it, in
the fleet file or in the manifest file the object comes from: an object that is not one, a Secret, a
namespace that does not fit, a placement that selects nothing, an override for a cluster the resource
is not placed in or for an object it does not hold, a patch path the object does not have, replicas
that cannot be split, and two resources writing the same object in one cluster. What one object must
be, as written and as each cluster's copy, is checked in `templates`; placing is here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from meshfleet import codes
from meshfleet.core.checks import Checks
from meshfleet.core.kinds import MERGE_LISTS, SCALABLE, is_builtin
from meshfleet.core.patches import PatchError, json_patch, strategic_merge
from meshfleet.core.replicas import Infeasible, Preference, split
from meshfleet.core.resolved import PlacedObject
from meshfleet.core.templates import ObjectChecks, Template, canonical, placeholders
from meshfleet.errors import Loc
from meshfleet.fleet.model import Selection
from meshfleet.fleet.resources import IncludedObject, ObjectRef, Resource, ResourceOverride


def _sources(name: str, res: Resource, included: Mapping[str, tuple[IncludedObject, ...]]) -> list[tuple[Any, Loc]]:
    base: Loc = ("resources", name, "template")
    if isinstance(res.template, dict):
        return [(res.template, base)]
    if res.template is not None:
        return [(t, (*base, i)) for i, t in enumerate(res.template)]
    if name not in included:
        raise ValueError(f"resource {name}'s manifests were not read; load the fleet with meshfleet.fleet.load")
    return [(o.body, o.loc) for o in included[name]]


class _Placing(ObjectChecks):
    """Places the resources of one fleet, collecting findings and each cluster's objects."""

    def __init__(self, checks: Checks) -> None:
        super().__init__(checks)
        self.fleet = checks.fleet
        self.placed: dict[str, list[PlacedObject]] = {c: [] for c in sorted(self.fleet.clusters)}
        self.owners: dict[tuple[str, tuple[str, str, str, str]], PlacedObject] = {}

    # --- choosing clusters ------------------------------------------------------------------------

    def choose(self, sel: Selection, loc: Loc) -> list[str]:
        """Cluster names a resource's selection means: names (the control plane may be named), or the
        members `all` or a label selector match."""
        if sel.all:
            return list(self.checks.members)
        if sel.selector is not None:
            selector = sel.selector
            return [m for m in self.checks.members if selector.matches(self.fleet.clusters[m].labels)]
        chosen: list[str] = []
        for i, cname in enumerate(sel.names or []):
            if cname not in self.fleet.clusters:
                known = ", ".join(sorted(self.fleet.clusters))
                self.problem((*loc, i), f"unknown cluster {cname!r}", f"use one of: {known}", codes.UNKNOWN_CLUSTER)
            elif cname in chosen:
                self.problem(
                    (*loc, i),
                    f"cluster {cname!r} is listed twice",
                    "list each cluster once",
                    codes.CLUSTER_LISTED_TWICE,
                )
            else:
                chosen.append(cname)
        return sorted(chosen)

    def within(self, sel: Selection, loc: Loc, placement: list[str], what: str) -> list[str]:
        """The placed clusters a selection of an override (or replica preference) names; a named cluster
        outside the placement is an error, `all` and selectors are read inside the placement."""
        if sel.names is None:
            chosen = [c for c in self.choose(sel, loc) if c in placement]
            if sel.selector is not None and not chosen:
                self.problem(
                    loc,
                    f"the selector matches no cluster the resource is placed in ({', '.join(placement) or 'none'})",
                    f"select placed clusters, or remove the {what}",
                    codes.NOT_PLACED,
                )
            return chosen
        chosen = []
        for i, cname in enumerate(sel.names):
            if cname in self.fleet.clusters and cname not in placement:
                self.problem(
                    (*loc, i),
                    f"the resource is not placed in cluster {cname!r}, so the {what} applies to "
                    f"nothing there (placed in: {', '.join(placement) or 'none'})",
                    f"add {cname} to the resource's clusters, or remove it here",
                    codes.NOT_PLACED,
                )
        for cname in self.choose(sel, loc):
            if cname in placement:
                chosen.append(cname)
        return chosen

    # --- the object an override or replica scheduling is about ---------------------------------------

    def target(
        self, ref: ObjectRef | None, templates: list[Template], loc: Loc, what: str, fits: Any = None
    ) -> Template | None:
        """The object an override or replica scheduling is about (the only candidate when not named)."""
        candidates = [t for t in templates if fits is None or fits(t)]
        if ref is None:
            if len(candidates) == 1:
                return candidates[0]
            listed = ", ".join(t.shown() for t in candidates) or "none"
            self.problem(
                loc,
                f"the resource holds {len(candidates)} objects the {what} could be about ({listed})",
                "name it: object: {kind: ..., name: ...}",
                codes.UNKNOWN_OBJECT,
            )
            return None
        found = [t for t in templates if t.matches(ref)]
        if len(found) != 1:
            listed = ", ".join(t.shown() for t in templates) or "none"
            why = "holds no" if not found else "holds more than one"
            self.problem(
                (*loc, "object"),
                f"the resource {why} {ref.shown()} (it holds {listed})",
                "name an object of the resource by kind and name as written (placeholders included)",
                codes.UNKNOWN_OBJECT,
            )
            return None
        if fits is not None and not fits(found[0]):
            self.problem(
                (*loc, "object"),
                f"{ref.shown()} has no replicas to schedule: replica scheduling sets "
                "spec.replicas of a Deployment, StatefulSet or ReplicaSet",
                "name one of those",
                codes.UNKNOWN_OBJECT,
            )
            return None
        return found[0]

    # --- one resource -------------------------------------------------------------------------------

    def resource(self, name: str, res: Resource, sources: list[tuple[Any, Loc]]) -> None:
        base: Loc = ("resources", name)
        placement = self.choose(res.clusters, (*base, "clusters"))
        if not placement and (res.clusters.names is None or not res.clusters.names):
            self.problem(
                (*base, "clusters"),
                f"resource {name} is placed in no cluster",
                "name the clusters, or fix the label selector",
                codes.PLACEMENT_SELECTS_NOTHING,
            )
        templates = [t for value, loc in sources if (t := self.template(value, loc, res)) is not None]
        if len(templates) != len(sources):
            return
        overrides = [self.override(name, i, o, templates, placement) for i, o in enumerate(res.overrides)]
        replicas = self.replicas(name, res, templates, placement, overrides)
        for cluster in placement:
            c = self.fleet.clusters[cluster]
            words = {"cluster": cluster, "region": c.region, "zone": c.zone, "group": c.group}
            for t in templates:
                body: dict[str, Any] | None = t.body
                for i, (o, clusters, target) in enumerate(overrides):
                    if body is None or target is not t or cluster not in clusters:
                        continue
                    body = self.patched(body, o, (*base, "overrides", i), t)
                if body is None:
                    continue
                body = placeholders(body, words)
                if replicas is not None and replicas[0] is t:
                    spec = body.get("spec")
                    body["spec"] = {**(spec if isinstance(spec, dict) else {}), "replicas": replicas[1][cluster]}
                self.add(PlacedObject(name, cluster, canonical(body), t.loc), t)

    def override(
        self, name: str, i: int, o: ResourceOverride, templates: list[Template], placement: list[str]
    ) -> tuple[ResourceOverride, list[str], Template | None]:
        loc: Loc = ("resources", name, "overrides", i)
        clusters = self.within(o.clusters, (*loc, "clusters"), placement, "override")
        target = self.target(o.object, templates, loc, "override")
        if target is not None and o.merge is not None and (target.group, target.kind) not in MERGE_LISTS:
            kinds = ", ".join(sorted(k for _, k in MERGE_LISTS))
            why = (
                "the API server has no strategic merge for custom resources"
                if not is_builtin(str(target.body["apiVersion"]))
                else f"meshfleet's strategic-merge subset covers {kinds}"
            )
            self.problem(
                (*loc, "merge"),
                f"a strategic-merge patch of a {target.kind}: {why}",
                "use `patch:` with JSON-patch operations (path, op, value)",
                codes.MERGE_UNSUPPORTED,
            )
            target = None
        return o, clusters, target

    def patched(self, body: dict[str, Any], o: ResourceOverride, loc: Loc, t: Template) -> dict[str, Any] | None:
        try:
            if o.merge is not None:
                return strategic_merge(body, o.merge, MERGE_LISTS[(t.group, t.kind)])
            for j, op in enumerate(o.patch or ()):
                try:
                    body = json_patch(body, op.op, op.path, op.value)
                except PatchError as e:
                    self.problem(
                        (*loc, "patch", j, "path"),
                        f"{e.message}: {t.shown()} as the template and the earlier overrides make it",
                        e.hint,
                        codes.PATCH_PATH_MISSING,
                        once="path",
                    )
                    return None
        except PatchError as e:
            self.problem((*loc, "merge", *e.at), e.message, e.hint, codes.MERGE_UNSUPPORTED, once="merge")
            return None
        return body

    def replicas(
        self,
        name: str,
        res: Resource,
        templates: list[Template],
        placement: list[str],
        overrides: list[tuple[ResourceOverride, list[str], Template | None]],
    ) -> tuple[Template, dict[str, int]] | None:
        rs = res.replicaScheduling
        if rs is None:
            return None
        loc: Loc = ("resources", name, "replicaScheduling")
        target = self.target(
            rs.object, templates, loc, "replica scheduling", fits=lambda t: (t.group, t.kind) in SCALABLE
        )
        for key in sorted(rs.clusters):
            if key != "*" and key not in placement:
                what = (
                    "unknown cluster" if key not in self.fleet.clusters else "a cluster the resource is not placed in"
                )
                self.problem(
                    (*loc, "clusters", key),
                    f"{key!r} is {what} (placed in: {', '.join(placement) or 'none'})",
                    "list placed clusters, or `*` for every other",
                    codes.NOT_PLACED,
                )
        if target is None:
            return None
        for i, (o, _clusters, t) in enumerate(overrides):
            if t is not target:
                continue
            sets = [j for j, op in enumerate(o.patch or ()) if op.path in ("/spec", "/spec/replicas")]
            spec = (o.merge or {}).get("spec")
            if sets or (isinstance(spec, dict) and "replicas" in spec):
                where: Loc = ("resources", name, "overrides", i, *(("patch", sets[0], "path") if sets else ("merge",)))
                self.problem(
                    where,
                    f"replicaScheduling sets the replicas of {target.shown()} in every cluster",
                    "set minReplicas/maxReplicas/weight under replicaScheduling.clusters instead",
                    codes.REPLICAS_OVERRIDDEN,
                )
        default = rs.clusters.get("*")
        prefs: dict[str, Preference] = {}
        for c in placement:
            p = rs.clusters.get(c, default)
            if p is None:
                prefs[c] = Preference(1 if not rs.clusters else 0, 0, None)
            else:
                prefs[c] = Preference(p.weight, p.minReplicas, p.maxReplicas)
        try:
            return target, split(rs.totalReplicas, prefs)
        except Infeasible as e:
            self.problem(
                (*loc, "totalReplicas"),
                str(e),
                "change totalReplicas, or the clusters' weights and bounds",
                codes.REPLICAS_INFEASIBLE,
            )
            return None

    # --- each cluster's copy ------------------------------------------------------------------------

    def add(self, obj: PlacedObject, t: Template) -> None:
        meta = obj.body.get("metadata")
        if not isinstance(meta, dict) or not self.names_fit(obj, meta, t):
            return
        key = (obj.cluster, obj.identity)
        other = self.owners.get(key)
        if other is not None:
            by = f"resource {other.resource}" if other.resource != obj.resource else "another object of this resource"
            self.problem(
                obj.loc,
                f"{t.shown()} would be placed twice in cluster {obj.cluster}: also by {by}",
                "place each object once (merge the two, or give them other names)",
                codes.DUPLICATE_OBJECT,
                once="duplicate",
            )
            return
        self.owners[key] = obj
        self.placed[obj.cluster].append(obj)


def place_resources(
    checks: Checks, included: Mapping[str, tuple[IncludedObject, ...]]
) -> dict[str, list[PlacedObject]]:
    """Every resource's objects per cluster (findings go to `checks`)."""
    placing = _Placing(checks)
    for name in sorted(checks.fleet.resources):
        res = checks.fleet.resources[name]
        placing.resource(name, res, _sources(name, res, included))
    return placing.placed


def objects_of(placed: Mapping[str, list[PlacedObject]]) -> Iterator[PlacedObject]:
    for cluster in sorted(placed):
        yield from placed[cluster]


__all__ = ["objects_of", "place_resources"]
