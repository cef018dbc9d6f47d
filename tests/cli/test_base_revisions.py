"""`diff --base`: a merge base with A...B, and a missing revision as a usage error that says how to fetch it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

DEMO = "fleet/demo.yaml"
WITHOUT_3 = "tests/cases/diff/demo-without-cluster-3.yaml"
MOVED = "tests/cases/diff/demo-moved-gateway.yaml"
ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: the demo; branch topic (checked out): the demo without cluster-3; main moved on: a moved gateway."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "fleet").mkdir(parents=True)
    shutil.copy(ROOT / DEMO, repo / DEMO)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "demo")
    git(repo, "checkout", "-q", "-b", "topic")
    shutil.copy(ROOT / WITHOUT_3, repo / DEMO)
    git(repo, "commit", "-q", "-am", "without cluster-3")
    git(repo, "checkout", "-q", "main")
    shutil.copy(ROOT / MOVED, repo / DEMO)
    git(repo, "commit", "-q", "-am", "moved gateway")
    git(repo, "checkout", "-q", "topic")
    return repo


def test_three_dots_compare_with_the_merge_base(repo: Path) -> None:
    merged = run_cli("diff", DEMO, "--base", "main...HEAD", "-o", "json", cwd=repo)
    assert merged.code == 0, merged
    data = json.loads(merged.out)
    assert data["old"] == "fleet/demo.yaml@main...HEAD" and data["new"] == DEMO
    expected = json.loads(run_cli("diff", DEMO, WITHOUT_3, "-o", "json").out)
    assert data["risks"] == expected["risks"] and data["clusters"] == expected["clusters"]
    # B defaults to HEAD, as in git; against main itself the moved gateway shows too.
    assert run_cli("diff", DEMO, "--base", "main...", "-o", "json", cwd=repo).out.replace(
        "main...", "X"
    ) == merged.out.replace("main...HEAD", "X")
    direct = json.loads(run_cli("diff", DEMO, "--base", "main", "-o", "json", cwd=repo).out)
    assert [r["kind"] for r in direct["risks"]] != [r["kind"] for r in data["risks"]]


def test_two_dots_are_refused(repo: Path) -> None:
    result = run_cli("diff", DEMO, "--base", "main..HEAD", cwd=repo)
    assert result.code == 2 and "A...B (three dots)" in result.err


def test_a_missing_revision_says_how_to_fetch_it(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", "topic", f"file://{repo}", str(clone)],
        env=ENV,
        check=True,
        capture_output=True,
    )
    result = run_cli("diff", DEMO, "--base", "origin/main", cwd=clone)
    assert result.code == 2, result
    assert "no such git revision 'origin/main'" in result.err
    assert "git fetch origin main" in result.err and "git fetch --unshallow" in result.err
    assert "Traceback" not in result.err and result.out == ""
    merge = run_cli("diff", DEMO, "--base", "origin/main...HEAD", cwd=clone)
    assert merge.code == 2 and "git fetch origin main" in merge.err
    # Fetched, but still shallow: the branches share no history the clone has.
    git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    shallow = run_cli("diff", DEMO, "--base", "origin/main...HEAD", cwd=clone)
    assert shallow.code == 2 and "no merge base" in shallow.err and "git fetch --unshallow" in shallow.err
    git(clone, "fetch", "-q", "--unshallow")
    assert run_cli("diff", DEMO, "--base", "origin/main...HEAD", cwd=clone).code == 0


def test_a_fleet_outside_git_is_a_usage_error(tmp_path: Path) -> None:
    shutil.copy(ROOT / DEMO, tmp_path / "demo.yaml")
    result = run_cli("diff", str(tmp_path / "demo.yaml"), "--base", "main", cwd=tmp_path)
    assert result.code == 2 and "not in a git repository" in result.err


def test_a_fleet_over_the_size_limit_at_the_revision_is_refused_from_its_first_bytes(repo: Path) -> None:
    from meshfleet.fleet.document import MAX_BYTES
    from meshfleet.fleet.includes import git_blob_head

    big = repo / "fleet" / "big.yaml"
    big.write_bytes((ROOT / DEMO).read_bytes() + b"#" * (3 * MAX_BYTES) + b"\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "a fleet of 3 MiB")
    shutil.copy(ROOT / DEMO, big)
    result = run_cli("diff", "fleet/big.yaml", "--base", "HEAD", cwd=repo)
    assert result.code == 1, result
    assert f"error[file-too-large]: (document): the file is more than {MAX_BYTES:,} bytes" in result.err
    # git hands over only the bytes asked for, whatever the blob's size; nothing for what it cannot show.
    head = git_blob_head(repo / "fleet", "HEAD", "big.yaml", MAX_BYTES + 1)
    assert head is not None and len(head) == MAX_BYTES + 1
    demo = (ROOT / DEMO).read_bytes()
    assert head == demo + b"#" * (MAX_BYTES + 1 - len(demo))
    whole = git_blob_head(repo / "fleet", "main", "demo.yaml", MAX_BYTES + 1)
    assert whole is not None and whole == git(repo, "show", "main:fleet/demo.yaml").encode()
    assert git_blob_head(repo / "fleet", "HEAD", "no-such.yaml", 10) is None
    assert git_blob_head(repo / "fleet", "HEAD", ".", 10) is None  # a tree, not a file


def test_a_fleet_git_cannot_read_at_the_revision_is_an_error_not_an_absent_file(repo: Path) -> None:
    from meshfleet.fleet.includes import git_blob_head

    blob = git(repo, "rev-parse", "main:fleet/demo.yaml").strip()
    obj = repo / ".git" / "objects" / blob[:2] / blob[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"not a zlib stream")  # the object is there, and corrupt
    result = run_cli("diff", DEMO, "--base", "main", cwd=repo)
    assert result.code == 2 and result.out == "", result
    assert result.err.startswith("meshfleet: --base main: git cannot read "), result.err
    assert "fix: check the repository with git fsck" in result.err
    with pytest.raises(OSError, match=r"^git cannot read [0-9a-f]{40}:\./demo\.yaml: "):
        git_blob_head(repo / "fleet", git(repo, "rev-parse", "main").strip(), "demo.yaml", 100)
