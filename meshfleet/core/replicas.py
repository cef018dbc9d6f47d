"""Replica scheduling: a total split over clusters by weight, within each cluster's min and max.

Why: KubeFed's ReplicaSchedulingPreference gives a workload a total and per-cluster weights with
optional bounds; the fleet plans each cluster's `spec.replicas` from it, so the split must be
deterministic, sum to the total, respect every bound, and move as few replicas as possible when the
placement changes.

The split is a divisor method (Sainte-Laguë) with bounds: every cluster first gets its
`minReplicas`; each further replica is a *bid* of its cluster, the k-th bid (counting from its
minimum) worth `weight / (k + 1/2)`; the `total - sum(min)` highest bids win, a cluster bids no more
once it reaches `maxReplicas`, and equal bids go to the cluster whose name sorts first. Because a
cluster's bids fall as it gains replicas, the winners are the same whatever order they are counted
in, which gives the properties the tests check:

- **sums to the total** and **respects min/max** whenever that is possible (else `Infeasible`);
- **deterministic**: the bids and their order depend on names, weights and bounds only;
- **stable when a cluster is added** (same total): no existing cluster gains a replica, and the new
  cluster receives exactly the replicas the others lose; the existing clusters then hold exactly what
  they would hold alone with the total lowered by the new cluster's share (to them an added cluster is
  a smaller total, nothing else); and raising the total never takes a replica from any cluster.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Preference:
    """A cluster's weight and bounds (`maximum` None: unbounded)."""

    weight: int = 1
    minimum: int = 0
    maximum: int | None = None


class Infeasible(ValueError):
    """No split of the total respects the bounds and weights."""


def _bid(name: str, weight: int, k: int) -> tuple[Fraction, str]:
    return Fraction(2 * weight, 2 * k + 1), name


def _greater(a: tuple[Fraction, str], b: tuple[Fraction, str]) -> bool:
    """Bid `a` wins over bid `b`: worth more, or worth the same and its cluster's name sorts first."""
    return a[0] > b[0] or (a[0] == b[0] and a[1] < b[1])


def split(total: int, prefs: Mapping[str, Preference]) -> dict[str, int]:
    """Each cluster's replicas (see the module); raises Infeasible with the reason."""
    floor = sum(p.minimum for p in prefs.values())
    if total < floor:
        raise Infeasible(f"the clusters' minReplicas add up to {floor}, more than totalReplicas {total}")
    room = sum(math.inf if p.maximum is None else p.maximum - p.minimum for p in prefs.values() if p.weight > 0)
    if total - floor > room:
        why = (
            "no cluster with a weight above 0 has room for more"
            if room == 0
            else f"the clusters with a weight above 0 have room for {int(room)} more than their minReplicas"
        )
        raise Infeasible(f"totalReplicas {total} cannot be placed: the minReplicas add up to {floor}, and {why}")
    counts = _first_guess(total - floor, prefs)
    names = sorted(prefs)

    def can_grow(n: str) -> bool:
        p = prefs[n]
        return p.weight > 0 and (p.maximum is None or counts[n] < p.maximum - p.minimum)

    def best_next() -> str | None:
        best: str | None = None
        for n in names:
            if can_grow(n) and (
                best is None
                or _greater(
                    _bid(n, prefs[n].weight, prefs[n].minimum + counts[n]),
                    _bid(best, prefs[best].weight, prefs[best].minimum + counts[best]),
                )
            ):
                best = n
        return best

    def worst_won() -> str | None:
        worst: str | None = None
        for n in names:
            if counts[n] > 0 and (
                worst is None
                or _greater(
                    _bid(worst, prefs[worst].weight, prefs[worst].minimum + counts[worst] - 1),
                    _bid(n, prefs[n].weight, prefs[n].minimum + counts[n] - 1),
                )
            ):
                worst = n
        return worst

    won = sum(counts.values())
    while won < total - floor:
        n = best_next()
        assert n is not None, "feasibility was checked"
        counts[n] += 1
        won += 1
    while won > total - floor:
        n = worst_won()
        assert n is not None
        counts[n] -= 1
        won -= 1
    # Swap while an open bid beats a won one: the winners are then the highest bids.
    while True:
        up, down = best_next(), worst_won()
        if up is None or down is None or up == down:
            break
        p_up, p_down = prefs[up], prefs[down]
        if not _greater(
            _bid(up, p_up.weight, p_up.minimum + counts[up]),
            _bid(down, p_down.weight, p_down.minimum + counts[down] - 1),
        ):
            break
        counts[up] += 1
        counts[down] -= 1
    return {n: prefs[n].minimum + counts[n] for n in names}


def _first_guess(seats: int, prefs: Mapping[str, Preference]) -> dict[str, int]:
    """Bids won per cluster near the final answer, found with a float divisor, so that the exact
    correction above takes a few steps per cluster whatever the total."""
    counts = dict.fromkeys(prefs, 0)
    if seats == 0:
        return counts

    def won(divisor: float) -> dict[str, int]:
        out = {}
        for n, p in prefs.items():
            if p.weight == 0:
                out[n] = 0
                continue
            # Bids k = minimum, minimum+1, ... worth weight/(k+1/2) >= 1/divisor.
            upto = math.floor(p.weight * divisor + 0.5) - p.minimum
            cap = math.inf if p.maximum is None else p.maximum - p.minimum
            out[n] = int(max(0, min(upto, cap)))
        return out

    low, high = 0.0, 1.0
    while sum(won(high).values()) < seats and high < 1e30:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if sum(won(mid).values()) < seats:
            low = mid
        else:
            high = mid
        if high - low <= high * 1e-12:
            break
    return won(low)


__all__ = ["Infeasible", "Preference", "split"]
