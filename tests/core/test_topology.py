"""The resolved fleet, directly: exporters, importers, endpoints per mesh, policies after overrides,
access identities, and the findings with their codes and key paths."""

from __future__ import annotations

from typing import Any

from meshfleet.core.access import access_clusters, identities
from meshfleet.core.resolved import Topology
from meshfleet.core.topology import resolve
from meshfleet.fleet.model import Fleet


def gw(i: int) -> dict[str, Any]:
    return {"gateway": {"host": f"10.0.0.{i}", "port": 80 + i}}


def topo(doc: dict[str, Any]) -> Topology:
    return resolve(Fleet.model_validate(doc))


def codes(t: Topology) -> list[tuple[str, tuple[str | int, ...]]]:
    return sorted((f.code.name, f.loc) for f in t.findings)


STRIP = {"pathRewrite": {"from": "^/{cluster}/{name}/?", "to": "/"}}
"""An export whose backend does not see the export path (FSM keeps it otherwise: a warning)."""


MIXED = {
    "clusters": {
        "f1": gw(1),
        "f2": gw(2),
        "f3": gw(3),
        "l1": {"mesh": "linkerd", **gw(4)},
        "l2": {"mesh": "linkerd", **gw(5)},
        "m1": {"mesh": "mcs"},
        "m2": {"mesh": "mcs"},
    },
    "services": {"a/web": {"ports": [{"port": 80}], "export": {"clusters": "all", **STRIP}}},
}


def test_each_member_reaches_the_exporters_of_its_own_mesh_and_mcs_also_its_own_export() -> None:
    t = topo(MIXED)
    web = t.services["a/web"]
    assert t.findings == []
    assert web.exporters == ["f1", "f2", "f3", "l1", "l2", "m1", "m2"]
    assert web.endpoints_for("f1") == ["f2", "f3"]
    assert web.endpoints_for("l2") == ["l1"]
    assert web.endpoints_for("m1") == ["m1", "m2"]
    assert web.importers == web.exporters, "every member imports from the others of its mesh"


def test_an_import_its_mesh_cannot_reach_is_refused_at_the_import() -> None:
    doc = {
        **MIXED,
        "services": {
            "a/web": {
                "ports": [{"port": 80}],
                "export": {"clusters": ["f1", "f2"], **STRIP},
                "import": {"clusters": ["f2", "l1"]},
            }
        },
    }
    t = topo(doc)
    assert codes(t) == [("cannot-import", ("services", "a/web", "import", "clusters"))]
    assert "its mesh (linkerd) cannot reach the exporters: f1 (fsm), f2 (fsm)" in t.findings[0].message
    assert t.services["a/web"].importers == ["f2"]


def test_overrides_give_each_consumer_its_policy_and_report_where_the_words_are() -> None:
    doc = {
        "clusters": {f"c{i}": {**gw(i), "labels": {"tier": "gold" if i < 3 else "silver"}} for i in range(1, 5)},
        "services": {
            "a/web": {
                "ports": [{"port": 80}],
                "export": {"clusters": ["c1", "c2"], **STRIP},
                "trafficPolicy": {
                    "lbType": "ActiveActive",
                    "targets": [{"cluster": "c1", "weight": 3}, {"cluster": "c2", "weight": 1}],
                },
                "overrides": [
                    {
                        "clusters": {"matchLabels": {"tier": "silver"}},
                        "trafficPolicy": {"lbType": "FailOver", "targets": ["c2"]},
                    }
                ],
            }
        },
    }
    t = topo(doc)
    assert t.findings == []
    pols = t.services["a/web"].policies
    assert sorted(pols) == ["c1", "c2", "c3", "c4"]
    assert pols["c1"].lb_type == "ActiveActive" and pols["c1"].effective("c1") == (pols["c1"].targets or ())[1:]
    assert pols["c3"].lb_type == "FailOver" and [t.cluster for t in pols["c3"].targets or ()] == ["c2"]
    assert pols["c3"].targets_loc == ("services", "a/web", "overrides", 0, "trafficPolicy", "targets")
    assert pols["c3"].lb_type_loc == ("services", "a/web", "overrides", 0, "trafficPolicy", "lbType")
    assert pols["c1"].lb_type_loc == ("services", "a/web", "trafficPolicy", "lbType")


def test_policies_go_only_to_consumers_whose_mesh_applies_them() -> None:
    doc = {
        **MIXED,
        "services": {
            "a/web": {
                "ports": [{"port": 80}],
                "export": {"clusters": ["f1", "l1", "l2"], **STRIP},
                "trafficPolicy": {"lbType": "Locality"},
            }
        },
    }
    t = topo(doc)
    assert sorted(t.services["a/web"].policies) == ["f2", "f3"]
    doc["services"]["a/web"]["trafficPolicy"]["clusters"] = ["f2", "l2"]
    assert codes(topo(doc)) == [
        ("import-without-policy", ("services", "a/web", "export")),
        ("no-traffic-policies", ("services", "a/web", "trafficPolicy", "clusters")),
    ]


def test_access_holds_where_the_service_answers_in_an_enforcing_mesh_under_every_identity() -> None:
    doc = {
        "clusters": {"c1": gw(1), "c2": gw(2), "c3": gw(3), "l1": {"mesh": "linkerd", **gw(4)}},
        "services": {
            "a/web": {
                "ports": [{"port": 80}],
                "serviceAccount": "web",
                "export": {"clusters": ["c1"], **STRIP},
                "localServiceAccounts": {"c2": "default"},
                "trafficPolicy": {"lbType": "ActiveActive"},
            }
        },
        "access": {"r": {"from": ["b/client"], "to": "a/web"}},
    }
    t = topo(doc)
    web = t.services["a/web"]
    assert t.access_in == {"r": None}
    assert access_clusters(web, None) == ["c1", "c2", "c3"], "where it runs or is imported, and enforced"
    assert identities(web, "c2") == ["default", "web"], "its local pods and the remote endpoints"
    assert identities(web, "c1") == ["web"] and identities(web, "c3") == ["web"]
    doc["access"]["r"]["in"] = ["c3", "l1"]
    t = topo(doc)
    assert t.access_in == {"r": ["c3", "l1"]}
    assert codes(t) == [("access-not-enforced", ("access", "r", "in"))]


def test_a_finding_reported_for_several_consumers_is_kept_once() -> None:
    doc = {
        "clusters": {"c1": {"gateway": {"host": "gw.example.net"}}, "c2": gw(2), "c3": gw(3)},
        "services": {
            "a/web": {
                "ports": [{"port": 80}],
                "export": {"clusters": ["c1"], **STRIP},
                "trafficPolicy": {"lbType": "FailOver"},
            }
        },
    }
    t = topo(doc)
    assert codes(t) == [("gateway-needs-ip", ("clusters", "c1", "gateway", "host"))], "c2 and c3 both import"


def test_warnings_sit_beside_errors_with_their_severity() -> None:
    doc = {
        "clusters": {"c1": gw(1), "c2": gw(2), "c3": gw(3), "c4": gw(4)},
        "services": {
            "a/web": {
                "ports": [{"port": 80}],
                "export": {"clusters": ["c1", "c2", "c9"], **STRIP},
                "trafficPolicy": {"lbType": "FailOver"},
            }
        },
    }
    t = topo(doc)
    assert sorted((f.code.name, f.severity) for f in t.findings) == [
        ("failover-unordered", "warning"),
        ("unknown-cluster", "error"),
    ]
