"""What a fleet may plan and the names it derives: the estimate bounds the plan, and each limit
holds at its value and refuses one past it (here on the model; tests/cli/test_limits.py runs the
commands under a memory limit)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshfleet.core.meshes.smi import target_name as traffic_target_name
from meshfleet.core.plan import PlannedObject, plan
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.limits import (
    FILE_NAME_MAX,
    MAX_ENDPOINTS,
    MAX_OBJECTS,
    OBJECT_NAME_MAX,
    derived_name_findings,
    estimate,
    rendered_file_name,
    size_findings,
)
from meshfleet.fleet.model import Fleet
from meshfleet.sinks.layout import file_name

shapes = st.builds(
    FleetShape,
    clusters=st.integers(1, 9),
    services=st.integers(1, 8),
    exporters=st.integers(1, 4),
    regions=st.integers(1, 3),
    control_plane=st.booleans(),
    selector_share=st.sampled_from([0.0, 0.5, 1.0]),
    access_share=st.sampled_from([0.0, 0.5, 1.0]),
    multi_port_share=st.sampled_from([0.0, 0.5]),
    mesh_share=st.sampled_from([0.0, 0.5, 1.0]),
)


def endpoints(objects: list[PlannedObject]) -> int:
    return sum(
        len(port["endpoints"])
        for o in objects
        if o.kind == "ServiceImport"
        for port in o.body["spec"]["ports"]
        if "endpoints" in port
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_the_estimate_never_undercounts_the_plan(shape: FleetShape, seed: int) -> None:
    fleet = Fleet.model_validate(generate(shape, seed))
    objects = [o for _, o in plan(fleet).objects()]
    est = estimate(fleet)
    assert est.objects >= len(objects)
    assert est.endpoints >= endpoints(objects)


def test_the_estimate_is_close_on_a_large_fleet() -> None:
    """Not so loose that it refuses a fleet far under the limit (10k objects, as `make bench`)."""
    fleet = Fleet.model_validate(generate(FleetShape(clusters=20, services=150), 1))
    objects = [o for _, o in plan(fleet).objects()]
    est = estimate(fleet)
    assert len(objects) <= est.objects <= 1.3 * len(objects)
    assert est.endpoints == endpoints(objects)


def wide_fleet(services: int, clusters: int, exporters: int, extra: int = 0) -> dict[str, Any]:
    """`services` exported by `exporters` clusters each and imported everywhere, plus `extra`
    services that add exactly one endpoint each (exported by one cluster, imported by one other)."""
    names = [f"c{i:03d}" for i in range(clusters)]
    doc: dict[str, Any] = {
        "clusters": {n: {"gateway": {"host": f"10.0.{i // 200}.{i % 200 + 1}"}} for i, n in enumerate(names)},
        "services": {},
    }
    for s in range(services):
        doc["services"][f"ns/s{s:04d}"] = {
            "ports": [{"port": 80}],
            "export": {"clusters": names[:exporters], "path": "/{cluster}/{name}"},
        }
    for s in range(extra):
        doc["services"][f"ns/x{s:04d}"] = {
            "ports": [{"port": 80}],
            "export": {"clusters": [names[0]]},
            "import": {"clusters": [names[1]]},
        }
    return doc


def test_endpoints_at_the_limit_are_planned_and_one_more_is_refused() -> None:
    # 100 services x 101 importing clusters x 100 exporters, less each exporter's own: 1,000,000.
    at = Fleet.model_validate(wide_fleet(100, 101, 100))
    assert estimate(at).endpoints == MAX_ENDPOINTS
    assert size_findings(at) == []
    over = Fleet.model_validate(wide_fleet(100, 101, 100, extra=1))
    assert estimate(over).endpoints == MAX_ENDPOINTS + 1
    [finding] = size_findings(over)
    assert f"would plan {MAX_ENDPOINTS + 1:,} import endpoints" in finding.message
    assert "imported by 101 clusters from 100 exporters" in finding.message
    assert finding.loc == ("services", "ns/s0000")


def with_rules_up_to(doc: dict[str, Any], objects: int) -> Fleet:
    """The fleet plus access rules that bring its estimate to exactly `objects`: a rule held in k
    clusters adds 2k (an HTTPRouteGroup and a TrafficTarget each), or 3k for a service with two
    service accounts."""
    doc["services"]["ns/two"] = {"ports": [{"port": 80}], "serviceAccount": "a", "localServiceAccounts": {"c000": "b"}}
    doc["access"] = {}
    rest = objects - estimate(Fleet.model_validate(doc)).objects
    names = sorted(doc["clusters"])
    if rest % 2:
        doc["access"]["odd"] = {"from": ["x/y"], "to": "ns/two", "in": [names[0]]}
        rest -= 3
    i = 0
    while rest:
        k = min(rest // 2, len(names))
        doc["access"][f"r{i:05d}"] = {"from": ["x/y"], "to": "ns/s0000", "in": names[:k]}
        rest -= 2 * k
        i += 1
    fleet = Fleet.model_validate(doc)
    assert estimate(fleet).objects == objects
    return fleet


@pytest.mark.parametrize(("objects", "refused"), [(MAX_OBJECTS, False), (MAX_OBJECTS + 1, True)])
def test_objects_at_the_limit_are_planned_and_one_more_is_refused(objects: int, refused: bool) -> None:
    fleet = with_rules_up_to(wide_fleet(20, 200, 3), objects)
    found = size_findings(fleet)
    assert bool(found) is refused
    if refused:
        assert f"would plan about {objects:,} objects" in found[0].message
        assert found[0].loc == ("access",) and "`in:`" in found[0].hint


def test_the_traffic_target_file_name_is_the_renderer_s() -> None:
    obj = PlannedObject(
        "applied",
        {
            "apiVersion": "access.smi-spec.io/v1alpha3",
            "kind": "TrafficTarget",
            "metadata": {"name": traffic_target_name("r", "*"), "namespace": "ns"},
        },
    )
    assert file_name(obj) == rendered_file_name("TrafficTarget", "ns", "r-any")
    predicted = PlannedObject("derived", {**obj.body, "kind": "Ingress"})
    assert file_name(predicted) == rendered_file_name("Ingress", "ns", "r-any", predicted=True)


def access_fleet(rule: str, account: str, namespace: str = "ns") -> Fleet:
    return Fleet.model_validate(
        {
            "clusters": {"c1": {"gateway": {"host": "10.0.0.1"}}},
            "services": {
                f"{namespace}/web": {"ports": [{"port": 80}], "serviceAccount": account, "export": {"clusters": ["c1"]}}
            },
            "access": {rule: {"from": ["ns/client"], "to": f"{namespace}/web"}},
        }
    )


def account(length: int) -> str:
    """A valid service account name (a DNS subdomain) of exactly `length` characters."""
    parts, left = [], length
    while left > 63:
        parts.append("a" * 62)
        left -= 63
    return ".".join([*parts, "b" * left])


def test_derived_names_at_kubernetes_limit_pass_and_one_more_character_is_refused() -> None:
    rule = "r" * 10
    fits = account(OBJECT_NAME_MAX - len(rule) - 1)
    assert len(traffic_target_name(rule, fits)) == OBJECT_NAME_MAX
    # At 253 characters the file name is too long too; the Kubernetes finding comes first.
    over = account(OBJECT_NAME_MAX - len(rule))
    [finding] = derived_name_findings(access_fleet(rule, over))
    assert f"is {OBJECT_NAME_MAX + 1} characters; Kubernetes allows {OBJECT_NAME_MAX}" in finding.message
    assert finding.loc == ("access", rule) and "services.ns/web.serviceAccount" in finding.message


def test_derived_file_names_at_the_file_system_limit_pass_and_one_more_byte_is_refused() -> None:
    rule, namespace = "r" * 10, "n" * 20
    overhead = len(rendered_file_name("TrafficTarget", namespace, "")) + len(rule) + 1
    assert derived_name_findings(access_fleet(rule, account(FILE_NAME_MAX - overhead), namespace)) == []
    [finding] = derived_name_findings(access_fleet(rule, account(FILE_NAME_MAX - overhead + 1), namespace))
    assert f"a file name of {FILE_NAME_MAX + 1} bytes; file systems allow {FILE_NAME_MAX}" in finding.message


def test_every_name_a_fleet_of_longest_names_derives_fits() -> None:
    """Names at their limits everywhere: what validates renders to names Kubernetes and file systems take."""
    ns, svc, rule = "n" * 63, "s" + "v" * 62, "r" * 63
    fits = account(FILE_NAME_MAX - len(rendered_file_name("TrafficTarget", ns, "")) - len(rule) - 1)
    clusters = {
        f"{c * 62}{i}": {
            "gateway": {"host": f"10.0.0.{i + 1}", "ingressClass": "x" * 63},
            "fsm": {"namespace": "f" * 63, "meshConfig": "m" * 63},
        }
        for i, c in enumerate("ab")
    }
    doc = {
        "controlPlane": "h" * 63,
        "clusters": {**clusters, "h" * 63: {}},
        "services": {
            f"{ns}/{svc}": {
                "ports": [{"port": 80, "name": "p" * 63}],
                "serviceAccount": fits,
                "createNamespace": True,
                "export": {"clusters": "all"},
                "trafficPolicy": {"lbType": "ActiveActive"},
            }
        },
        "access": {rule: {"from": [f"{ns}/{fits}"], "to": f"{ns}/{svc}", "http": [{"name": "h" * 63}]}},
    }
    fleet = Fleet.model_validate(doc)
    assert derived_name_findings(fleet) == [] and size_findings(fleet) == []
    for _, obj in plan(fleet).objects():
        limit = 63 if obj.kind in ("Service", "Namespace") else OBJECT_NAME_MAX
        assert len(obj.name) <= limit, (obj.kind, len(obj.name))
        assert len(file_name(obj).encode()) <= FILE_NAME_MAX, file_name(obj)


def _placed_fleet(clusters: int, values: int) -> Fleet:
    """A resource holding one ConfigMap of `values` values (its own, its keys' and the data's), placed
    in `clusters` clusters."""
    data = {f"k{i}": "v" for i in range(values - 6)}  # the object, apiVersion, kind, metadata, name, data
    return Fleet.model_validate(
        {
            "clusters": {f"c{i}": {} for i in range(clusters)},
            "resources": {
                "big": {
                    "clusters": "all",
                    "namespace": "x",
                    "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": data},
                }
            },
        }
    )


def test_resources_are_bounded_by_the_values_they_place() -> None:
    from meshfleet.fleet.limits import MAX_RESOURCE_VALUES

    at = _placed_fleet(4, MAX_RESOURCE_VALUES // 4)
    assert estimate(at).resource_values == MAX_RESOURCE_VALUES
    assert estimate(at).resource_objects == 4
    assert size_findings(at) == []
    [finding] = size_findings(_placed_fleet(4, MAX_RESOURCE_VALUES // 4 + 1))
    assert finding.loc == ("resources", "big")
    assert f"the resources would plan {MAX_RESOURCE_VALUES + 4:,} values" in finding.message


def test_the_estimate_counts_what_resources_plan() -> None:
    fleet = _placed_fleet(3, 10)
    placed = [o for c in plan(fleet).clusters for o in c.objects if o.kind == "ConfigMap"]
    assert estimate(fleet).resource_objects == len(placed) == 3
    assert estimate(fleet).objects >= sum(len(c.objects) for c in plan(fleet).clusters)
