"""`pulumi up` registers no GitOps engine's annotation, for every committed fleet.

Why: Argo CD's and Flux's annotations (sync options, sync waves, prune, server-side apply) tell
those engines how to apply an object; Pulumi says the same with its own resource options (patch
resources, retain_on_delete, depends_on). The GitOps render adds them (sinks/gitops.py); an object
Pulumi applies must not carry them, or the cluster would hold annotations no engine there reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshfleet.fleet.load import load_plan
from tests.components.conftest import ROOT, fleet_config, run_program, unwrapped

ENGINE_PREFIXES = ("argocd.argoproj.io/", "kustomize.toolkit.fluxcd.io/")


@pytest.mark.parametrize("fleet", sorted((ROOT / "fleet").glob("*.yaml")), ids=lambda p: p.name)
def test_no_registered_body_carries_an_argocd_or_flux_annotation(
    fleet: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load_plan(fleet)
    copy = isolated_env.parent / fleet.name  # the committed stack files claim the file's own clusters
    copy.write_text(fleet.read_text(encoding="utf-8"), encoding="utf-8")
    for manifests in (p for p in fleet.parent.iterdir() if p.is_dir()):
        shutil.copytree(manifests, isolated_env.parent / manifests.name, dirs_exist_ok=True)
    run = run_program(*fleet_config(plan, copy, isolated_env, monkeypatch))
    registered = run.k8s_objects()
    assert len(registered) == sum(len(c.applied()) for c in plan.clusters) > 0
    for reg in registered:
        annotations = unwrapped(reg.inputs).get("metadata", {}).get("annotations") or {}
        engines = sorted(k for k in annotations if k.startswith(ENGINE_PREFIXES))
        assert engines == [], f"{reg.name} carries {engines}"


def test_the_committed_fleets_hold_what_gitops_engines_are_told() -> None:
    """Not vacuous: the fleets above hold patches, retained namespaces and objects that wait, each of
    which a GitOps render annotates."""
    objects = [o for p in sorted((ROOT / "fleet").glob("*.yaml")) for _, o in load_plan(p).objects()]
    applied = [o for o in objects if o.role == "applied"]
    assert any(o.patch for o in applied) and any(o.retain for o in applied) and any(o.wave for o in applied)
