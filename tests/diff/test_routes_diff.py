"""The diff in service terms: who answers and who may call, before and after.

The diff builds effective entries only for the (consumer, service) pairs a change can touch; these tests
hold it to comparing every pair of both plans, on the committed diff cases and on changes chosen to
reach entries indirectly (a grant that opens other services' identities, a permissive mode, an export's
service account, a local copy)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshfleet import diff
from meshfleet.core.effective import Views
from meshfleet.core.plan import Plan, plan
from meshfleet.diff.routes import access_changes, grouped_routes, route_changes
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.load import load_plan
from meshfleet.fleet.model import Fleet
from tests.conftest import ROOT
from tests.diff.test_budget import review_change
from tests.diff.test_diff_cli import PAIRS


def every_pair(*plans: Plan) -> set[tuple[str, str]]:
    return {(c, s) for p in plans for v in (Views(p),) for c in v.members for s in v.services(c)}


def assert_same_as_every_pair(old: Plan, new: Plan) -> diff.PlanDiff:
    d = diff.diff(old, new)
    pairs = every_pair(old, new)
    assert d.routes == route_changes(Views(old), Views(new), pairs)
    assert d.access == access_changes(Views(old), Views(new), pairs)
    return d


@pytest.mark.parametrize("case", PAIRS)
def test_the_diff_cases_compare_as_if_every_pair_were_built(case: str) -> None:
    old, new = PAIRS[case]
    assert_same_as_every_pair(load_plan(ROOT / old), load_plan(ROOT / new))


DEMO: dict[str, Any] = {}


def demo() -> dict[str, Any]:
    import yaml

    if not DEMO:
        DEMO.update(yaml.safe_load((ROOT / "fleet/demo.yaml").read_text()))
    return copy.deepcopy(DEMO)


def planned(doc: dict[str, Any]) -> Plan:
    return plan(Fleet.model_validate(doc))


def test_a_mode_change_reaches_every_service_of_the_cluster() -> None:
    new = demo()
    new["clusters"]["cluster-3"]["fsm"] = {"permissive": False}
    d = assert_same_as_every_pair(planned(demo()), planned(new))
    # cluster-3 goes from "any workload may call" to nobody (no rule there) for all three services.
    assert {(a.consumer, a.service, a.source, a.change) for a in d.access} == {
        ("cluster-3", s, "*", "removed")
        for s in ("httpbin/httpbin", "httpbin/httpbin-cluster-1", "httpbin/httpbin-cluster-3")
    }


def test_a_grant_reaches_the_services_its_identity_opens() -> None:
    new = demo()
    new["access"]["curl-to-httpbin"]["from"].append("debug/shell")
    d = assert_same_as_every_pair(planned(demo()), planned(new))
    # The rule names httpbin, but the account it grants answers for the other two services as well.
    assert {a.service for a in d.access if a.source == "debug/shell"} == {
        "httpbin/httpbin",
        "httpbin/httpbin-cluster-1",
        "httpbin/httpbin-cluster-3",
    }


def test_an_exports_account_and_a_local_copy_reach_every_consumer() -> None:
    new = demo()
    new["services"]["httpbin/httpbin-cluster-3"]["serviceAccount"] = "other"
    new["services"]["httpbin/httpbin-cluster-1"]["localServiceAccounts"] = {"cluster-2": "default"}
    d = assert_same_as_every_pair(planned(demo()), planned(new))
    assert {(a.consumer, a.service) for a in d.access} >= {
        ("cluster-2", "httpbin/httpbin-cluster-3"),
        ("cluster-2", "httpbin/httpbin-cluster-1"),
    }
    assert any(r.service == "httpbin/httpbin-cluster-1" and r.consumer == "cluster-2" for r in d.routes)


def test_a_generated_review_change_compares_as_if_every_pair_were_built() -> None:
    doc = generate(FleetShape(clusters=12, services=40, mesh_share=0.3), 5)
    doc["acknowledge"] = ["failover-unordered", "path-prefix-kept", "access-matches-local-only"]
    new, _ = review_change(doc)
    new["clusters"]["c001"].pop("fsm", None)
    d = assert_same_as_every_pair(planned(doc), planned(new))
    assert d.routes and d.access
    # Grouping keeps every consumer of every change exactly once.
    groups = grouped_routes(d.routes)
    assert sorted((g.first.service, c) for g in groups for c in g.consumers) == sorted(
        {(r.service, r.consumer) for r in d.routes}
    )
