"""The kubeconfig rules: a stack secret wins over the fleet's context, one context per secret,
and nothing FSM's controller cannot use goes into a `Cluster` object."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components import StackConfigError
from meshfleet.kube.remote import remote_use_problems
from tests.components.conftest import (
    DEMO_CLUSTERS,
    MARKER,
    StackRunner,
    check_kubeconfig,
    demo_text,
    fake_kubeconfig,
    merged_kubeconfig,
    standalone,
    unwrap,
)

Stack = StackRunner


def contexts_of(text: str) -> list[str]:
    return [c["name"] for c in yaml.safe_load(text)["contexts"]]


def test_a_stack_secret_wins_over_the_fleets_context(stack: Stack) -> None:
    """The laptop's fleet names k3d contexts; CI sets a stack secret for a cluster: the secret is used."""
    ci = {"cluster-2": fake_kubeconfig("cluster-2", context="ci-cluster-2")}
    run = stack(demo_text(), "context", kubeconfigs=ci)
    providers = run.providers()
    assert contexts_of(unwrap(providers["cluster-2"].inputs["kubeconfig"])) == ["ci-cluster-2"]
    for name in ("control-plane", "cluster-1", "cluster-3"):
        check_kubeconfig(unwrap(providers[name].inputs["kubeconfig"]), name, "context")
    # The Cluster object on the control plane carries the same (secret) text as the provider.
    (registration,) = [
        c
        for c in run.of_type("kubernetes:multicluster.flomesh.io/v1alpha1:Cluster")
        if c.inputs["metadata"]["name"] == "cluster-2"
    ]
    assert unwrap(registration.inputs["spec"]["kubeconfig"]) == unwrap(providers["cluster-2"].inputs["kubeconfig"])


def test_with_every_stack_secret_set_no_context_is_read(stack: Stack) -> None:
    """CI: the fleet says `from: context`, the runner has no kubeconfig file at all."""
    secrets = {c: fake_kubeconfig(c, context=f"ci-{c}") for c in DEMO_CLUSTERS}
    run = stack(demo_text(), "context", kubeconfigs=secrets, context_file="")
    for name, provider in run.providers().items():
        assert contexts_of(unwrap(provider.inputs["kubeconfig"])) == [f"ci-{name}"]


def several(*pairs: tuple[str, str]) -> str:
    return merged_kubeconfig(dict(pairs), extra_other=False)


def test_a_secret_with_several_contexts_is_cut_to_the_one_the_fleet_names(stack: Stack) -> None:
    text = several(("k3d-cluster-1", "cluster-1"), ("elsewhere", "cluster-2"))
    run = stack(demo_text(), "context", kubeconfigs={"cluster-1": text})
    kept = unwrap(run.providers()["cluster-1"].inputs["kubeconfig"])
    assert contexts_of(kept) == ["k3d-cluster-1"]
    assert f"{MARKER}cluster-2-" not in kept


@pytest.mark.parametrize("source", ["stack-secret", "context"])
def test_a_secret_with_several_contexts_and_no_way_to_choose_is_an_error(stack: Stack, source: str) -> None:
    text = several(("a", "cluster-1"), ("b", "cluster-2"))
    kubeconfigs = {c: fake_kubeconfig(c) for c in DEMO_CLUSTERS} if source == "stack-secret" else {}
    kubeconfigs["cluster-1"] = text
    with pytest.raises(
        StackConfigError,
        match=r"cluster cluster-1: the stack secret meshfleet:kubeconfigs\.cluster-1 "
        r"holds 2 contexts",
    ) as err:
        stack(demo_text(), source, kubeconfigs=kubeconfigs)
    assert "exactly one" in str(err.value)
    assert MARKER not in str(err.value)
    assert stack.last is not None and stack.last.registrations == []


