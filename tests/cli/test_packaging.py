"""How meshfleet is installed: ranges in pyproject.toml, exact pins in constraints.txt, Pulumi only as
an extra, no top-level `components` package, a licence, and a pre-commit hook that runs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from meshfleet import __version__
from meshfleet.cli import parser as cli_parser
from tests.conftest import ROOT, run_cli

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def pins() -> dict[str, Version]:
    out: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt pins exactly: {line}"
            out[canonical(name)] = Version(version)
    return out


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def test_dependencies_are_ranges_and_pulumi_is_an_extra() -> None:
    for spec in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["pulumi"]:
        req = Requirement(spec)
        assert "==" not in str(req.specifier) and req.specifier, f"{spec}: a range, pinned in constraints.txt"
        assert any(s.operator == "<" for s in req.specifier), f"{spec}: capped below the next major version"
    runtime = {canonical(Requirement(s).name) for s in PROJECT["dependencies"]}
    assert not {n for n in runtime if n.startswith("pulumi")}, "the command line never needs Pulumi"
    extra = {canonical(Requirement(s).name) for s in PROJECT["optional-dependencies"]["pulumi"]}
    assert extra == {"pulumi", "pulumi-kubernetes"}


def test_constraints_pin_every_dependency_inside_its_range() -> None:
    pinned = pins()
    dev = [ln for ln in requirement_lines(ROOT / "requirements-dev.txt") if not ln.startswith("-")]
    for spec in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["pulumi"] + dev:
        req = Requirement(spec)
        name = canonical(req.name)
        assert name in pinned, f"{name} is not pinned in constraints.txt"
        assert req.specifier.contains(pinned[name]), f"{name}=={pinned[name]} is outside {req.specifier}"


def test_the_development_virtualenv_is_exactly_the_pins() -> None:
    """`make venv` installs constraints.txt, and constraints.txt names nothing it does not install."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
    ).stdout
    installed = {canonical(n): Version(v) for n, v in re.findall(r"^([^\s=#]+)==(\S+)$", frozen, re.M)}
    assert installed == pins()


def test_make_and_the_pulumi_program_install_through_the_constraints() -> None:
    assert requirement_lines(ROOT / "requirements.txt") == ["-c constraints.txt", "-e .[pulumi]"]
    assert requirement_lines(ROOT / "requirements-dev.txt")[0] == "-c constraints.txt"
    makefile = (ROOT / "Makefile").read_text()
    assert "-r requirements.txt -r requirements-dev.txt" in makefile
    pulumi = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert pulumi == {"toolchain": "pip", "virtualenv": ".venv"}, "Pulumi's pip toolchain reads requirements.txt"


def test_only_meshfleet_is_packaged_and_components_come_from_the_project() -> None:
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["meshfleet", "meshfleet.*"]
    import components

    assert Path(components.__file__).resolve().parent == ROOT / "components"


def test_licence_and_version_metadata() -> None:
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "meshfleet.__version__"}
    from importlib.metadata import version

    assert version("meshfleet") == __version__
    assert "urls" not in PROJECT, "no project address is known yet: none is invented"


def test_the_pre_commit_hook_runs_validate_strict_on_fleet_files() -> None:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "meshfleet-validate" and hook["language"] == "python"
    entry = hook["entry"].split()
    assert entry == ["meshfleet", "validate", "--strict"]
    files = re.compile(hook["files"])
    fleets = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "fleet").glob("*.yaml"))
    assert fleets and all(files.search(f) for f in fleets)
    assert not any(files.search(f) for f in ("fleet/schema.json", "stacks/Pulumi.dev.yaml", "a/fleet/b/c.yaml"))
    assert files.search("deploy/fleet/prod.yml")
    args = cli_parser.parse(cli_parser.build_parser(), [*entry[1:], *fleets])
    assert args.command == "validate" and args.strict
    passed = run_cli(*entry[1:], *fleets)
    assert passed.code == 0, passed.err
    failed = run_cli(*entry[1:], "tests/cases/broken/unknown-key.yaml")
    assert failed.code == 1 and "tests/cases/broken/unknown-key.yaml:7:5:" in failed.err


@pytest.mark.parametrize("module", ["meshfleet", "meshfleet.cli"])
def test_python_dash_m_runs_the_command(module: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", module, "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout == f"meshfleet {__version__}\n"
