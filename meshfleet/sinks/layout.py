"""The per-cluster file layout of a rendered plan: which file holds which object, and its text.

Why: the layout is plain data (relative path -> text), so that the renderer, the GitOps hand-off and
a stream to standard output share it, and only the output module touches the disk.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from meshfleet.core.meshes import mesh as mesh_of
from meshfleet.core.objects import with_field
from meshfleet.core.plan import ClusterPlan, Plan, PlannedObject
from meshfleet.sinks.yaml_text import BlockWriter

KUBECONFIG_ANNOTATION = "meshfleet.io/kubeconfig-from"
_SAFE = re.compile(r"[a-z0-9][a-z0-9.-]*")
_APPLIED_HEADER = "# applied by meshfleet\n"


@functools.lru_cache(maxsize=16)
def predicted_header(mesh: str) -> str:
    """The first line of a predicted object's file, naming who writes the object in the cluster."""
    adapter = mesh_of(mesh)
    by = adapter.derived_by or f"{adapter.title}'s controllers"
    return f"# predicted: written by {by}, not applied; kept for review and diffs\n"


def file_name(obj: PlannedObject) -> str:
    """A stable file name per object: `<kind>.<namespace>.<name>.yaml` (`_` for cluster scope)."""
    return _file_name(obj.role, obj.kind, obj.namespace, obj.name)


def _file_name(role: str, kind: str, namespace: str, name: str) -> str:
    if name != "_" and not _SAFE.fullmatch(name):  # fullmatch: not even a final newline gets through
        raise ValueError(f"refusing to derive a file name from {name!r}")
    return _prefix(role, kind, namespace) + name + ".yaml"


@functools.lru_cache(maxsize=4096)
def _prefix(role: str, kind: str, namespace: str) -> str:
    """`[predicted.]<kind>.<namespace>.`, checked once per kind and namespace."""
    if namespace and namespace != "_" and not _SAFE.fullmatch(namespace):
        raise ValueError(f"refusing to derive a file name from {namespace!r}")
    return ("" if role == "applied" else "predicted.") + f"{kind.lower()}.{namespace or '_'}."


def kubeconfig_note(cluster: ClusterPlan) -> str:
    """Where the member's kubeconfig must come from (the plan's one wording for it)."""
    return cluster.kubeconfig_source()


def kubeconfig_field(obj: PlannedObject) -> tuple[str, ...]:
    """The key path of the member's kubeconfig in `obj`'s body, as its mesh adapter set it (FSM's
    `Cluster`: spec.kubeconfig; an Istio remote secret: stringData.<cluster ID>)."""
    return obj.kubeconfig_field


Rewrite = Callable[[ClusterPlan, PlannedObject], dict[str, Any] | None]
"""A GitOps engine's body for an object of a cluster (it decides how kubeconfig fields are filled).
None: the engine has no way to fill the object's kubeconfig, so the object is written for reference,
without one, and left out of the cluster's kustomization."""
LEFT_OUT_HEADER = (
    "# not applied by the GitOps engine: it needs a member's kubeconfig, which the engine cannot "
    "fill (README: GitOps hand-off)\n"
)


def _body(plan: Plan, obj: PlannedObject, kubeconfigs: Mapping[str, str] | None) -> dict[str, Any]:
    if obj.kubeconfig_of is None:
        return obj.body
    if kubeconfigs is not None:
        return with_field(obj.body, kubeconfig_field(obj), kubeconfigs[obj.kubeconfig_of])
    body = copy.deepcopy(obj.body)
    meta = body["metadata"]
    meta["annotations"] = {
        **meta.get("annotations", {}),
        KUBECONFIG_ANNOTATION: kubeconfig_note(plan.cluster(obj.kubeconfig_of)),
    }
    return body


@dataclass(frozen=True)
class RenderedFile:
    cluster: str
    name: str
    text: str


def render_cluster(
    plan: Plan,
    cluster: ClusterPlan,
    kubeconfigs: Mapping[str, str] | None = None,
    writer: BlockWriter | None = None,
    rewrite: Rewrite | None = None,
) -> Iterator[RenderedFile]:
    """The files of one cluster's directory, in a stable order (streamed: one cluster at a time).

    A kubeconfig field gets the member's kubeconfig when `kubeconfigs` is given, what `rewrite` puts
    there when that is given (a GitOps substitution), else an annotation naming where it comes from.
    """
    for name, text in _cluster_files(plan, cluster, kubeconfigs, writer or BlockWriter(), rewrite):
        yield RenderedFile(cluster.name, name, text)


def _cluster_files(
    plan: Plan,
    cluster: ClusterPlan,
    kubeconfigs: Mapping[str, str] | None,
    writer: BlockWriter,
    rewrite: Rewrite | None,
) -> Iterator[tuple[str, str]]:
    if rewrite is not None and kubeconfigs is not None:
        raise ValueError("kubeconfigs and a GitOps rewrite exclude each other")
    dump = writer.dump
    applied: list[str] = []
    for obj in cluster.objects:
        body = rewrite(cluster, obj) if rewrite is not None else _body(plan, obj, kubeconfigs)
        name = file_name(obj)
        if body is None:
            yield name, LEFT_OUT_HEADER + dump(_body(plan, obj, None))
        elif obj.role == "applied":
            applied.append(name)
            yield name, _APPLIED_HEADER + dump(body)
        else:
            yield name, predicted_header(cluster.mesh) + dump(body)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": applied,
    }
    yield (
        "kustomization.yaml",
        (
            "# applied objects of cluster "
            + cluster.name
            + "; predicted.* files are not listed\n"
            + writer.dump(kustomization)
        ),
    )


def files(
    plan: Plan,
    kubeconfigs: Mapping[str, str] | None = None,
    rewrite: Rewrite | None = None,
    clusters: Iterable[ClusterPlan] | None = None,
) -> Iterator[tuple[str, str]]:
    """Every cluster's files (or those of `clusters`) as (`<cluster>/<file>`, text), one cluster at
    a time.

    One writer for all clusters: the same document recurs across clusters (a service's import in
    every importing cluster), and the writer's memory of documents is bounded.
    Clusters with nothing to apply or predict get no directory.
    """
    writer = BlockWriter()
    for cluster in plan.clusters if clusters is None else clusters:
        if not cluster.objects:
            continue
        prefix = cluster.name + "/"
        for name, text in _cluster_files(plan, cluster, kubeconfigs, writer, rewrite):
            yield prefix + name, text


def kubeconfig_files(plan: Plan) -> frozenset[str]:
    """The files of `files()` that hold a member's kubeconfig when kubeconfigs are given."""
    return frozenset(
        f"{c.name}/{file_name(o)}" for c in plan.clusters for o in c.objects if o.kubeconfig_of is not None
    )
