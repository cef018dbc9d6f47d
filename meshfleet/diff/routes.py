"""The diff in service terms: per consumer and service, who answers before and after, and who may call.

Why: a reviewer asks what a change does to traffic ("after this merge, which clusters answer curl's
calls to httpbin in cluster-2, in what shares, and is it still allowed?") before which fields change.
This compares two plans' effective views (`core.effective`) pair by pair, and groups identical
changes across consumers ("in 99 clusters: ..."). It formats nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from meshfleet.core.effective import Allowed, ServiceRoutes, Views, opens
from meshfleet.core.objects import split
from meshfleet.core.views import Route, Share
from meshfleet.diff.objects import ClusterDiff
from meshfleet.diff.services import GrantChange, MeshChange, ServiceChange

Change = Literal["added", "removed", "changed"]
LOCAL = ""
"""A consumer's own copy, in a change made comparable across consumers."""


@dataclass(frozen=True)
class RouteChange:
    """Where one consumer's calls to one name of a service go, before and after (None: no such route)."""

    consumer: str
    service: str
    called_as: str
    old: Route | None
    new: Route | None
    old_policy: str | None
    new_policy: str | None

    @property
    def change(self) -> Change:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def served(self) -> tuple[list[str], list[str], list[str]]:
        """The serving clusters (steady or with the local copy down) gained, lost and kept."""
        before = _clusters(self.old)
        after = _clusters(self.new)
        return (
            [c for c in after if c not in before],
            [c for c in before if c not in after],
            [c for c in after if c in before],
        )


@dataclass(frozen=True)
class AccessChange:
    """What one source may call on one side of a service in one consumer, before and after."""

    consumer: str
    service: str
    source: str
    side: str
    old: tuple[Allowed, ...]
    new: tuple[Allowed, ...]

    @property
    def change(self) -> Change:
        return "added" if not self.old else "removed" if not self.new else "changed"


def _clusters(r: Route | None) -> list[str]:
    if r is None:
        return []
    return list(dict.fromkeys(s.cluster for s in (*r.steady, *r.local_down)))


