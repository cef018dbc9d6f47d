"""Stack proposals: every cluster in exactly one stack, within the budget wherever a packing can be."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from meshfleet.core.plan import plan
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.model import Fleet
from meshfleet.sinks import shard
from meshfleet.sinks.shard import CLUSTER_OVERHEAD, STACK_OVERHEAD, ClusterLoad, Proposal
from tests.conftest import ROOT, run_cli

loads = st.lists(st.integers(0, 3000), min_size=1, max_size=40).map(
    lambda sizes: [ClusterLoad(f"c{i:03d}", n) for i, n in enumerate(sizes)]
)


def names(p: Proposal) -> list[str]:
    return [n for s in p.shards for n in s.names]


def check_cover(p: Proposal, clusters: list[ClusterLoad]) -> None:
    got = names(p)
    assert sorted(got) == sorted(c.name for c in clusters), "every cluster exactly once"
    assert all(s.clusters for s in p.shards), "an empty shard would mean every cluster to the program"


@given(loads, st.integers(1, 5000))
def test_budget_packing_covers_every_cluster_once_and_respects_the_budget(
    clusters: list[ClusterLoad], budget: int
) -> None:
    p = shard.by_budget(clusters, budget)
    check_cover(p, clusters)
    for s in p.shards:
        assert s.resources <= budget or len(s.clusters) == 1, "only a cluster alone may exceed the budget"


@given(loads, st.integers(1, 5000))
def test_budget_packing_uses_few_stacks(clusters: list[ClusterLoad], budget: int) -> None:
    """The promise is "the fewest stacks found": at most what first-fit decreasing needs, which
    leaves at most one stack half empty, so never more than twice the room the clusters need."""
    p = shard.by_budget(clusters, budget)
    room = budget - STACK_OVERHEAD
    alone = [c for c in clusters if c.resources > room]
    rest = sum(c.resources for c in clusters if c.resources <= room)
    assert len(p.shards) <= len(alone) + math.ceil(2 * rest / max(1, room))
    if not alone and rest <= room:
        assert len(p.shards) == 1


def fewest_stacks(clusters: list[ClusterLoad], budget: int) -> int:
    """The true minimum, by trying every assignment (small inputs only)."""
    best = len(clusters)

    def place(i: int, bins: list[int]) -> None:
        nonlocal best
        if len(bins) >= best:
            return
        if i == len(clusters):
            best = len(bins)
            return
        r = clusters[i].resources
        for j, used in enumerate(bins):
            if used + r <= budget:
                bins[j] += r
                place(i + 1, bins)
                bins[j] -= r
        place(i + 1, [*bins, STACK_OVERHEAD + r])

    place(0, [])
    return best


@given(
    st.lists(st.integers(0, 700), min_size=1, max_size=7).map(
        lambda sizes: [ClusterLoad(f"c{i}", n) for i, n in enumerate(sizes)]
    ),
    st.integers(40, 1500),
)
def test_small_packings_are_within_first_fit_decreasings_bound_of_the_optimum(
    clusters: list[ClusterLoad], budget: int
) -> None:
    # First-fit decreasing never needs more than 11/9 of the optimum plus 6/9 (Dosa, 2007).
    assert 9 * len(shard.by_budget(clusters, budget).shards) <= 11 * fewest_stacks(clusters, budget) + 6


@given(loads, st.integers(1, 50))
def test_count_packing_covers_every_cluster_once_and_is_balanced(clusters: list[ClusterLoad], count: int) -> None:
    p = shard.by_count(clusters, count)
    check_cover(p, clusters)
    assert len(p.shards) == min(count, len(clusters))
    sizes = [s.resources for s in p.shards]
    # Largest first onto the lightest stack: no stack exceeds the lightest by more than one cluster.
    assert max(sizes) - min(sizes) <= max(c.resources for c in clusters)


@given(loads, st.integers(1, 5000), st.randoms())
def test_the_proposal_does_not_depend_on_the_input_order(
    clusters: list[ClusterLoad], budget: int, rnd: random.Random
) -> None:
    shuffled = list(clusters)
    rnd.shuffle(shuffled)
    assert shard.by_budget(shuffled, budget) == shard.by_budget(clusters, budget)
    assert shard.by_count(shuffled, 3, budget) == shard.by_count(clusters, 3, budget)


def test_a_fleet_within_the_budget_is_one_stack() -> None:
    clusters = [ClusterLoad("a", 10), ClusterLoad("b", 20)]
    p = shard.by_budget(clusters, 1500)
    assert [s.names for s in p.shards] == [["a", "b"]]
    assert p.shards[0].resources == STACK_OVERHEAD + 30 + 2 * CLUSTER_OVERHEAD


def test_a_cluster_larger_than_the_budget_gets_a_stack_of_its_own() -> None:
    clusters = [ClusterLoad("big", 5000), ClusterLoad("a", 700), ClusterLoad("b", 700)]
    p = shard.by_budget(clusters, 1500)
    assert [s.names for s in p.shards] == [["a", "b"], ["big"]]
    assert p.over_budget() == [1]


def test_where_the_balanced_packing_overflows_first_fit_still_finds_the_fewest_stacks() -> None:
    # Resources 300, 300, 200, 200, 200 in stacks of 600 (+1 for the stack): balanced gives
    # 300+200+200 in one of two stacks; first-fit gives {300, 300} and {200, 200, 200}.
    clusters = [ClusterLoad(n, r - CLUSTER_OVERHEAD) for n, r in zip("abcde", (300, 300, 200, 200, 200), strict=True)]
    p = shard.by_budget(clusters, 600 + STACK_OVERHEAD)
    assert [s.names for s in p.shards] == [["a", "b"], ["c", "d", "e"]]
    assert not p.over_budget()


def test_stack_count_is_capped_by_the_cluster_count() -> None:
    p = shard.by_count([ClusterLoad("a", 1), ClusterLoad("b", 1)], 5)
    assert [s.names for s in p.shards] == [["a"], ["b"]]
    with pytest.raises(ValueError, match="the stack count must be at least 1"):
        shard.by_count([ClusterLoad("a", 1)], 0)


def test_loads_count_applied_objects_and_the_control_planes_cluster_objects() -> None:
    doc = generate(FleetShape(clusters=5, services=6), seed=3)
    p = plan(Fleet.model_validate(doc))
    by_name = {c.name: c.objects for c in shard.loads(p)}
    assert set(by_name) == {c.name for c in p.clusters}
    hub = p.cluster("hub")
    assert by_name["hub"] == len([o for o in hub.objects if o.kind == "Cluster"]) == 5
    for c in p.clusters:
        assert by_name[c.name] == len(c.applied())


def test_the_config_key_is_the_programs_shard_key() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    key = shard.CONFIG_KEY.partition(":")[2]
    assert shard.CONFIG_KEY.partition(":")[0] == project["name"]
    assert project["config"][key]["type"] == "array"


def fleet_file(tmp_path: Path) -> tuple[Path, list[str]]:
    doc = generate(FleetShape(clusters=8, services=30), seed=5)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path, sorted(doc["clusters"])


def config_lists(out: str) -> list[list[str]]:
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith(shard.CONFIG_KEY + ":")]
    return [yaml.safe_load(line)[shard.CONFIG_KEY] for line in lines]


def test_cli_prints_a_table_and_the_stack_config(tmp_path: Path) -> None:
    path, clusters = fleet_file(tmp_path)
    r = run_cli("plan", str(path), "--shards", "3")
    assert r.code == 0, r.err
    assert "stack  clusters  objects  resources" in r.out
    lists = config_lists(r.out)
    assert len(lists) == 3
    assert sorted(n for group in lists for n in group) == clusters
    hub_stack = next(i for i, group in enumerate(lists) if "hub" in group) + 1
    assert f"Stack {hub_stack} applies the FSM control plane hub" in r.out


def test_cli_budget_defaults_to_1500_and_speaks_json(tmp_path: Path) -> None:
    path, clusters = fleet_file(tmp_path)
    r = run_cli("plan", str(path), "--budget")
    assert r.code == 0, r.err
    assert "at most 1,500 resources per stack" in r.out
    j = run_cli("plan", str(path), "--budget", "400", "--format", "json")
    assert j.code == 0, j.err
    data = json.loads(j.out)
    assert data["budget"] == 400 and data["configKey"] == shard.CONFIG_KEY
    assert sorted(n for s in data["stacks"] for n in s["clusters"]) == clusters
    assert all(s["resources"] <= 400 or len(s["clusters"]) == 1 for s in data["stacks"])


@pytest.mark.parametrize("args", [("--shards", "0"), ("--budget", "x"), ("--shards", "2", "--budget", "9")])
def test_cli_refuses_bad_counts_as_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    path, _ = fleet_file(tmp_path)
    r = run_cli("plan", str(path), *args)
    assert r.code == 2 and "Traceback" not in r.err
