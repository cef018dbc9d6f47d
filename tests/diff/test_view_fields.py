"""A field added to a view is compared and shown by the diff with no change to the diff's code.

Each test subclasses a view with a field the project does not have, puts it into a real plan,
and checks that the text, markdown and JSON outputs name that field with both values.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from meshfleet import diff
from meshfleet.core.plan import ClusterPlan, Plan
from meshfleet.core.views import EndpointView, ExportView, GrantView, ImportView, PolicyView
from meshfleet.diff.services import GrantChange, ServiceChange
from meshfleet.fleet.load import load_plan
from tests.conftest import ROOT

DEMO = load_plan(ROOT / "fleet/demo.yaml")


@dataclass(frozen=True)
class ImportWithZone(ImportView):
    zone: str = ""


@dataclass(frozen=True)
class EndpointWithLatency(EndpointView):
    latency_ms: int = 0


@dataclass(frozen=True)
class ExportWithTimeout(ExportView):
    timeout_seconds: int = 0


@dataclass(frozen=True)
class PolicyWithRetries(PolicyView):
    retries: int = 0


@dataclass(frozen=True)
class GrantWithRateLimit(GrantView):
    rate_limit: int = 0


def grown(view: Any, cls: type, **extra: Any) -> Any:
    """`view` as an instance of `cls` (a subclass with one more field) with that field set."""
    return cls(**{f.name: getattr(view, f.name) for f in dataclasses.fields(view)}, **extra)


def with_views(plan: Plan, cluster: str, attr: str, change: Callable[[Any], Any]) -> Plan:
    def changed(c: ClusterPlan) -> ClusterPlan:
        views: dict[str, Any] = {attr: tuple(change(v) for v in getattr(c, attr))}
        return dataclasses.replace(c, **views)

    clusters = tuple(changed(c) if c.name == cluster else c for c in plan.clusters)
    return dataclasses.replace(plan, clusters=clusters)


def outputs(old: Plan, new: Plan) -> tuple[diff.PlanDiff, str, str, dict[str, Any]]:
    d = diff.diff(old, new)
    return d, diff.text(d, "a", "b"), diff.markdown(d, "a", "b"), diff.as_json(d, "a", "b")


Case = tuple[str, str, Callable[[Any, int], Any], str, str, str]
CASES: dict[str, Case] = {
    "import": ("cluster-2", "imports", lambda v, n: grown(v, ImportWithZone, zone=f"z{n}"), "zone", '"z1"', '"z2"'),
    "endpoint": (
        "cluster-2",
        "imports",
        lambda v, n: dataclasses.replace(
            v,
            endpoints=tuple(
                grown(e, EndpointWithLatency, latency_ms=n if e.cluster == "cluster-1" else 0) for e in v.endpoints
            ),
        ),
        "endpoints[cluster=cluster-1,port=8080].latencyMs",
        "1",
        "2",
    ),
    "export": (
        "cluster-1",
        "exports",
        lambda v, n: grown(v, ExportWithTimeout, timeout_seconds=n * 10),
        "timeoutSeconds",
        "10",
        "20",
    ),
    "policy": ("cluster-2", "policies", lambda v, n: grown(v, PolicyWithRetries, retries=n), "retries", "1", "2"),
    "grant": (
        "cluster-2",
        "grants",
        lambda v, n: grown(v, GrantWithRateLimit, rate_limit=n * 5),
        "rateLimit",
        "5",
        "10",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_new_view_field_is_compared_and_shown(case: str) -> None:
    cluster, attr, grow, path, before, after = CASES[case]
    old = with_views(DEMO, cluster, attr, lambda v: grow(v, 1))
    new = with_views(DEMO, cluster, attr, lambda v: grow(v, 2))
    d, text, markdown, data = outputs(old, new)
    assert d.changed and not any(c.objects for c in d.clusters), "no object changes: only a view's meaning does"
    changes: list[ServiceChange | GrantChange] = [*d.changes, *d.grants]
    fields = [f for c in changes for f in c.fields]
    assert fields and {(f.path, json.dumps(f.old), json.dumps(f.new)) for f in fields} == {(path, before, after)}
    assert f"{path} {before} -> {after}" in text
    assert f"`{path}` `{before}` → `{after}`" in markdown
    assert path.rsplit(".", 1)[-1] in json.dumps(data), "the views in JSON carry the new field"


def test_unchanged_extra_fields_change_nothing() -> None:
    same = with_views(DEMO, "cluster-2", "imports", lambda v: grown(v, ImportWithZone, zone="z"))
    d = diff.diff(same, same)
    assert not d.changes and not d.grants and not d.mesh
