"""Modes of what meshfleet writes: the usual ones (the umask decides), kubeconfigs private; and
`schema --out`, one file replaced the same careful way."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import meshfleet.sinks.output as output
from meshfleet.cli import main
from meshfleet.errors import UsageError
from meshfleet.fleet.load import load_plan
from meshfleet.sinks.render import render
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "0123456789abcdef"
MEMBERS = ("cluster-1", "cluster-2", "cluster-3")


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=lambda m: f"umask-{m:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)) or ".": stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


def test_output_modes_follow_the_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "out"
    for fleet in ("demo", "demo-standalone"):  # new, then over it
        render(load_plan(ROOT / f"fleet/{fleet}.yaml"), out)
        found = modes(out)
        assert found["."] == 0o777 & ~umask
        assert {m for rel, m in found.items() if (out / rel).is_dir()} == {0o777 & ~umask}
        assert {m for rel, m in found.items() if (out / rel).is_file()} == {0o666 & ~umask}
        assert len(found) > 10


def test_kubeconfigs_are_0600_in_a_0700_directory(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "out"
    secret = {m: f"apiVersion: v1\nkind: Config\n# the kubeconfig of {m}\n" for m in MEMBERS}
    render(load_plan(ROOT / "fleet/demo.yaml"), out, kubeconfigs=secret)
    found = modes(out)
    holders = {f"control-plane/cluster._.{m}.yaml" for m in MEMBERS}
    assert {
        rel for rel in found if "# the kubeconfig of" in ((out / rel).read_text() if (out / rel).is_file() else "")
    } == holders
    for rel, mode in found.items():
        if rel in holders:
            assert mode == 0o600 & ~umask, rel
        elif rel == "control-plane":
            assert mode == 0o700 & ~umask
        elif (out / rel).is_dir():
            assert mode == 0o777 & ~umask, rel
        else:
            assert mode == 0o666 & ~umask, rel
    # Rendered again without kubeconfigs, the directory is an ordinary one again.
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert modes(out)["control-plane"] == 0o777 & ~umask


def test_render_with_kubeconfigs_from_the_command_line_is_private(tmp_path: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "k3d-cluster-1",
        "clusters": [
            {"name": c, "cluster": {"server": f"https://{c}.example:6443"}}
            for c in ("k3d-control-plane", "k3d-cluster-1", "k3d-cluster-2", "k3d-cluster-3")
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": c, "context": {"cluster": c, "user": "u"}}
            for c in ("k3d-control-plane", "k3d-cluster-1", "k3d-cluster-2", "k3d-cluster-3")
        ],
    }
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    result = run_cli(
        "render",
        str(ROOT / "fleet/demo.yaml"),
        "--out",
        str(out),
        "--with-kubeconfigs",
        env={"KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)},
    )
    assert result.code == 0, result.err
    assert stat.S_IMODE((out / "control-plane").stat().st_mode) == 0o700
    assert {stat.S_IMODE((out / f"control-plane/cluster._.{m}.yaml").stat().st_mode) for m in MEMBERS} == {0o600}


# --- schema --out --------------------------------------------------------------------------------


def schema_text(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["schema"]) == 0
    return capsys.readouterr().out


def test_schema_out_writes_the_schema_with_the_usual_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], umask: int
) -> None:
    target = tmp_path / "deep" / "schema.json"
    for _ in range(2):  # new, then over it
        assert main(["schema", "--out", str(target)]) == 0
        assert target.read_text() == schema_text(capsys)
        assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in target.parent.iterdir()) == ["schema.json"]


@pytest.mark.parametrize("planted", [".schema.json.tmp", f".schema.json.meshfleet-new-{TOKEN}"])
def test_schema_out_never_writes_through_a_planted_link(
    tmp_path: Path, planted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("the victim's")
    (tmp_path / planted).symlink_to(victim)
    assert main(["schema", "--out", str(tmp_path / "schema.json")]) == 0
    assert victim.read_text() == "the victim's"
    assert (tmp_path / planted).is_symlink()
    assert (tmp_path / "schema.json").read_text() == schema_text(capsys)


def test_schema_out_refuses_a_link_or_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim"
    victim.write_text("the victim's")
    (tmp_path / "link.json").symlink_to(victim)
    (tmp_path / "dir.json").mkdir()
    assert main(["schema", "--out", str(tmp_path / "link.json")]) == 2
    assert "it is a symbolic link" in capsys.readouterr().err
    assert main(["schema", "--out", str(tmp_path / "dir.json")]) == 2
    assert "it is not a regular file" in capsys.readouterr().err
    assert victim.read_text() == "the victim's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.json", "link.json", "victim"]


def test_a_failing_file_write_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "schema.json"
    output.replace_file(target, "before\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(UsageError, match="No space left on device; the previous file is untouched"):
        output.replace_file(target, "after\n")
    with pytest.raises(UsageError, match=f"No space left on device; {tmp_path / 'new.json'} was not created"):
        output.replace_file(tmp_path / "new.json", "after\n")
    assert target.read_text() == "before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schema.json"]


def test_a_killed_file_write_is_cleaned_up_next_time(tmp_path: Path) -> None:
    left = tmp_path / f".schema.json.meshfleet-new-{TOKEN}"
    left.write_text("half")
    lookalike = tmp_path / ".schema.json.meshfleet-new-x"
    lookalike.write_text("not ours")
    output.replace_file(tmp_path / "schema.json", "whole\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [lookalike.name, "schema.json"]
