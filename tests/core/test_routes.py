"""Each mesh's runtime rules, from the plan's views: where a consumer's calls really go."""

from __future__ import annotations

import dataclasses
from typing import Any

from meshfleet.core.meshes import mesh
from meshfleet.core.plan import ClusterPlan, Plan, plan
from meshfleet.core.views import Route, Share, TargetView
from meshfleet.fleet.load import load_plan
from meshfleet.fleet.model import Fleet
from tests.conftest import ROOT


def routes(plan: Plan, cluster: str, service: str, *, local: bool) -> tuple[Route, ...]:
    c: ClusterPlan = plan.cluster(cluster)
    imported = next((i for i in c.imports if i.service == service), None)
    policy = next((p for p in c.policies if p.service == service), None)
    return mesh(c.mesh).routes(service, cluster, local, imported, policy)


def test_fsm_active_active_shares_between_the_local_copy_and_the_targets() -> None:
    demo = load_plan(ROOT / "fleet/demo.yaml")
    (route,) = routes(demo, "cluster-2", "httpbin/httpbin", local=True)
    assert route.called_as == "httpbin.httpbin"
    assert route.steady == (Share("cluster-2", 100), Share("cluster-1", 100), Share("cluster-3", 100))
    assert route.local_down == (Share("cluster-1", 100), Share("cluster-3", 100))


def plan_of(doc: dict[str, Any]) -> Plan:
    return plan(Fleet.model_validate(doc))


FLEET: dict[str, Any] = {
    "clusters": {
        "eu": {"gateway": {"host": "10.0.0.1"}},
        "us": {"gateway": {"host": "10.0.0.2"}},
        "ap": {"gateway": {"host": "10.0.0.3"}},
    },
    "services": {
        "shop/api": {
            "ports": [{"port": 80}],
            "export": {"clusters": ["eu", "us"]},
            "trafficPolicy": {"lbType": "FailOver"},
        }
    },
    "acknowledge": ["failover-unordered", "path-prefix-kept"],
}


def test_fsm_failover_is_round_robin_over_the_targets_and_standby_behind_a_local_copy() -> None:
    p = plan_of(FLEET)
    (remote,) = routes(p, "ap", "shop/api", local=False)
    assert remote.steady == remote.local_down == (Share("eu", 100), Share("us", 100))
    assert "no order" in remote.rule
    (with_local,) = routes(p, "ap", "shop/api", local=True)
    assert with_local.steady == (Share("ap", 100),) and with_local.local_down == remote.steady


def test_fsm_weights_of_zero_count_as_full_weight_and_locality_ignores_imports() -> None:
    doc = {
        **FLEET,
        "services": {
            "shop/api": {
                "ports": [{"port": 80}],
                "export": {"clusters": ["eu", "us"]},
                "trafficPolicy": {
                    "lbType": "ActiveActive",
                    "targets": [{"cluster": "eu", "weight": 1}, {"cluster": "us", "weight": 30}],
                },
            }
        },
    }
    p = plan_of(doc)
    (route,) = routes(p, "ap", "shop/api", local=False)
    assert route.steady == (Share("eu", 1), Share("us", 30))
    # A fleet cannot write weight 0 (zero-weight refuses it); a policy that holds one is read as FSM reads it.
    c = p.cluster("ap")
    zero = dataclasses.replace(c.policies[0], targets=(TargetView("eu", 0), TargetView("us", 30)))
    (route,) = mesh("fsm").routes("shop/api", "ap", False, c.imports[0], zero)
    assert route.steady == (Share("eu", 100), Share("us", 30))
    doc["services"]["shop/api"]["trafficPolicy"] = {"lbType": "Locality"}
    (local_only,) = routes(plan_of(doc), "ap", "shop/api", local=True)
    assert local_only.steady == (Share("ap", 100),) and local_only.local_down == ()
    del doc["services"]["shop/api"]["trafficPolicy"]
    (no_policy,) = routes(plan_of(doc), "ap", "shop/api", local=False)
    assert no_policy.steady == () and "imports route nothing" in no_policy.rule


def test_linkerd_reaches_an_exporter_only_by_its_mirror_name() -> None:
    p = load_plan(ROOT / "fleet/linkerd-london-paris.yaml")
    own, mirror = routes(p, "london", "default/bar", local=True)
    assert own.called_as == "bar.default" and own.steady == (Share("london", 1),) and own.local_down == ()
    assert mirror.called_as == "bar-paris.default" and mirror.steady == mirror.local_down == (Share("paris", 1),)


def test_mcs_spreads_over_every_exporter_the_local_one_included() -> None:
    p = load_plan(ROOT / "fleet/mcs.yaml")
    (route,) = routes(p, "west-1", "shop/web", local=True)
    assert route.called_as == "web.shop.svc.clusterset.local"
    assert route.steady == (Share("west-1", 1), Share("west-2", 1))
    assert route.local_down == (Share("west-2", 1),)
