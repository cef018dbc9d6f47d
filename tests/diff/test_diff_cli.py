"""`meshfleet diff` as a user runs it: the demo pairs, golden outputs, guardrails, --base, errors."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from meshfleet.cli import main
from tests.conftest import ROOT, Result, run_cli
from tests.golden import GOLDEN, compare_text

DEMO = "fleet/demo.yaml"
STANDALONE = "fleet/demo-standalone.yaml"
WITHOUT_3 = "tests/cases/diff/demo-without-cluster-3.yaml"
MOVED = "tests/cases/diff/demo-moved-gateway.yaml"
REWEIGHTED = "tests/cases/diff/demo-reweighted.yaml"
FORMATS = {"text": "txt", "markdown": "md", "json": "json"}
PAIRS = {
    "demo-to-standalone": (DEMO, STANDALONE),
    "standalone-to-demo": (STANDALONE, DEMO),
    "demo-without-cluster-3": (DEMO, WITHOUT_3),
    "demo-moved-gateway": (DEMO, MOVED),
    "demo-reweighted": (DEMO, REWEIGHTED),
    "demo-unchanged": (DEMO, DEMO),
}


def diff(*args: str, cwd: Path = ROOT) -> Result:
    """`meshfleet diff ARGS` run in this process (fast); tests of --base run it as a user would."""
    if cwd == ROOT and "--base" not in args:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["diff", *args])
            except SystemExit as e:  # argparse's usage errors
                code = int(e.code or 0)
        result = Result(code, out.getvalue(), err.getvalue())
    else:
        result = run_cli("diff", *args, cwd=cwd)
    assert "Traceback" not in result.err, result.err
    return result


def test_the_installed_command_diffs_as_in_process() -> None:
    assert run_cli("diff", DEMO, WITHOUT_3).out == diff(DEMO, WITHOUT_3).out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", PAIRS)
def test_diff_matches_golden(case: str, fmt: str, update_golden: bool) -> None:
    old, new = PAIRS[case]
    result = diff(old, new, "--format", fmt)
    assert result.code == 0, result
    assert result.err == ""
    compare_text(result.out, GOLDEN / "diff" / f"{case}.{FORMATS[fmt]}", update_golden)


@pytest.mark.parametrize("fmt", FORMATS)
def test_identical_fleets_change_nothing(fmt: str) -> None:
    result = diff(DEMO, DEMO, "--format", fmt, "--fail-on-risk")
    assert result.code == 0
    if fmt == "json":
        data = json.loads(result.out)
        assert data["changed"] is False and data["risks"] == [] and data["services"] == []
        assert all(c["change"] == "unchanged" and c["objects"] == [] for c in data["clusters"])
    else:
        assert re.search(r"nothing changes|No changes", result.out), result.out
        assert "Risk" not in result.out and "RISK" not in result.out


def test_standalone_turns_predicted_imports_into_applied_ones_and_flags_the_control_plane() -> None:
    data = json.loads(diff(DEMO, STANDALONE, "--format", "json").out)
    assert data["mode"] == {"old": "control-plane", "new": "standalone"}
    clusters = {c["name"]: c for c in data["clusters"]}
    assert clusters["control-plane"]["change"] == "removed"
    for member, count in (("cluster-1", 2), ("cluster-2", 3), ("cluster-3", 2)):
        imports = [o for o in clusters[member]["objects"] if o["kind"] == "ServiceImport"]
        assert len(imports) == count
        assert all(o["change"] == "changed" and o["role"] == {"old": "derived", "new": "applied"} for o in imports)
        assert all(o["fields"] == [] for o in imports), "the imports themselves do not change"
    assert [r["kind"] for r in data["risks"]] == ["control-plane-removed"]
    assert data["risks"][0]["cluster"] == "control-plane"

    text = diff(DEMO, STANDALONE).out
    assert "  > ServiceImport httpbin/httpbin (predicted -> applied)" in text
    risks = text.split("RISKS (1):\n", 1)[1].split("\n\n", 1)[0]
    assert risks.startswith("  ! control-plane-removed: the FSM control plane control-plane leaves the fleet")


def test_going_back_to_a_control_plane_is_a_handover_risk() -> None:
    data = json.loads(diff(STANDALONE, DEMO, "--format", "json").out)
    kinds = [(r["kind"], r["cluster"]) for r in data["risks"]]
    assert kinds == [("handover", "cluster-1"), ("handover", "cluster-2"), ("handover", "cluster-3")]
    assert diff(STANDALONE, DEMO, "--fail-on-risk").code == 3


def test_dropping_cluster_3_in_service_terms() -> None:
    result = diff(DEMO, WITHOUT_3)
    assert result.code == 0
    services = result.out.split("SERVICES:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    httpbin = services[services.index("  httpbin/httpbin") + 1 :]
    assert "    cluster-1: loses the import (it came from cluster-3)" in httpbin
    assert "    cluster-2: loses endpoint cluster-3 (keeps cluster-1)" in httpbin
    assert (
        "    cluster-2: traffic policy: targets cluster-1, cluster-3 (no weights: equal split) -> cluster-1"
    ) in httpbin
    assert "    cluster-3: stops exporting" in httpbin

    data = json.loads(diff(DEMO, WITHOUT_3, "--format", "json").out)
    lost = {}
    for svc in data["services"]:
        for ch in svc["changes"]:
            if ch["aspect"] == "import":
                before = {e["cluster"] for e in (ch["old"] or {}).get("endpoints", [])}
                after = {e["cluster"] for e in (ch["new"] or {}).get("endpoints", [])}
                lost[(svc["service"], ch["cluster"])] = before - after
    assert lost == {
        ("httpbin/httpbin", "cluster-1"): {"cluster-3"},
        ("httpbin/httpbin", "cluster-2"): {"cluster-3"},
        ("httpbin/httpbin-cluster-3", "cluster-1"): {"cluster-3"},
        ("httpbin/httpbin-cluster-3", "cluster-2"): {"cluster-3"},
    }
    risks = {(r["kind"], r["message"]) for r in data["risks"]}
    assert (
        "cluster-removed",
        "cluster cluster-3 leaves the fleet: meshfleet deletes the 2 objects it applied there "
        "(1 kept: retained namespaces and FSM's own objects)",
    ) in risks
    assert (
        "export-removed",
        "httpbin/httpbin is no longer exported from cluster-3, which cluster-1, cluster-2 import",
    ) in risks


def test_fail_on_risk_exits_3_and_still_prints_the_diff() -> None:
    result = diff(DEMO, WITHOUT_3, "--fail-on-risk")
    assert result.code == 3
    assert "RISKS (4):" in result.out and "CLUSTERS:" in result.out
    assert diff(DEMO, WITHOUT_3, "--fail-on-risk", "--format", "markdown").code == 3


def test_max_delete_share_flags_a_cluster_losing_that_much() -> None:
    # cluster-1 loses 2 of its 7 objects (29%): under the default 50%, over 20%.
    default = json.loads(diff(DEMO, WITHOUT_3, "--format", "json").out)
    assert not [r for r in default["risks"] if r["kind"] == "mass-delete"]
    strict = json.loads(diff(DEMO, WITHOUT_3, "--format", "json", "--max-delete-share", "0.2").out)
    mass = [r for r in strict["risks"] if r["kind"] == "mass-delete"]
    assert [r["cluster"] for r in mass] == ["cluster-1", "control-plane"]
    assert mass[0]["message"] == "cluster-1 loses 2 of its 7 objects (29%), more than --max-delete-share 20%"


def test_gateway_and_kubeconfig_source_changes_are_risks() -> None:
    data = json.loads(diff(DEMO, MOVED, "--format", "json").out)
    risks = {(r["kind"], r["cluster"]): r["message"] for r in data["risks"]}
    assert risks[("gateway-changed", "cluster-3")] == (
        "the gateway of cluster-3 moves from 192.168.1.110:83 to 192.168.1.120:8443; "
        "every cluster importing from it must reach the new address"
    )
    assert risks[("kubeconfig-changed", "cluster-1")] == (
        "the kubeconfig of cluster-1 now comes from stack secret meshfleet:kubeconfigs.cluster-1 "
        "(was context k3d-cluster-1 of the user's kubeconfig); check that it still reaches the same cluster"
    )
    assert set(risks) == {("gateway-changed", "cluster-3"), ("kubeconfig-changed", "cluster-1")}
    # The endpoint moves in service terms too, said once for both consumers that see it move.
    text = diff(DEMO, MOVED).out
    assert (
        "    cluster-1, cluster-2: endpoint cluster-3 port 8080 moves 192.168.1.110:83/cluster-3/httpbin-mesh -> "
        "192.168.1.120:8443/cluster-3/httpbin-mesh"
    ) in text


def test_a_diff_never_prints_a_kubeconfig(tmp_path: Path) -> None:
    secret = tmp_path / "cluster-1.kubeconfig"
    secret.write_text("apiVersion: v1\nusers:\n- name: admin\n  user: {token: SECRET-TOKEN-123}\n")
    fleet = (
        (ROOT / DEMO)
        .read_text()
        .replace(
            "kubeconfig: {from: context, context: k3d-cluster-1}",
            f"kubeconfig: {{from: context, context: admin, file: {secret}}}",
        )
    )
    assert fleet != (ROOT / DEMO).read_text()
    (tmp_path / "fleet.yaml").write_text(fleet)
    for fmt in FORMATS:
        out = diff(DEMO, str(tmp_path / "fleet.yaml"), "--format", fmt).out
        assert "context admin of " in out, "the source is named..."
        assert "SECRET" not in out and "token" not in out.lower(), "...never its contents"


# --- --base ----------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "fleet").mkdir(parents=True)
    shutil.copy(ROOT / DEMO, repo / "fleet/demo.yaml")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "demo")
    return repo


def test_base_compares_with_the_committed_version(repo: Path) -> None:
    shutil.copy(ROOT / WITHOUT_3, repo / "fleet/demo.yaml")
    before = git(repo, "status", "--porcelain", "--untracked-files=all")
    result = diff("fleet/demo.yaml", "--base", "main", "--format", "json", cwd=repo)
    assert result.code == 0, result
    data = json.loads(result.out)
    assert data["old"] == "fleet/demo.yaml@main" and data["new"] == "fleet/demo.yaml"
    expected = json.loads(diff(DEMO, WITHOUT_3, "--format", "json").out)
    for d in (data, expected):  # the new fleet's warnings name its file, which differs between the two
        d["warnings"] = [{k: v for k, v in w.items() if k != "file"} for w in d["warnings"]]
    assert {k: v for k, v in data.items() if k not in ("old", "new")} == {
        k: v for k, v in expected.items() if k not in ("old", "new")
    }
    # Nothing was written into the repository (the base version goes to a temp file elsewhere).
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == before == " M fleet/demo.yaml\n"
    assert diff("fleet/demo.yaml", "--base", "main", "--fail-on-risk", cwd=repo).code == 3


def test_base_from_another_directory_and_with_a_commit_id(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    result = diff(str(repo / "fleet/demo.yaml"), "--base", sha, cwd=repo.parent)
    assert result.code == 0, result
    assert "nothing changes" in result.out


def test_a_fleet_new_since_base_is_all_added(repo: Path) -> None:
    shutil.copy(ROOT / STANDALONE, repo / "fleet/new.yaml")
    data = json.loads(diff("fleet/new.yaml", "--base", "main", "--format", "json", cwd=repo).out)
    assert data["old"] == "fleet/new.yaml@main (absent)"
    assert {c["change"] for c in data["clusters"]} == {"added"}
    assert data["totals"]["added"] == 22 and data["totals"]["removed"] == 0


def test_an_unknown_revision_is_a_usage_error(repo: Path) -> None:
    result = diff("fleet/demo.yaml", "--base", "no-such-branch", cwd=repo)
    assert result.code == 2
    assert "no-such-branch" in result.err and "no such git revision" in result.err


def test_a_broken_base_is_reported_at_its_revision(repo: Path) -> None:
    (repo / "fleet/demo.yaml").write_text((ROOT / "tests/cases/broken/unknown-key.yaml").read_text())
    git(repo, "commit", "-q", "-am", "broken")
    shutil.copy(ROOT / DEMO, repo / "fleet/demo.yaml")
    result = diff("fleet/demo.yaml", "--base", "HEAD", cwd=repo)
    assert result.code == 1
    assert re.search(r"^fleet/demo\.yaml@HEAD:\d+:\d+: ", result.err, re.M), result.err


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["unknown-key", "yaml-syntax-unclosed", "target-not-exporter"])
def test_a_broken_new_fleet_exits_1_with_file_and_line(case: str) -> None:
    broken = f"tests/cases/broken/{case}.yaml"
    result = diff(DEMO, broken)
    assert result.code == 1
    assert result.out == ""
    first = result.err.splitlines()[1]
    match = re.match(rf"^{re.escape(broken)}:(\d+):(\d+): ", first)
    assert match, result.err
    assert 1 <= int(match.group(1)) <= len((ROOT / broken).read_text().splitlines()) + 1


def test_both_broken_fleets_are_reported() -> None:
    result = diff("tests/cases/broken/unknown-key.yaml", "tests/cases/broken/bad-enum.yaml")
    assert result.code == 1
    assert "tests/cases/broken/unknown-key.yaml:" in result.err
    assert "tests/cases/broken/bad-enum.yaml:" in result.err


def test_a_missing_fleet_is_a_user_error() -> None:
    result = diff(DEMO, "fleet/no-such.yaml")
    assert result.code == 1 and "fleet/no-such.yaml" in result.err


@pytest.mark.parametrize(
    "args",
    [
        [DEMO],
        [DEMO, STANDALONE, WITHOUT_3],
        [DEMO, STANDALONE, "--base", "main"],
        [DEMO, STANDALONE, "--max-delete-share", "1.5"],
        [DEMO, STANDALONE, "--max-delete-share", "half"],
        [DEMO, STANDALONE, "--format", "html"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = diff(*args)
    assert result.code == 2, result
    assert result.out == "" and "usage:" in result.err


# --- other meshes ----------------------------------------------------------------------------

MIXED = "tests/cases/diff/mixed.yaml"


def test_linkerd_mirrors_and_kep_imports_in_service_terms() -> None:
    data = json.loads(diff(MIXED, "tests/cases/diff/mixed-changed.yaml", "--format", "json").out)
    risks = [(r["kind"], r["cluster"], r["message"]) for r in data["risks"]]
    assert (
        "export-removed",
        "linkerd-us",
        "payments/ledger is no longer exported from linkerd-us, which linkerd-eu imports",
    ) in risks
    assert (
        "export-removed",
        "mcs-us",
        "search/search is no longer exported from mcs-us, which mcs-eu imports",
    ) in risks
    changes = {(s["service"], c["cluster"], c["aspect"]): c for s in data["services"] for c in s["changes"]}
    ledger = changes[("payments/ledger", "linkerd-eu", "import")]
    assert ledger["change"] == "removed"
    assert [e["cluster"] for e in ledger["old"]["endpoints"]] == ["linkerd-us"]
    assert {e["calledAs"] for e in ledger["old"]["endpoints"]} == {"ledger-linkerd-us.payments"}
    assert changes[("search/search", "mcs-us", "export")]["change"] == "removed"


def test_a_linkerd_gateway_move_is_a_risk(tmp_path: Path) -> None:
    moved = tmp_path / "moved.yaml"
    text = (ROOT / MIXED).read_text()
    moved.write_text(text.replace("gateway: {host: 198.51.100.50}", "gateway: {host: 198.51.100.51}"))
    assert moved.read_text() != text
    result = diff(MIXED, str(moved))
    assert (
        "  ! gateway-changed: the gateway of linkerd-us moves from 198.51.100.50:4200 to 198.51.100.51:4200; "
        "every cluster importing from it must reach the new address"
    ) in result.out
    assert "    linkerd-eu: endpoint linkerd-us port 9000 moves 198.51.100.50:4200 -> 198.51.100.51:4200" in result.out
