"""The README's examples are real: YAML excerpts stand in their files, commands run, outputs match."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from meshfleet.fleet.load import load_plan
from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"<!-- (?P<tag>[^>]*?) -->\n```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def blocks(tag: str) -> list[tuple[str, str]]:
    return [(m["tag"], m["body"]) for m in BLOCK.finditer(README) if m["tag"].startswith(tag)]


def test_the_quickstart_sets_up_then_shows_how_to_run_meshfleet() -> None:
    """tests/cli/test_install.py runs these blocks as written in a fresh clone (marker `install`)."""
    quick = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = [ln.split("  #")[0].strip() for ln in quick.splitlines() if ln.startswith("$ ")]
    assert commands == [
        "$ make demo",
        "$ make test",
        "$ . .venv/bin/activate",
        "$ meshfleet plan fleet/demo.yaml --summary",
        "$ pipx install .",
        "$ meshfleet --version",
    ]
    assert [tag for tag, _ in blocks("quickstart")] == ["quickstart"]
    assert [tag for tag, _ in blocks("install")] == ["install"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^install:", makefile, re.M) and "pipx install" in makefile


def test_the_modeline_example_points_at_the_schema_from_where_it_stands() -> None:
    [(tag, body)] = blocks("modeline:")
    where = ROOT / tag.removeprefix("modeline:").strip()
    line = body.strip()
    assert line.startswith("# yaml-language-server: $schema=")
    target = (where.parent / line.split("$schema=", 1)[1]).resolve()
    assert target == ROOT / "fleet" / "schema.json"
    for fleet in (ROOT / "fleet").glob("*.yaml"):
        first = fleet.read_text().splitlines()[0]
        assert (fleet.parent / first.split("$schema=", 1)[1]).resolve() == ROOT / "fleet" / "schema.json"


def test_the_editor_settings_name_the_schema_and_match_the_fleets() -> None:
    import fnmatch
    import json

    [(_, body)] = blocks("editor settings")
    [(schema, globs)] = json.loads(body)["yaml.schemas"].items()
    assert (ROOT / schema).resolve() == ROOT / "fleet" / "schema.json"
    for fleet in (ROOT / "fleet").glob("*.yaml"):
        assert any(fnmatch.fnmatch(str(fleet.relative_to(ROOT)), g) for g in globs), fleet
    entry = json.loads((ROOT / "fleet" / "catalog-entry.json").read_text())
    assert set(entry) == {"name", "description", "fileMatch"}, "SchemaStore's keys; no url until one is published"
    assert entry["name"] == json.loads((ROOT / "fleet" / "schema.json").read_text())["title"]
    assert entry["fileMatch"][0] in globs and fnmatch.fnmatch("prod.meshfleet.yaml", entry["fileMatch"][0])


@pytest.mark.parametrize(("tag", "body"), blocks("from:"), ids=lambda v: str(v)[:40])
def test_yaml_excerpts_stand_in_their_files(tag: str, body: str) -> None:
    source = ROOT / tag.removeprefix("from:").strip()
    assert body in source.read_text(), f"README excerpt is not in {source}"


def test_every_command_block_is_tested() -> None:
    """Every command block is tagged for its test, except in the previews/GitOps sections, which
    tests/docs/test_readme_commands.py runs command by command."""
    start = README.index("## Previews and guardrails")
    end = README.index("\n## ", README.index("## GitOps hand-off") + 1)
    outside = README[:start] + README[end:]
    untagged = re.findall(r"(?<!-->\n)```(?:console|yaml|json)\n", outside)
    assert untagged == [], "a block shows commands or files that no test checks"


@pytest.mark.parametrize("line", [ln[2:] for _, b in blocks("run") for ln in b.splitlines() if ln.startswith("$ ")])
def test_cli_examples_run(line: str, tmp_path: Path) -> None:
    args = shlex.split(line, comments=True)
    assert args[0] == "meshfleet"
    args = [str(tmp_path / "out") if a == "out" else a for a in args[1:]]
    result = run_cli(*args)
    assert result.code == 0, result.err


@pytest.mark.parametrize(("tag", "body"), blocks("output of:"))
def test_shown_outputs_are_what_the_command_prints(tag: str, body: str) -> None:
    args = shlex.split(tag.removeprefix("output of:").strip())
    result = run_cli(*args[1:])
    assert (result.out + result.err) == body


def test_kubectl_examples_point_at_directories_that_build(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    assert run_cli("render", "fleet/demo.yaml", "--out", str(tmp_path / "out")).code == 0
    lines = [ln for _, b in blocks("kustomize") for ln in b.splitlines() if ln.startswith("$ kubectl")]
    assert lines
    for line in lines:
        directory = shlex.split(line)[-1]
        subprocess.run([kubectl, "kustomize", str(tmp_path / directory)], check=True, capture_output=True)


def test_the_pulumi_walkthrough_names_real_stacks_keys_and_targets() -> None:
    """No Pulumi CLI runs here; the walkthrough is checked against the files it relies on."""
    walk = re.search(r"```shell\n(.*?)```", README, re.S)
    assert walk is not None
    lines = [ln.split("#")[0].strip() for ln in walk.group(1).splitlines()]
    stacks = [ln.split()[-1] for ln in lines if ln.startswith("pulumi stack init")]
    assert stacks and all((ROOT / "stacks" / f"Pulumi.{s}.yaml").is_file() for s in stacks)
    pulumi_yaml = (ROOT / "Pulumi.yaml").read_text()
    for ln in lines:
        found = re.search(r"--path '(\w+)\.", ln)
        if found:
            assert f"`meshfleet:{found.group(1)}`" in pulumi_yaml
    makefile = (ROOT / "Makefile").read_text()
    for target in (ln.split()[1] for ln in lines if ln.startswith("make ")):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "virtualenv: .venv" in pulumi_yaml


def test_the_stack_file_example_is_a_valid_shard_of_its_fleet() -> None:
    [(_, body)] = blocks("stack file")
    config = yaml.safe_load(body)["config"]
    fleet = load_plan(ROOT / config["meshfleet:fleet"])
    assert set(config["meshfleet:clusters"]) <= {c.name for c in fleet.clusters}
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert all(k.removeprefix("meshfleet:") in declared for k in config)


def test_the_workflow_example_passes_actionlint(tmp_path: Path) -> None:
    from tests.docs.test_workflows import actionlint

    [(_, body)] = blocks("workflow jobs")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "shards.yml").write_text("name: shards\non:\n  push:\n    branches: [main]\n" + body)
    found = subprocess.run(
        [actionlint(), "-no-color", str(workflows / "shards.yml")], cwd=tmp_path, capture_output=True, text=True
    )
    assert found.returncode == 0, found.stdout + found.stderr