def test_a_secret_that_points_at_files_on_this_machine_is_refused(stack: Stack) -> None:
    doc: dict[str, Any] = yaml.safe_load(fake_kubeconfig("cluster-1"))
    doc["clusters"][0]["cluster"]["certificate-authority"] = "/etc/ca.crt"
    del doc["clusters"][0]["cluster"]["certificate-authority-data"]
    kubeconfigs = {c: fake_kubeconfig(c) for c in DEMO_CLUSTERS}
    kubeconfigs["cluster-1"] = yaml.safe_dump(doc)
    with pytest.raises(
        StackConfigError,
        match=r"cluster cluster-1: cluster 'cluster-1-cluster' in the stack secret "
        r"meshfleet:kubeconfigs\.cluster-1 names its certificate-authority "
        r"file, .* inline it as certificate-authority-data",
    ) as err:
        stack(demo_text(), kubeconfigs=kubeconfigs)
    assert "/etc/ca.crt" not in str(err.value), "a path in a stack secret is its content"


def member_kubeconfig(cluster: str, *, server: str | None = None, user: dict[str, Any] | None = None) -> str:
    doc: dict[str, Any] = yaml.safe_load(fake_kubeconfig(cluster))
    if server is not None:
        doc["clusters"][0]["cluster"]["server"] = server
    if user is not None:
        doc["users"][0]["user"] = user
    return yaml.safe_dump(doc)


LOOPBACK = "context 'cluster-3', cluster 'cluster-3-cluster': 'server' is a loopback or unspecified address"
EXEC = {"apiVersion": "client.authentication.k8s.io/v1", "command": "/opt/aws-cli/aws"}


@pytest.mark.parametrize(
    ("server", "user", "words"),
    [
        ("https://0.0.0.0:6443", None, LOOPBACK),
        ("https://127.0.0.1:6443", None, LOOPBACK),
        ("https://127.0.0.2:6443", None, LOOPBACK),
        ("https://localhost:6443", None, LOOPBACK),
        ("https://[::1]:6443", None, LOOPBACK),
        ("https://[::]:6443", None, LOOPBACK),
        ("https://[::ffff:127.0.0.1]:6443", None, LOOPBACK),
        ("https://[::ffff:0.0.0.0]:6443", None, LOOPBACK),
        ("", None, "context 'cluster-3', cluster 'cluster-3-cluster': 'server' is not set"),
        (None, {"exec": EXEC}, "context 'cluster-3', user 'cluster-3-admin': 'exec' runs an exec credential plugin"),
        (
            None,
            {"auth-provider": {"name": "oidc"}},
            "user 'cluster-3-admin': 'auth-provider' runs an auth-provider plugin",
        ),
        (
            None,
            {"tokenFile": "/var/run/token"},
            "user 'cluster-3-admin': reads its token from the file named in 'tokenFile'",
        ),
    ],
)
def test_what_fsms_controller_cannot_use_never_goes_into_a_cluster_object(
    stack: Stack, server: str | None, user: dict[str, Any] | None, words: str
) -> None:
    kubeconfigs = {c: fake_kubeconfig(c) for c in DEMO_CLUSTERS}
    kubeconfigs["cluster-3"] = member_kubeconfig("cluster-3", server=server, user=user)
    with pytest.raises(
        StackConfigError,
        match="cluster cluster-3's kubeconfig goes into the FSM Cluster object cluster-3 in control-plane",
    ) as err:
        stack(demo_text(), kubeconfigs=kubeconfigs)
    message = str(err.value)
    assert words in message
    # The reasons are the CLI's, word for word (one set of rules), and quote no value.
    assert "; ".join(remote_use_problems(kubeconfigs["cluster-3"])) in message
    assert MARKER not in message
    for value in (server, "/var/run/token", "/opt/aws-cli", "oidc"):
        assert not value or value not in message
    assert "6443" not in message
    assert stack.last is not None and stack.last.registrations == []


def test_a_local_server_is_fine_where_only_the_provider_uses_it(stack: Stack) -> None:
    """Without FSM's control plane, no Cluster object carries the kubeconfig: k3d's 0.0.0.0 is fine."""
    kubeconfigs = {c: fake_kubeconfig(c) for c in DEMO_CLUSTERS if c != "control-plane"}
    kubeconfigs["cluster-3"] = member_kubeconfig("cluster-3", server="https://0.0.0.0:6443")
    run = stack(standalone(demo_text()), kubeconfigs=kubeconfigs)
    assert "0.0.0.0" in unwrap(run.providers()["cluster-3"].inputs["kubeconfig"])
