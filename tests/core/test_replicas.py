"""Replica scheduling: the split sums to the total, respects min/max, is deterministic, and is stable
when a cluster is added.

"Stable when a cluster is added" is defined as (meshfleet/core/replicas.py):
  (a) with the same total, no existing cluster gains a replica, and the new cluster receives exactly
      the replicas the existing ones lose;
  (b) the existing clusters then hold exactly what they would hold alone with the total lowered by
      the new cluster's share: to them, an added cluster is a smaller total, nothing else;
  (c) raising the total never takes a replica from any cluster.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from meshfleet.core.replicas import Infeasible, Preference, split

NAMES = [f"c{i}" for i in range(8)]


@st.composite
def preferences(draw: st.DrawFn, names: list[str] | None = None) -> dict[str, Preference]:
    chosen = names if names is not None else draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    out = {}
    for n in chosen:
        minimum = draw(st.integers(0, 4))
        maximum = draw(st.one_of(st.none(), st.integers(minimum, minimum + 12)))
        out[n] = Preference(draw(st.integers(0, 9)), minimum, maximum)
    return out


def feasible(total: int, prefs: dict[str, Preference]) -> bool:
    floor = sum(p.minimum for p in prefs.values())
    room = sum(float("inf") if p.maximum is None else p.maximum - p.minimum for p in prefs.values() if p.weight)
    return floor <= total <= floor + room


def reference(total: int, prefs: dict[str, Preference]) -> dict[str, int]:
    """The definition, one replica at a time: the highest bid weight/(k + 1/2) wins, ties to the first name."""
    counts = {n: p.minimum for n, p in prefs.items()}
    for _ in range(total - sum(counts.values())):
        open_ = [n for n, p in prefs.items() if p.weight and (p.maximum is None or counts[n] < p.maximum)]
        best = max(Fraction(2 * prefs[n].weight, 2 * counts[n] + 1) for n in open_)
        winner = min(n for n in open_ if Fraction(2 * prefs[n].weight, 2 * counts[n] + 1) == best)
        counts[winner] += 1
    return counts


@given(prefs=preferences(), total=st.integers(0, 60))
def test_the_split_sums_to_the_total_and_respects_min_and_max(prefs: dict[str, Preference], total: int) -> None:
    assume(feasible(total, prefs))
    got = split(total, prefs)
    assert sum(got.values()) == total
    for n, p in prefs.items():
        assert got[n] >= p.minimum
        assert p.maximum is None or got[n] <= p.maximum
        if p.weight == 0:
            assert got[n] == p.minimum, "a weight of 0 gets its minimum only"


@given(prefs=preferences(), total=st.integers(0, 60))
def test_the_split_is_the_definitions_one_replica_at_a_time(prefs: dict[str, Preference], total: int) -> None:
    assume(feasible(total, prefs))
    assert split(total, prefs) == reference(total, prefs)


@given(prefs=preferences(), total=st.integers(0, 60), data=st.data())
def test_the_split_is_deterministic_whatever_the_order_of_the_clusters(
    prefs: dict[str, Preference], total: int, data: st.DataObject
) -> None:
    assume(feasible(total, prefs))
    order = data.draw(st.permutations(list(prefs)))
    assert split(total, {n: prefs[n] for n in order}) == split(total, prefs) == split(total, dict(prefs))


@given(prefs=preferences(names=NAMES[:4]), new=preferences(names=[NAMES[7]]), total=st.integers(0, 60))
def test_adding_a_cluster_moves_only_what_the_new_cluster_receives(
    prefs: dict[str, Preference], new: dict[str, Preference], total: int
) -> None:
    grown = {**prefs, **new}
    assume(feasible(total, prefs) and feasible(total, grown))
    before, after = split(total, prefs), split(total, grown)
    for n in prefs:
        assert after[n] <= before[n], f"{n} gained a replica when {NAMES[7]} was added"
    lost = sum(before[n] - after[n] for n in prefs)
    assert lost == after[NAMES[7]]


@given(prefs=preferences(names=NAMES[:4]), new=preferences(names=[NAMES[7]]), total=st.integers(0, 60))
def test_to_the_existing_clusters_an_added_cluster_is_a_smaller_total(
    prefs: dict[str, Preference], new: dict[str, Preference], total: int
) -> None:
    grown = {**prefs, **new}
    assume(feasible(total, grown))
    after = split(total, grown)
    rest = total - after[NAMES[7]]
    assert feasible(rest, prefs)
    assert {n: after[n] for n in prefs} == split(rest, prefs)


@given(prefs=preferences(), total=st.integers(0, 60))
def test_raising_the_total_takes_no_replica_from_any_cluster(prefs: dict[str, Preference], total: int) -> None:
    assume(feasible(total, prefs) and feasible(total + 1, prefs))
    before, after = split(total, prefs), split(total + 1, prefs)
    assert all(after[n] >= before[n] for n in prefs)
    assert sum(after[n] - before[n] for n in prefs) == 1


def test_equal_weights_split_evenly_and_the_first_names_take_the_remainder() -> None:
    even = {n: Preference() for n in ("a", "b", "c")}
    assert split(3, even) == {"a": 1, "b": 1, "c": 1}
    assert split(5, even) == {"a": 2, "b": 2, "c": 1}


def test_weights_and_bounds_as_kubefed_writes_them() -> None:
    # KubeFed's example: 9 replicas, A twice B's weight, B at least 2 and at most 3.
    assert split(9, {"A": Preference(2), "B": Preference(1, 2, 3)}) == {"A": 6, "B": 3}
    # A minimum is kept even when the weight would give less.
    assert split(4, {"A": Preference(10), "B": Preference(1, 2)}) == {"A": 2, "B": 2}


def test_a_huge_total_is_split_exactly_without_counting_replicas_one_by_one() -> None:
    got = split(2**31 - 1, {"a": Preference(1), "b": Preference(1000, 0, 5), "c": Preference(3)})
    assert got["b"] == 5
    assert sum(got.values()) == 2**31 - 1
    assert abs(got["c"] - 3 * got["a"]) <= 3


@pytest.mark.parametrize(
    ("total", "prefs", "message"),
    [
        (1, {"a": Preference(1, 1), "b": Preference(1, 1)}, "minReplicas add up to 2, more than totalReplicas 1"),
        (7, {"a": Preference(1, 0, 3), "b": Preference(1, 0, 3)}, "have room for 6 more"),
        (2, {"a": Preference(0), "b": Preference(0, 1)}, "no cluster with a weight above 0 has room"),
    ],
)
def test_impossible_splits_say_why(total: int, prefs: dict[str, Preference], message: str) -> None:
    with pytest.raises(Infeasible, match=message):
        split(total, prefs)
