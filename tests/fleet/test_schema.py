"""fleet/schema.json is generated from the model, current, and agrees with the loader."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from meshfleet.errors import FleetError
from meshfleet.fleet.load import load_plan
from meshfleet.fleet.schema import fleet_json_schema, title_of

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


@pytest.mark.parametrize(
    ("case", "path"),
    [
        ("unknown-key", ["clusters", "c3"]),
        ("wrong-type-port", ["services", "a/b", "ports", 0, "port"]),
        ("bad-enum", ["services", "a/b", "trafficPolicy", "lbType"]),
    ],
)
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


# --- the schema as documentation --------------------------------------------------------------

SCHEMA = fleet_json_schema()


def properties(node: object, path: str = "") -> list[tuple[str, str, dict[str, Any]]]:
    """Every (path, key, property schema) in the schema, $defs included."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, prop in (node.get("properties") or {}).items():
            found.append((path, key, prop))
        for key, value in node.items():
            found.extend(properties(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for item in node:
            found.extend(properties(item, path))
    return found


PROPERTIES = properties(SCHEMA)


def test_every_property_has_a_description_and_a_readable_title() -> None:
    from meshfleet.fleet.model import Cluster

    explicit = {name: f.title for name, f in Cluster.model_fields.items() if f.title}
    assert len(PROPERTIES) >= 80 and explicit
    for path, key, prop in PROPERTIES:
        assert len(prop.get("description", "")) >= 10, f"{path}.{key} has no description"
        assert prop["title"] == explicit.get(key, title_of(key)), f"{path}.{key}"
        assert re.fullmatch(r"[A-Z][A-Za-z0-9 ()/-]*", prop["title"]), prop["title"]
    titles = {prop["title"] for _, _, prop in PROPERTIES}
    assert "Load-balancing type" in titles and "Lbtype" not in titles and "Ingress class" in titles
    assert "FSM settings" in titles and "Fsm" not in titles
    for name, definition in SCHEMA["$defs"].items():
        assert definition.get("description"), f"$defs/{name} has no description"
        assert " " in definition["title"] or definition["title"] == name, definition["title"]


def test_every_enum_is_explained() -> None:
    def enums(node: object) -> list[list[str]]:
        if isinstance(node, dict):
            own = [node["enum"]] if "enum" in node else [[node["const"]]] if "const" in node else []
            return own + [e for v in node.values() for e in enums(v)]
        if isinstance(node, list):
            return [e for v in node for e in enums(v)]
        return []

    checked = 0
    for path, key, prop in PROPERTIES:
        for values in enums(prop):
            if values == ["all"]:  # the word for every cluster, explained with the selection
                assert "`all`" in prop["description"]
                continue
            for value in values:
                assert f"`{value}`" in prop["description"] or value in prop["description"], (path, key, value)
                checked += 1
    assert checked >= 20


def test_every_example_is_valid_where_it_stands() -> None:
    checked = 0
    for _, _, prop in PROPERTIES:
        schema = {"$defs": SCHEMA["$defs"], **{k: v for k, v in prop.items() if k != "examples"}}
        for example in prop.get("examples", []):
            jsonschema.Draft202012Validator(schema).validate(example)
            checked += 1
    assert checked >= 40


def test_the_schema_has_an_id_and_names_its_dialect() -> None:
    assert SCHEMA["$id"] == "urn:meshfleet:fleet-file"
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


NAME_RULES = (
    "DNS-1123",
    "DNS-1035",
    "must start with a letter",
    "characters long",
    "label key",
    "label value",
    "is not 'namespace/",
)


def test_names_validate_refuses_for_their_pattern_the_schema_refuses_too() -> None:
    """The broken-fleet corpus: every name `validate` refuses by its rule is refused by the schema, there."""
    checked = []
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for case in sorted((ROOT / "tests/cases/broken").glob("*.yaml")):
        try:
            load_plan(case)
        except FleetError as e:
            # Names inside a resource's objects are checked once placeholders are replaced, per cluster:
            # the schema holds templates as free-form objects.
            refused = [
                p.loc for p in e.problems if any(r in p.message for r in NAME_RULES) and p.loc[:1] != ("resources",)
            ]
        else:
            continue
        if not refused:
            continue
        data = yaml.safe_load(case.read_text())
        errors = [(tuple(err.absolute_path), err.validator) for err in validator.iter_errors(data)]
        errors += [
            (tuple(sub.absolute_path), sub.validator)
            for err in validator.iter_errors(data)
            for sub in err.context or []
        ]
        for loc in refused:
            assert any(
                path in (loc, loc[:-1]) and kind in ("pattern", "propertyNames", "maxLength") for path, kind in errors
            ), f"{case.name}: the schema accepts the name at {loc}: {errors}"
            checked.append((case.name, loc))
    assert len({name for name, _ in checked}) >= 6, checked


NAME_TYPES = [
    "ClusterName",
    "Namespace",
    "ObjectName",
    "ServiceRef",
    "ServiceAccountRef",
    "ServiceAccount",
    "LabelKey",
    "LabelValue",
    "PathTemplate",
    "Locality",
]
ALPHABET = "abfz029-._/*{}AFZ_%~: \u0430"


@pytest.mark.parametrize("type_name", NAME_TYPES)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_name_pattern_and_its_validator_agree(type_name: str, data: st.DataObject) -> None:
    from meshfleet.fleet import model

    adapter = TypeAdapter(getattr(model, type_name))
    pattern = adapter.json_schema()["pattern"]
    pieces = ["cluster-1", "httpbin", "a" * 62, "example.com", "kubernetes.io", "{cluster}", "{name}", "/"]
    text = data.draw(
        st.lists(st.one_of(st.sampled_from(pieces), st.text(ALPHABET, max_size=4)), max_size=5).map("".join)
        | st.text(ALPHABET, max_size=70)
    )
    try:
        adapter.validate_python(text)
        valid = True
    except ValidationError:
        valid = False
    assert valid == bool(re.search(pattern, text)), (text, pattern)
