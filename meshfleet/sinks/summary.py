"""A readable per-cluster account of a plan: what is applied, what FSM will derive, who reaches whom.

Why: `meshfleet plan` is what a reviewer reads before anything touches a cluster; it speaks in
clusters, services and endpoints rather than YAML.
"""

from __future__ import annotations

from typing import Any

from meshfleet.core.plan import ClusterPlan, Plan, PlannedObject


def _where(obj: PlannedObject) -> str:
    return f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name


def _endpoints(obj: PlannedObject) -> list[str]:
    lines = []
    for port in obj.body["spec"]["ports"]:
        for ep in port["endpoints"]:
            t = ep["target"]
            lines.append(f"{port['port']} <- {ep['clusterKey']} via {t['host']}:{t['port']}{t['path']}")
    return lines


def _cluster_lines(cluster: ClusterPlan) -> list[str]:
    head = cluster.name + ("  (FSM control plane)" if cluster.role == "control-plane" else f"  {cluster.key}")
    lines = [head]
    if not cluster.objects:
        lines.append("  nothing to apply")
    for obj in cluster.objects:
        tag = "apply  " if obj.role == "applied" else "predict"
        extra = " (patch of FSM's object)" if obj.patch else ""
        extra += " (kept on delete)" if obj.retain else ""
        if obj.kubeconfig_of:
            extra += f" (with {obj.kubeconfig_of}'s kubeconfig, secret)"
        lines.append(f"  {tag} {obj.kind} {_where(obj)}{extra}")
        if obj.kind == "ServiceImport" and obj.api_version.startswith("multicluster.flomesh.io/"):
            lines.extend(f"          {e}" for e in _endpoints(obj))
    return lines


def text(plan: Plan, source: str) -> str:
    applied = sum(len(c.applied()) for c in plan.clusters)
    derived = sum(len(c.derived()) for c in plan.clusters)
    mode = ("with an FSM control plane" if plan.mode == "control-plane"
            else "no FSM control plane: meshfleet writes the imports")
    count = f"{len(plan.clusters)} cluster{'' if len(plan.clusters) == 1 else 's'}"
    out = [f"{source}: {count}, {mode}; {applied} objects applied, {derived} predicted", ""]
    for c in plan.clusters:
        out.extend(_cluster_lines(c))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def as_json(plan: Plan) -> dict[str, Any]:
    return {
        "mode": plan.mode,
        "clusters": [
            {
                "name": c.name,
                "role": c.role,
                "clusterKey": c.key,
                "objects": [
                    {"role": o.role, "patch": o.patch, "retain": o.retain, "object": o.body} for o in c.objects
                ],
            }
            for c in plan.clusters
        ],
    }
