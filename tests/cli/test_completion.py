"""`meshfleet completion SHELL` prints a working script, and completion answers with commands, options
and the fleet's cluster names (argcomplete's protocol, driven here as a shell drives it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_generated(shell: str, tmp_path: Path) -> None:
    result = run_cli("completion", shell)
    assert result.code == 0 and result.err == ""
    assert "meshfleet" in result.out and "_ARGCOMPLETE" in result.out
    script = tmp_path / f"meshfleet.{shell}"
    script.write_text(result.out)
    binary = shutil.which(shell)
    if binary is None:
        return
    check = ["-n", str(script)] if shell in ("bash", "zsh") else ["--no-execute", str(script)]
    parsed = subprocess.run([binary, *check], capture_output=True, text=True, timeout=60)
    assert parsed.returncode == 0, parsed.stderr


def test_the_bash_script_registers_a_completion() -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = run_cli("completion", "bash").out
    found = subprocess.run(
        ["bash", "-c", f"{script}\ncomplete -p meshfleet"], capture_output=True, text=True, timeout=60
    )
    assert found.returncode == 0 and "meshfleet" in found.stdout, found.stderr


def complete(line: str, tmp_path: Path) -> list[str]:
    """What the shell gets for `line` (the cursor at its end), through argcomplete's environment protocol."""
    out = tmp_path / "completions"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_SHELL": "bash",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "COMP_TYPE": "9",
        "_ARGCOMPLETE_IFS": "\n",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
    }
    subprocess.run(
        [sys.executable, "-m", "meshfleet.cli"], cwd=ROOT, env=env, capture_output=True, timeout=60, check=False
    )
    return sorted(w.strip() for w in out.read_text().split("\n") if w.strip())


def test_commands_complete(tmp_path: Path) -> None:
    assert complete("meshfleet ", tmp_path) == sorted(
        [
            "validate",
            "plan",
            "routes",
            "render",
            "diff",
            "schema",
            "kubeconfig-secret",
            "completion",
            "--color",
            "--help",
            "--quiet",
            "--version",
            "-h",
            "-q",
        ]
    )
    assert complete("meshfleet pl", tmp_path) == ["plan"]


def test_options_and_choices_complete(tmp_path: Path) -> None:
    assert "--summary" in complete("meshfleet plan fleet/demo.yaml --", tmp_path)
    assert complete("meshfleet diff a b --format m", tmp_path) == ["markdown"]


def test_cluster_names_complete_from_the_fleet(tmp_path: Path) -> None:
    assert complete("meshfleet plan fleet/mixed.yaml --cluster fsm-", tmp_path) == ["fsm-ap", "fsm-eu", "fsm-us"]
    assert complete("meshfleet render fleet/demo.yaml --stdout --cluster c", tmp_path) == [
        "cluster-1",
        "cluster-2",
        "cluster-3",
        "control-plane",
    ]
    assert complete("meshfleet plan fleet/no-such.yaml --cluster ", tmp_path) == []
