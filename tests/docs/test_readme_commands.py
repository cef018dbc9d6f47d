"""Every command in the README's previews and GitOps sections runs here, in a scratch git repository holding the
fleets and a kubeconfig with the demo's contexts (sample servers and tokens), with the exit code the
text gives (0 unless it says `# exits N`), and the output shown under a command is a verbatim excerpt
of what it prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

README = ROOT / "README.md"


def section_text() -> str:
    """The README from `## Previews and guardrails` to the heading after `## GitOps hand-off`."""
    text = README.read_text()
    start = text.index("## Previews and guardrails")
    gitops = text.index("## GitOps hand-off", start)
    end = text.find("\n## ", gitops + 1)
    return text[start:] if end < 0 else text[start : end + 1]


_EXITS = re.compile(r"\s+#\s*exits (\d+)\b.*$")


@dataclass
class Command:
    line: str
    exit_code: int
    expected: list[str]


def commands() -> list[Command]:
    found: list[Command] = []
    in_block = False
    for line in section_text().splitlines():
        if line.startswith("```"):
            in_block = line == "```console"
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            text = line[2:]
            m = _EXITS.search(text)
            found.append(Command(_EXITS.sub("", text), int(m.group(1)) if m else 0, []))
        else:
            assert found, f"output before any command: {line}"
            found[-1].expected.append(line)
    return found


COMMANDS = commands()


def test_the_doc_has_both_sections_and_its_commands_are_found() -> None:
    prose = re.sub(r"^```.*?^```", "", section_text(), flags=re.S | re.M)
    headings = [line for line in prose.splitlines() if line.startswith("## ")]
    assert headings == ["## Previews and guardrails", "## GitOps hand-off"]
    assert len(COMMANDS) >= 12
    assert {c.line.split()[0] for c in COMMANDS} == {"meshfleet", "kubectl"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or shutil.which("kubectl") is None:
        pytest.skip("git and kubectl are needed")
    repo = tmp_path_factory.mktemp("docs") / "repo"
    for rel in ("fleet", "tests/cases/diff"):
        shutil.copytree(ROOT / rel, repo / rel)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "fleets"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    (repo.parent / "kubeconfig").write_text(sample_kubeconfig())
    return repo


def sample_kubeconfig() -> str:
    """The demo's contexts, each with a server other clusters could reach and a token."""
    contexts = ["k3d-control-plane", *(f"k3d-cluster-{n}" for n in (1, 2, 3))]
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": contexts[0],
            "clusters": [{"name": c, "cluster": {"server": f"https://{c}.example:6443"}} for c in contexts],
            "users": [{"name": c, "user": {"token": f"sample-token-{c.rpartition('-')[2]}"}} for c in contexts],
            "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
        }
    )


@pytest.mark.parametrize("command", COMMANDS, ids=[c.line[:90] for c in COMMANDS])
def test_command_runs_as_documented(command: Command, sandbox: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "KUBECONFIG": str(sandbox.parent / "kubeconfig"),
    }
    proc = subprocess.run(
        ["bash", "-c", command.line], cwd=sandbox, env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode == command.exit_code, proc.stdout + proc.stderr
    if command.expected:
        assert "\n".join(command.expected) in proc.stdout, proc.stdout
