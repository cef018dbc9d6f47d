"""A readable per-cluster account of a plan: what is applied, what is predicted, who reaches whom.

Why: `meshfleet plan` is what a reviewer reads before anything touches a cluster; it speaks in
clusters, services and endpoints rather than YAML. Endpoints come from the plan's import views.
"""

from __future__ import annotations

from typing import Any

from meshfleet.core.effective import cluster_json as cluster_routes_json
from meshfleet.core.effective import effective
from meshfleet.core.objects import split
from meshfleet.core.plan import ClusterPlan, ObjectId, Plan
from meshfleet.core.views import EndpointView, ImportView
from meshfleet.core.views import as_json as view_json
from meshfleet.sinks.json_stream import Deferred


def _endpoint(imported: ImportView, e: EndpointView) -> str:
    assert e.target is not None
    t = e.target
    own = e.called_as.split(".", 1)[0] == split(imported.service)[1]
    called = "" if own else f" (as {e.called_as})"
    return f"{e.port} <- {e.cluster_key} via {t.host}:{t.port}{t.path}{called}"


Said = dict[str, dict[int, str]]
"""Endpoint lines already worded, per service by endpoint: a mesh plans each exporter's endpoint once
and every consumer's import shares it (at 100k objects, 415,000 lines from about 2,000 endpoints)."""


def _endpoint_lines(imported: ImportView, said: Said) -> list[str]:
    worded = said.setdefault(imported.service, {})
    lines = []
    for e in imported.endpoints:
        line = worded.get(id(e))  # e lives in the plan for as long as `said` does
        if line is None:
            if e.target is None:
                continue
            line = worded[id(e)] = f"          {_endpoint(imported, e)}"
        lines.append(line)
    return lines


def _cluster_lines(cluster: ClusterPlan, said: Said) -> list[str]:
    head = cluster.name + ("  (FSM control plane)" if cluster.role == "control-plane" else f"  {cluster.key}")
    lines = [head]
    if not cluster.objects:
        lines.append("  nothing to apply")
    # Each import's endpoints are listed under the first object that carries it.
    shown_with: dict[ObjectId, ImportView] = {i.objects[0]: i for i in cluster.imports if i.objects}
    for obj in cluster.objects:
        tag = "apply  " if obj.role == "applied" else "predict"
        extra = " (patch of another manager's object)" if obj.patch else ""
        extra += " (kept on delete)" if obj.retain else ""
        if obj.kubeconfig_of:
            extra += f" (with {obj.kubeconfig_of}'s kubeconfig, secret)"
        lines.append(f"  {tag} {obj.id}{extra}")
        imported = shown_with.get(obj.id)
        if imported is not None:
            lines.extend(_endpoint_lines(imported, said))
    return lines


def text(plan: Plan, source: str) -> str:
    applied = sum(len(c.applied()) for c in plan.clusters)
    derived = sum(len(c.derived()) for c in plan.clusters)
    mode = (
        "with an FSM control plane"
        if plan.mode == "control-plane"
        else "no FSM control plane: meshfleet writes the imports"
    )
    count = f"{len(plan.clusters)} cluster{'' if len(plan.clusters) == 1 else 's'}"
    out = [f"{source}: {count}, {mode}; {applied} objects applied, {derived} predicted", ""]
    said: Said = {}
    for c in plan.clusters:
        out.extend(_cluster_lines(c, said))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _cluster_json(c: ClusterPlan) -> dict[str, Any]:
    return {
        "name": c.name,
        "role": c.role,
        "clusterKey": c.key,
        "objects": [{"role": o.role, "patch": o.patch, "retain": o.retain, "object": o.body} for o in c.objects],
        "services": {
            "imports": view_json(c.imports),
            "exports": view_json(c.exports),
            "policies": view_json(c.policies),
            "grants": view_json(c.grants),
            "local": view_json(c.local),
        },
    }


def as_json(plan: Plan) -> dict[str, Any]:
    """The plan for scripts: per cluster its objects and service views, the fleet's warnings, and the
    effective routes and access per consuming cluster (`routes`, as `meshfleet routes --format json`).
    Each cluster's part is made as it is written (`Deferred`), for `json_stream.write_json`."""
    return {
        "mode": plan.mode,
        "warnings": [w.as_json() for w in plan.warnings],
        "clusters": Deferred(plan.clusters, _cluster_json),
        "routes": Deferred(effective(plan).clusters, cluster_routes_json),
    }
