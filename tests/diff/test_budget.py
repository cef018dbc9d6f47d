"""The pull-request comment fits GitHub whatever the fleet: a review-sized change of a generated
100-cluster fleet (ten weights moved, one export removed, one access rule added) stays under the budget
and still names every risk kind and every changed service; identical changes across consumers are
said once."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from meshfleet import diff
from meshfleet.core.plan import plan
from meshfleet.diff.compare import PlanDiff
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.model import Fleet

GITHUB_LIMIT = 65_536
WEIGHTS = 10
ADDED_RULE = "review-added-write"


def review_change(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """`doc` after a typical pull request; returns it and what changed, by what it did to which service."""
    new = copy.deepcopy(doc)
    services: dict[str, Any] = new["services"]
    done: dict[str, str] = {}
    for key, svc in services.items():
        policy = svc.get("trafficPolicy") or {}
        exporters = svc["export"]["clusters"]
        if not isinstance(exporters, list):
            continue
        fsm = [e for e in exporters if "mesh" not in new["clusters"][e]]  # the clusters the policy reaches
        # Weighted targets only where every consumer is an FSM cluster (other meshes refuse or ignore them).
        everyone_fsm = all("mesh" not in c for c in new["clusters"].values())
        if len(done) < WEIGHTS and policy.get("lbType") == "ActiveActive" and len(fsm) > 1 and everyone_fsm:
            # A weighted split over the exporters: new weights, or weights where there were none.
            policy["targets"] = [{"cluster": e, "weight": 10 + 70 * (i == 0)} for i, e in enumerate(fsm)]
            done[key] = "weights"
    removed = next(
        k
        for k, s in services.items()
        if k not in done
        and isinstance(s["export"]["clusters"], list)
        and len(s["export"]["clusters"]) > 1
        and "targets" not in (s.get("trafficPolicy") or {})
    )
    services[removed]["export"]["clusters"].pop()
    done[removed] = "export removed"
    to = next(k for k in services if k not in done)
    new.setdefault("access", {})[ADDED_RULE] = {
        "from": ["client9/client"],
        "to": to,
        "http": [{"name": "write", "pathRegex": "/api/.*", "methods": ["POST", "PUT"]}],
    }
    done[to] = "access rule added"
    return new, done


@pytest.fixture(scope="module")
def change() -> tuple[PlanDiff, dict[str, str]]:
    doc = generate(FleetShape(clusters=100, services=100), 7)
    new, done = review_change(doc)
    assert sum(1 for v in done.values() if v == "weights") == WEIGHTS
    return diff.diff(plan(Fleet.model_validate(doc)), plan(Fleet.model_validate(new))), done


@pytest.mark.parametrize("budget", [diff.MARKDOWN_MIN_BUDGET, 25_000, diff.MARKDOWN_BUDGET])
def test_the_comment_stays_under_its_budget_and_names_every_risk_kind_and_changed_service(
    change: tuple[PlanDiff, dict[str, str]], budget: int
) -> None:
    d, done = change
    md = diff.markdown(
        d, "fleet/big.yaml@main", "fleet/big.yaml", budget=budget, full_diff="the `fleet-diff` artifact of this run"
    )
    assert len(md.encode()) <= budget < GITHUB_LIMIT
    kinds = {r.kind for r in d.risks}
    assert "export-removed" in kinds
    for kind in kinds:
        assert f"**{kind}**" in md, kind
    assert set(done) <= set(d.changed_services())
    for service in d.changed_services():
        assert f"`{service}`" in md, service
    if budget < diff.MARKDOWN_BUDGET:
        assert re.search(
            r"\*\*Not shown here\*\* \(this comment is kept under [\d,]+ bytes\): .+\. "
            r"See the `fleet-diff` artifact of this run\.",
            md,
        ), md[-600:]


def test_the_same_change_in_many_consumers_is_said_once(change: tuple[PlanDiff, dict[str, str]]) -> None:
    d, done = change
    md = diff.markdown(d, "a", "b")
    # A weight change is one route line for every consumer without a copy of its own, however many
    # they are; only the clusters that run the service (whose own copy takes a share) differ.
    for service, what in done.items():
        if what != "weights":
            continue
        lines = [line for line in md.splitlines() if line.startswith(f"- `{service}` as ")]
        consumers = {ch.consumer for ch in d.routes if ch.service == service}
        local = {
            ch.consumer
            for ch in d.routes
            if ch.service == service and ch.new is not None and any(s.cluster == ch.consumer for s in ch.new.steady)
        }
        assert len(consumers) > 50
        assert len(lines) == 1 + len(local), lines
        assert re.search(r"in \d+ clusters \(`c\d+`, `c\d+`, `c\d+`, `c\d+`, `c\d+` and \d+ more\)", lines[0]), lines[0]
    # The export removal names a few of the clusters it hits, and counts the rest.
    (risk,) = [r for r in d.risks if r.kind == "export-removed"]
    assert len(risk.hits) > 50
    assert re.fullmatch(r".* which \d+ clusters import \((c\d+, ){4}c\d+ and \d+ more\)", risk.message)
    # Nothing says "(absent)": a weight nobody wrote is said in words.
    text = diff.text(d, "a", "b")
    assert "(absent)" not in md and "(absent)" not in text
    assert re.search(r"\.weight: \(not set\) -> (10|80)\n", text)
    assert "(no weights: equal split)" in text


def test_the_text_and_json_are_whole(change: tuple[PlanDiff, dict[str, str]]) -> None:
    d, _ = change
    text = diff.text(d, "a", "b")
    data = diff.as_json(d, "a", "b")
    assert {(r["consumer"], r["service"]) for r in data["routes"]} == {(r.consumer, r.service) for r in d.routes}
    (risk,) = [r for r in data["risks"] if r["kind"] == "export-removed"]
    assert len(risk["hits"]) > 50
    for ch in d.routes[:20]:
        assert ch.consumer in text


@pytest.mark.parametrize("full_diff", ["ü" * 2_000, "差分" * 1_000, "x" * 5_000])
def test_a_long_pointer_to_the_whole_diff_is_cut_in_bytes_within_the_budget(
    change: tuple[PlanDiff, dict[str, str]], full_diff: str
) -> None:
    d, _ = change
    md = diff.markdown(d, "fleet/big.yaml@main", "fleet/big.yaml", budget=diff.MARKDOWN_MIN_BUDGET, full_diff=full_diff)
    assert len(md.encode()) <= diff.MARKDOWN_MIN_BUDGET
    note = md.rstrip("\n").rsplit("\n", 1)[-1]
    assert note.startswith("**Not shown here**") and note.endswith("….")


def test_every_reason_in_an_access_matrix_gets_its_own_mark() -> None:
    from meshfleet.diff.markdown_routes import footnote_mark

    marks = [footnote_mark(i) for i in range(120)]
    assert marks[:3] == ["¹", "²", "³"] and marks[9] == "¹⁰" and len(set(marks)) == 120
