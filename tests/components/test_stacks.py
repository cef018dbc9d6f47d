"""Pulumi.yaml and every committed stack file agree with the program, and every stack runs."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import Settings
from components.settings import select_names
from components.shards import StackFile, stack_files
from meshfleet.fleet.load import load_plan
from meshfleet.fleet.model import Fleet
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


def stack_name(stack_file: Path) -> str:
    return stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_every_committed_stack_runs(stack_file: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    config = {k: _engine_string(v) for k, v in (doc.get("config") or {}).items()}
    fleet = config.get(f"{PROJECT}:fleet", Settings().fleet)
    plan = load_plan(ROOT / fleet)
    kubeconfigs, secret_keys = fleet_config(plan, ROOT / fleet, isolated_env, monkeypatch)
    run = run_program({**kubeconfigs, **config}, secret_keys, stack=stack_name(stack_file))

    shard = {sf.stack: names for sf, names in committed_shards(ROOT / fleet)}[stack_name(stack_file)]
    assert set(run.providers()) == set(shard)
    assert len(run.k8s_objects()) == sum(len(c.applied()) for c in plan.clusters if c.name in shard)
    protect = config.get(f"{PROJECT}:protect") == "true"
    for obj in run.k8s_objects():
        assert obj.protect is (protect and not obj.type.endswith("Patch")), obj.name
        assert not [p for p, s in plain_strings(obj.inputs) if MARKER in s], obj.name
    for provider in run.providers().values():
        assert MARKER in unwrap(provider.inputs["kubeconfig"])


def committed_shards(fleet: Path) -> list[tuple[StackFile, list[str]]]:
    """Each committed stack file that applies `fleet`, with the clusters it applies."""
    doc = Fleet.model_validate(yaml.safe_load(fleet.read_text(encoding="utf-8")))
    known = sorted(doc.clusters)
    labels = {n: dict(c.labels) for n, c in doc.clusters.items()}
    return [
        (sf, select_names(known, labels, sf.settings))
        for sf in stack_files(ROOT)
        if sf.settings.fleet_path(ROOT).resolve() == fleet.resolve()
    ]


def test_the_committed_stacks_partition_the_production_fleet() -> None:
    """Every cluster of fleet/prod.yaml is applied by exactly one committed stack."""
    prod = ROOT / "fleet" / "prod.yaml"
    shards = committed_shards(prod)
    assert len(shards) >= 2, "production is split into shards"
    owners: dict[str, list[str]] = {}
    for sf, names in shards:
        assert names, f"{sf.stack} applies no cluster"
        for name in names:
            owners.setdefault(name, []).append(sf.stack)
    clusters = set(yaml.safe_load(prod.read_text(encoding="utf-8"))["clusters"])
    assert set(owners) == clusters, f"no stack applies {sorted(clusters - set(owners))}"
    assert {n: s for n, s in owners.items() if len(s) > 1} == {}


def test_no_committed_stack_of_the_demo_fleet_overlaps_another() -> None:
    for fleet in sorted({sf.settings.fleet_path(ROOT).resolve() for sf in stack_files(ROOT)}):
        owners: dict[str, int] = {}
        for _, names in committed_shards(fleet):
            for n in names:
                owners[n] = owners.get(n, 0) + 1
        assert all(count == 1 for count in owners.values()), (fleet, owners)


def _engine_string(value: Any) -> str:
    """Config as the engine hands it to the program: strings, structured values as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
