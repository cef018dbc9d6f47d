"""Services against the workloads the fleet places: checked where the fleet holds them, left alone where not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshfleet.core.plan import plan
from meshfleet.errors import FindingsError
from meshfleet.fleet.model import Fleet

SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}], "selector": {"app": "web"}},
}
ACCOUNT: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web"}}
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "serviceAccountName": "web",
                "containers": [{"name": "web", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}],
            },
        },
    },
}


def fleet(
    objects: list[dict[str, Any]],
    *,
    account: str = "web",
    local: dict[str, str] | None = None,
    placed: list[str] | None = None,
    overrides: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "clusters": {c: {"gateway": {"host": f"10.0.0.{i + 1}"}} for i, c in enumerate(["a", "b", "c"])},
        "services": {
            "web/web": {
                "ports": [{"port": 80, "name": "http"}],
                "serviceAccount": account,
                "localServiceAccounts": local or {},
                "export": {"clusters": ["a", "b"]},
            }
        },
        "resources": {
            "web": {
                "clusters": placed or ["a", "b"],
                "namespace": "web",
                "template": objects,
                "overrides": overrides or [],
            }
        },
    }


def problems(doc: dict[str, Any]) -> list[str]:
    try:
        plan(Fleet.model_validate(doc))
    except FindingsError as e:  # the errors; the warnings beside them are the FSM adapter's business
        return [f"{f.code.name}: {'.'.join(map(str, f.loc))}: {f.message}" for f in e.findings if f.severity == "error"]
    return []


def test_the_whole_workload_passes() -> None:
    assert problems(fleet([SERVICE, ACCOUNT, DEPLOYMENT])) == []


def test_nothing_is_checked_where_the_fleet_does_not_hold_the_service() -> None:
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
    assert problems(fleet([other, {**DEPLOYMENT, "metadata": {"name": "other"}}])) == []


def test_pods_elsewhere_leave_the_selector_and_identity_unchecked() -> None:
    assert problems(fleet([SERVICE])) == []


def test_a_local_copy_answers_under_its_own_account() -> None:
    default = copy.deepcopy(DEPLOYMENT)
    del default["spec"]["template"]["spec"]["serviceAccountName"]
    local = fleet(
        [SERVICE, ACCOUNT, DEPLOYMENT],
        local={"c": "default"},
        placed=["a", "b", "c"],
        overrides=[
            {
                "clusters": ["c"],
                "object": {"kind": "Deployment", "name": "web"},
                "patch": [{"op": "remove", "path": "/spec/template/spec/serviceAccountName"}],
            }
        ],
    )
    assert problems(local) == []
    wrong = copy.deepcopy(local)
    wrong["services"]["web/web"]["localServiceAccounts"] = {"c": "web"}
    assert problems(wrong) == [
        "identity-mismatch: resources.web.template.2.spec.template.spec: the pods of Deployment web in c run as "
        "default (no serviceAccountName), but the fleet says web/web answers there as web; access rules for web "
        "would not reach them"
    ]


def test_an_export_for_any_identity_does_not_check_the_account() -> None:
    default = copy.deepcopy(DEPLOYMENT)
    del default["spec"]["template"]["spec"]["serviceAccountName"]
    assert problems(fleet([SERVICE, default], account="*")) == []


def test_the_pods_account_must_be_placed_beside_them() -> None:
    assert problems(fleet([SERVICE, DEPLOYMENT])) == [
        "identity-missing: resources.web.template.1.spec.template.spec.serviceAccountName: the pods of Deployment "
        "web in a and b run as web, which the resources do not place there: Kubernetes refuses to start them"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"spec": {"ports": [{"port": 8080}], "selector": {"app": "web"}}},
            "service-ports-differ: resources.web.template.0.spec.ports: the Service web/web in a and b has no port 80 "
            "(it has 8080), which services.web/web.ports lists",
        ),
        (
            {"spec": {"ports": [{"name": "web", "port": 80}], "selector": {"app": "web"}}},
            "service-ports-differ: resources.web.template.0.spec.ports.0.name: "
            "port 80 of the Service web/web in a and b has name 'web'; services.web/web.ports says 'http'",
        ),
        (
            {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "www"}], "selector": {"app": "web"}}},
            "service-ports-differ: resources.web.template.0.spec.ports.0.targetPort: targetPort 'www' of the Service "
            "web/web in a and b names no container port of its pods",
        ),
        (
            {"spec": {"ports": [{"name": "http", "port": 80}]}},
            "service-selects-nothing: resources.web.template.0.spec: the Service web/web in a and b has no selector, "
            "so it has no endpoints for FSM to export",
        ),
        (
            {"spec": {"type": "ExternalName", "externalName": "example.com"}},
            "service-selects-nothing: resources.web.template.0.spec.type: the Service web/web in a and b is an "
            "ExternalName Service, which FSM does not export",
        ),
    ],
)
def test_a_service_that_does_not_serve_the_export_is_refused_at_its_field(
    change: dict[str, Any], expected: str
) -> None:
    assert problems(fleet([{**SERVICE, **change}, ACCOUNT, DEPLOYMENT])) == [expected]


def test_exporters_services_must_agree_as_fsm_compares_them() -> None:
    doc = fleet(
        [SERVICE, ACCOUNT, DEPLOYMENT],
        overrides=[
            {
                "clusters": ["b"],
                "object": {"kind": "Service", "name": "web"},
                "patch": [{"op": "add", "path": "/spec/type", "value": "NodePort"}],
            }
        ],
    )
    assert problems(doc) == [
        "service-ports-differ: resources.web.template.0.spec.ports: the Service web/web in b differs from its copy "
        "in a in type, ports or targetPort; FSM's control plane marks such an export Conflict"
    ]
