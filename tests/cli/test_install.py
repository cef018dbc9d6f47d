"""Installing meshfleet as a user does, into fresh virtualenvs from the package index: the README's
install steps as written, no Pulumi without the extra, and every command working from the install.

These build virtualenvs (about a minute each), so they carry the `install` marker: `make test` runs
them under CI (CI=true), and `make install-tests` anywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from meshfleet import __version__
from tests.conftest import ROOT

pytestmark = pytest.mark.install

README = (ROOT / "README.md").read_text()
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def readme_commands(tag: str) -> list[str]:
    block = re.search(rf"<!-- {tag} -->\n```console\n(.*?)```", README, re.S)
    assert block, f"no <!-- {tag} --> block in the README"
    return [ln[2:].split("  #", 1)[0].strip() for ln in block.group(1).splitlines() if ln.startswith("$ ")]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's files as a fresh clone of this work tree would hold them, committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    dest = tmp_path_factory.mktemp("clone") / "meshfleet"
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "clone"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)
    return dest


def bash(script: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return {**env, **extra}


def test_pip_install_without_the_extra_has_no_pulumi_and_every_command_works(clone: Path, tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    env = clean_env(PATH=f"{target / 'bin'}{os.pathsep}{clean_env()['PATH']}", VIRTUAL_ENV=str(target))
    installed = bash("pip install --quiet .", clone, env)
    assert installed.returncode == 0, installed.stderr
    listed = json.loads(bash("pip list --format json", clone, env).stdout)
    names = {p["name"].lower() for p in listed}
    assert "meshfleet" in names
    assert not {n for n in names if n.startswith("pulumi") or n in ("grpcio", "protobuf")}, names
    site = Path(bash("python -c 'import meshfleet, sys; print(meshfleet.__file__)'", tmp_path, env).stdout.strip())
    assert site.parent.parent.name == "site-packages"
    assert not (site.parent.parent / "components").exists(), "components/ is the Pulumi program's, not installed"
    assert bash("python -c 'import pulumi'", tmp_path, env).returncode != 0

    out = tmp_path / "out"
    commands = [
        "meshfleet --version",
        "meshfleet --help",
        "meshfleet",
        "meshfleet validate fleet/demo.yaml fleet/prod.yaml fleet/mixed.yaml",
        "meshfleet validate -o json fleet/demo.yaml",
        "meshfleet validate - < fleet/demo.yaml",
        "meshfleet plan fleet/demo.yaml",
        "meshfleet plan fleet/prod.yaml --summary",
        "meshfleet plan fleet/mixed.yaml --cluster fsm-eu -o json",
        "meshfleet plan fleet/prod.yaml --shards 2",
        "meshfleet plan fleet/prod.yaml --budget",
        f"meshfleet render fleet/demo.yaml --out {out}",
        f"meshfleet render fleet/prod.yaml --out {out}-gitops --gitops flux --repo-url ssh://git@example.com/f.git"
        " --path-prefix deploy",
        "meshfleet render fleet/demo.yaml --cluster cluster-2 --stdout",
        "meshfleet diff fleet/demo.yaml fleet/demo-standalone.yaml --format markdown",
        "meshfleet diff fleet/prod.yaml --base HEAD --exit-code",
        "meshfleet diff fleet/prod.yaml --base main...HEAD -o json",
        "meshfleet schema",
        "meshfleet completion bash",
        "meshfleet completion zsh",
        "meshfleet completion fish",
    ]
    for command in commands:
        result = bash(command, clone, env, timeout=120)
        assert result.returncode == 0, (command, result.stderr)
        assert "Traceback" not in result.stderr
    version = bash("meshfleet --version", clone, env).stdout
    assert version == f"meshfleet {__version__}\n"


def test_the_readme_install_step_runs_as_written(clone: Path, tmp_path: Path) -> None:
    commands = readme_commands("install")
    assert commands == ["pipx install .", "meshfleet --version"]
    tools = tmp_path / "tools"
    venv.create(tools, with_pip=True)
    got = subprocess.run(
        [str(tools / "bin" / "python"), "-m", "pip", "install", "--quiet", "pipx"],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    assert got.returncode == 0, got.stderr
    home = tmp_path / "home"
    path = os.pathsep.join([str(home / ".local" / "bin"), str(tools / "bin"), clean_env()["PATH"]])
    env = clean_env(HOME=str(home), PATH=path, PIPX_HOME=str(home / "pipx"), PIPX_BIN_DIR=str(home / ".local/bin"))
    result = bash("\n".join(commands), clone, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith(f"meshfleet {__version__}")
    assert (home / ".local" / "bin" / "meshfleet").exists()


def test_the_readme_quickstart_runs_as_written(clone: Path) -> None:
    commands = readme_commands("quickstart")
    assert commands[:2] == ["make demo", "make test"]
    # `make test` is this test suite itself: running it from inside it would recurse.
    script = "\n".join(c for c in commands if c != "make test")
    env = clean_env()
    env.pop("CI", None)
    result = bash(script, clone, env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Next: put meshfleet on your PATH" in result.stdout
    # The summary's head line as this work tree's own meshfleet prints it for the same fleet.
    here = subprocess.run(
        [sys.executable, "-m", "meshfleet", "plan", "fleet/demo.yaml", "--summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()[0]
    assert here.startswith("fleet/demo.yaml: 4 clusters, ")
    assert here in result.stdout.splitlines()
    rendered = sorted(p.name for p in (clone / "out").iterdir() if not p.name.startswith("."))
    assert rendered == ["cluster-1", "cluster-2", "cluster-3", "control-plane"]
