"""What the program registers is the plan's applied objects, nothing more, nothing less, byte for byte.

Why: the renderer and the diff consume the same plan. If the Pulumi sink added, dropped or
changed a field (beyond the annotations that steer pulumi-kubernetes and the Cluster kubeconfig),
`pulumi up` and the rendered manifests would disagree about the same fleet.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components import StackConfigError
from meshfleet.core.objects import release_shared
from meshfleet.core.plan import Plan
from meshfleet.fleet.load import load_plan
from tests.components.conftest import (
    ROOT,
    Registration,
    Run,
    StackRunner,
    demo_text,
    fleet_config,
    is_secret,
    run_program,
    standalone,
    unwrapped,
    with_labels,
    with_namespaces_and_ingress,
    without_sink_annotations,
)

Stack = StackRunner
Identity = tuple[str, str, str, str, str]  # cluster, apiVersion, kind, namespace, name

VARIANTS: dict[str, Callable[[], str]] = {
    "demo": demo_text,
    "standalone": lambda: standalone(demo_text()),
    "namespaces-and-ingress": lambda: with_namespaces_and_ingress(standalone(demo_text())),
}


def registered(run: Run) -> dict[Identity, dict[str, Any]]:
    """Registered objects by identity, as bodies, minus what the sink adds on purpose."""
    out: dict[Identity, dict[str, Any]] = {}
    for reg in run.k8s_objects():
        body = _body(reg)
        meta = body["metadata"]
        ident = (run.cluster_of(reg), body["apiVersion"], body["kind"], meta.get("namespace", ""), meta["name"])
        assert ident not in out, f"{ident} registered twice"
        out[ident] = body
    return out


def _body(reg: Registration) -> dict[str, Any]:
    """The registered body without the kubeconfigs the sink inserted (the only secrets among the
    inputs: an FSM Cluster's spec.kubeconfig, an Istio remote secret's stringData.<cluster>)."""
    return without_sink_annotations(_without_secrets(reg.inputs))


def _without_secrets(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if is_secret(v):
            # Pulumi marks the whole map secret when one value is (an Istio remote secret's stringData).
            inside = unwrapped(v)
            assert isinstance(inside, str) or (
                isinstance(inside, dict) and all(isinstance(text, str) for text in inside.values())
            ), f"{k} is a secret but not a kubeconfig"
            continue
        inner = _without_secrets(v)
        if not (isinstance(v, dict) and v and inner == {}):
            out[k] = inner
    return out


def planned(plan: Plan, clusters: set[str] | None = None) -> dict[Identity, dict[str, Any]]:
    return {
        (c, o.api_version, o.kind, o.namespace, o.name): o.body
        for c, o in plan.objects()
        if o.role == "applied" and (clusters is None or c in clusters)
    }


def assert_same(got: dict[Identity, dict[str, Any]], want: dict[Identity, dict[str, Any]]) -> None:
    assert sorted(got) == sorted(want)
    for ident, body in want.items():
        assert got[ident] == body, (
            f"{ident}:\n got  {json.dumps(got[ident], sort_keys=True)}\n want {json.dumps(body, sort_keys=True)}"
        )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_registered_objects_are_the_plans_applied_objects(stack: Stack, variant: str) -> None:
    run = stack(VARIANTS[variant]())
    plan = load_plan(run.outputs["fleet"])
    want = planned(plan)
    assert want, "an empty plan would make this test pass vacuously"
    assert_same(registered(run), want)
    derived = {(c, o.api_version, o.kind, o.namespace, o.name) for c, o in plan.objects() if o.role == "derived"}
    assert derived and not derived & set(registered(run))


@pytest.mark.parametrize("fleet", sorted((ROOT / "fleet").glob("*.yaml")), ids=lambda p: p.name)
def test_every_committed_fleet_registers_exactly_its_applied_objects(
    fleet: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load_plan(fleet)
    # A copy: the committed stack files that apply this very file claim its clusters already.
    copy = isolated_env.parent / fleet.name
    copy.write_text(fleet.read_text(encoding="utf-8"), encoding="utf-8")
    for manifests in (p for p in fleet.parent.iterdir() if p.is_dir()):  # the manifest files resources name
        shutil.copytree(manifests, isolated_env.parent / manifests.name, dirs_exist_ok=True)
    run = run_program(*fleet_config(plan, copy, isolated_env, monkeypatch))
    assert_same(registered(run), planned(plan))
    providers = run.providers()
    assert set(providers) == {c.name for c in plan.clusters}
    for reg in run.k8s_objects():  # Linkerd mirrors and MCS exports too: each on its own cluster's provider
        assert reg.provider_urn == providers[run.cluster_of(reg)].urn, reg.name


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"clusters": '["cluster-2"]'}, {"cluster-2"}),
        ({"clusters": '["control-plane", "cluster-3"]'}, {"control-plane", "cluster-3"}),
        ({"clusters": '["*"]'}, {"control-plane", "cluster-1", "cluster-2", "cluster-3"}),
        ({"clusterSelector": "region=eu"}, {"cluster-2"}),
        ({"clusterSelector": "tier=prod,region!=eu"}, {"cluster-3"}),
        ({"clusterSelector": "tier"}, {"cluster-2", "cluster-3"}),
        ({"clusterSelector": "!tier"}, {"cluster-1", "control-plane"}),
    ],
)
def test_a_shard_registers_only_its_clusters_and_the_same_objects(
    stack: Stack, config: dict[str, str], expected: set[str]
) -> None:
    text = with_labels(demo_text())
    whole = registered(stack(text))
    run = stack(text, config=config)
    shard = registered(run)
    assert {ident[0] for ident in shard} == expected
    assert set(run.providers()) == expected
    assert set(run.outputs["clusters"]) == expected
    assert shard == {ident: body for ident, body in whole.items() if ident[0] in expected}


def test_a_control_plane_shard_still_carries_every_members_kubeconfig(stack: Stack) -> None:
    run = stack(demo_text(), config={"clusters": '["control-plane"]'})
    assert set(run.providers()) == {"control-plane"}
    clusters = run.of_type("kubernetes:multicluster.flomesh.io/v1alpha1:Cluster")
    assert len(clusters) == 3
    for c in clusters:
        assert unwrapped(c.inputs["spec"]["kubeconfig"]).count(f"MARKER-SECRET-{c.inputs['metadata']['name']}-") == 2


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"clusters": '["cluster-2", "cluster-9"]'}, ["cluster-9", "cluster-1, cluster-2, cluster-3, control-plane"]),
        ({"clusterSelector": "region=mars"}, ["matches no cluster", "region=mars"]),
        ({"clusterSelector": "region=eu", "clusters": '["cluster-2"]'}, ["both set"]),
        ({"clusterSelector": "region=eu,,tier=prod"}, ["empty term"]),
        ({"clusterSelector": "Region Name=eu"}, ["not a valid Kubernetes label key"]),
        ({"clusters": '"cluster-2"'}, ["must be a list of cluster names"]),
        ({"protect": "yes please"}, ["meshfleet:protect must be true or false"]),
        ({"clusters": "[]"}, ["meshfleet:clusters is empty", '["*"]']),
        ({"clusters": '["*", "cluster-2"]'}, ['mixes "*" with names']),
        ({"deleteUnreachable": "false"}, ["no longer read", "decommissioned: true", "PULUMI_K8S_DELETE_UNREACHABLE"]),
        ({"skipUpdateUnreachable": "true"}, ["no longer read", "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE=true"]),
    ],
)
def test_a_doubtful_shard_or_setting_is_refused_before_anything_is_registered(
    stack: Stack, config: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(StackConfigError) as err:
        stack(with_labels(demo_text()), config=config)
    for word in words:
        assert word in str(err.value)
    assert stack.last is not None and stack.last.registrations == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_program_leaves_the_plans_bodies_as_planned(
    stack: Stack, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sink hands Pulumi the plan's own bodies, new mappings only where it adds annotations or a
    kubeconfig: neither it nor Pulumi may change them (the outputs and a GitOps render read them too)."""
    import components

    used: list[Plan] = []
    deploy = components.deploy

    def recording(loaded: components.Loaded, *args: Any) -> dict[str, Any]:
        used.append(loaded.plan)
        return deploy(loaded, *args)

    monkeypatch.setattr(components, "deploy", recording)
    run = stack(VARIANTS[variant]())
    (plan,) = used
    release_shared()  # a fresh plan sharing no part with the program's, or a changed part would be in both
    fresh = load_plan(run.outputs["fleet"])
    assert any(o.kubeconfig_of or o.patch for _, o in plan.objects()), "nothing the sink adds to"
    assert [(c, o.body) for c, o in plan.objects()] == [(c, o.body) for c, o in fresh.objects()]
