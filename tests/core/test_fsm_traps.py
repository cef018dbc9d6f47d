"""FSM's runtime traps: what FSM does instead of what the fleet reads as, refused or warned at its key.

Each rule is checked on a small fleet built here: the finding's code, key path and words, and that
the fleet without the trap has none (so a test cannot pass on a finding that is always there).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from meshfleet.core.meshes.fsm.traps import port_problem, strip_rewrite
from meshfleet.core.plan import Plan, plan
from meshfleet.core.resolved import Topology, regex_literal
from meshfleet.core.topology import resolve
from meshfleet.errors import Finding, FindingsError
from meshfleet.fleet.model import Fleet, Port
from tests.support.schemas import validate_object

STRIP = {"pathRewrite": {"from": "^/{cluster}/{name}/?", "to": "/"}}


def gw(i: int, **more: Any) -> dict[str, Any]:
    return {"gateway": {"host": f"10.0.0.{i}", "port": 80 + i, **more}}


def fleet(services: dict[str, Any], clusters: int = 3, **top: Any) -> dict[str, Any]:
    return {"clusters": {f"c{i}": gw(i) for i in range(1, clusters + 1)}, "services": services, **top}


def api(**spec: Any) -> dict[str, Any]:
    """shop/api exported from c1 and c2 (its backend sees no export path), consumed by c3 with FailOver."""
    base: dict[str, Any] = {
        "ports": [{"port": 8080, "name": "http"}],
        "export": {"clusters": ["c1", "c2"], **STRIP},
        "trafficPolicy": {"lbType": "ActiveActive"},
    }
    return {"shop/api": {**base, **spec}}


def found(doc: dict[str, Any]) -> list[tuple[str, tuple[str | int, ...]]]:
    return sorted((f.code.name, f.loc) for f in topo(doc).findings)


def topo(doc: dict[str, Any]) -> Topology:
    return resolve(Fleet.model_validate(doc))


def only(doc: dict[str, Any], code: str) -> Finding:
    (f,) = [f for f in topo(doc).findings if f.code.name == code]
    return f


def test_the_base_fleet_has_no_finding() -> None:
    assert found(fleet(api())) == []


# --- weights ------------------------------------------------------------------------------------


def test_a_weight_of_zero_is_refused_because_fsm_reads_it_as_full_weight() -> None:
    doc = fleet(
        api(
            trafficPolicy={
                "lbType": "ActiveActive",
                "targets": [{"cluster": "c1", "weight": 10}, {"cluster": "c2", "weight": 0}],
            }
        )
    )
    f = only(doc, "zero-weight")
    assert f.severity == "error" and f.loc == ("services", "shop/api", "trafficPolicy", "targets", 1, "weight")
    assert "full weight (100)" in f.message and "remove it from targets" in f.hint
    doc["services"]["shop/api"]["trafficPolicy"]["targets"][1]["weight"] = 1
    assert found(doc) == []


def test_a_missing_weight_beside_weighted_targets_is_refused_but_no_weights_at_all_is_fine() -> None:
    doc = fleet(api(trafficPolicy={"lbType": "ActiveActive", "targets": [{"cluster": "c1", "weight": 90}, "c2"]}))
    f = only(doc, "missing-weight")
    assert f.loc == ("services", "shop/api", "trafficPolicy", "targets", 1)
    assert "c2 has no weight beside weighted targets (c1)" in f.message
    doc["services"]["shop/api"]["trafficPolicy"]["targets"] = ["c1", "c2"]
    assert found(doc) == []


def test_an_override_with_a_zero_weight_is_refused_at_the_override() -> None:
    doc = fleet(api(overrides=[{"clusters": ["c3"], "trafficPolicy": {"targets": [{"cluster": "c1", "weight": 0}]}}]))
    assert found(doc) == [
        ("zero-weight", ("services", "shop/api", "overrides", 0, "trafficPolicy", "targets", 0, "weight"))
    ]


# --- traffic policies and imports ----------------------------------------------------------------


def test_locality_with_a_target_warns_that_the_target_is_ignored() -> None:
    doc = fleet(api(localServiceAccounts={"c3": "api"}, trafficPolicy={"lbType": "Locality", "targets": ["c1"]}))
    f = only(doc, "locality-ignores-targets")
    assert f.severity == "warning" and f.loc == ("services", "shop/api", "trafficPolicy", "targets")
    assert "each consumer of shop/api calls only its own copy, never c1" in f.message and "FailOver" in f.hint
    doc["services"]["shop/api"]["trafficPolicy"] = {"lbType": "Locality"}
    assert found(doc) == []


def test_an_import_no_policy_activates_warns_only_where_the_service_does_not_run() -> None:
    doc = fleet(api(trafficPolicy={"clusters": ["c3"], "lbType": "FailOver", "targets": ["c1"]}), clusters=5)
    f = only(doc, "import-without-policy")
    # c1 and c2 export it (they have their own copy); c3 has a policy; c4 and c5 have neither.
    assert f.loc == ("services", "shop/api", "export")
    assert f.message.startswith("c4, c5 import shop/api but no trafficPolicy applies there")
    doc["services"]["shop/api"]["localServiceAccounts"] = {"c4": "api", "c5": "api"}
    assert found(doc) == []


@pytest.mark.parametrize("clusters", [4, 100])
def test_an_unordered_failover_is_reported_once_for_all_its_consumers(clusters: int) -> None:
    # Every member exports shop/api and consumes it under one FailOver policy: one finding, not one per consumer.
    doc = fleet(
        {
            "shop/api": {
                "ports": [{"port": 8080, "name": "http"}],
                "export": {"clusters": "all", **STRIP},
                "trafficPolicy": {"lbType": "FailOver"},
            }
        },
        clusters=clusters,
    )
    f = only(doc, "failover-unordered")
    assert f.loc == ("services", "shop/api", "trafficPolicy", "lbType")
    assert f.message.startswith("FSM balances c1's calls to shop/api round-robin across the FailOver targets ")
    others = clusters - 1
    assert f.message.endswith(
        f"(likewise for {others} other clusters: c2, c3, c4)"
        if clusters == 4
        else f"(likewise for {others} other clusters: c2, c3, c4, c5, c6 and 94 more)"
    )
    assert len(f.message) < 300, "the message stays short whatever the fleet's size"


def test_an_explicit_locality_policy_is_not_an_idle_import() -> None:
    doc = fleet(api(trafficPolicy={"lbType": "Locality"}))
    assert found(doc) == []


# --- ports, gateways, paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "says"),
    [
        ({"port": 80}, None),
        ({"port": 80, "name": "http"}, None),
        ({"port": 80, "name": "http-api"}, None),
        ({"port": 80, "name": "web"}, None),
        ({"port": 80, "appProtocol": "http"}, None),
        ({"port": 80, "name": "tcp-db"}, "which FSM reads as tcp"),
        ({"port": 80, "name": "grpc-api"}, "which FSM reads as grpc"),
        ({"port": 80, "name": "tcp-server-first-db"}, "which FSM reads as tcp-server-first"),
        ({"port": 443, "name": "https"}, "so it speaks https, but FSM reads it as plain HTTP"),
        ({"port": 443, "name": "tls-web"}, "so it speaks tls"),
        ({"port": 80, "name": "grpc"}, "so it speaks grpc"),
        ({"port": 80, "name": "web", "appProtocol": "kubernetes.io/h2c"}, "has appProtocol kubernetes.io/h2c"),
        ({"port": 80, "name": "http", "appProtocol": "grpc"}, "has appProtocol grpc"),
        ({"port": 53, "protocol": "UDP"}, "is UDP"),
    ],
)
def test_only_plain_http_ports_cross_fsm_clusters(port: dict[str, Any], says: str | None) -> None:
    why = port_problem(Port.model_validate(port))
    assert (why is None) == (says is None) and (says is None or says in (why or ""))


def test_a_port_that_is_not_plain_http_is_refused_at_the_port_where_fsm_exports_it() -> None:
    doc = fleet(
        api(
            ports=[{"port": 8080, "name": "http"}, {"port": 9000, "name": "grpc-api"}],
            export={
                "clusters": ["c1", "c2"],
                "path": "/{cluster}/{name}/{port}",
                "pathRewrite": {"from": "^/{cluster}/{name}/[0-9]+/?", "to": "/"},
            },
        )
    )
    f = only(doc, "not-plain-http")
    assert f.loc == ("services", "shop/api", "ports", 1)
    doc["services"]["shop/api"]["export"]["ports"] = [8080]
    assert found(doc) == [], "exporting only the HTTP port is the fix"
    # Another mesh carries gRPC: a Linkerd exporter of the same port is not refused.
    doc = {
        "clusters": {"l1": {"mesh": "linkerd", **gw(1)}, "l2": {"mesh": "linkerd", **gw(2)}},
        "services": {"shop/api": {"ports": [{"port": 9000, "name": "grpc-api"}], "export": {"clusters": "all"}}},
    }
    assert found(doc) == []


def test_an_override_of_the_ports_is_where_the_bad_port_is_reported() -> None:
    doc = fleet(api(overrides=[{"clusters": ["c2"], "ports": [{"port": 8080, "name": "https"}]}]))
    assert ("not-plain-http", ("services", "shop/api", "overrides", 0, "ports", 0)) in found(doc)


def test_a_tls_gateway_and_ipv6_gateway_addresses_are_refused() -> None:
    doc = fleet(api())
    doc["clusters"]["c1"] = gw(1, tls=True)
    doc["clusters"]["c2"] = {"gateway": {"host": "2001:db8::2", "port": 82}}
    doc["clusters"]["c3"] = {"gateway": {"host": "gw.c3.example.net", "ip": "::ffff:10.0.0.3"}}
    assert found(doc) == [
        ("ipv6-gateway", ("clusters", "c2", "gateway", "host")),
        ("ipv6-gateway", ("clusters", "c3", "gateway", "ip")),
        ("tls-gateway", ("clusters", "c1", "gateway", "tls")),
    ]
    assert only(doc, "tls-gateway").severity == "error"
    assert [f.hint for f in topo(doc).findings if f.loc[1] == "c3"] == ["write it as the IPv4 address 10.0.0.3"]


def test_two_exporters_behind_one_address_and_port_are_refused_but_one_host_on_two_ports_is_fine() -> None:
    doc = fleet(api())
    doc["clusters"]["c2"] = {"gateway": {"host": "gw.example.net", "ip": "10.0.0.1", "port": 81}}
    f = only(doc, "shared-gateway")
    assert f.loc == ("services", "shop/api", "export", "clusters") and "10.0.0.1:81" in f.message
    doc["clusters"]["c2"]["gateway"]["port"] = 82
    assert found(doc) == []


def test_an_exact_export_path_is_refused_where_the_path_type_is_written() -> None:
    doc = fleet(api(overrides=[{"clusters": ["c2"], "export": {"pathType": "Exact"}}]))
    assert found(doc) == [("exact-export-path", ("services", "shop/api", "overrides", 0, "export", "pathType"))]


def test_a_load_balancer_is_a_warning_that_fsm_ignores_it() -> None:
    doc = fleet(api(export={"clusters": ["c1", "c2"], "loadBalancer": "HashingLoadBalancer", **STRIP}))
    f = only(doc, "load-balancer-ignored")
    assert f.severity == "warning" and f.loc == ("services", "shop/api", "export", "loadBalancer")
    assert "round-robin" in f.message


# --- the export path and its rewrite --------------------------------------------------------------


def test_an_export_without_rewrite_warns_and_the_suggested_rewrite_silences_it() -> None:
    for path in ("/{cluster}/{name}", "/{namespace}/{cluster}/{name}/{port}", "/x.y/{cluster}/"):
        doc = fleet(api(export={"clusters": ["c1", "c2"], "path": path}))
        f = only(doc, "path-prefix-kept")
        assert f.loc == ("services", "shop/api", "export", "path")
        suggested = re.search(r'from: "([^"]+)"', f.hint)
        assert suggested is not None and suggested.group(1) == strip_rewrite(path)
        doc["services"]["shop/api"]["export"]["pathRewrite"] = {"from": suggested.group(1), "to": "/"}
        assert found(doc) == [], path


def test_rewrite_placeholders_expand_per_exporter_into_the_export_and_its_ingress() -> None:
    p = plan(Fleet.model_validate(fleet(api())))
    for c in ("c1", "c2"):
        export = next(o for o in p.cluster(c).objects if o.kind == "ServiceExport")
        ingress = next(o for o in p.cluster(c).objects if o.kind == "Ingress")
        assert export.body["spec"]["pathRewrite"] == {"from": f"^/{c}/api/?", "to": "/"}
        assert (
            ingress.body["metadata"]["annotations"]["pipy.ingress.kubernetes.io/rewrite-target-from"] == f"^/{c}/api/?"
        )
        rewrite = export.body["spec"]["pathRewrite"]["from"]
        assert re.sub(rewrite, "/", f"/{c}/api/get", count=1) == "/get"


def test_what_is_substituted_into_a_rewrite_is_escaped() -> None:
    assert regex_literal("a.b-c") == r"a\.b-c"
    assert regex_literal("(x)|[y]*+?{1}$^\\") == r"\(x\)\|\[y\]\*\+\?\{1\}\$\^\\"
    assert re.fullmatch(regex_literal("1.2.3"), "1.2.3") and not re.fullmatch(regex_literal("1.2.3"), "1x2x3")


def test_a_rewrite_that_misses_the_path_is_the_same_warning() -> None:
    doc = fleet(api(overrides=[{"clusters": ["c2"], "export": {"path": "/other"}}]))
    f = only(doc, "path-prefix-kept")
    assert f.loc == ("services", "shop/api", "export", "pathRewrite")
    assert "does not match the export path /other of shop/api in c2" in f.message and '"^/other/?"' in f.hint


# --- access ----------------------------------------------------------------------------------------


def access_fleet(http: list[dict[str, Any]], lb: str = "ActiveActive") -> dict[str, Any]:
    doc = fleet(api(serviceAccount="api", localServiceAccounts={"c3": "api"}, trafficPolicy={"lbType": lb}))
    doc["access"] = {"web-reads": {"from": ["shop/web"], "to": "shop/api", "in": ["c3"], "http": http}}
    return doc


def test_access_matches_warn_where_remote_endpoints_answer_too() -> None:
    doc = access_fleet([{"name": "read", "pathRegex": "/.*", "methods": ["GET"]}])
    f = only(doc, "access-matches-local-only")
    assert f.loc == ("access", "web-reads", "http") and "exported from c1, c2" in f.message
    # One match that allows every call: the rule narrows nothing.
    assert found(access_fleet([{"name": "read", "methods": ["GET"]}, {"name": "all"}])) == []
    # Locality: the consumer never calls another cluster, so the matches hold for every call it makes.
    doc = access_fleet([{"name": "read", "pathRegex": "/.*", "methods": ["GET"]}], lb="Locality")
    assert found(doc) == []


def test_a_wildcard_export_warns_where_a_grant_for_another_service_of_its_namespace_holds() -> None:
    cart = {**api()["shop/api"], "export": {"clusters": ["c1", "c2"], "path": "/{cluster}/cart", **STRIP}}
    doc = fleet({**api(serviceAccount="api"), "shop/cart": cart})
    doc["access"] = {"web-calls-api": {"from": ["shop/web"], "to": "shop/api", "in": ["c3"]}}
    f = only(doc, "wildcard-service-account")
    assert f.loc == ("services", "shop/cart", "serviceAccount") and "in c3: web-calls-api" in f.message
    doc["services"]["shop/cart"]["serviceAccount"] = "cart"
    assert found(doc) == []
    # A grant in another namespace opens nothing of shop's.
    other = {
        **api(serviceAccount="api")["shop/api"],
        "export": {"clusters": ["c1", "c2"], "path": "/{cluster}/{namespace}/{name}", **STRIP},
    }
    other["export"]["pathRewrite"] = {"from": "^/{cluster}/{namespace}/{name}/?", "to": "/"}
    doc = fleet({**api(serviceAccount="api"), "shop/cart": cart, "other/api": other})
    doc["access"] = {"web-calls-other": {"from": ["shop/web"], "to": "other/api", "in": ["c3"]}}
    assert found(doc) == []


# --- cluster choices FSM makes anyway ---------------------------------------------------------------


def test_import_and_policy_for_all_clusters_are_accepted_with_a_single_exporter() -> None:
    doc = fleet(
        {
            "shop/api": {
                "ports": [{"port": 8080, "name": "http"}],
                "export": {"clusters": ["c1"], **STRIP},
                "import": {"clusters": "all"},
                "trafficPolicy": {"clusters": "all", "lbType": "FailOver"},
            }
        }
    )
    t = topo(doc)
    assert t.findings == []
    assert t.services["shop/api"].importers == ["c2", "c3"] and sorted(t.services["shop/api"].policies) == ["c2", "c3"]
    with_cp = copy.deepcopy(doc)
    with_cp["controlPlane"] = "cp"
    with_cp["clusters"]["cp"] = {}
    assert found(with_cp) == [], "`import: {clusters: all}` is what FSM's control plane does"
    # Naming the exporter itself is still a mistake.
    doc["services"]["shop/api"]["import"] = {"clusters": ["c1", "c2"]}
    assert ("cannot-import", ("services", "shop/api", "import", "clusters")) in found(doc)


# --- what meshfleet predicts and sets ---------------------------------------------------------------


def planned(doc: dict[str, Any]) -> Plan:
    try:
        return plan(Fleet.model_validate(doc))
    except FindingsError as e:
        raise AssertionError([f.message for f in e.findings]) from None


def test_with_a_control_plane_a_dns_gateway_without_ip_is_predicted_as_unknown() -> None:
    doc = fleet(api(), controlPlane="cp")
    doc["clusters"]["cp"] = {}
    doc["clusters"]["c1"] = {"gateway": {"host": "gw.c1.example.net", "port": 81}}
    p = planned(doc)
    imported = next(o for o in p.cluster("c3").objects if o.kind == "ServiceImport")
    targets = {e["clusterKey"]: e["target"] for e in imported.body["spec"]["ports"][0]["endpoints"]}
    assert targets["default/default/default/c1"] == {
        "host": "gw.c1.example.net",
        "ip": "",
        "port": 81,
        "path": "/c1/api",
    }
    assert targets["default/default/default/c2"]["ip"] == "10.0.0.2"
    view = next(e for e in p.cluster("c3").imports[0].endpoints if e.cluster == "c1")
    assert view.target is not None and view.target.describe() == "gw.c1.example.net:81/c1/api"
    # Without a control plane meshfleet writes the import itself and needs the address.
    del doc["controlPlane"], doc["clusters"]["cp"]
    assert ("gateway-needs-ip", ("clusters", "c1", "gateway", "host")) in found(doc)


def test_the_meshconfig_patch_sets_ingress_mode_on_exporters_and_the_dns_proxy_where_asked() -> None:
    doc = fleet(api())
    doc["clusters"]["c3"]["fsm"] = {
        "localDNSProxy": {"primaryUpstream": "10.43.0.10", "secondaryUpstream": "10.43.0.11"}
    }
    p = planned(doc)
    specs: dict[str, Any] = {
        c: next((o.body["spec"] for o in p.cluster(c).objects if o.kind == "MeshConfig"), None)
        for c in ("c1", "c2", "c3")
    }
    for c in ("c1", "c2"):
        assert specs[c] == {"clusterSet": specs[c]["clusterSet"], "ingress": {"enabled": True}}
    proxy = {
        "enable": True,
        "primaryUpstreamDNSServerIPAddr": "10.43.0.10",
        "secondaryUpstreamDNSServerIPAddr": "10.43.0.11",
    }
    assert specs["c3"] == {"clusterSet": specs["c3"]["clusterSet"], "sidecar": {"localDNSProxy": proxy}}
    for c in ("c1", "c3"):
        patch = next(o for o in p.cluster(c).objects if o.kind == "MeshConfig")
        for schema_set in ("current", "fsm-v1.2"):
            assert validate_object(patch.body, partial=True, schema_set=schema_set) == [], (c, schema_set)
    c1, c3 = p.cluster("c1").settings, p.cluster("c3").settings
    assert c1 is not None and c1.ingress is True
    assert c3 is not None and c3.local_dns_proxy == "10.43.0.10"
