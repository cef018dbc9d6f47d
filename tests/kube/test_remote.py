"""What a mesh's controller in another cluster cannot use, judged once for the program and the CLI."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from meshfleet.kube.remote import is_local_host, remote_use_problems

SECRET = "S3CR3T-"


def kubeconfig(cluster: dict[str, Any] | None = None, user: dict[str, Any] | None = None) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "eu",
            "clusters": [
                {
                    "name": "eu-c",
                    "cluster": cluster
                    if cluster is not None
                    else {"server": "https://10.0.0.7:6443", "certificate-authority-data": f"{SECRET}ca"},
                }
            ],
            "users": [{"name": "eu-u", "user": user if user is not None else {"token": f"{SECRET}t"}}],
            "contexts": [{"name": "eu", "context": {"cluster": "eu-c", "user": "eu-u"}}],
        }
    )


def test_a_token_and_a_reachable_server_are_fine() -> None:
    assert remote_use_problems(kubeconfig()) == []
    assert remote_use_problems(kubeconfig(user={"client-certificate-data": "x", "client-key-data": "y"})) == []


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "127.0.0.1",
        "127.200.0.1",
        "0.0.0.0",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:7f00:2",
        "::ffff:0.0.0.0",
    ],
)
def test_loopback_and_unspecified_hosts_are_local(host: str) -> None:
    assert is_local_host(host)


@pytest.mark.parametrize("host", ["10.0.0.7", "k3d-eu-server-0", "::ffff:10.0.0.7", "fd00::1", "localhost.example"])
def test_other_hosts_are_not(host: str) -> None:
    assert not is_local_host(host)


ON_CLUSTER = "context 'eu', cluster 'eu-c': "
ON_USER = "context 'eu', user 'eu-u': "


@pytest.mark.parametrize(
    ("cluster", "user", "reason"),
    [
        (
            {"server": "https://[::ffff:127.0.0.1]:6443"},
            None,
            ON_CLUSTER + "'server' is a loopback or unspecified address",
        ),
        ({"server": "https://0.0.0.0:6443"}, None, ON_CLUSTER + "'server' is a loopback or unspecified address"),
        ({}, None, ON_CLUSTER + "'server' is not set"),
        ({"server": "https://[::1:6443"}, None, ON_CLUSTER + "'server' is not a URL with a host"),
        (
            {"server": "https://eu.example", "certificate-authority": "/etc/eu-ca.crt"},
            None,
            ON_CLUSTER + "reads the file named in 'certificate-authority'",
        ),
        (None, {"exec": {"command": f"/{SECRET}/aws"}}, ON_USER + "'exec' runs an exec credential plugin"),
        (
            None,
            {"auth-provider": {"name": "gcp", "config": {"access-token": SECRET}}},
            ON_USER + "'auth-provider' runs an auth-provider plugin",
        ),
        (None, {"tokenFile": f"/{SECRET}/token"}, ON_USER + "reads its token from the file named in 'tokenFile'"),
        (
            None,
            {"client-certificate": f"/{SECRET}.crt", "client-key-data": "x"},
            ON_USER + "reads the file named in 'client-certificate'",
        ),
        (
            None,
            {"client-key": f"/{SECRET}.key", "client-certificate-data": "x"},
            ON_USER + "reads the file named in 'client-key'",
        ),
    ],
)
def test_each_rule_names_the_context_the_entry_and_the_field_never_the_value(
    cluster: dict[str, Any] | None, user: dict[str, Any] | None, reason: str
) -> None:
    (problem,) = remote_use_problems(kubeconfig(cluster, user))
    assert problem.startswith(reason)
    assert SECRET not in problem and "6443" not in problem and "/etc" not in problem and "gcp" not in problem


def test_every_problem_is_listed() -> None:
    problems = remote_use_problems(
        kubeconfig({"server": "https://localhost:6443"}, {"exec": {"command": "aws"}, "tokenFile": "/t"})
    )
    assert [p.split(": ", 1)[1].split(" ")[0] for p in problems] == ["'server'", "'exec'", "reads"]


def test_names_that_may_be_credentials_are_not_shown() -> None:
    doc = yaml.safe_load(kubeconfig({"server": "https://127.0.0.1"}))
    long_name = SECRET + "x" * 80
    doc["clusters"][0]["name"] = long_name
    doc["contexts"][0]["context"]["cluster"] = long_name
    (problem,) = remote_use_problems(yaml.safe_dump(doc))
    assert problem.startswith("context 'eu', cluster (a string that is not a plain name, not shown): 'server'")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{{{SECRET}: [\n", "it is not YAML"),
        (f"- {SECRET}\n", "it is not a kubeconfig (the top level is not a mapping)"),
        ("contexts: []\ncurrent-context: eu\n", "its current-context names no context in it"),
    ],
)
def test_what_is_no_kubeconfig_is_said_so(text: str, reason: str) -> None:
    assert remote_use_problems(text) == [reason]
