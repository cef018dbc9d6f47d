"""The policy pack's rules, called as the analyzer calls them: with the SDK's own argument types.

Each rule refuses at least one constructed resource, and none of them refuses what the committed
production stacks register under mocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
)

from meshfleet.fleet.load import load_plan
from policy.rules import POLICIES, explicit_provider, forced_patches, protected_registrations
from tests.components.conftest import PROJECT, ROOT, Registration, fleet_config, run_program, unwrapped

PROVIDER = PolicyProviderResource(
    "pulumi:providers:kubernetes",
    {},
    "urn:pulumi:prod::meshfleet::meshfleet:index:MemberCluster$pulumi:providers:kubernetes::hub",
    "hub",
)
EXPORT = "kubernetes:multicluster.flomesh.io/v1alpha1:ServiceExport"


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def args(
    resource_type: str,
    props: dict[str, Any],
    *,
    stack: str = "prod",
    protect: bool = False,
    provider: PolicyProviderResource | None = PROVIDER,
    config: dict[str, Any] | None = None,
    name: str = "hub:Thing:x",
) -> ResourceValidationArgs:
    urn = f"urn:pulumi:{stack}::meshfleet::meshfleet:index:MemberCluster${resource_type}::{name}"
    return ResourceValidationArgs(resource_type, props, urn, name, options(protect), provider, config)


def violations(rule: Any, a: ResourceValidationArgs) -> list[str]:
    found: list[str] = []
    result = rule(a, lambda message, urn=None: found.append(message))
    assert result is None
    return found


PATCH_META = {
    "name": "fsm-mesh-config",
    "namespace": "fsm-system",
    "annotations": {"pulumi.com/patchFieldManager": "meshfleet", "pulumi.com/patchForce": "true"},
}


# --- explicit-provider ---------------------------------------------------------------------------


def test_explicit_provider_accepts_a_named_provider_and_ignores_other_packages() -> None:
    assert violations(explicit_provider, args(EXPORT, {})) == []
    assert violations(explicit_provider, args("meshfleet:index:MemberCluster", {}, provider=None)) == []


@pytest.mark.parametrize(
    "provider",
    [
        None,
        PolicyProviderResource(
            "pulumi:providers:kubernetes",
            {},
            "urn:pulumi:prod::meshfleet::pulumi:providers:kubernetes::default_4_34_2",
            "default_4_34_2",
        ),
        PolicyProviderResource("pulumi:providers:kubernetes", {}, "urn:...::default", "default"),
    ],
)
def test_explicit_provider_refuses_the_default_provider(provider: PolicyProviderResource | None) -> None:
    (message,) = violations(explicit_provider, args(EXPORT, {}, provider=provider, name="cluster-1:x"))
    assert "cluster-1:x uses the default Kubernetes provider" in message


# --- forced-patches ----------------------------------------------------------------------------


def test_forced_patches_accepts_a_forced_patch_and_ignores_plain_objects() -> None:
    patch = "kubernetes:config.flomesh.io/v1alpha3:MeshConfigPatch"
    assert violations(forced_patches, args(patch, {"metadata": PATCH_META})) == []
    assert violations(forced_patches, args(EXPORT, {"metadata": {"name": "x"}})) == []


@pytest.mark.parametrize(
    ("annotations", "missing"),
    [
        ({"pulumi.com/patchFieldManager": "meshfleet"}, ["pulumi.com/patchForce"]),
        ({"pulumi.com/patchForce": "true"}, ["pulumi.com/patchFieldManager"]),
        (
            {"pulumi.com/patchForce": "false", "pulumi.com/patchFieldManager": "someone"},
            ["pulumi.com/patchFieldManager", "pulumi.com/patchForce"],
        ),
        ({}, ["pulumi.com/patchFieldManager", "pulumi.com/patchForce"]),
    ],
)
def test_forced_patches_refuses_a_patch_without_force_or_field_manager(
    annotations: dict[str, str], missing: list[str]
) -> None:
    meta = {"name": "httpbin", "annotations": annotations}
    found = violations(forced_patches, args("kubernetes:core/v1:NamespacePatch", {"metadata": meta}))
    assert len(found) == len(missing)
    for message, key in zip(found, missing, strict=True):
        assert key in message


# --- protected-registrations -------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource_type",
    [
        "kubernetes:multicluster.flomesh.io/v1alpha1:Cluster",
        EXPORT,
        "kubernetes:multicluster.x-k8s.io/v1beta1:ServiceExport",
    ],
)
def test_protected_registrations_refuses_an_unprotected_one_in_a_protected_stack(resource_type: str) -> None:
    (message,) = violations(protected_registrations, args(resource_type, {}, stack="prod-us-ap"))
    assert "not protected in stack prod-us-ap" in message and "pulumi state unprotect" in message
    assert violations(protected_registrations, args(resource_type, {}, stack="prod", protect=True)) == []
    assert violations(protected_registrations, args(resource_type, {}, stack="dev")) == []


def test_protected_registrations_leaves_other_kinds_alone_and_reads_its_config() -> None:
    gtp = "kubernetes:multicluster.flomesh.io/v1alpha1:GlobalTrafficPolicy"
    assert violations(protected_registrations, args(gtp, {}, stack="prod")) == []
    config = {"protectedStacks": ["staging"]}
    assert violations(protected_registrations, args(EXPORT, {}, stack="prod", config=config)) == []
    assert len(violations(protected_registrations, args(EXPORT, {}, stack="staging", config=config))) == 1


def test_the_pack_serves_exactly_these_rules() -> None:
    assert [p.name for p in POLICIES] == ["explicit-provider", "forced-patches", "protected-registrations"]
    pack = (ROOT / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(pack)["runtime"] == {"name": "python", "options": {"virtualenv": "../.venv"}}
    main = (ROOT / "policy" / "__main__.py").read_text(encoding="utf-8")
    assert "from rules import POLICIES" in main and "PolicyPack(" in main


# --- over what the program registers -----------------------------------------------------------


def as_args(reg: Registration, by_urn: dict[str, Registration]) -> ResourceValidationArgs:
    provider = None
    if reg.provider:
        urn = reg.provider_urn
        provider = PolicyProviderResource(by_urn[urn].type, {}, urn, by_urn[urn].name)
    opts = PolicyResourceOptions(
        bool(reg.protect), reg.ignore_changes, None, [], PolicyCustomTimeouts(0, 0, 0), [], reg.parent
    )
    return ResourceValidationArgs(reg.type, unwrapped(reg.inputs), reg.urn, reg.name, opts, provider)


def stack_run(stack: str, home: Path, monkeypatch: pytest.MonkeyPatch, **extra: str) -> list[ResourceValidationArgs]:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in doc["config"].items()}
    config.update({f"{PROJECT}:{k}": v for k, v in extra.items()})
    fleet = ROOT / config[f"{PROJECT}:fleet"]
    kubeconfigs, keys = fleet_config(load_plan(fleet), fleet, home, monkeypatch)
    run = run_program({**kubeconfigs, **config}, keys, stack=stack)
    by_urn = {r.urn: r for r in run.registrations}
    return [as_args(r, by_urn) for r in run.registrations]


@pytest.mark.parametrize("stack", ["prod", "prod-us-ap"])
def test_the_committed_production_stacks_pass_every_rule(
    stack: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = stack_run(stack, isolated_env, monkeypatch)
    assert any(a.resource_type.endswith("Patch") for a in every)
    assert any(a.resource_type.endswith(":ServiceExport") for a in every)
    for a in every:
        for rule in POLICIES:
            assert violations(rule.validate, a) == [], (rule.name, a.name)


def test_an_unprotected_production_stack_is_refused(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    every = stack_run("prod", isolated_env, monkeypatch, protect="false")
    refused = [a.name for a in every if violations(protected_registrations, a)]
    expected = [a.name for a in every if a.resource_type.endswith((":Cluster", ":ServiceExport"))]
    assert refused == expected and len(expected) >= 5


def fleet_run(fleet: str, home: Path, monkeypatch: pytest.MonkeyPatch, protect: bool) -> list[ResourceValidationArgs]:
    config = {f"{PROJECT}:fleet": fleet, f"{PROJECT}:protect": json.dumps(protect)}
    kubeconfigs, keys = fleet_config(load_plan(ROOT / fleet), ROOT / fleet, home, monkeypatch)
    run = run_program({**kubeconfigs, **config}, keys, stack="prod")
    by_urn = {r.urn: r for r in run.registrations}
    return [as_args(r, by_urn) for r in run.registrations]


@pytest.mark.parametrize(
    ("fleet", "kinds"),
    [
        ("fleet/cilium.yaml", {"ServicePatch"}),
        ("fleet/istio.yaml", {"Secret", "Gateway"}),
        ("fleet/mcs.yaml", {"ServiceExport"}),
    ],
)
def test_every_mesh_protected_passes_and_unprotected_is_refused_for_what_shares(
    fleet: str, kinds: set[str], isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Protected, as a production stack applies it: no rule refuses anything, patches that share a
    # Cilium service included (the program protects the patches whose deletion withdraws it).
    for a in fleet_run(fleet, isolated_env, monkeypatch, protect=True):
        for rule in POLICIES:
            assert violations(rule.validate, a) == [], (rule.name, a.name)
    every = fleet_run(fleet, isolated_env, monkeypatch, protect=False)
    refused = [a for a in every if violations(protected_registrations, a)]
    assert {a.resource_type.rpartition(":")[2] for a in refused} == kinds
    # Imports and traffic policies are left alone: nothing refused is a Linkerd mirror or a policy.
    assert not any(a.resource_type.endswith(("ServiceImport", "GlobalTrafficPolicy")) for a in refused)
