"""Manifest files a fleet's resources name: read beside the fleet file only, bounded, placed by line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from meshfleet.cli import main
from meshfleet.errors import FleetError
from meshfleet.fleet import includes
from meshfleet.fleet.document import Budget
from meshfleet.fleet.load import load_fleet, load_plan, parse

CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  script: |\n    echo {name}\n    \tdone\n"


def write_fleet(root: Path, manifests: str, clusters: str = "[c1]") -> Path:
    fleet = root / "fleet.yaml"
    fleet.write_text(
        f"clusters:\n  c1: {{}}\nresources:\n  app:\n    clusters: {clusters}\n    namespace: app\n"
        f"    manifests: {manifests}\n",
        encoding="utf-8",
    )
    return fleet


def names(fleet: Path) -> list[str]:
    return [o.name for c in load_plan(fleet).clusters for o in c.objects if o.kind == "ConfigMap"]


def problems(fleet: Path) -> str:
    with pytest.raises(FleetError) as err:
        load_plan(fleet)
    return err.value.render()


def test_a_directory_is_its_manifest_files_in_name_order(tmp_path: Path) -> None:
    d = tmp_path / "app"
    d.mkdir()
    (d / "b.yaml").write_text(CONFIG.format(name="b") + "---\n---\n" + CONFIG.format(name="c"))
    (d / "a.yml").write_text(CONFIG.format(name="a"))
    (d / "d.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}')
    (d / "notes.txt").write_text("not a manifest")
    (d / "nested").mkdir()
    (d / "nested" / "e.yaml").write_text(CONFIG.format(name="e"))
    fleet = write_fleet(tmp_path, "app")
    assert sorted(names(fleet)) == ["a", "b", "c", "d"]
    loaded = load_fleet(parse(fleet))
    assert [o.loc[3:] for o in loaded.included["app"]] == [
        ("app/a.yml", 0),
        ("app/b.yaml", 0),
        ("app/b.yaml", 2),
        ("app/d.json", 0),
    ]
    assert loaded.included["app"][0].body["data"]["script"] == "echo a\n\tdone\n", "line breaks and tabs are kept"


def test_a_finding_about_an_object_names_its_line_in_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(CONFIG.format(name="ok") + "---\n# second\n" + CONFIG.format(name="Not_A_Name"))
    out = problems(write_fleet(tmp_path, "m.yaml"))
    assert f"{tmp_path}/m.yaml:14:9: error[invalid-value]: resources.app.manifests.m.yaml[1].metadata.name:" in out


@pytest.mark.parametrize("target", ["outside.yaml", "/etc/hostname"])
def test_a_symbolic_link_leading_out_of_the_fleets_directory_is_refused(tmp_path: Path, target: str) -> None:
    root = tmp_path / "fleet"
    root.mkdir()
    (tmp_path / "outside.yaml").write_text(CONFIG.format(name="outside"))
    (root / "link.yaml").symlink_to(tmp_path / target if not target.startswith("/") else target)
    out = problems(write_fleet(root, "link.yaml"))
    assert "'link.yaml' is not a regular file or directory inside the fleet file's directory" in out
    assert "outside" not in out.split("link.yaml")[-1]


def test_a_symbolic_link_inside_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text(CONFIG.format(name="real"))
    (tmp_path / "alias.yaml").symlink_to(tmp_path / "real.yaml")
    assert names(write_fleet(tmp_path, "alias.yaml")) == ["real"]


def test_a_pipe_is_refused_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    assert "is not a regular file or directory" in problems(write_fleet(tmp_path, "pipe.yaml"))


def test_each_file_is_bounded_like_a_fleet_file(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("# " + "x" * (1024 * 1024) + "\n")
    assert "error[file-too-large]" in problems(write_fleet(tmp_path, "big.yaml"))


def test_the_files_of_one_fleet_are_bounded_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "many"
    d.mkdir()
    for i in range(4):
        (d / f"{i}.yaml").write_text(CONFIG.format(name=f"c{i}"))
    monkeypatch.setattr(includes, "MAX_FILES", 3)
    assert "error[file-too-large]: resources.app.manifests: the fleet names more than 3 manifest files" in problems(
        write_fleet(tmp_path, "many")
    )
    monkeypatch.setattr(includes, "MAX_FILES", 500)
    monkeypatch.setattr(includes, "MAX_TOTAL_BYTES", 200)
    assert "the fleet's manifest files hold more than 200 bytes together" in problems(write_fleet(tmp_path, "many"))


def test_aliases_count_against_one_budget_for_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: NAME}\ndata:\n  a: &a [x, x, x, x, x, x, x, x]\n"
        "  b: [*a, *a, *a, *a]\n"
    )
    for n in ("one", "two"):
        (tmp_path / f"{n}.yaml").write_text(bomb.replace("NAME", n))
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "clusters:\n  c1: {}\nresources:\n  app:\n    clusters: [c1]\n    namespace: app\n"
        "    manifests: [one.yaml, two.yaml]\n"
    )
    assert sorted(names(fleet)) == ["one", "two"]
    monkeypatch.setattr(includes, "Budget", lambda: Budget(60))
    assert "error[too-many-values]" in problems(fleet)


def test_values_other_than_line_breaks_and_tabs_are_still_refused_in_manifests(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata: {a: "x\\e]0;y"}\n')
    assert "error[control-character]" in problems(write_fleet(tmp_path, "m.yaml"))


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, check=True, capture_output=True
    )


def test_diff_base_reads_the_manifests_as_they_were_at_the_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(CONFIG.format(name="first"))
    fleet = write_fleet(tmp_path, "m")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    (tmp_path / "m" / "app.yaml").write_text(CONFIG.format(name="second"))
    assert main(["diff", str(fleet), "--base", "HEAD", "--format", "json"]) == 0
    [cluster] = json.loads(capsys.readouterr().out)["clusters"]
    assert {(o["change"], o["name"]) for o in cluster["objects"]} == {("removed", "first"), ("added", "second")}
    # A manifest file the revision did not have is a finding in the base, named at the revision.
    git(tmp_path, "rm", "-rqf", "m")
    git(tmp_path, "commit", "-qm", "gone")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(CONFIG.format(name="back"))
    assert main(["diff", str(fleet), "--base", "HEAD"]) == 1
    assert "no file or directory 'm' beside the fleet file" in capsys.readouterr().err


def test_a_symbolic_link_leading_out_of_a_manifest_directory_is_named(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    (root / "app").mkdir(parents=True)
    (root / "app" / "a.yaml").write_text(CONFIG.format(name="a"))
    (tmp_path / "secret.yaml").write_text(CONFIG.format(name="secret"))
    (root / "app" / "b.yaml").symlink_to(tmp_path / "secret.yaml")
    out = problems(write_fleet(root, "app"))
    assert "'app/b.yaml' is not a regular file inside the fleet file's directory" in out
