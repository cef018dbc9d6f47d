"""Pulumi.yaml and every committed stack file agree with the program, and every stack runs."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import Settings
from meshfleet.fleet.load import load_plan
from tests.components.conftest import (
    MARKER,
    PROJECT,
    ROOT,
    fleet_config,
    plain_strings,
    run_program,
    unwrap,
)

PROJECT_FILE = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
# Config key -> Settings field; the typed keys of Pulumi.yaml are exactly these.
KEYS = {
    "fleet": "fleet",
    "protect": "protect",
    "clusters": "clusters",
    "clusterSelector": "cluster_selector",
    "deleteUnreachable": "delete_unreachable",
    "skipUpdateUnreachable": "skip_update_unreachable",
}


def test_project_file_runs_this_program_the_way_the_design_says() -> None:
    assert PROJECT_FILE["name"] == PROJECT
    assert PROJECT_FILE["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert PROJECT_FILE["stackConfigDir"] == "stacks"
    assert (ROOT / PROJECT_FILE.get("main", ".") / "__main__.py").is_file()
    assert "kubernetes" in PROJECT_FILE["config"]["pulumi:disable-default-providers"]
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert [r for r in requirements if r.strip() and not r.startswith("#")] == ["-c constraints.txt", "-e .[pulumi]"]


def test_declared_keys_and_defaults_are_the_programs() -> None:
    declared = {k: v for k, v in PROJECT_FILE["config"].items() if not k.startswith("pulumi:")}
    assert set(declared) == set(KEYS)
    defaults = Settings()
    assert {f.name for f in fields(Settings)} == set(KEYS.values())
    for key, attr in KEYS.items():
        want = getattr(defaults, attr)
        assert declared[key]["default"] == (list(want) if isinstance(want, tuple) else want), key
        assert declared[key]["type"] == {bool: "boolean", str: "string", tuple: "array"}[type(want)], key
    assert "kubeconfigs" in PROJECT_FILE["description"]


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_stack_file_names_only_known_keys_and_no_secret(stack_file: Path) -> None:
    doc = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    config = doc.get("config") or {}
    for key in config:
        namespace, _, name = key.partition(":")
        assert namespace == PROJECT and (name in KEYS or name == "kubeconfigs"), key
    assert f"{PROJECT}:kubeconfigs" not in config, "committed stack files hold no kubeconfig"
    assert "pulumi config set --secret --path 'kubeconfigs." in stack_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_every_committed_stack_runs(stack_file: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    config = {k: _engine_string(v) for k, v in (doc.get("config") or {}).items()}
    fleet = config.get(f"{PROJECT}:fleet", Settings().fleet)
    plan = load_plan(ROOT / fleet)
    kubeconfigs, secret_keys = fleet_config(plan, ROOT / fleet, isolated_env, monkeypatch)
    run = run_program({**kubeconfigs, **config}, secret_keys)

    assert set(run.providers()) == {c.name for c in plan.clusters}
    assert len(run.k8s_objects()) == sum(len(c.applied()) for c in plan.clusters)
    protect = config.get(f"{PROJECT}:protect") == "true"
    for obj in run.k8s_objects():
        assert obj.protect is (protect and not obj.type.endswith("Patch")), obj.name
        assert not [p for p, s in plain_strings(obj.inputs) if MARKER in s], obj.name
    for provider in run.providers().values():
        assert MARKER in unwrap(provider.inputs["kubeconfig"])


def _engine_string(value: Any) -> str:
    """Config as the engine hands it to the program: strings, structured values as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
