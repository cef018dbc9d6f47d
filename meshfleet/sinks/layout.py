"""The per-cluster file layout of a rendered plan: which file holds which object, and its text.

Why: the layout is plain data (relative path -> text), so that the renderer, the GitOps hand-off and
a stream to standard output share it, and only the output module touches the disk.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from meshfleet.core.plan import ClusterPlan, Plan, PlannedObject
from meshfleet.sinks.yaml_text import BlockWriter, dump_yaml

KUBECONFIG_ANNOTATION = "meshfleet.io/kubeconfig-from"
KUBECONFIG_FIELDS: dict[str, tuple[str, ...]] = {"Cluster": ("spec", "kubeconfig")}
"""Where an object of each kind holds the kubeconfig of the member `PlannedObject.kubeconfig_of` names;
a `{member}` part stands for that member's name (as a Secret keyed by cluster would need)."""
_SAFE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


def file_name(obj: PlannedObject) -> str:
    """A stable file name per object: `<kind>.<namespace>.<name>.yaml` (`_` for cluster scope)."""
    parts = [obj.kind.lower(), obj.namespace or "_", obj.name]
    for p in parts[1:]:
        if p != "_" and not _SAFE.match(p):
            raise ValueError(f"refusing to derive a file name from {p!r}")
    name = ".".join(parts) + ".yaml"
    return name if obj.role == "applied" else "predicted." + name


def kubeconfig_note(cluster: ClusterPlan) -> str:
    """Where the member's kubeconfig must come from (the plan's one wording for it)."""
    return cluster.kubeconfig_source()


def kubeconfig_field(obj: PlannedObject) -> tuple[str, ...]:
    """The key path of the member's kubeconfig in `obj`'s body (a bug when the kind has none)."""
    try:
        path = KUBECONFIG_FIELDS[obj.kind]
    except KeyError:
        raise ValueError(f"a {obj.kind} holds a kubeconfig, but no field for it is known") from None
    return tuple((obj.kubeconfig_of or "") if part == "{member}" else part for part in path)


def with_field(body: dict[str, Any], path: tuple[str, ...], value: str) -> dict[str, Any]:
    """A copy of `body` with `value` at `path`; the mappings on the way are copied, nothing else."""
    head, *rest = path
    inner = body.get(head, {}) if rest else None
    return {**body, head: with_field(inner, tuple(rest), value) if isinstance(inner, dict) else value}


Rewrite = Callable[[ClusterPlan, PlannedObject], dict[str, Any]]
"""A GitOps engine's body for an object of a cluster (it decides how kubeconfig fields are filled)."""


def _body(plan: Plan, obj: PlannedObject, kubeconfigs: Mapping[str, str] | None) -> dict[str, Any]:
    if obj.kubeconfig_of is None:
        return obj.body
    if kubeconfigs is not None:
        return with_field(obj.body, kubeconfig_field(obj), kubeconfigs[obj.kubeconfig_of])
    body = copy.deepcopy(obj.body)
    meta = body["metadata"]
    meta["annotations"] = {**meta.get("annotations", {}),
                           KUBECONFIG_ANNOTATION: kubeconfig_note(plan.cluster(obj.kubeconfig_of))}
    return body


@dataclass(frozen=True)
class RenderedFile:
    cluster: str
    name: str
    text: str


def render_cluster(plan: Plan, cluster: ClusterPlan, kubeconfigs: Mapping[str, str] | None = None,
                   writer: BlockWriter | None = None, rewrite: Rewrite | None = None) -> Iterator[RenderedFile]:
    """The files of one cluster's directory, in a stable order (streamed: one cluster at a time).

    A kubeconfig field gets the member's kubeconfig when `kubeconfigs` is given, what `rewrite` puts
    there when that is given (a GitOps substitution), else an annotation naming where it comes from.
    """
    if rewrite is not None and kubeconfigs is not None:
        raise ValueError("kubeconfigs and a GitOps rewrite exclude each other")
    dump = (writer or BlockWriter()).dump
    applied: list[str] = []
    for obj in cluster.objects:
        body = rewrite(cluster, obj) if rewrite is not None else _body(plan, obj, kubeconfigs)
        name = file_name(obj)
        header = "# applied by meshfleet\n" if obj.role == "applied" else \
            "# predicted: written by FSM's controllers, not applied; kept for review and diffs\n"
        yield RenderedFile(cluster.name, name, header + dump(body))
        if obj.role == "applied":
            applied.append(name)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": applied,
    }
    yield RenderedFile(cluster.name, "kustomization.yaml",
                       "# applied objects of cluster " + cluster.name + "; predicted.* files are not listed\n"
                       + dump_yaml(kustomization))


def files(plan: Plan, kubeconfigs: Mapping[str, str] | None = None,
          rewrite: Rewrite | None = None) -> Iterator[tuple[str, str]]:
    """Every cluster's files as (`<cluster>/<file>`, text), one cluster at a time.

    One writer (and scalar cache) per cluster, so memory stays bounded by one cluster's output.
    Clusters with nothing to apply or predict get no directory.
    """
    for cluster in plan.clusters:
        if not cluster.objects:
            continue
        for f in render_cluster(plan, cluster, kubeconfigs, BlockWriter(), rewrite):
            yield f"{cluster.name}/{f.name}", f.text