def touched(
    old: Views,
    new: Views,
    views: Iterable[ServiceChange],
    grants: Iterable[GrantChange],
    mesh: Iterable[MeshChange],
    clusters: Iterable[ClusterDiff],
) -> set[tuple[str, str]]:
    """The (consumer, service) pairs whose effective entry a change can touch, from the view-level changes
    the diff finds anyway:
    - a consumer's whole view where its mesh or settings change, or it joins or leaves;
    - where its grants change, the services answering it as an identity those grants are written for
      (grants open identities, not services);
    - a service everywhere where an export or a local copy of it changes (identities come from them);
    - each pair whose import or traffic policy changes.
    Every other entry reads the same views in both plans, so it is the same."""
    whole = {m.cluster for m in mesh}
    whole |= {
        c.name
        for c in clusters
        if c.old is None or c.new is None or any(f.path in ("mesh", "role") for f in c.attributes)
    }
    opened: dict[str, set[str]] = {}
    for g in grants:
        opened.setdefault(g.cluster, set()).add(g.destination)
    everywhere = {ch.service for ch in views if ch.aspect == "export"}
    found = {(ch.cluster, ch.service) for ch in views if ch.aspect != "export"}
    a, b = old.local_copies, new.local_copies
    everywhere |= {k[1] for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    for side in (old, new):
        for c in side.members:
            services = side.services(c)
            if c in whole:
                found |= {(c, s) for s in services}
                continue
            found |= {(c, s) for s in services if s in everywhere}
            if c in opened:
                # A grant opens identities of its own namespace only, and a service answers as its own
                # namespace's accounts: the other namespaces' services need no look.
                namespaces = {split(d)[0] for d in opened[c]}
                found |= {
                    (c, s)
                    for s in services
                    if split(s)[0] in namespaces and any(opens(d, i) for d in opened[c] for i in side.identities(c, s))
                }
    return found


def route_changes(old: Views, new: Views, pairs: Iterable[tuple[str, str]]) -> tuple[RouteChange, ...]:
    """Every route that changes among `pairs` for a consumer of the new plan (a leaving cluster's are left
    out: noise beside its leaving); a consumer that joins gains its routes."""
    found: list[RouteChange] = []
    for consumer, service in sorted(pairs):
        if consumer not in new.members:
            continue
        x, y = old.get(consumer, service), new.get(consumer, service)
        if x == y or (x is not None and y is not None and x.routes == y.routes):
            continue
        before = {r.called_as: r for r in x.routes} if x is not None else {}
        after = {r.called_as: r for r in y.routes} if y is not None else {}
        for name in [*after, *(n for n in before if n not in after)]:
            r0, r1 = before.get(name), after.get(name)
            if r0 != r1:
                found.append(RouteChange(consumer, service, name, r0, r1, _policy(x), _policy(y)))
    return tuple(found)


def _policy(s: ServiceRoutes | None) -> str | None:
    return s.policy if s is not None else None


def access_changes(old: Views, new: Views, pairs: Iterable[tuple[str, str]]) -> tuple[AccessChange, ...]:
    """Per consumer, service, source and side among `pairs`: the access lines before and after, where they
    differ."""
    found: list[AccessChange] = []
    for consumer, service in sorted(pairs):
        if consumer not in new.members:
            continue
        x, y = old.get(consumer, service), new.get(consumer, service)
        if x is not None and y is not None and x.access == y.access:
            continue
        before = _by_source(x.access if x is not None else ())
        after = _by_source(y.access if y is not None else ())
        for k in sorted(set(before) | set(after), key=lambda k: (k[1] != "local", k[0])):
            if before.get(k, ()) != after.get(k, ()):
                found.append(AccessChange(consumer, service, k[0], k[1], before.get(k, ()), after.get(k, ())))
    return tuple(found)


def _by_source(lines: Iterable[Allowed]) -> dict[tuple[str, str], tuple[Allowed, ...]]:
    out: dict[tuple[str, str], list[Allowed]] = {}
    for line in lines:
        out.setdefault((line.source, line.side), []).append(line)
    return {k: tuple(v) for k, v in out.items()}


# --- grouping identical changes across consumers ---------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Grouped(Generic[T]):
    """The same change in several consumers: one of them (to show) and every consumer it happens in."""

    first: T
    consumers: tuple[str, ...]


def group(changes: Iterable[T], consumer: Callable[[T], str], key: Callable[[T], Hashable]) -> list[Grouped[T]]:
    """Changes alike once each consumer's own name is taken out, in the order they first appear."""
    found: dict[Hashable, list[T]] = {}
    for ch in changes:
        found.setdefault(key(ch), []).append(ch)
    return [Grouped(items[0], tuple(dict.fromkeys(consumer(i) for i in items))) for items in found.values()]


def _shares(shares: tuple[Share, ...], consumer: str) -> tuple[tuple[str, int], ...]:
    return tuple((LOCAL if s.cluster == consumer else s.cluster, s.weight) for s in shares)


def _route_key(r: Route | None, consumer: str) -> Hashable:
    if r is None:
        return None
    return (_shares(r.steady, consumer), _shares(r.local_down, consumer), r.rule)


def route_key(ch: RouteChange) -> Hashable:
    """A route change, the consumer's own copy made anonymous (so alike changes in 99 clusters are one)."""
    return (
        ch.service,
        ch.called_as,
        ch.old_policy,
        ch.new_policy,
        _route_key(ch.old, ch.consumer),
        _route_key(ch.new, ch.consumer),
    )


def _lines_key(lines: tuple[Allowed, ...], consumer: str) -> Hashable:
    return tuple(
        (
            a.source,
            a.side,
            tuple(LOCAL if c == consumer else c for c in a.clusters),
            a.identity,
            a.rules,
            a.asked,
            a.requests,
            a.where,
            a.why,
        )
        for a in lines
    )


def access_key(ch: AccessChange) -> Hashable:
    """An access change, the consumer's own name made anonymous."""
    return (ch.service, ch.source, ch.side, _lines_key(ch.old, ch.consumer), _lines_key(ch.new, ch.consumer))


def grouped_routes(changes: Iterable[RouteChange]) -> list[Grouped[RouteChange]]:
    return group(changes, lambda c: c.consumer, route_key)


def grouped_access(changes: Iterable[AccessChange]) -> list[Grouped[AccessChange]]:
    return group(changes, lambda c: c.consumer, access_key)
