"""Acknowledgements, directly: an entry covers the warnings reported under it, the fleet covers all,
a stale one is a warning only once every warning is known, and errors cannot be acknowledged."""

from __future__ import annotations

from meshfleet.core.acknowledge import acknowledge
from meshfleet.core.meshes import fsm
from meshfleet.errors import Finding
from meshfleet.fleet.model import Fleet

UNORDERED = Finding(("services", "a/web", "trafficPolicy", "targets"), "round-robin", code=fsm.FAILOVER_UNORDERED)


def fleet(**acks: list[str]) -> Fleet:
    return Fleet.model_validate(
        {
            "acknowledge": acks.get("fleet", []),
            "clusters": {"c1": {"acknowledge": acks.get("cluster", [])}},
            "services": {
                "a/web": {"ports": [{"port": 80}], "acknowledge": acks.get("service", [])},
                "a/db": {"ports": [{"port": 80}], "acknowledge": acks.get("other", [])},
            },
        }
    )


def summary(found: list[Finding]) -> list[tuple[str, tuple[str | int, ...], bool]]:
    return [(f.code.name, f.loc, f.acknowledged) for f in found]


def test_the_service_it_is_reported_under_acknowledges_it() -> None:
    assert summary(acknowledge(fleet(service=["failover-unordered"]), [UNORDERED], complete=True)) == [
        ("failover-unordered", UNORDERED.loc, True)
    ]


def test_another_entry_does_not_and_its_acknowledgement_is_stale() -> None:
    found = acknowledge(fleet(other=["failover-unordered"], cluster=["failover-unordered"]), [UNORDERED], complete=True)
    assert summary(found) == [
        ("failover-unordered", UNORDERED.loc, False),
        ("stale-acknowledgement", ("clusters", "c1", "acknowledge", 0), False),
        ("stale-acknowledgement", ("services", "a/db", "acknowledge", 0), False),
    ]
    assert (
        found[1].message == "no failover-unordered warning is reported under clusters.c1; the acknowledgement is stale"
    )


def test_the_fleet_acknowledges_every_entry_and_a_nearer_acknowledgement_is_used_first() -> None:
    assert summary(acknowledge(fleet(fleet=["failover-unordered"]), [UNORDERED], complete=True))[0][2] is True
    found = acknowledge(fleet(fleet=["failover-unordered"], service=["failover-unordered"]), [UNORDERED], complete=True)
    assert summary(found)[1:] == [("stale-acknowledgement", ("acknowledge", 0), False)]


def test_staleness_waits_for_a_complete_list_of_warnings() -> None:
    assert acknowledge(fleet(cluster=["failover-unordered"]), [], complete=False) == []


def test_errors_and_unknown_codes_cannot_be_acknowledged() -> None:
    found = acknowledge(fleet(cluster=["unknown-cluster", "nope", "stale-acknowledgement"]), [], complete=True)
    assert [(f.code.name, f.severity, f.loc[-1]) for f in found] == [
        ("not-a-warning", "error", 0),
        ("not-a-warning", "error", 1),
        ("not-a-warning", "error", 2),
    ]
    assert "failover-unordered" in found[0].hint and "stale-acknowledgement" not in found[0].hint
