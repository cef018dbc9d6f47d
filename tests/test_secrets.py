"""Recognisable kubeconfigs through every command: their bytes appear nowhere they are not asked for.

The Pulumi program's inputs, outputs and errors are covered the same way in tests/components (the
marker must be secret wherever it reaches Pulumi); this file covers the CLI and its files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, Result, run_cli

MARK = "KUBECONFIG-BYTES-"


def kubeconfig(contexts: list[str]) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": contexts[0],
        "clusters": [{"name": c, "cluster": {"server": f"https://{c}.example:6443",
                                              "certificate-authority-data": f"{MARK}{c}-ca"}} for c in contexts],
        "users": [{"name": c, "user": {"token": f"{MARK}{c}-token"}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
    }
    return yaml.safe_dump(doc)


@pytest.fixture
def world(tmp_path: Path) -> dict[str, str]:
    contexts = ["k3d-control-plane", "k3d-cluster-1", "k3d-cluster-2", "k3d-cluster-3", "someone-else"]
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig(contexts))
    fleets = tmp_path / "fleet"
    shutil.copytree(ROOT / "fleet", fleets)
    shutil.copytree(ROOT / "tests/cases/diff", tmp_path / "diffcases")
    return {"KUBECONFIG": str(config), "HOME": str(tmp_path), "TMP": str(tmp_path)}


def files_under(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): p.read_text(errors="replace") for p in path.rglob("*") if p.is_file()}


def assert_clean(result: Result, what: str) -> None:
    assert MARK not in result.out and MARK not in result.err, f"{what} printed kubeconfig bytes"


def test_every_command_keeps_kubeconfigs_out(world: dict[str, str]) -> None:
    tmp = Path(world["TMP"])
    env = {"KUBECONFIG": world["KUBECONFIG"], "HOME": world["HOME"]}
    demo, alone = str(tmp / "fleet/demo.yaml"), str(tmp / "fleet/demo-standalone.yaml")
    runs = {
        "validate": run_cli("validate", demo, alone, env=env),
        "plan": run_cli("plan", demo, env=env),
        "plan json": run_cli("plan", demo, "--format", "json", env=env),
        "render": run_cli("render", demo, "--out", str(tmp / "out"), env=env),
        "render gitops": run_cli("render", demo, "--out", str(tmp / "out-argo"), "--gitops", "argocd",
                                 "--repo-url", "https://example.org/fleet.git", "--path-prefix", "out", env=env),
        "diff": run_cli("diff", demo, alone, env=env),
        "diff markdown": run_cli("diff", demo, str(tmp / "diffcases/demo-without-cluster-3.yaml"),
                                 "--format", "markdown", env=env),
        "diff json": run_cli("diff", demo, alone, "--format", "json", env=env),
        "schema": run_cli("schema", env=env),
        "broken fleet": run_cli("validate", str(ROOT / "tests/cases/broken/unknown-key.yaml"), env=env),
    }
    for what, result in runs.items():
        assert result.code == (1 if what == "broken fleet" else 0), (what, result.err)
        assert_clean(result, what)
    for out in ("out", "out-argo"):
        leaked = [name for name, text in files_under(tmp / out).items() if MARK in text]
        assert leaked == [], f"kubeconfig bytes in {leaked}"
    assert (tmp / "out/control-plane").is_dir(), "the render wrote nothing, so nothing was checked"


def test_with_kubeconfigs_writes_each_member_into_its_cluster_object_only(world: dict[str, str]) -> None:
    tmp = Path(world["TMP"])
    env = {"KUBECONFIG": world["KUBECONFIG"], "HOME": world["HOME"]}
    result = run_cli("render", str(tmp / "fleet/demo.yaml"), "--out", str(tmp / "out"), "--with-kubeconfigs", env=env)
    assert result.code == 0, result.err
    assert_clean(result, "render --with-kubeconfigs")
    holders = {name for name, text in files_under(tmp / "out").items() if MARK in text}
    assert holders == {f"control-plane/cluster._.cluster-{n}.yaml" for n in (1, 2, 3)}
    for n in (1, 2, 3):
        obj = yaml.safe_load((tmp / f"out/control-plane/cluster._.cluster-{n}.yaml").read_text())
        text = obj["spec"]["kubeconfig"]
        assert f"{MARK}k3d-cluster-{n}-token" in text
        others = [c for c in ("k3d-control-plane", "k3d-cluster-1", "k3d-cluster-2", "k3d-cluster-3",
                              "someone-else") if c != f"k3d-cluster-{n}"]
        assert not any(f"{MARK}{c}-" in text for c in others), "the kubeconfig was not cut to one context"


def test_kubeconfig_errors_name_the_cluster_not_the_content(world: dict[str, str], tmp_path: Path) -> None:
    tmp = Path(world["TMP"])
    broken = tmp / "broken-kubeconfig"
    broken.write_text(f"clusters: [{MARK}unparsable: [\n")
    env = {"KUBECONFIG": str(broken), "HOME": world["HOME"]}
    result = run_cli("render", str(tmp / "fleet/demo.yaml"), "--out", str(tmp / "out"), "--with-kubeconfigs", env=env)
    assert result.code == 1
    assert "cluster-1" in result.err and "Traceback" not in result.err
    assert_clean(result, "a kubeconfig error")
    assert not (tmp / "out").exists(), "nothing may be written when a kubeconfig is missing"

    secret_only = tmp / "fleet/prod.yaml"
    result = run_cli("render", str(secret_only), "--out", str(tmp / "out"), "--with-kubeconfigs", env=env)
    assert result.code == 1 and "--kubeconfigs-file" in result.err
    given = tmp / "given.yaml"
    members = ["ap-south-1", "eu-central-1", "eu-west-1", "us-east-1", "us-west-2"]
    given.write_text(yaml.safe_dump({m: kubeconfig([m]) for m in members}))
    result = run_cli("render", str(secret_only), "--out", str(tmp / "out"), "--with-kubeconfigs",
                     "--kubeconfigs-file", str(given), env=env)
    assert result.code == 0, result.err
    assert_clean(result, "render --kubeconfigs-file")
    holders = {name for name, text in files_under(tmp / "out").items() if MARK in text}
    assert holders == {f"hub/cluster._.{m}.yaml" for m in members}


def test_kubeconfigs_file_needs_the_explicit_flag(world: dict[str, str]) -> None:
    tmp = Path(world["TMP"])
    result = run_cli("render", str(tmp / "fleet/demo.yaml"), "--out", str(tmp / "out"), "--kubeconfigs-file", "x")
    assert result.code == 2
