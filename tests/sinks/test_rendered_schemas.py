"""Every object meshfleet writes or predicts is valid for the API server that will receive it:
the upstream CRD schemas (schema-only copy in schemas/crds) and Kubernetes 1.33 for built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from meshfleet.core.meshes.fsm import versions as fsm_versions
from meshfleet.core.plan import Plan, plan
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.load import load_document, load_plan, parse
from meshfleet.fleet.model import Fleet
from meshfleet.sinks.render import render
from tests.support.schemas import schema_set_for_fsm, validate_object

ROOT = Path(__file__).resolve().parents[2]
FLEETS = sorted((ROOT / "fleet").glob("*.yaml"))


def problems_of(p: Plan) -> list[str]:
    found = []
    for cluster, obj in p.objects():
        for problem in validate_object(obj.body, partial=obj.patch):
            found.append(f"{cluster}: {problem}")
    return found


@pytest.mark.parametrize("fleet", FLEETS, ids=[f.name for f in FLEETS])
def test_rendered_files_validate(fleet: Path, tmp_path: Path) -> None:
    """Each cluster's files against the schemas of the release it runs (FSM v1.2: flomesh.io)."""
    p = load_plan(fleet)
    written = load_document(parse(fleet))
    render(p, tmp_path / "out")
    count = 0
    problems = []
    by_name = {c.name: c for c in p.clusters}
    for path in sorted((tmp_path / "out").glob("*/*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        obj = yaml.safe_load(path.read_text())
        partial = any(
            o.patch and o.name == obj["metadata"]["name"] and o.kind == obj["kind"]
            for o in by_name[path.parent.name].objects
        )
        schema_set = schema_set_for_fsm(fsm_versions.version(written, path.parent.name))
        problems += [
            f"{path.parent.name}/{path.name}: {m}" for m in validate_object(obj, partial=partial, schema_set=schema_set)
        ]
        count += 1
    assert count == sum(len(c.objects) for c in p.clusters)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("seed", range(6))
def test_generated_fleets_validate(seed: int) -> None:
    shape = FleetShape(clusters=5, services=6, exporters=2, control_plane=seed % 2 == 0, multi_port_share=0.5)
    assert problems_of(plan(Fleet.model_validate(generate(shape, seed)))) == []


def test_the_validator_is_not_blind() -> None:
    p = load_plan(ROOT / "fleet/demo.yaml")
    _, export = next((c, o) for c, o in p.objects() if o.kind == "ServiceExport")
    broken = {**export.body, "spec": {**export.body["spec"], "rules": [{"portNumber": 8080, "path": "/x"}]}}
    assert validate_object(broken), "a rule without pathType must be refused"


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    clusters=st.integers(1, 6),
    services=st.integers(1, 5),
    control_plane=st.booleans(),
    multi_port=st.sampled_from([0.0, 1.0]),
    meshes=st.sampled_from([0.0, 0.6]),
)
def test_every_object_of_any_generated_fleet_validates(
    seed: int, clusters: int, services: int, control_plane: bool, multi_port: float, meshes: float
) -> None:
    shape = FleetShape(
        clusters=clusters,
        services=services,
        control_plane=control_plane,
        multi_port_share=multi_port,
        mesh_share=meshes,
    )
    assert problems_of(plan(Fleet.model_validate(generate(shape, seed)))) == []
