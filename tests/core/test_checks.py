"""How checks report: one finding reported twice is shown once, and findings about different clusters
at one key with one code and one fix are shown once, naming the first cluster's case and the others."""

from __future__ import annotations

from meshfleet import codes
from meshfleet.core.checks import Checks
from meshfleet.errors import Finding, natural_key
from meshfleet.fleet.model import Fleet

LOC = ("services", "shop/api", "trafficPolicy", "targets")


def checks(members: int = 9) -> Checks:
    return Checks(Fleet.model_validate({"clusters": {f"c{i}": {} for i in range(1, members + 1)}}))


def test_the_same_finding_twice_is_shown_once() -> None:
    c = checks()
    for _ in range(2):
        c.problem(LOC, "once", "fix", codes.UNKNOWN_CLUSTER)
    assert c.findings == [Finding(LOC, "once", "fix", code=codes.UNKNOWN_CLUSTER)]


def test_findings_about_several_clusters_at_one_key_are_shown_once_naming_the_others() -> None:
    c = checks()
    for name in ("c3", "c1", "c2"):
        c.problem_for(name, LOC, f"{name} is wrong", "fix", codes.UNKNOWN_CLUSTER)
    assert c.findings == [
        Finding(LOC, "c1 is wrong (likewise for 2 other clusters: c2, c3)", "fix", code=codes.UNKNOWN_CLUSTER)
    ]


def test_many_clusters_are_counted_beyond_the_first_few() -> None:
    c = checks()
    for i in range(1, 10):
        c.problem_for(f"c{i}", LOC, f"c{i} is wrong", "fix", codes.UNKNOWN_CLUSTER)
    (f,) = c.findings
    assert f.message == "c1 is wrong (likewise for 8 other clusters: c2, c3, c4, c5, c6 and 3 more)"


def test_cluster_names_go_in_natural_order_c2_before_c10() -> None:
    c = checks(12)
    for name in ("c10", "c2", "c11", "c1", "c3"):
        c.problem_for(name, LOC, f"{name} is wrong", "fix", codes.UNKNOWN_CLUSTER)
    c.problem_for("c10", (*LOC, 0), "c10 is wrong", "fix", codes.UNKNOWN_CLUSTER)
    c.problem_for("c9", (*LOC, 0), "c9 is wrong", "fix", codes.UNKNOWN_CLUSTER)
    assert [f.message for f in c.findings] == [
        "c1 is wrong (likewise for 4 other clusters: c2, c3, c10, c11)",
        "c9 is wrong (likewise for 1 other cluster: c10)",
    ]


def test_the_natural_order_compares_digit_runs_as_numbers_and_is_total() -> None:
    names = ["c10", "c-1", "c2", "a1b10", "c01", "c", "c1", "a1b2", "ca", "c1a"]
    expected = ["a1b2", "a1b10", "c", "c01", "c1", "c1a", "c2", "c10", "c-1", "ca"]
    assert sorted(names, key=natural_key) == expected
    assert sorted(reversed(names), key=natural_key) == expected, "names equal as numbers keep one order"
    long_run = "c" + "9" * 5_000  # past the digits Python converts to an int
    assert sorted([long_run, "c10"], key=natural_key) == ["c10", long_run]


def test_a_single_cluster_is_reported_as_written() -> None:
    c = checks()
    c.problem_for("c1", LOC, "c1 is wrong", "fix", codes.UNKNOWN_CLUSTER)
    assert c.findings == [Finding(LOC, "c1 is wrong", "fix", code=codes.UNKNOWN_CLUSTER)]


def test_another_key_code_or_fix_is_another_finding_in_the_order_reported() -> None:
    c = checks()
    c.problem_for("c1", LOC, "c1 is wrong", "fix", codes.UNKNOWN_CLUSTER)
    c.problem_for("c2", LOC, "c2 is wrong", "another fix", codes.UNKNOWN_CLUSTER)
    c.problem_for("c3", LOC, "c3 is wrong", "fix", codes.CLUSTER_LISTED_TWICE)
    c.problem_for("c4", (*LOC, 0), "c4 is wrong", "fix", codes.UNKNOWN_CLUSTER)
    c.problem(LOC, "plain", "fix", codes.UNKNOWN_CLUSTER)
    c.problem_for("c5", LOC, "c5 is wrong", "fix", codes.UNKNOWN_CLUSTER)
    assert [f.message for f in c.findings] == [
        "c1 is wrong (likewise for 1 other cluster: c5)",
        "c2 is wrong",
        "c3 is wrong",
        "c4 is wrong",
        "plain",
    ]


def test_clusters_whose_reason_differs_are_not_said_to_be_alike() -> None:
    c = checks()
    c.problem_for(
        "c1",
        LOC,
        "c1 imports nothing (it is the only exporter)",
        "fix",
        codes.UNKNOWN_CLUSTER,
        same=" (it is the only exporter)",
    )
    c.problem_for("c2", LOC, "c2 imports nothing", "fix", codes.UNKNOWN_CLUSTER)
    c.problem_for("c3", LOC, "c3 imports nothing", "fix", codes.UNKNOWN_CLUSTER)
    assert [f.message for f in c.findings] == [
        "c1 imports nothing (it is the only exporter)",
        "c2 imports nothing (likewise for 1 other cluster: c3)",
    ]
