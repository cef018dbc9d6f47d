"""The validator on the kinds a multi-mesh fleet writes beyond FSM's current ones: FSM v1.2 against its own
schema set, Cilium network policies and Istio traffic and security objects (tests/support/schemas.py)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # so that `tests.support` imports however pytest is started
    sys.path.insert(0, str(REPO))

from tests.support.schemas import (  # noqa: E402
    cel_rules,
    crd_schemas,
    schema_set_for_fsm,
    schema_sets,
    validate_documents,
    validate_object,
)

DELETE = object()


def changed(obj: dict[str, Any], path: str | tuple[str, ...], value: Any) -> dict[str, Any]:
    """Copy of obj with a path set, or deleted if value is DELETE.

    The path is dotted, or a tuple of keys for keys that hold dots; list indexes are numbers.
    """
    result = copy.deepcopy(obj)
    keys = path.split(".") if isinstance(path, str) else list(path)
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in keys]
    node: Any = result
    for part in parts[:-1]:
        node = node[part]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return result


def assert_refused(problems: list[str], field: str, words: str) -> None:
    assert [p for p in problems if f": {field}: " in p and words in p], (
        f"no problem at {field!r} mentioning {words!r} in {problems}"
    )


# ----------------------------------------------------------------------------- FSM v1.2 and current FSM

V12 = "fsm-v1.2"

SERVICE_EXPORT_CURRENT = {
    "apiVersion": "multicluster.flomesh.io/v1alpha1",
    "kind": "ServiceExport",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "serviceAccountName": "httpbin",
        "pathRewrite": {"from": "^/cluster-1/httpbin/?", "to": "/"},
        "rules": [{"portNumber": 8080, "path": "/cluster-1/httpbin", "pathType": "Prefix"}],
    },
}
SERVICE_EXPORT_V12 = {**SERVICE_EXPORT_CURRENT, "apiVersion": "flomesh.io/v1alpha1"}
SERVICE_IMPORT_V12 = {
    "apiVersion": "flomesh.io/v1alpha1",
    "kind": "ServiceImport",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "type": "ClusterSetIP",
        "serviceAccountName": "httpbin",
        "ports": [
            {
                "port": 8080,
                "protocol": "TCP",
                "endpoints": [
                    {
                        "clusterKey": "default/default/default/cluster-1",
                        "target": {"host": "192.168.1.110", "ip": "192.168.1.110", "port": 81, "path": "/c1/httpbin"},
                    }
                ],
            }
        ],
    },
}
GLOBAL_TRAFFIC_POLICY_V12 = {
    "apiVersion": "flomesh.io/v1alpha1",
    "kind": "GlobalTrafficPolicy",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {"lbType": "ActiveActive", "targets": [{"clusterKey": "default/default/default/cluster-1", "weight": 100}]},
}
CLUSTER_V12 = {
    "apiVersion": "flomesh.io/v1alpha1",
    "kind": "Cluster",
    "metadata": {"name": "cluster-1"},
    "spec": {
        "gatewayHost": "192.168.1.110",
        "gatewayPort": 81,
        "kubeconfig": "apiVersion: v1\nkind: Config\n",
        "fsmMeshConfigName": "fsm-mesh-config",
        "fsmNamespace": "fsm-system",
    },
}
MESH_CONFIG_PATCH = {
    "apiVersion": "config.flomesh.io/v1alpha3",
    "kind": "MeshConfig",
    "metadata": {"name": "fsm-mesh-config", "namespace": "fsm-system"},
    "spec": {"traffic": {"enablePermissiveTrafficPolicyMode": False}},
}
TRAFFIC_TARGET = {
    "apiVersion": "access.smi-spec.io/v1alpha3",
    "kind": "TrafficTarget",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "destination": {"kind": "ServiceAccount", "name": "httpbin", "namespace": "httpbin"},
        "rules": [{"kind": "HTTPRouteGroup", "name": "httpbin-routes", "matches": ["all"]}],
        "sources": [{"kind": "ServiceAccount", "name": "curl", "namespace": "curl"}],
    },
}
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "httpbin"}}


def test_the_sets_are_current_and_fsm_v1_2() -> None:
    assert schema_sets() == ("current", V12)
    with pytest.raises(ValueError, match=r"unknown schema set 'fsm-v9' \(vendored: current, fsm-v1.2\)"):
        validate_object(NAMESPACE, schema_set="fsm-v9")


def test_a_v1_2_service_export_validates_against_v1_2_and_the_current_one_against_current() -> None:
    assert validate_object(SERVICE_EXPORT_V12, schema_set=V12) == []
    assert validate_object(SERVICE_EXPORT_CURRENT) == []
    assert validate_object(SERVICE_EXPORT_CURRENT, schema_set="current") == []


def test_each_group_is_refused_in_the_other_set() -> None:
    assert validate_object(SERVICE_EXPORT_V12) == [
        "ServiceExport httpbin/httpbin: (root): unknown apiVersion/kind flomesh.io/v1alpha1 ServiceExport in "
        "schema set current: no vendored CRD schema and no built-in schema for Kubernetes 1.33 "
        "(schema set fsm-v1.2 has it)"
    ]
    assert validate_object(SERVICE_EXPORT_CURRENT, schema_set=V12) == [
        "ServiceExport httpbin/httpbin: (root): unknown apiVersion/kind multicluster.flomesh.io/v1alpha1 "
        "ServiceExport in schema set fsm-v1.2: that release does not serve API group multicluster.flomesh.io "
        "(schema set current has it)"
    ]


@pytest.mark.parametrize(
    "obj", [SERVICE_EXPORT_V12, SERVICE_IMPORT_V12, GLOBAL_TRAFFIC_POLICY_V12, CLUSTER_V12], ids=lambda o: o["kind"]
)
def test_every_v1_2_multicluster_kind_validates(obj: dict[str, Any]) -> None:
    assert validate_object(obj, schema_set=V12) == []


def test_v1_2_objects_are_checked_not_waved_through() -> None:
    assert_refused(
        validate_object(changed(SERVICE_EXPORT_V12, "spec.rules.0.pathType", "Regex"), schema_set=V12),
        "spec.rules[0].pathType",
        "is not one of ['Exact', 'Prefix']",
    )
    assert_refused(
        validate_object(changed(SERVICE_IMPORT_V12, "spec.ports.0.endpoints.0.target.ip", DELETE), schema_set=V12),
        "spec.ports[0].endpoints[0].target.ip",
        "required field is missing",
    )
    assert_refused(
        validate_object(changed(CLUSTER_V12, "metadata.namespace", "fsm-system"), schema_set=V12),
        "metadata.namespace",
        "cluster-scoped",
    )


def test_the_v1_2_set_takes_the_kinds_it_does_not_define_from_current() -> None:
    v12, current = crd_schemas(V12), crd_schemas()
    assert validate_object(TRAFFIC_TARGET, schema_set=V12) == []
    assert validate_object(NAMESPACE, schema_set=V12) == []
    traffic_target = ("access.smi-spec.io/v1alpha3", "TrafficTarget")
    mesh_config = ("config.flomesh.io/v1alpha3", "MeshConfig")
    assert v12[traffic_target] is current[traffic_target]
    assert v12[mesh_config].file == "fsm-v1.2/config.flomesh.io/MeshConfig_v1alpha3.json"
    assert current[mesh_config].file == "current/config.flomesh.io/MeshConfig_v1alpha3.json"
    assert not [key for key in v12 if key[0].startswith("multicluster.flomesh.io/")]
    assert not [key for key in current if key[0].startswith("flomesh.io/")]


@pytest.mark.parametrize(
    ("path", "value", "valid_in", "field", "words"),
    [
        # FSM v1.2's MeshConfig has observability.enableDebugServer; the current one dropped it.
        (
            "spec.observability",
            {"enableDebugServer": True},
            V12,
            "spec.observability.enableDebugServer",
            "unknown field",
        ),
        # The current MeshConfig added traffic.serviceAccessNames.
        (
            "spec.traffic.serviceAccessNames",
            {"mustWithNamespace": True},
            "current",
            "spec.traffic.serviceAccessNames",
            "unknown field",
        ),
        # sidecar.localProxyMode gained an enum after v1.2.
        ("spec.sidecar", {"localProxyMode": "Loopback"}, V12, "spec.sidecar.localProxyMode", "is not one of"),
        ("spec.misc", {"curlImage": "curlimages/curl"}, V12, "spec.misc.curlImage", "unknown field"),
        ("spec.warmup", {"enable": True}, "current", "spec.warmup", "unknown field"),
    ],
    ids=["enableDebugServer", "serviceAccessNames", "localProxyMode-enum", "curlImage", "warmup"],
)
def test_mesh_config_is_told_apart_by_release(path: str, value: Any, valid_in: str, field: str, words: str) -> None:
    patch = changed(MESH_CONFIG_PATCH, path, value)
    other = "current" if valid_in == V12 else V12
    assert validate_object(patch, partial=True, schema_set=valid_in) == []
    assert_refused(validate_object(patch, partial=True, schema_set=other), field, words)


def test_schema_set_for_fsm() -> None:
    assert schema_set_for_fsm("v1.2.9") == V12
    assert schema_set_for_fsm("1.2") == V12
    assert schema_set_for_fsm("v1.2.0-rc.1") == V12
    assert schema_set_for_fsm("v1.3.0") == "current"
    assert schema_set_for_fsm("1.6") == "current"
    assert schema_set_for_fsm(None) == "current"
    with pytest.raises(ValueError, match=r"no vendored schemas for FSM v1.1.3"):
        schema_set_for_fsm("v1.1.3")
    with pytest.raises(ValueError, match=r"FSM version must look like 'v1.2.9' or '1.3', not 'latest'"):
        schema_set_for_fsm("latest")


def test_validate_documents_uses_the_set(tmp_path: Path) -> None:
    rendered = tmp_path / "cluster-1.yaml"
    rendered.write_text("\n---\n".join(json.dumps(o) for o in (NAMESPACE, SERVICE_EXPORT_V12, TRAFFIC_TARGET)) + "\n")
    assert validate_documents([rendered], schema_set=V12) == []
    problems = validate_documents([rendered])
    assert len(problems) == 1
    assert problems[0].startswith(f"{rendered}#2: ServiceExport httpbin/httpbin: (root): unknown apiVersion/kind")


# ----------------------------------------------------------------------------- Cilium

CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"

CILIUM_NETWORK_POLICY = {
    "apiVersion": "cilium.io/v2",
    "kind": "CiliumNetworkPolicy",
    "metadata": {"name": "httpbin-from-cluster-2", "namespace": "httpbin"},
    "spec": {
        "endpointSelector": {"matchLabels": {"app": "httpbin"}},
        "ingress": [
            {
                "fromEndpoints": [
                    {
                        "matchLabels": {
                            "app": "curl",
                            CLUSTER_LABEL: "cluster-2",
                            "k8s:io.kubernetes.pod.namespace": "curl",
                        }
                    }
                ],
                "toPorts": [
                    {
                        "ports": [{"port": "8080", "protocol": "TCP"}],
                        "rules": {"http": [{"method": "GET", "path": "/get"}, {"method": "POST", "path": "/post"}]},
                    }
                ],
            }
        ],
        "egress": [
            {
                "toEndpoints": [
                    {
                        "matchLabels": {"app": "httpbin", CLUSTER_LABEL: "cluster-1"},
                        "matchExpressions": [
                            {"key": CLUSTER_LABEL, "operator": "In", "values": ["cluster-1", "cluster-3"]}
                        ],
                    }
                ],
                "toPorts": [
                    {
                        "ports": [{"port": "8080", "protocol": "TCP"}],
                        "rules": {
                            "http": [
                                {
                                    "method": "GET",
                                    "path": "/anything/.*",
                                    "headers": ["X-Fleet: yes"],
                                    "headerMatches": [{"name": "x-cluster", "value": "cluster-1", "mismatch": "LOG"}],
                                }
                            ]
                        },
                    }
                ],
            },
            {"toCIDRSet": [{"cidr": "10.0.0.0/8", "except": ["10.96.0.0/12"]}]},
        ],
    },
}
CILIUM_CLUSTERWIDE_POLICY = {
    "apiVersion": "cilium.io/v2",
    "kind": "CiliumClusterwideNetworkPolicy",
    "metadata": {"name": "mesh-clusters-only"},
    "spec": {
        "endpointSelector": {"matchLabels": {"io.kubernetes.pod.namespace": "httpbin"}},
        "ingress": [
            {
                "fromEndpoints": [{"matchExpressions": [{"key": CLUSTER_LABEL, "operator": "Exists"}]}],
                "fromEntities": ["cluster"],
            }
        ],
    },
}


@pytest.mark.parametrize("obj", [CILIUM_NETWORK_POLICY, CILIUM_CLUSTERWIDE_POLICY], ids=lambda o: o["kind"])
def test_cilium_policies_validate(obj: dict[str, Any]) -> None:
    assert validate_object(obj) == []
    assert validate_object(obj, schema_set=V12) == []  # Cilium comes from the base set


L7 = "spec.egress.0.toPorts.0.rules"
CILIUM_BROKEN: list[tuple[str, str | tuple[str, ...], Any, str, str]] = [
    # id, dotted path changed, new value, field path expected in a problem, words expected in it
    (
        "port-protocol",
        "spec.egress.0.toPorts.0.ports.0.protocol",
        "HTTP",
        "spec.egress[0].toPorts[0].ports[0].protocol",
        "is not one of",
    ),
    (
        "port-as-number",
        "spec.egress.0.toPorts.0.ports.0.port",
        8080,
        "spec.egress[0].toPorts[0].ports[0].port",
        "is not of type 'string'",
    ),
    (
        "deep-l7-enum",
        f"{L7}.http.0.headerMatches.0.mismatch",
        "DROP",
        "spec.egress[0].toPorts[0].rules.http[0].headerMatches[0].mismatch",
        "is not one of",
    ),
    ("deep-l7-typo", f"{L7}.http.0.paths", ["/get"], "spec.egress[0].toPorts[0].rules.http[0].paths", "unknown field"),
    (
        "l7-two-protocols",
        f"{L7}.dns",
        [{"matchName": "httpbin.example.com"}],
        "spec.egress[0].toPorts[0].rules",
        "exactly one of http, kafka, dns, l7proto must be set (found http, dns)",
    ),
    (
        "selector-typo",
        "spec.egress.0.toEndpoints.0.matchLabel",
        {"app": "httpbin"},
        "spec.egress[0].toEndpoints[0].matchLabel",
        "unknown field",
    ),
    (
        "cluster-label-value",
        ("spec", "egress", "0", "toEndpoints", "0", "matchLabels", CLUSTER_LABEL),
        "cluster 1",
        f'spec.egress[0].toEndpoints[0].matchLabels["{CLUSTER_LABEL}"]',
        "does not match",
    ),
    (
        "expression-operator",
        "spec.egress.0.toEndpoints.0.matchExpressions.0.operator",
        "Equals",
        "spec.egress[0].toEndpoints[0].matchExpressions[0].operator",
        "is not one of",
    ),
    ("cidr-format", "spec.egress.1.toCIDRSet.0.cidr", "10.0.0.0", "spec.egress[1].toCIDRSet[0].cidr", "'cidr'"),
    (
        "cidr-except-format",
        "spec.egress.1.toCIDRSet.0.except.0",
        "10.96.0.0/33",
        "spec.egress[1].toCIDRSet[0].except[0]",
        "'cidr'",
    ),
    (
        "two-selectors",
        "spec.nodeSelector",
        {"matchLabels": {"node-role": "edge"}},
        "spec",
        "exactly one of endpointSelector, nodeSelector must be set (found endpointSelector, nodeSelector)",
    ),
    (
        "no-selector",
        "spec.endpointSelector",
        DELETE,
        "spec",
        "exactly one of endpointSelector, nodeSelector must be set (found none)",
    ),
    ("log-control-character", "spec.log", {"value": "bell\u0007"}, "spec.log.value", "does not match '^\\\\PC*$'"),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "words"), [c[1:] for c in CILIUM_BROKEN], ids=[c[0] for c in CILIUM_BROKEN]
)
def test_broken_cilium_policies_are_refused_with_the_path(
    path: str | tuple[str, ...], value: Any, field: str, words: str
) -> None:
    assert_refused(validate_object(changed(CILIUM_NETWORK_POLICY, path, value)), field, words)


def test_cilium_policy_needs_a_rule_list_and_clusterwide_has_no_namespace() -> None:
    bare = {**CILIUM_CLUSTERWIDE_POLICY, "spec": {"endpointSelector": {}}}
    assert_refused(
        validate_object(bare),
        "spec",
        "at least one of ingress, ingressDeny, egress, egressDeny must be set (found none)",
    )
    namespaced = changed(CILIUM_CLUSTERWIDE_POLICY, "metadata.namespace", "httpbin")
    assert_refused(validate_object(namespaced), "metadata.namespace", "cluster-scoped")


def test_printable_log_values_pass_the_go_only_pattern() -> None:
    printable = {"value": "httpbin \u00e9t\u00e9 cluster 2 \u2713"}  # non-ASCII, but no control character
    assert validate_object(changed(CILIUM_NETWORK_POLICY, "spec.log", printable)) == []


# ----------------------------------------------------------------------------- Istio

DESTINATION_RULE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "host": "httpbin.httpbin.svc.cluster.local",
        "trafficPolicy": {
            "connectionPool": {"http": {"http2MaxRequests": 1000, "maxRequestsPerConnection": 10}},
            "loadBalancer": {
                "simple": "ROUND_ROBIN",
                "localityLbSetting": {
                    "enabled": True,
                    "failover": [{"from": "eu-west-1", "to": "us-east-1"}],
                    "failoverPriority": ["topology.istio.io/network", "topology.istio.io/cluster"],
                },
            },
            "outlierDetection": {
                "consecutive5xxErrors": 5,
                "interval": "10s",
                "baseEjectionTime": "30s",
                "maxEjectionPercent": 100,
            },
        },
        "subsets": [
            {
                "name": "spread",
                "labels": {"app": "httpbin"},
                "trafficPolicy": {
                    "loadBalancer": {
                        "localityLbSetting": {
                            "distribute": [{"from": "eu-west-1/*", "to": {"eu-west-1/*": 80, "us-east-1/*": 20}}]
                        }
                    },
                    "outlierDetection": {"consecutiveGatewayErrors": 3, "interval": "5s"},
                },
            }
        ],
        "exportTo": ["*"],
    },
}
AUTHORIZATION_POLICY = {
    "apiVersion": "security.istio.io/v1",
    "kind": "AuthorizationPolicy",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "selector": {"matchLabels": {"app": "httpbin"}},
        "action": "ALLOW",
        "rules": [
            {
                "from": [{"source": {"principals": ["cluster.local/ns/curl/sa/curl"], "namespaces": ["curl"]}}],
                "to": [
                    {"operation": {"methods": ["GET", "POST"], "paths": ["/get", "/anything/*"], "ports": ["8080"]}}
                ],
                "when": [{"key": "request.headers[x-fleet]", "values": ["yes"]}],
            }
        ],
    },
}
PEER_AUTHENTICATION = {
    "apiVersion": "security.istio.io/v1",
    "kind": "PeerAuthentication",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "selector": {"matchLabels": {"app": "httpbin"}},
        "mtls": {"mode": "STRICT"},
        "portLevelMtls": {"8080": {"mode": "PERMISSIVE"}},
    },
}
SERVICE_ENTRY = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "ServiceEntry",
    "metadata": {"name": "httpbin-cluster-2", "namespace": "httpbin"},
    "spec": {
        "hosts": ["httpbin.httpbin.global"],
        "location": "MESH_INTERNAL",
        "resolution": "STATIC",
        "ports": [{"number": 8080, "name": "http", "protocol": "HTTP"}],
        "endpoints": [
            {"address": "192.168.1.120", "network": "network-2", "locality": "us-east-1/a", "ports": {"http": 15443}}
        ],
    },
}
SIDECAR = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "Sidecar",
    "metadata": {"name": "default", "namespace": "curl"},
    "spec": {
        "egress": [{"hosts": ["./*", "istio-system/*", "httpbin/httpbin.httpbin.svc.cluster.local"]}],
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
    },
}
VIRTUAL_SERVICE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "hosts": ["httpbin.httpbin.svc.cluster.local"],
        "http": [
            {
                "match": [{"uri": {"prefix": "/get"}, "headers": {"x-fleet": {"exact": "yes"}}}],
                "route": [
                    {"destination": {"host": "httpbin.httpbin.svc.cluster.local", "subset": "spread"}, "weight": 90},
                    {"destination": {"host": "httpbin.httpbin.global", "port": {"number": 8080}}, "weight": 10},
                ],
                "timeout": "5s",
                "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,reset"},
            }
        ],
    },
}
ISTIO_GOOD = [DESTINATION_RULE, AUTHORIZATION_POLICY, PEER_AUTHENTICATION, SERVICE_ENTRY, SIDECAR, VIRTUAL_SERVICE]


@pytest.mark.parametrize("obj", ISTIO_GOOD, ids=lambda o: o["kind"])
def test_istio_objects_validate(obj: dict[str, Any]) -> None:
    assert validate_object(obj) == []


@pytest.mark.parametrize("version", ["v1beta1", "v1alpha3"])
def test_older_served_istio_versions_validate(version: str) -> None:
    for obj in (DESTINATION_RULE, SERVICE_ENTRY, SIDECAR, VIRTUAL_SERVICE):
        assert validate_object({**obj, "apiVersion": f"networking.istio.io/{version}"}) == []
    if version == "v1beta1":
        assert validate_object({**AUTHORIZATION_POLICY, "apiVersion": "security.istio.io/v1beta1"}) == []
    else:
        assert_refused(
            validate_object({**AUTHORIZATION_POLICY, "apiVersion": "security.istio.io/v1alpha3"}),
            "(root)",
            "served versions are security.istio.io/v1, security.istio.io/v1beta1",
        )


LB = "spec.trafficPolicy.loadBalancer"
ISTIO_BROKEN: list[tuple[str, dict[str, Any], str, Any, str, str]] = [
    (
        "dr-two-balancers",
        DESTINATION_RULE,
        f"{LB}.consistentHash",
        {"useSourceIp": True},
        "spec.trafficPolicy.loadBalancer",
        "at most one of simple, consistentHash may be set (found simple, consistentHash)",
    ),
    (
        "dr-simple-enum",
        DESTINATION_RULE,
        f"{LB}.simple",
        "WEIGHTED",
        "spec.trafficPolicy.loadBalancer.simple",
        "is not one of",
    ),
    (
        "dr-failover-as-map",
        DESTINATION_RULE,
        f"{LB}.localityLbSetting.failover",
        {"from": "eu", "to": "us"},
        "spec.trafficPolicy.loadBalancer.localityLbSetting.failover",
        "is not of type 'array'",
    ),
    (
        "dr-failover-typo",
        DESTINATION_RULE,
        f"{LB}.localityLbSetting.failover.0.too",
        "us-east-1",
        "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0].too",
        "unknown field",
    ),
    (
        "dr-failover-priority-not-list",
        DESTINATION_RULE,
        f"{LB}.localityLbSetting.failoverPriority",
        "topology.istio.io/network",
        "spec.trafficPolicy.loadBalancer.localityLbSetting.failoverPriority",
        "is not of type 'array'",
    ),
    (
        "dr-distribute-weight",
        DESTINATION_RULE,
        "spec.subsets.0.trafficPolicy.loadBalancer.localityLbSetting.distribute.0.to.us-east-1/*",
        "20%",
        'spec.subsets[0].trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to["us-east-1/*"]',
        "is not of type 'integer'",
    ),
    (
        "dr-outlier-negative",
        DESTINATION_RULE,
        "spec.trafficPolicy.outlierDetection.consecutive5xxErrors",
        -1,
        "spec.trafficPolicy.outlierDetection.consecutive5xxErrors",
        "less than the minimum of 0",
    ),
    (
        "dr-outlier-typo",
        DESTINATION_RULE,
        "spec.trafficPolicy.outlierDetection.consecutiveErrorz",
        3,
        "spec.trafficPolicy.outlierDetection.consecutiveErrorz",
        "unknown field",
    ),
    (
        "dr-subset-name-missing",
        DESTINATION_RULE,
        "spec.subsets.0.name",
        DELETE,
        "spec.subsets[0].name",
        "required field is missing",
    ),
    ("ap-action", AUTHORIZATION_POLICY, "spec.action", "PERMIT", "spec.action", "is not one of"),
    (
        "ap-principals-string",
        AUTHORIZATION_POLICY,
        "spec.rules.0.from.0.source.principals",
        "cluster.local/ns/curl/sa/curl",
        "spec.rules[0].from[0].source.principals",
        "is not of type 'array'",
    ),
    (
        "ap-operation-typo",
        AUTHORIZATION_POLICY,
        "spec.rules.0.to.0.operation.method",
        "GET",
        "spec.rules[0].to[0].operation.method",
        "unknown field",
    ),
    (
        "ap-port-number",
        AUTHORIZATION_POLICY,
        "spec.rules.0.to.0.operation.ports",
        [8080],
        "spec.rules[0].to[0].operation.ports[0]",
        "is not of type 'string'",
    ),
    ("pa-mode", PEER_AUTHENTICATION, "spec.mtls.mode", "ON", "spec.mtls.mode", "is not one of"),
    ("se-resolution", SERVICE_ENTRY, "spec.resolution", "DYNAMIC", "spec.resolution", "is not one of"),
    ("se-port-name-missing", SERVICE_ENTRY, "spec.ports.0.name", DELETE, "spec.ports[0].name", "required"),
    ("sidecar-egress-hosts", SIDECAR, "spec.egress.0.hosts", "./*", "spec.egress[0].hosts", "is not of type 'array'"),
    (
        "vs-weight-string",
        VIRTUAL_SERVICE,
        "spec.http.0.route.0.weight",
        "90",
        "spec.http[0].route[0].weight",
        "is not of type 'integer'",
    ),
    (
        "vs-match-two-kinds",
        VIRTUAL_SERVICE,
        "spec.http.0.match.0.uri.exact",
        "/get",
        "spec.http[0].match[0].uri",
        "at most one of exact, prefix, regex may be set (found exact, prefix)",
    ),
]


@pytest.mark.parametrize(
    ("obj", "path", "value", "field", "words"), [c[1:] for c in ISTIO_BROKEN], ids=[c[0] for c in ISTIO_BROKEN]
)
def test_broken_istio_objects_are_refused_with_the_path(
    obj: dict[str, Any], path: str, value: Any, field: str, words: str
) -> None:
    assert_refused(validate_object(changed(obj, path, value)), field, words)


def test_a_patch_keeps_the_exclusive_choices_of_oneof() -> None:
    """`partial` drops `required`, but not inside oneOf, where it says which fields exclude each other."""
    patch = {**DESTINATION_RULE, "spec": {"trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}}}}
    assert validate_object(patch, partial=True) == []
    both = changed(patch, f"{LB}.consistentHash", {"useSourceIp": True})
    assert_refused(validate_object(both, partial=True), LB, "at most one of simple, consistentHash")


def test_cel_rules_are_listed_and_knowingly_not_evaluated() -> None:
    rules = cel_rules("security.istio.io/v1", "AuthorizationPolicy")
    spec_rules = [rule for path, rule in rules if path == "spec"]
    assert spec_rules and "has(self.selector)" in spec_rules[0] and "has(self.targetRef)" in spec_rules[0]
    # The API server refuses selector together with targetRef (CEL); this validator does not evaluate CEL.
    both = changed(
        AUTHORIZATION_POLICY, "spec.targetRef", {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}
    )
    assert validate_object(both) == []
    duration_rules = cel_rules("networking.istio.io/v1", "DestinationRule")
    assert ("spec.trafficPolicy.outlierDetection.interval", "duration(self) >= duration('1ms')") in duration_rules
    assert ("spec.subsets[*].trafficPolicy.outlierDetection.interval", "duration(self) >= duration('1ms')") in (
        duration_rules
    )
    assert validate_object(changed(DESTINATION_RULE, "spec.trafficPolicy.outlierDetection.interval", "0s")) == []
    assert cel_rules("cilium.io/v2", "CiliumNetworkPolicy") == []
