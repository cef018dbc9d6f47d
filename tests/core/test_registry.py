"""The mesh registry is the only place that knows meshes by name, and every finding code is documented.

A mesh named as a string literal outside `meshfleet/core/meshes/` would be a second place deciding
what that mesh does; the fleet model may name them (it is the vocabulary users write).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import pytest

from meshfleet.core.meshes import MESHES, access_adapters, all_codes
from meshfleet.fleet.model import Cluster, Mesh
from tests.conftest import ROOT

PACKAGE = ROOT / "meshfleet"
MESH_MODULES = PACKAGE / "core" / "meshes"
VOCABULARY = {PACKAGE / "fleet" / "model" / "clusters.py"}
"""Modules allowed to name meshes: the fleet model's clusters hold the words users write (and settings classes)."""
API_GROUPS = ("flomesh.io", "linkerd.io", "x-k8s.io", "smi-spec.io")


def string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant of a module with its line, docstrings included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def modules_outside_the_meshes() -> list[Path]:
    found = [p for p in sorted(PACKAGE.rglob("*.py")) if MESH_MODULES not in p.parents and p not in VOCABULARY]
    assert len(found) > 30
    return found


def test_the_registry_holds_every_mesh_of_the_model_and_each_settings_block_is_named_like_its_mesh() -> None:
    assert set(MESHES) == set(get_args(Mesh))
    for name, adapter in MESHES.items():
        assert adapter.name == name
        if adapter.settings is not None:
            assert adapter.settings == name and adapter.settings in Cluster.model_fields


def test_no_module_outside_the_mesh_adapters_names_a_mesh_or_its_api_groups() -> None:
    names = set(MESHES) | {a.name for a in access_adapters()}
    found = []
    for path in modules_outside_the_meshes():
        for line, text in string_literals(path):
            if text in names or any(group in text for group in API_GROUPS):
                found.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert found == [], "mesh knowledge outside meshfleet/core/meshes/:\n" + "\n".join(found)


def test_the_literal_check_would_see_a_mesh_name(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""Doc."""\nif cluster.mesh == "linkerd":\n    pass\nGROUP = f"x.{1}.linkerd.io"\n')
    assert [(line, text) for line, text in string_literals(module) if text == "linkerd" or "linkerd.io" in text] == [
        (2, "linkerd"),
        (4, ".linkerd.io"),
    ]


def test_finding_codes_are_kebab_case_unique_and_documented_in_the_readme() -> None:
    codes = all_codes()
    names = [c.name for c in codes]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- finding codes -->", 1)[1].split("<!-- end of finding codes -->", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (error|warning) \| (.+?) \|$", table, re.M)
    assert [(c.name, c.severity, c.summary) for c in sorted(codes, key=lambda c: (c.severity, c.name))] == rows


@pytest.mark.parametrize("name", sorted(MESHES))
def test_each_adapter_declares_only_its_own_codes(name: str) -> None:
    others = {c for n, m in MESHES.items() if n != name for c in m.codes}
    assert not set(MESHES[name].codes) & others
