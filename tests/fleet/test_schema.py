"""fleet/schema.json is generated from the model, current, and agrees with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from meshfleet.fleet.schema import fleet_json_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "fleet/schema.json"
FLEETS = sorted(p for p in (ROOT / "fleet").glob("*.yaml"))


def test_committed_schema_is_current() -> None:
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == fleet_json_schema(), "fleet/schema.json is stale: run `make schema`"
    assert SCHEMA_FILE.read_text().endswith("\n")


@pytest.mark.parametrize("fleet", FLEETS, ids=[p.name for p in FLEETS])
def test_every_fleet_file_points_at_and_passes_the_schema(fleet: Path) -> None:
    text = fleet.read_text()
    assert text.startswith("# yaml-language-server: $schema=./schema.json"), "editors need the schema pointer"
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(yaml.safe_load(text))


@pytest.mark.parametrize(("case", "path"), [
    ("unknown-key", ["clusters", "c3"]),
    ("wrong-type-port", ["services", "a/b", "ports", 0, "port"]),
    ("bad-enum", ["services", "a/b", "trafficPolicy", "lbType"]),
])
def test_schema_refuses_what_the_loader_refuses(case: str, path: list[object]) -> None:
    data = yaml.safe_load((ROOT / "tests/cases/broken" / f"{case}.yaml").read_text())
    errors = list(jsonschema.Draft202012Validator(fleet_json_schema()).iter_errors(data))
    assert errors, f"the schema accepts {case}"
    def paths(errs: list[jsonschema.ValidationError]) -> list[list[object]]:
        out: list[list[object]] = []
        for e in errs:
            out.append(list(e.absolute_path))
            out.extend(paths(list(e.context or [])))
        return out

    found = paths(errors)
    assert any(p[: len(path)] == path for p in found), found
