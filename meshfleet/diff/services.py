"""The pure comparison of two plans' service views: imports, exports, traffic policies, grants, mesh settings.

Why: a fleet change is reviewed in service terms. Each plan carries typed views; this module pairs
them by identity (cluster and service, or rule and identity) and lists every field that differs,
generically over the views' dataclass fields. It formats nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from meshfleet.core.plan import Plan
from meshfleet.core.views import GrantView, HttpMatchView, MeshSettingsView
from meshfleet.diff.fields import FieldChange, view_changes

Aspect = Literal["export", "import", "traffic-policy"]
Change = Literal["added", "removed", "changed"]
ASPECTS: dict[Aspect, str] = {"export": "exports", "import": "imports", "traffic-policy": "policies"}
"""Each aspect and the ClusterPlan field holding its views, in the order a service lists them."""


@dataclass(frozen=True)
class ServiceChange:
    """A service's export, import or traffic policy in one cluster, before and after."""

    aspect: Aspect
    cluster: str
    service: str
    old: Any
    new: Any
    fields: tuple[FieldChange, ...]
    """Every field that differs (when both sides exist)."""

    @property
    def change(self) -> Change:
        return "added" if self.old is None else "removed" if self.new is None else "changed"


@dataclass(frozen=True)
class GrantChange:
    """A source identity that gains or loses a grant, or a grant whose other fields change."""

    change: Change
    cluster: str
    rule: str
    destination: str
    """The service account called, `namespace/name`."""
    source: str | None
    """The calling service account (None for a change of the grant's other fields)."""
    matches: tuple[str, ...]
    fields: tuple[FieldChange, ...] = ()
    service: str = ""
    """The service the rule is written for."""
    requests: tuple[HttpMatchView, ...] = ()
    """The rule's HTTP matches (methods, path, headers) on the side this change is about."""

    def sort_key(self) -> tuple[str, str, str, str, tuple[str, ...], str]:
        return (self.cluster, self.source or "", self.destination, self.rule, self.matches, self.change)


@dataclass(frozen=True)
class MeshChange:
    """A member's mesh settings before and after (permissive mode: None is "as installed")."""

    cluster: str
    old: MeshSettingsView
    new: MeshSettingsView
    fields: tuple[FieldChange, ...]


def _paired(
    old: Iterable[tuple[tuple[str, ...], Any]],
    new: Iterable[tuple[tuple[str, ...], Any]],
    keep: Callable[[tuple[str, ...]], bool],
) -> list[tuple[tuple[str, ...], Any, Any]]:
    a, b = dict(old), dict(new)
    differ = [k for k in a.keys() | b.keys() if a.get(k) != b.get(k)]  # only these are sorted
    return [(k, a.get(k), b.get(k)) for k in sorted(differ) if keep(k)]


def _keyed(plan: Plan, attr: str) -> Iterable[tuple[tuple[str, ...], Any]]:
    for c in plan.clusters:
        views = getattr(c, attr)
        if not views:
            continue
        keys: tuple[str, ...] = type(views[0]).keys
        if len(keys) == 1:  # most views: one key, read directly
            (key,) = keys
            yield from (((c.name, str(getattr(view, key))), view) for view in views)
        else:
            yield from (((c.name, *(str(getattr(view, k)) for k in keys)), view) for view in views)


def service_changes(old: Plan, new: Plan) -> tuple[ServiceChange, ...]:
    """Every export, import and traffic-policy change; a leaving cluster's imports and policies are
    left out (noise beside its leaving), its exports are not (others lose them)."""
    staying = {c.name for c in new.clusters}
    found = []
    for aspect, attr in ASPECTS.items():

        def keep(k: tuple[str, ...], aspect: Aspect = aspect) -> bool:
            return aspect == "export" or k[0] in staying

        for k, a, b in _paired(_keyed(old, attr), _keyed(new, attr), keep):
            fields = tuple(view_changes(a, b)) if a is not None and b is not None else ()
            found.append(ServiceChange(aspect, k[0], k[1], a, b, fields))
    return tuple(found)


def grant_changes(old: Plan, new: Plan) -> tuple[GrantChange, ...]:
    """Per grant (cluster, rule, identity called): the sources that gain or lose it, then any other
    field that changes. New match names replace the grant (every source loses the old one)."""
    staying = {c.name for c in new.clusters}
    found: list[GrantChange] = []
    for (cluster, rule, dest), a, b in _paired(_keyed(old, "grants"), _keyed(new, "grants"), lambda k: k[0] in staying):
        found.extend(_grant_changes(cluster, rule, dest, a, b))
    return tuple(sorted(found, key=GrantChange.sort_key))


def _match_names(g: GrantView) -> tuple[str, ...]:
    return tuple(m.name for m in g.matches)


def _grant_changes(
    cluster: str, rule: str, dest: str, a: GrantView | None, b: GrantView | None
) -> Iterable[GrantChange]:
    replaced = a is None or b is None or _match_names(a) != _match_names(b)
    before = list(dict.fromkeys(a.sources)) if a is not None else []
    after = list(dict.fromkeys(b.sources)) if b is not None else []
    if a is not None:
        yield from (
            GrantChange("removed", cluster, rule, dest, s, _match_names(a), service=a.service, requests=a.matches)
            for s in before
            if replaced or s not in after
        )
    if b is not None:
        yield from (
            GrantChange("added", cluster, rule, dest, s, _match_names(b), service=b.service, requests=b.matches)
            for s in after
            if replaced or s not in before
        )
    if a is not None and b is not None:
        covered: Sequence[str] = ("sources", "matches") if replaced else ("sources",)
        rest = tuple(f for f in view_changes(a, b) if not f.path.startswith(tuple(covered)))
        if rest:
            yield GrantChange(
                "changed", cluster, rule, dest, None, _match_names(b), rest, service=b.service, requests=b.matches
            )


def mesh_changes(old: Plan, new: Plan) -> tuple[MeshChange, ...]:
    a = {c.name: c.settings or MeshSettingsView() for c in old.clusters}
    b = {c.name: c.settings or MeshSettingsView() for c in new.clusters}
    return tuple(
        MeshChange(n, a[n], b[n], tuple(view_changes(a[n], b[n]))) for n in sorted(set(a) & set(b)) if a[n] != b[n]
    )
