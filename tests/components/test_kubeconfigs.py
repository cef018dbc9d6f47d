"""Kubeconfigs through the program: where they come from, and how a missing one is reported."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import yaml

from components import StackConfigError
from tests.components.conftest import (
    MARKER,
    OTHER_MARKER,
    PROJECT,
    StackRunner,
    check_kubeconfig,
    demo_text,
    edit,
    fake_kubeconfig,
    merged_kubeconfig,
    run_program,
    standalone,
    unwrap,
)

Stack = StackRunner


def assert_tells_both_ways(message: str, cluster: str) -> None:
    assert f"cluster {cluster}" in message
    assert f"pulumi config set --secret --path 'kubeconfigs.{cluster}' < {cluster}.kubeconfig" in message
    assert "kubeconfig: {from: context, context: <name>}" in message
    assert MARKER not in message


def test_a_missing_stack_secret_names_the_cluster_and_both_ways(stack: Stack) -> None:
    kubeconfigs = {c: fake_kubeconfig(c) for c in ("control-plane", "cluster-1", "cluster-2")}
    with pytest.raises(StackConfigError) as err:
        stack(demo_text(), kubeconfigs=kubeconfigs)
    assert_tells_both_ways(str(err.value), "cluster-3")
    assert "meshfleet:kubeconfigs.cluster-3, which is not set" in str(err.value)
    assert stack.last is not None and stack.last.registrations == [], "nothing may be half applied"


def test_the_control_plane_needs_its_members_kubeconfigs_for_their_cluster_objects(stack: Stack) -> None:
    with pytest.raises(StackConfigError) as err:
        stack(
            demo_text(),
            kubeconfigs={"control-plane": fake_kubeconfig("control-plane")},
            config={"clusters": '["control-plane"]'},
        )
    assert_tells_both_ways(str(err.value), "cluster-1")
    assert "needed for the FSM Cluster object cluster-1 in control-plane" in str(err.value)


def test_a_shard_needs_only_the_kubeconfigs_it_touches(stack: Stack) -> None:
    run = stack(
        demo_text(), kubeconfigs={"cluster-2": fake_kubeconfig("cluster-2")}, config={"clusters": '["cluster-2"]'}
    )
    assert set(run.providers()) == {"cluster-2"}


def test_a_missing_context_names_the_cluster_the_context_and_the_file(stack: Stack, tmp_path: Path) -> None:
    contexts = {f"k3d-{c}": c for c in ("control-plane", "cluster-1", "cluster-2")}
    with pytest.raises(StackConfigError) as err:
        stack(demo_text(), "context", context_file=merged_kubeconfig(contexts))
    message = str(err.value)
    assert_tells_both_ways(message, "cluster-3")
    assert f"context 'k3d-cluster-3' is not in {tmp_path / 'kubeconfig'}" in message
    assert "k3d-cluster-1" in message  # the contexts that are there
    assert "someone-elses" in message  # a context's name is not a secret...
    assert OTHER_MARKER not in message  # ...its server and credentials are


def test_no_kubeconfig_file_at_all(isolated_env: Path, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(demo_text(), encoding="utf-8")
    with pytest.raises(StackConfigError) as err:
        run_program({f"{PROJECT}:fleet": str(fleet)})
    assert_tells_both_ways(str(err.value), "cluster-1")
    assert f"no kubeconfig file at {isolated_env / '.kube' / 'config'}" in str(err.value)


def test_plain_text_kubeconfigs_are_refused(isolated_env: Path, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(demo_text().replace("from: context, context: k3d-cluster-1", "from: stack-secret"))
    config = {f"{PROJECT}:fleet": str(fleet), f"{PROJECT}:kubeconfigs": json.dumps({"cluster-1": "x"})}
    with pytest.raises(StackConfigError) as err:
        run_program(config, secret_keys=())
    assert "stored in plain text" in str(err.value)
    assert "--secret" in str(err.value)


@pytest.mark.parametrize(
    "value",
    [
        '{"cluster-1": ""}',
        f'{{"cluster-1": {{"token": "{MARKER}x"}}}}',
        f'"{MARKER}x as one string"',
        f"{{not json {MARKER}x",
    ],
)
def test_kubeconfigs_of_the_wrong_shape_are_refused(isolated_env: Path, tmp_path: Path, value: str) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(demo_text().replace("from: context, context: k3d-cluster-1", "from: stack-secret"))
    config = {f"{PROJECT}:fleet": str(fleet), f"{PROJECT}:kubeconfigs": value}
    with pytest.raises(StackConfigError) as err:
        run_program(config, secret_keys=(f"{PROJECT}:kubeconfigs",))
    assert "meshfleet:kubeconfigs" in str(err.value)
    assert "pulumi config set --secret --path" in str(err.value)
    assert MARKER not in str(err.value)
    assert err.value.__context__ is None, "a chained error would print the value with the traceback"


def test_a_context_file_named_in_the_fleet_is_cut_down_to_one_context(isolated_env: Path, tmp_path: Path) -> None:
    kube = tmp_path / "kube"
    kube.mkdir()
    two = yaml.safe_load(merged_kubeconfig({"lab": "cluster-1"}))  # lab + someone-elses
    two["clusters"][0]["cluster"]["certificate-authority"] = "lab-ca.crt"  # relative to the kubeconfig
    del two["clusters"][0]["cluster"]["certificate-authority-data"]
    (kube / "two.yaml").write_text(yaml.safe_dump(two), encoding="utf-8")
    (kube / "lab-ca.crt").write_bytes(b"LAB-CA")
    text = edit(
        standalone(demo_text()),
        "kubeconfig: {from: context, context: k3d-cluster-1}",
        "kubeconfig: {from: context, context: lab, file: kube/two.yaml}",
    )  # relative to the fleet file
    text = edit(text, "kubeconfig: {from: context, context: k3d-cluster-2}", "kubeconfig: {from: stack-secret}")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(text, encoding="utf-8")
    config = {
        f"{PROJECT}:fleet": str(fleet),
        f"{PROJECT}:kubeconfigs": json.dumps({"cluster-2": fake_kubeconfig("cluster-2")}),
        f"{PROJECT}:clusters": '["cluster-1", "cluster-2"]',
    }
    run = run_program(config, secret_keys=(f"{PROJECT}:kubeconfigs",))
    reduced = unwrap(run.providers()["cluster-1"].inputs["kubeconfig"])
    doc = yaml.safe_load(reduced)
    assert doc["current-context"] == "lab"
    assert [c["name"] for c in doc["contexts"]] == ["lab"]
    assert [c["name"] for c in doc["clusters"]] == ["lab-cluster"]
    assert doc["clusters"][0]["cluster"]["certificate-authority-data"] == base64.b64encode(b"LAB-CA").decode()
    assert [u["name"] for u in doc["users"]] == ["lab-admin"]
    assert doc["users"][0]["user"]["token"] == f"{MARKER}cluster-1-token"
    assert OTHER_MARKER not in reduced
    check_kubeconfig(unwrap(run.providers()["cluster-2"].inputs["kubeconfig"]), "cluster-2", "stack-secret")


def test_kubeconfig_lists_several_files_and_skips_missing_ones(
    isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(merged_kubeconfig({"k3d-cluster-1": "cluster-1", "k3d-cluster-2": "cluster-2"}, extra_other=False))
    b.write_text(merged_kubeconfig({"k3d-cluster-3": "cluster-3", "k3d-cluster-1": OTHER_MARKER}))
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(standalone(demo_text()), encoding="utf-8")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "missing.yaml"), str(a), str(b)]))
    run = run_program({f"{PROJECT}:fleet": str(fleet)})
    kubeconfigs = {name: unwrap(p.inputs["kubeconfig"]) for name, p in run.providers().items()}
    assert f"{MARKER}cluster-3-token" in kubeconfigs["cluster-3"]
    assert f"{MARKER}cluster-1-token" in kubeconfigs["cluster-1"]  # a.yaml's k3d-cluster-1 wins over b.yaml's
    assert not [k for k in kubeconfigs.values() if OTHER_MARKER in k]
