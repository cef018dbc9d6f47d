"""Every registration's options, exactly, for every committed fleet: parent, provider, protect, retain,
aliases, ignore rules and dependencies, each derived here from the plan.

Why: the other tests check each rule on the demo, mostly as "contains". How the program builds its
options (once per object, or shared between objects that need the same) is its own business; what
reaches the engine is not, and a dependency too many or too few, or an option leaking from one object
to the next, changes what `pulumi up` does. The names and inputs are pinned by
test_plan_equivalence.py; this pins the rest of each registration.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from components.objects import crd_name
from meshfleet.core.plan import ObjectId, Plan, PlannedObject
from meshfleet.fleet.load import load_plan
from tests.components.conftest import (
    CRD_TYPE,
    MEMBER_TYPE,
    ROOT,
    Run,
    fleet_config,
    run_program,
)

FLEETS = sorted(
    [
        *(ROOT / "fleet").glob("*.yaml"),
        *(ROOT / "tests" / "cases" / "mixed").glob("*.yaml"),
        *(ROOT / "tests" / "cases" / "pulumi").glob("*.yaml"),
    ]
)
STACK_URN = "urn:pulumi:dev::meshfleet::pulumi:pulumi:Stack::meshfleet-dev"


def run_fleet(fleet: Path, home: Path, monkeypatch: pytest.MonkeyPatch, protect: bool) -> tuple[Plan, Run]:
    plan = load_plan(fleet)
    # A copy: the committed stack files that apply this very file claim its clusters already.
    copy = home.parent / fleet.name
    copy.write_text(fleet.read_text(encoding="utf-8"), encoding="utf-8")
    for manifests in (p for p in fleet.parent.iterdir() if p.is_dir()):  # the manifest files resources name
        shutil.copytree(manifests, home.parent / manifests.name, dirs_exist_ok=True)
    config, keys = fleet_config(plan, copy, home, monkeypatch)
    config["meshfleet:protect"] = "true" if protect else "false"
    return plan, run_program(config, keys)


def former_names(fleet: Path) -> dict[str, list[str]]:
    clusters = yaml.safe_load(fleet.read_text(encoding="utf-8"))["clusters"]
    return {name: list((c or {}).get("formerNames") or []) for name, c in clusters.items()}


def object_name(cluster: str, obj: PlannedObject) -> str:
    return f"{cluster}:{obj.kind}:{obj.namespace}/{obj.name}" if obj.namespace else f"{cluster}:{obj.kind}:{obj.name}"


@pytest.mark.parametrize("protect", [False, True])
@pytest.mark.parametrize("fleet", FLEETS, ids=lambda p: p.name)
def test_every_registration_has_exactly_the_options_its_plan_asks_for(
    fleet: Path, protect: bool, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, run = run_fleet(fleet, isolated_env, monkeypatch, protect)
    formers = former_names(fleet)
    objects = {r.name: r for r in run.k8s_objects()}
    assert len(objects) == len(run.k8s_objects()), "two objects share a name"
    providers = run.providers()
    reads = {r.name: r for r in run.reads}
    assert all(r.type == CRD_TYPE for r in run.reads)
    planned = {c.name: c for c in plan.clusters}
    members = [r for r in run.registrations if r.type == MEMBER_TYPE]
    assert sorted(m.name for m in members) == sorted(formers), "one component per cluster, decommissioned too"
    seen: set[str] = set()

    for member in members:
        cluster = member.name

        def aliases(name: str, cluster: str = cluster) -> list[str]:
            return [old + name[len(cluster) :] for old in formers[cluster]]

        assert member.parent == STACK_URN and member.provider == "" and not member.custom
        assert member.aliases == aliases(cluster)
        assert member.dependencies == [] and member.protect is None and member.retain_on_delete is None
        provider = providers[cluster]
        assert provider.parent == member.urn and provider.provider == "" and provider.custom
        assert provider.aliases == aliases(cluster) and provider.dependencies == []
        assert provider.protect is None and provider.retain_on_delete is None and provider.ignore_changes == []
        seen |= {member.urn, provider.urn}

        cp = planned.get(cluster)
        if cp is None:  # decommissioned: its provider only, which forgets what it cannot reach
            assert provider.inputs["deleteUnreachable"] == "true"
            continue
        assert "deleteUnreachable" not in provider.inputs
        applied = cp.applied()
        crds = {crd for crd in map(crd_name, applied) if crd is not None}
        assert sorted(n for n, r in reads.items() if r.parent == member.urn) == sorted(
            f"{cluster}:crd:{crd}" for crd in crds
        )
        for crd in crds:
            read = reads[f"{cluster}:crd:{crd}"]
            assert read.id == crd and read.provider.rpartition("::")[0] == provider.urn
        namespaces = {o.name for o in applied if o.kind == "Namespace" and o.api_version == "v1"}
        urns = {o.id: objects[object_name(cluster, o)].urn for o in applied}
        for obj in applied:
            reg = objects[object_name(cluster, obj)]
            patch = obj.patch or obj.id == ObjectId("v1", "Namespace", "", obj.name)
            want_deps = {urns[first] for first in obj.after}
            if obj.namespace in namespaces:
                want_deps.add(urns[ObjectId("v1", "Namespace", "", obj.namespace)])
            needs = crd_name(obj)
            if needs is not None:
                want_deps.add(reads[f"{cluster}:crd:{needs}"].urn)
            assert reg.parent == member.urn, reg.name
            assert reg.provider.rpartition("::")[0] == provider.urn, reg.name
            assert reg.custom and reg.type.endswith("Patch") == patch, reg.name
            assert sorted(reg.dependencies) == sorted(want_deps), reg.name
            assert len(reg.dependencies) == len(want_deps), f"{reg.name}: a dependency listed twice"
            assert reg.protect is (protect and (not patch or obj.relinquish)), reg.name
            assert reg.retain_on_delete is (obj.retain or (patch and not obj.relinquish)), reg.name
            assert reg.aliases == aliases(reg.name), reg.name
            assert reg.ignore_changes == [], reg.name
            seen.add(reg.urn)

    assert {r.urn for r in run.registrations} == seen, "registered beyond the plan"
