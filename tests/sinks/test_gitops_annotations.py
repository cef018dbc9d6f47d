"""Each GitOps engine gets its own annotations from the GitOps render, and nothing else does.

The plan says how an object is applied with flags (`patch`, `retain`, `wave`). A plain render and
the plan carry no engine's annotation; `render --gitops argocd` gives Argo CD its sync options on
every patch and retained object and a sync wave on every object that waits; `render --gitops flux`
gives Flux prune disabled (and server-side merge on patches) and the wave its Kustomizations select
by. Neither engine gets the other's keys, and each key sits where the plan used to put it.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshfleet.core.plan import ClusterPlan, Plan, PlannedObject
from meshfleet.fleet.load import load_plan
from meshfleet.sinks import gitops, layout
from tests.conftest import ROOT

FLEETS = sorted((ROOT / "fleet").glob("*.yaml"))
ARGOCD = "argocd.argoproj.io/"
FLUX = "kustomize.toolkit.fluxcd.io/"

EXPECTED: dict[str, dict[str, dict[str, str]]] = {
    "argocd": {
        "patch": {"argocd.argoproj.io/sync-options": "ServerSideApply=true,Prune=false,Delete=false"},
        "retain": {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"},
    },
    "flux": {
        "patch": {"kustomize.toolkit.fluxcd.io/prune": "disabled", "kustomize.toolkit.fluxcd.io/ssa": "Merge"},
        "retain": {"kustomize.toolkit.fluxcd.io/prune": "disabled"},
    },
}
"""What each engine must be told, written out here rather than taken from the sink."""
WAVE = {"argocd": "argocd.argoproj.io/sync-wave", "flux": "meshfleet.io/wave"}


@functools.cache
def plan_of(fleet: Path) -> Plan:
    return load_plan(fleet)


def expected(engine: str, obj: PlannedObject) -> dict[str, str]:
    out: dict[str, str] = {}
    if obj.patch:
        out.update(EXPECTED[engine]["patch"])
    elif obj.retain:
        out.update(EXPECTED[engine]["retain"])
    if obj.wave:
        out[WAVE[engine]] = str(obj.wave)
    return out


def rendered(plan: Plan, rewrite: layout.Rewrite | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """`<cluster>/<file>` -> (text, object) of every object file a render writes."""
    return {
        path: (text, yaml.safe_load(text))
        for path, text in layout.files(plan, rewrite=rewrite)
        if not path.endswith("/kustomization.yaml")
    }


def annotations_of(doc: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = doc["metadata"].get("annotations", {})
    return found


def without_annotations(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "metadata": {k: v for k, v in doc["metadata"].items() if k != "annotations"}}


def objects(plan: Plan) -> list[tuple[ClusterPlan, PlannedObject, str]]:
    return [(c, o, f"{c.name}/{layout.file_name(o)}") for c in plan.clusters for o in c.objects]


@pytest.mark.parametrize("fleet", FLEETS, ids=lambda p: p.name)
def test_the_plan_and_the_plain_render_carry_no_engine_annotation(fleet: Path) -> None:
    plan = plan_of(fleet)
    for cluster, obj, _ in objects(plan):
        keys = [k for k in annotations_of(obj.body) if k.startswith((ARGOCD, FLUX))]
        assert keys == [], f"{obj.id} in {cluster.name}"
    for path, (text, _) in rendered(plan, None).items():
        assert ARGOCD not in text and FLUX not in text, path


@pytest.mark.parametrize("engine", ["argocd", "flux"])
@pytest.mark.parametrize("fleet", FLEETS, ids=lambda p: p.name)
def test_each_engine_gets_exactly_its_annotations_from_the_objects_flags(fleet: Path, engine: gitops.Engine) -> None:
    plan = plan_of(fleet)
    rewrite = gitops.argocd_rewrite(plan) if engine == "argocd" else gitops.flux_rewrite(plan)
    plain, handed = rendered(plan, None), rendered(plan, rewrite)
    assert set(plain) == set(handed)
    substituting = set(gitops.kubeconfig_holders(plan)) if engine == "flux" else set()
    for cluster, obj, path in objects(plan):
        text, doc = handed[path]
        other = FLUX if engine == "argocd" else ARGOCD
        assert other not in text, f"{path} carries the other engine's annotation"
        if obj.role != "applied" or obj.kubeconfig_of is not None:
            # Predicted objects are not applied; a kubeconfig holder is left out (Argo CD) or filled
            # by substitution (Flux): neither is told how to apply beyond that.
            told = {k for k in annotations_of(doc) if k.startswith((ARGOCD, FLUX))} - {gitops.SUBSTITUTE_ANNOTATION}
            assert told == set(), path
            continue
        want = {**annotations_of(plain[path][1]), **expected(engine, obj)}
        if cluster.name in substituting:
            want[gitops.SUBSTITUTE_ANNOTATION] = "disabled"
        assert annotations_of(doc) == want, path
        assert without_annotations(doc) == without_annotations(plain[path][1]), path


def test_every_flag_is_met_somewhere_in_the_committed_fleets() -> None:
    """Not vacuous: the fleets above hold patches, retained objects and objects that wait."""
    applied = [o for fleet in FLEETS for _, o, _ in objects(plan_of(fleet)) if o.role == "applied"]
    assert any(o.patch for o in applied)
    assert any(o.retain and not o.patch for o in applied)
    assert any(o.wave for o in applied)


def namespace(own: dict[str, str]) -> PlannedObject:
    meta: dict[str, Any] = {"name": "shop", "labels": {"flomesh.io/monitored-by": "fsm"}}
    if own:
        meta["annotations"] = own
    return PlannedObject("applied", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}, retain=True)


@pytest.mark.parametrize(
    ("engine", "obj", "keys"),
    [
        # A patch's own annotations follow the engine's (a Cilium Service: global, shared, affinity).
        (
            "argocd",
            PlannedObject(
                "applied",
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": "catalog",
                        "annotations": {"service.cilium.io/global": "true", "service.cilium.io/affinity": "local"},
                    },
                },
                patch=True,
            ),
            ["argocd.argoproj.io/sync-options", "service.cilium.io/global", "service.cilium.io/affinity"],
        ),
        (
            "flux",
            PlannedObject(
                "applied",
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "c", "annotations": {"z.io/a": "1"}}},
                patch=True,
            ),
            ["kustomize.toolkit.fluxcd.io/prune", "kustomize.toolkit.fluxcd.io/ssa", "z.io/a"],
        ),
        # A retained namespace's annotations stay in key order, the engine's among them.
        (
            "argocd",
            namespace({"flomesh.io/sidecar-injection": "enabled"}),
            ["argocd.argoproj.io/sync-options", "flomesh.io/sidecar-injection"],
        ),
        (
            "flux",
            namespace({"flomesh.io/sidecar-injection": "enabled", "linkerd.io/inject": "enabled"}),
            ["flomesh.io/sidecar-injection", "kustomize.toolkit.fluxcd.io/prune", "linkerd.io/inject"],
        ),
        ("flux", namespace({}), ["kustomize.toolkit.fluxcd.io/prune"]),
        # A waiting object's wave comes after its own annotations.
        (
            "argocd",
            PlannedObject(
                "applied",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"z.io/a": "1"}}},
                wave=2,
            ),
            ["z.io/a", "argocd.argoproj.io/sync-wave"],
        ),
    ],
)
def test_the_engines_keys_go_where_the_plan_used_to_put_them(
    engine: gitops.Engine, obj: PlannedObject, keys: list[str]
) -> None:
    before = copy.deepcopy(obj.body)
    body = gitops.annotated(engine, obj)
    assert list(body["metadata"]["annotations"]) == keys
    meta = list(before["metadata"])
    assert list(body["metadata"]) == (meta if "annotations" in meta else [*meta, "annotations"])
    assert obj.body == before, "the plan's body is not changed"


def test_a_predicted_object_is_told_nothing() -> None:
    derived = PlannedObject("derived", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}, wave=1)
    assert gitops.annotated("argocd", derived) is derived.body
    assert gitops.annotated("flux", derived) is derived.body
