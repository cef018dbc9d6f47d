"""Rendered demos against golden files, kustomize builds, determinism and the output's safety."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from meshfleet.fleet.load import load_plan
from meshfleet.sinks.output import MARKER
from meshfleet.sinks.render import render
from tests.golden import GOLDEN, compare_tree, tree
from tests.support.fleets import shuffled

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ["demo", "demo-standalone"]
FLEETS = sorted(p.stem for p in (ROOT / "fleet").glob("*.yaml"))


@pytest.mark.parametrize("name", FLEETS)
def test_render_matches_golden(name: str, tmp_path: Path, update_golden: bool) -> None:
    out = tmp_path / "out"
    render(load_plan(ROOT / f"fleet/{name}.yaml"), out)
    compare_tree(out, GOLDEN / "render" / name, update_golden)


@pytest.mark.parametrize("name", DEMOS)
def test_every_cluster_directory_builds_with_kustomize(name: str, tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    out = tmp_path / "out"
    written = render(load_plan(ROOT / f"fleet/{name}.yaml"), out)
    expected = ["cluster-1", "cluster-2", "cluster-3"] + (["control-plane"] if name == "demo" else [])
    assert written == expected
    for cluster in written:
        built = subprocess.run(
            [kubectl, "kustomize", str(out / cluster)], capture_output=True, text=True, check=True
        ).stdout
        docs = [d for d in yaml.safe_load_all(built) if d]
        listed = yaml.safe_load((out / cluster / "kustomization.yaml").read_text())["resources"]
        assert len(docs) == len(listed) > 0
        assert all(not f.startswith("predicted.") for f in listed)
        applied_on_disk = sorted(
            p.name
            for p in (out / cluster).glob("*.yaml")
            if not p.name.startswith("predicted.") and p.name != "kustomization.yaml"
        )
        assert sorted(listed) == applied_on_disk


@pytest.mark.parametrize("name", DEMOS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_key_order_does_not_change_a_byte(name: str, seed: int, tmp_path: Path) -> None:
    source = yaml.safe_load((ROOT / f"fleet/{name}.yaml").read_text())
    reordered = tmp_path / "reordered.yaml"
    reordered.write_text(yaml.safe_dump(shuffled(source, random.Random(seed)), sort_keys=False))
    assert reordered.read_text() != yaml.safe_dump(source, sort_keys=False), "the shuffle changed nothing"
    render(load_plan(ROOT / f"fleet/{name}.yaml"), tmp_path / "a")
    render(load_plan(reordered), tmp_path / "b")
    render(load_plan(ROOT / f"fleet/{name}.yaml"), tmp_path / "a2")
    assert tree(tmp_path / "a") == tree(tmp_path / "b") == tree(tmp_path / "a2")


def test_rerender_removes_files_of_removed_objects(tmp_path: Path) -> None:
    out = tmp_path / "out"
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert (out / "control-plane").is_dir()
    render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert not (out / "control-plane").exists()
    assert (out / MARKER).is_file()


def test_refuses_a_directory_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    from meshfleet.errors import UsageError

    with pytest.raises(UsageError, match="did not write"):
        render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert (out / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_refuses_a_symlinked_output(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "out"
    link.symlink_to(elsewhere)
    from meshfleet.errors import UsageError

    with pytest.raises(UsageError, match="symbolic link"):
        render(load_plan(ROOT / "fleet/demo.yaml"), link)
    assert list(elsewhere.iterdir()) == []
