"""Recognisable kubeconfigs through every command: their bytes appear nowhere they are not asked for.

The Pulumi program's inputs, outputs and errors are covered the same way in tests/components (the
marker must be secret wherever it reaches Pulumi); this file covers the CLI and its files.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
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
        "clusters": [
            {
                "name": c,
                "cluster": {"server": f"https://{c}.example:6443", "certificate-authority-data": f"{MARK}{c}-ca"},
            }
            for c in contexts
        ],
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
        "render gitops": run_cli(
            "render",
            demo,
            "--out",
            str(tmp / "out-argo"),
            "--gitops",
            "argocd",
            "--repo-url",
            "https://example.org/fleet.git",
            "--path-prefix",
            "out",
            env=env,
        ),
        "render flux": run_cli(
            "render",
            demo,
            "--out",
            str(tmp / "out-flux"),
            "--gitops",
            "flux",
            "--repo-url",
            "https://example.org/fleet.git",
            "--path-prefix",
            "out",
            env=env,
        ),
        "diff": run_cli("diff", demo, alone, env=env),
        "diff markdown": run_cli(
            "diff", demo, str(tmp / "diffcases/demo-without-cluster-3.yaml"), "--format", "markdown", env=env
        ),
        "diff json": run_cli("diff", demo, alone, "--format", "json", env=env),
        "schema": run_cli("schema", env=env),
        "broken fleet": run_cli("validate", str(ROOT / "tests/cases/broken/unknown-key.yaml"), env=env),
    }
    for what, result in runs.items():
        assert result.code == (1 if what == "broken fleet" else 0), (what, result.err)
        assert_clean(result, what)
    for out in ("out", "out-argo", "out-flux"):
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
        others = [
            c
            for c in ("k3d-control-plane", "k3d-cluster-1", "k3d-cluster-2", "k3d-cluster-3", "someone-else")
            if c != f"k3d-cluster-{n}"
        ]
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
    result = run_cli(
        "render",
        str(secret_only),
        "--out",
        str(tmp / "out"),
        "--with-kubeconfigs",
        "--kubeconfigs-file",
        str(given),
        env=env,
    )
    assert result.code == 0, result.err
    assert_clean(result, "render --kubeconfigs-file")
    holders = {name for name, text in files_under(tmp / "out").items() if MARK in text}
    assert holders == {f"hub/cluster._.{m}.yaml" for m in members}


def test_kubeconfigs_file_needs_the_explicit_flag(world: dict[str, str]) -> None:
    tmp = Path(world["TMP"])
    result = run_cli("render", str(tmp / "fleet/demo.yaml"), "--out", str(tmp / "out"), "--kubeconfigs-file", "x")
    assert result.code == 2


def test_kubeconfig_secret_prints_each_member_once_and_nothing_else(world: dict[str, str]) -> None:
    tmp = Path(world["TMP"])
    env = {"KUBECONFIG": world["KUBECONFIG"], "HOME": world["HOME"]}
    result = run_cli("kubeconfig-secret", str(tmp / "fleet/demo.yaml"), env=env)
    assert result.code == 0, result.err
    assert MARK not in result.err
    secret = yaml.safe_load(result.out)
    assert (secret["kind"], secret["metadata"]["name"]) == ("Secret", "meshfleet-demo-kubeconfigs")
    values = secret["stringData"]
    assert sorted(values) == [f"MESHFLEET_KUBECONFIG_CLUSTER_{n}" for n in (1, 2, 3)]
    for n in (1, 2, 3):
        text = json.loads(values[f"MESHFLEET_KUBECONFIG_CLUSTER_{n}"])
        assert f"{MARK}k3d-cluster-{n}-token" in text
        assert text.count(MARK) == 2, "the kubeconfig was not cut to one context"
    assert "k3d-control-plane-" not in result.out and "someone-else-" not in result.out


@pytest.mark.parametrize(
    ("user", "server", "says"),
    [
        ({"token": f"{MARK}t"}, "https://127.0.0.1:6443", "loopback"),
        ({"token": f"{MARK}t"}, "https://0.0.0.0:6443", "loopback"),
        ({"token": f"{MARK}t"}, "https://localhost:6443", "loopback"),
        ({"token": f"{MARK}t"}, "https://[::1]:6443", "loopback"),
        ({"token": f"{MARK}t"}, "https://[::ffff:127.0.0.1]:6443", "loopback"),
        ({"token": f"{MARK}t"}, "https://[::ffff:0.0.0.0]:6443", "loopback"),
        ({"token": f"{MARK}t"}, "https://127.9.9.9:6443", "loopback"),
        (
            {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": f"{MARK}aws"}},
            "https://k3d.example:6443",
            "exec credential plugin",
        ),
        (
            {"auth-provider": {"name": "gcp", "config": {"access-token": f"{MARK}t"}}},
            "https://k3d.example:6443",
            "auth-provider",
        ),
        ({"tokenFile": f"/{MARK}/token"}, "https://k3d.example:6443", "'tokenFile'"),
    ],
)
def test_a_kubeconfig_fsm_controller_cannot_use_is_refused_without_showing_it(
    world: dict[str, str], user: dict[str, object], server: str, says: str
) -> None:
    tmp = Path(world["TMP"])
    doc = yaml.safe_load(kubeconfig(["k3d-control-plane", "k3d-cluster-1", "k3d-cluster-2", "k3d-cluster-3"]))
    doc["users"][2]["user"] = user
    doc["clusters"][2]["cluster"]["server"] = server
    config = tmp / "unusable"
    config.write_text(yaml.safe_dump(doc))
    env = {"KUBECONFIG": str(config), "HOME": world["HOME"]}
    for args in (
        ["kubeconfig-secret", str(tmp / "fleet/demo.yaml")],
        ["render", str(tmp / "fleet/demo.yaml"), "--out", str(tmp / "out"), "--with-kubeconfigs"],
    ):
        result = run_cli(*args, env=env)
        assert result.code == 1, result
        assert "cluster cluster-2" in result.err and "context k3d-cluster-2" in result.err and says in result.err
        assert result.out == "" and "Traceback" not in result.err
        assert_clean(result, args[0])
        assert "6443" not in result.err and server not in result.err, "the server address is content too"
    assert not (tmp / "out").exists()


def test_kubeconfig_secret_refuses_a_terminal_and_a_fleet_without_a_control_plane(world: dict[str, str]) -> None:
    tmp = Path(world["TMP"])
    env = {**os.environ, "KUBECONFIG": world["KUBECONFIG"], "HOME": world["HOME"]}
    result = run_cli("kubeconfig-secret", str(tmp / "fleet/demo-standalone.yaml"), env=env)
    assert result.code == 1 and "no FSM control plane" in result.err
    main, child = pty.openpty()
    try:
        command = [sys.executable, "-m", "meshfleet.cli", "kubeconfig-secret", str(tmp / "fleet/demo.yaml")]
        proc = subprocess.run(command, stdout=child, stderr=subprocess.PIPE, env=env, timeout=120, cwd=ROOT)
        os.close(child)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal is closed once the process is gone
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
    assert proc.returncode == 1 and b"not printed to a terminal" in proc.stderr
    assert MARK.encode() not in shown + proc.stderr


ISTIO_CONTEXTS = ["kind-eu-west-1", "kind-eu-central-1", "kind-us-east-1"]


def test_istio_remote_secrets_keep_kubeconfigs_out_of_every_command_but_the_ones_asking(world: dict[str, str]) -> None:
    """The Istio fleet's remote secrets hold member kubeconfigs: no command shows them, the GitOps
    renders hold variables or leave them out, and only --with-kubeconfigs / kubeconfig-secret write them."""
    tmp = Path(world["TMP"])
    config = tmp / "istio-kubeconfig"
    config.write_text(kubeconfig(ISTIO_CONTEXTS))
    env = {"KUBECONFIG": str(config), "HOME": world["HOME"]}
    istio, cilium = str(tmp / "fleet/istio.yaml"), str(tmp / "fleet/cilium.yaml")
    gitops = ["--repo-url", "https://example.org/fleet.git", "--path-prefix", "out"]
    runs = {
        "validate": run_cli("validate", istio, env=env),
        "plan": run_cli("plan", istio, env=env),
        "plan json": run_cli("plan", istio, "--format", "json", env=env),
        "render": run_cli("render", istio, "--out", str(tmp / "istio"), env=env),
        "render argocd": run_cli(
            "render", istio, "--out", str(tmp / "istio-argo"), "--gitops", "argocd", *gitops, env=env
        ),
        "render flux": run_cli("render", istio, "--out", str(tmp / "istio-flux"), "--gitops", "flux", *gitops, env=env),
        "diff": run_cli("diff", cilium, istio, env=env),
        "diff json": run_cli("diff", istio, cilium, "--format", "json", env=env),
    }
    for what, result in runs.items():
        assert result.code == 0, (what, result.err)
        assert_clean(result, what)
    for out in ("istio", "istio-argo", "istio-flux"):
        assert [n for n, t in files_under(tmp / out).items() if MARK in t] == [], out
        assert len([n for n in files_under(tmp / out) if "/secret.istio-system.istio-remote-secret-" in n]) == 6

    result = run_cli("render", istio, "--out", str(tmp / "with"), "--with-kubeconfigs", env=env)
    assert result.code == 0, result.err
    assert_clean(result, "render --with-kubeconfigs")
    holders = {name: text for name, text in files_under(tmp / "with").items() if MARK in text}
    members = [c.removeprefix("kind-") for c in ISTIO_CONTEXTS]
    assert set(holders) == {
        f"{holder}/secret.istio-system.istio-remote-secret-{m}.yaml"
        for holder in members
        for m in members
        if m != holder
    }
    for name, text in holders.items():
        member = name.rpartition("istio-remote-secret-")[2].removesuffix(".yaml")
        assert f"{MARK}kind-{member}-token" in text
        assert not [c for c in ISTIO_CONTEXTS if c != f"kind-{member}" and f"{MARK}{c}-" in text]

    secret = run_cli("kubeconfig-secret", istio, env=env)
    assert secret.code == 0 and MARK not in secret.err
    values = yaml.safe_load(secret.out)["stringData"]
    assert sorted(values) == [
        "MESHFLEET_KUBECONFIG_EU_CENTRAL_1",
        "MESHFLEET_KUBECONFIG_EU_WEST_1",
        "MESHFLEET_KUBECONFIG_US_EAST_1",
    ]


ALL_CONTEXTS = ["k3d-control-plane", "k3d-cluster-1", "k3d-cluster-2", "k3d-cluster-3", "someone-else"]


def test_a_kubeconfigs_file_text_is_cut_to_the_members_context(world: dict[str, str]) -> None:
    """A --kubeconfigs-file entry holding every context (current-context another cluster's) reaches
    the member's Cluster object and the Flux Secret as that member's one context only."""
    tmp = Path(world["TMP"])
    env = {"KUBECONFIG": world["KUBECONFIG"], "HOME": world["HOME"]}
    given = tmp / "given.yaml"
    given.write_text(yaml.safe_dump({f"cluster-{n}": kubeconfig(ALL_CONTEXTS) for n in (1, 2, 3)}))
    result = run_cli(
        "render",
        str(tmp / "fleet/demo.yaml"),
        "--out",
        str(tmp / "out"),
        "--with-kubeconfigs",
        "--kubeconfigs-file",
        str(given),
        env=env,
    )
    assert result.code == 0, result.err
    secret = run_cli("kubeconfig-secret", str(tmp / "fleet/demo.yaml"), "--kubeconfigs-file", str(given), env=env)
    assert secret.code == 0, secret.err
    values = yaml.safe_load(secret.out)["stringData"]
    for n in (1, 2, 3):
        rendered = yaml.safe_load((tmp / f"out/control-plane/cluster._.cluster-{n}.yaml").read_text())
        for text in (rendered["spec"]["kubeconfig"], json.loads(values[f"MESHFLEET_KUBECONFIG_CLUSTER_{n}"])):
            doc = yaml.safe_load(text)
            assert doc["current-context"] == f"k3d-cluster-{n}"
            assert [c["name"] for c in doc["contexts"]] == [f"k3d-cluster-{n}"]
            assert text.count(MARK) == 2 and f"{MARK}k3d-cluster-{n}-token" in text


def test_a_kubeconfigs_file_text_with_several_contexts_and_no_way_to_choose_is_refused(world: dict[str, str]) -> None:
    """prod's members take their kubeconfig from the stack secret: the fleet names no context to choose."""
    tmp = Path(world["TMP"])
    members = ["ap-south-1", "eu-central-1", "eu-west-1", "us-east-1", "us-west-2"]
    texts = {m: kubeconfig([m]) for m in members}
    texts["eu-west-1"] = kubeconfig(["eu-west-1", "us-east-1"])
    given = tmp / "given.yaml"
    given.write_text(yaml.safe_dump(texts))
    env = {"HOME": world["HOME"]}
    for args in (
        ["kubeconfig-secret", str(tmp / "fleet/prod.yaml")],
        ["render", str(tmp / "fleet/prod.yaml"), "--out", str(tmp / "out"), "--with-kubeconfigs"],
    ):
        result = run_cli(*args, "--kubeconfigs-file", str(given), env=env)
        assert result.code == 1, result
        assert f"cluster eu-west-1: the --kubeconfigs-file {given} entry eu-west-1 holds 2 contexts" in result.err
        assert "exactly one" in result.err and result.out == ""
        assert_clean(result, args[0])
    assert not (tmp / "out").exists()
