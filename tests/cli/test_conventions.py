"""The command line behaves as kubectl, helm, git and flux users expect: help, version, exit codes,
suggestions, standard input, output formats and the one-cluster views."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from meshfleet import __version__
from meshfleet.cli import parser as cli_parser
from tests.conftest import ROOT, run_cli

DEMO = "fleet/demo.yaml"
STANDALONE = "fleet/demo-standalone.yaml"
COMMANDS = ("validate", "plan", "routes", "render", "diff", "schema", "kubeconfig-secret", "completion")


def stdin_cli(*args: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "meshfleet.cli", *args], cwd=ROOT, input=data, capture_output=True, timeout=120
    )


# --- help and version ------------------------------------------------------------------------


def test_version_names_the_package_version() -> None:
    result = run_cli("--version")
    assert result.code == 0 and result.out == f"meshfleet {__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_bare_meshfleet_prints_help_and_succeeds() -> None:
    result = run_cli()
    assert result.code == 0, result
    assert result.out.startswith("usage: meshfleet")
    for command in COMMANDS:
        assert re.search(rf"^    {command}\b", result.out, re.M), command
    assert "examples:" in result.out and "exit codes:" in result.out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_has_examples_and_every_argument_has_help(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.code == 0, result
    examples = result.out.split("examples:\n", 1)[1]
    assert examples.splitlines()[0].startswith(f"  meshfleet {command}") or f"meshfleet {command}" in examples
    sub = cli_parser.subparser(cli_parser.build_parser(), command)
    for action in sub._actions:
        assert action.help, f"{command}: {action.option_strings or action.dest} has no help text"


def test_the_shown_defaults_are_the_modules_defaults() -> None:
    from meshfleet import diff
    from meshfleet.sinks import gitops, shard

    assert cli_parser.DEFAULT_BUDGET == shard.DEFAULT_BUDGET
    assert cli_parser.DEFAULT_MAX_DELETE_SHARE == diff.DEFAULT_MAX_DELETE_SHARE
    assert (cli_parser.MARKDOWN_BUDGET, cli_parser.MARKDOWN_MIN_BUDGET) == (
        diff.MARKDOWN_BUDGET,
        diff.MARKDOWN_MIN_BUDGET,
    )
    assert cli_parser.GITOPS_ENGINES == gitops.ENGINES


# --- usage errors: exit 2 and a suggestion ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "suggested"),
    [
        (["plna", DEMO], "did you mean plan?"),
        (["valdate", DEMO], "did you mean validate?"),
        (["plan", DEMO, "--fromat", "json"], "did you mean --format?"),
        (["plan", DEMO, "-o", "jsno"], "did you mean json?"),
        (["render", DEMO, "--gitops", "argo", "--out", "x"], "did you mean argocd?"),
    ],
)
def test_a_mistyped_word_gets_a_suggestion_and_exit_2(args: list[str], suggested: str) -> None:
    result = run_cli(*args)
    assert result.code == 2, result
    assert suggested in result.err and "usage: meshfleet" in result.err
    assert result.out == ""


def test_a_mistyped_cluster_gets_a_suggestion_and_exit_2() -> None:
    result = run_cli("plan", DEMO, "--cluster", "clster-2")
    assert result.code == 2, result
    assert "--cluster clster-2: no such cluster in fleet/demo.yaml; did you mean cluster-2?" in result.err
    assert result.out == ""
    result = run_cli("render", DEMO, "--cluster", "cluster-9", "--stdout")
    assert result.code == 2 and "no such cluster" in result.err and result.out == ""


def test_a_mistyped_key_in_the_fleet_gets_a_suggestion(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text((ROOT / DEMO).read_text().replace("controlPlane:", "controlPlan:"))
    result = run_cli("validate", str(fleet))
    assert result.code == 1
    assert "unknown key 'controlPlan'" in result.err and "fix: did you mean 'controlPlane'?" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ["render", DEMO],  # neither --out nor --stdout
        ["render", DEMO, "--stdout"],  # --stdout without --cluster
        ["render", DEMO, "--cluster", "cluster-1", "--out", "x"],  # --cluster without --stdout
        ["render", DEMO, "--cluster", "cluster-1", "--stdout", "--out", "x"],
        ["render", DEMO, "--cluster", "cluster-1", "--cluster", "cluster-2", "--stdout"],
        ["render", DEMO, "--cluster", "cluster-1", "--stdout", "--with-kubeconfigs"],
        ["plan", DEMO, "--shards", "2", "--cluster", "cluster-1"],
        ["plan", DEMO, "--budget", "--summary"],
        ["plan"],
        ["completion", "powershell"],
        ["validate", "-", "-"],
        ["diff", "-", "-"],
        ["diff", "-", "--base", "main"],
    ],
)
def test_usage_errors_exit_2_without_output(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.code == 2, result
    assert result.out == "" and "Traceback" not in result.err and result.err


def test_budget_before_the_fleet_is_the_default_budget() -> None:
    before = run_cli("plan", "--budget", "fleet/prod.yaml")
    after = run_cli("plan", "fleet/prod.yaml", "--budget")
    assert before.code == after.code == 0, before
    assert before.out == after.out and "at most 1,500 resources" in before.out
    assert (
        run_cli("plan", "--budget", "800", "fleet/prod.yaml").out
        == run_cli("plan", "fleet/prod.yaml", "--budget", "800").out
    )
    wrong = run_cli("plan", "fleet/prod.yaml", "--budget", "1.5")
    assert wrong.code == 2 and "not a whole number" in wrong.err


def test_an_output_directory_meshfleet_did_not_write_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("the user's\n")
    result = run_cli("render", DEMO, "--out", str(tmp_path / "out"))
    assert result.code == 2, result
    assert result.err.splitlines()[-1].startswith("meshfleet: ")  # after the demo's acknowledged warnings
    assert (tmp_path / "out" / "mine.txt").read_text() == "the user's\n"


# --- exit codes -------------------------------------------------------------------------------


def test_exit_codes_0_and_1() -> None:
    assert run_cli("validate", DEMO).code == 0
    assert run_cli("validate", DEMO, "tests/cases/broken/bad-enum.yaml").code == 1
    assert run_cli("validate", "fleet/no-such.yaml").code == 1


def test_diff_exit_code_is_1_when_something_changes() -> None:
    changed = run_cli("diff", DEMO, STANDALONE, "--exit-code")
    assert changed.code == 1 and "RISKS" in changed.out and changed.err == ""
    same = run_cli("diff", DEMO, DEMO, "--exit-code")
    assert same.code == 0 and "nothing changes" in same.out
    assert run_cli("diff", DEMO, STANDALONE).code == 0, "without --exit-code a printed diff succeeds"
    # A risk under --fail-on-risk outranks "changed".
    assert run_cli("diff", DEMO, STANDALONE, "--exit-code", "--fail-on-risk").code == 3
    moved = run_cli("diff", DEMO, "tests/cases/diff/demo-moved-gateway.yaml", "--exit-code", "--format", "json")
    assert json.loads(moved.out)["changed"] is True and moved.code in (1, 3)


# --- standard input ---------------------------------------------------------------------------


def test_dash_reads_the_fleet_from_standard_input() -> None:
    text = (ROOT / DEMO).read_bytes()
    checked = stdin_cli("validate", "-", data=text)
    assert checked.returncode == 0 and checked.stdout.decode().startswith("<stdin>: ok (4 clusters")
    planned = stdin_cli("plan", "-", "-o", "json", data=text)
    assert json.loads(planned.stdout)["fleet"] == "<stdin>"
    assert json.loads(planned.stdout)["clusters"] == json.loads(run_cli("plan", DEMO, "-o", "json").out)["clusters"]
    compared = stdin_cli("diff", DEMO, "-", data=(ROOT / STANDALONE).read_bytes())
    assert compared.returncode == 0
    assert compared.stdout.decode() == run_cli("diff", DEMO, STANDALONE).out.replace(STANDALONE, "<stdin>")


def test_problems_on_standard_input_are_named_stdin() -> None:
    broken = stdin_cli("validate", "-", data=(ROOT / "tests/cases/broken/unknown-key.yaml").read_bytes())
    assert broken.returncode == 1
    assert re.search(
        r"^<stdin>:7:5: error\[unknown-key\]: clusters\.c3\.gatway: unknown key", broken.stderr.decode(), re.M
    )
    empty = stdin_cli("validate", "-", data=b"")
    assert empty.returncode == 1 and b"<stdin>:1:1: " in empty.stderr


def test_standard_input_is_bounded() -> None:
    from meshfleet.fleet.document import MAX_BYTES

    huge = stdin_cli("validate", "-", data=b"# x\n" * (MAX_BYTES // 4 + 10))
    assert huge.returncode == 1 and b"<stdin>:1:1: " in huge.stderr and b"at most" in huge.stderr
    # Only the first bytes past the limit are read, so the size is not known: none is made up.
    assert f"the file is more than {MAX_BYTES:,} bytes".encode() in huge.stderr


# --- formats and views --------------------------------------------------------------------------


def test_o_is_format_and_json_outputs_carry_the_version() -> None:
    for args in (
        ["plan", DEMO],
        ["validate", DEMO],
        ["diff", DEMO, STANDALONE],
        ["plan", "fleet/prod.yaml", "--shards", "2"],
    ):
        short, long = run_cli(*args, "-o", "json"), run_cli(*args, "--format", "json")
        assert short.out == long.out and short.code == long.code == 0
        assert json.loads(short.out)["meshfleetVersion"] == __version__


def test_validate_json_lists_every_file_and_problem() -> None:
    result = run_cli("validate", "-o", "json", DEMO, "tests/cases/broken/readme-two-problems.yaml")
    assert result.code == 1 and result.err == ""
    data = json.loads(result.out)
    assert data["ok"] is False
    ok, broken = data["files"]
    assert {k: v for k, v in ok.items() if k != "problems"} == {
        "file": DEMO,
        "ok": True,
        "clusters": 4,
        "applied": 14,
        "predicted": 11,
    }
    assert ok["problems"] and all(p["severity"] == "warning" and p["acknowledged"] for p in ok["problems"])
    assert [(p["line"], p["column"], p["key"], p["code"]) for p in broken["problems"]] == [
        (5, 37, "clusters.c2.gateway.port", "wrong-type"),
        (7, 5, "clusters.c3.gatway", "unknown-key"),
    ]
    assert all(p["severity"] == "error" and p["file"] == broken["file"] for p in broken["problems"])
    assert "did you mean 'gateway'?" in broken["problems"][1]["fix"]
    warned = json.loads(run_cli("validate", "-o", "json", "fleet/prod.yaml").out)["files"][0]
    assert warned["ok"] is True and sorted(w["code"] for w in warned["problems"]) == [
        "access-matches-local-only",
        "access-matches-local-only",
        "failover-unordered",
        "import-without-policy",
    ]
    assert all(w["acknowledged"] is True for w in warned["problems"])


def test_plan_cluster_shows_only_that_cluster() -> None:
    whole = json.loads(run_cli("plan", "fleet/mixed.yaml", "-o", "json").out)
    one = json.loads(run_cli("plan", "fleet/mixed.yaml", "--cluster", "fsm-eu", "-o", "json").out)
    assert [c["name"] for c in one["clusters"]] == ["fsm-eu"]
    assert one["clusters"][0] == next(c for c in whole["clusters"] if c["name"] == "fsm-eu")
    two = run_cli("plan", "fleet/mixed.yaml", "--cluster", "mcs-us", "--cluster", "fsm-eu")
    assert two.code == 0
    headers = [ln.split()[0] for ln in two.out.splitlines()[1:] if ln and not ln.startswith(" ")]
    assert headers == ["fsm-eu", "mcs-us"], "in the fleet's order"
    assert two.out.startswith("fleet/mixed.yaml: 2 clusters, ")
    assert run_cli("plan", DEMO, "--cluster", "cluster-1").out.startswith("fleet/demo.yaml: 1 cluster, ")


def test_plan_summary_is_one_line_per_cluster() -> None:
    result = run_cli("plan", "fleet/prod.yaml", "--summary")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "fleet/prod.yaml: 6 clusters, 57 objects applied, 22 predicted"
    assert lines[2].split() == ["CLUSTER", "ROLE", "MESH", "CLUSTER", "KEY", "APPLIED", "PREDICTED"]
    rows = {ln.split()[0]: ln for ln in lines[3:]}
    assert sorted(rows) == ["ap-south-1", "eu-central-1", "eu-west-1", "hub", "us-east-1", "us-west-2"]
    assert "control plane" in rows["hub"] and " eu/eu-west/default/eu-west-1 " in rows["eu-west-1"]
    data = json.loads(run_cli("plan", "fleet/prod.yaml", "--summary", "-o", "json").out)
    full = json.loads(run_cli("plan", "fleet/prod.yaml", "-o", "json").out)
    assert sum(c["applied"] for c in data["clusters"]) == 57
    for row, cluster in zip(data["clusters"], full["clusters"], strict=True):
        assert row["name"] == cluster["name"] and row["clusterKey"] == cluster["clusterKey"]
        assert row["applied"] == sum(o["role"] == "applied" for o in cluster["objects"])


def test_render_stdout_is_the_clusters_applied_objects_as_yaml_documents(tmp_path: Path) -> None:
    result = run_cli("render", DEMO, "--cluster", "cluster-2", "--stdout", "--quiet")
    assert result.code == 0 and result.err == "", "--quiet leaves out the acknowledged warnings too"
    documents = [d for d in yaml.safe_load_all(result.out) if d is not None]
    assert run_cli("render", DEMO, "--out", str(tmp_path / "out")).code == 0
    directory = tmp_path / "out" / "cluster-2"
    listed = yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]
    assert documents == [yaml.safe_load((directory / name).read_text()) for name in listed]
    assert all(d["kind"] != "Kustomization" for d in documents)
    assert not (tmp_path / "cluster-2").exists()


def test_render_summary_names_every_cluster(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    # A Linkerd member among FSM ones: it exports nothing and imports nothing, so nothing is written there.
    fleet.write_text((ROOT / DEMO).read_text().replace("\nclusters:\n", "\nclusters:\n  idle: {mesh: linkerd}\n", 1))
    plan = json.loads(run_cli("plan", str(fleet), "-o", "json").out)
    idle = next(c for c in plan["clusters"] if c["name"] == "idle")
    assert idle["objects"] == [], "the test needs a cluster with nothing to write"
    result = run_cli("render", str(fleet), "--out", str(tmp_path / "out"))
    assert result.code == 0, result
    named = re.findall(r"[a-z0-9-]+", result.out.split(": ", 1)[1])
    for cluster in plan["clusters"]:
        assert cluster["name"] in named, cluster["name"]
    assert result.out.rstrip().endswith("; nothing to write for idle")
    assert run_cli("render", str(fleet), "--out", str(tmp_path / "out"), "--quiet").out == ""


def test_a_closed_pipe_is_not_a_bug() -> None:
    proc = subprocess.run(
        f"{sys.executable} -m meshfleet.cli plan fleet/prod.yaml -o json | head -c 10",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout == '{\n  "meshf' and "internal error" not in proc.stderr and "Traceback" not in proc.stderr
