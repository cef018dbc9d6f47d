"""The per-cluster file layout of a rendered plan: which file holds which object, and its text.

Why: the layout is plain data (relative path -> text), so that the renderer, the GitOps hand-off and
a stream to standard output share it, and only the output module touches the disk.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from meshfleet.core.plan import ClusterPlan, Plan, PlannedObject
from meshfleet.fleet.model import KubeconfigFromContext
from meshfleet.sinks.yaml_text import BlockWriter

KUBECONFIG_ANNOTATION = "meshfleet.io/kubeconfig-from"
_SAFE = re.compile(r"[a-z0-9][a-z0-9.-]*")
_APPLIED_HEADER = "# applied by meshfleet\n"
_PREDICTED_HEADER = "# predicted: written by FSM's controllers, not applied; kept for review and diffs\n"


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
    source = cluster.kubeconfig
    if isinstance(source, KubeconfigFromContext):
        return f"context {source.context} of the user's kubeconfig"
    return f"stack secret meshfleet:kubeconfigs.{cluster.name}"


@dataclass(frozen=True)
class RenderedFile:
    cluster: str
    name: str
    text: str


def render_cluster(plan: Plan, cluster: ClusterPlan, kubeconfigs: Mapping[str, str] | None = None,
                   writer: BlockWriter | None = None) -> Iterator[RenderedFile]:
    """The files of one cluster's directory, in a stable order (streamed: one cluster at a time)."""
    for name, text in _cluster_files(plan, cluster, kubeconfigs, writer or BlockWriter()):
        yield RenderedFile(cluster.name, name, text)


def _cluster_files(plan: Plan, cluster: ClusterPlan, kubeconfigs: Mapping[str, str] | None,
                   writer: BlockWriter) -> Iterator[tuple[str, str]]:
    dump = writer.dump
    applied: list[str] = []
    for obj in cluster.objects:
        body = obj.body
        if obj.kubeconfig_of is not None:
            body = copy.deepcopy(body)
            member = plan.cluster(obj.kubeconfig_of)
            if kubeconfigs is not None:
                body["spec"]["kubeconfig"] = kubeconfigs[obj.kubeconfig_of]
            else:
                meta = body["metadata"]
                meta["annotations"] = {**meta.get("annotations", {}), KUBECONFIG_ANNOTATION: kubeconfig_note(member)}
        name = file_name(obj)
        if obj.role == "applied":
            applied.append(name)
            yield name, _APPLIED_HEADER + dump(body)
        else:
            yield name, _PREDICTED_HEADER + dump(body)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": applied,
    }
    yield "kustomization.yaml", ("# applied objects of cluster " + cluster.name
                                 + "; predicted.* files are not listed\n" + writer.dump(kustomization))


def files(plan: Plan, kubeconfigs: Mapping[str, str] | None = None,
          clusters: Iterable[ClusterPlan] | None = None) -> Iterator[tuple[str, str]]:
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
        for name, text in _cluster_files(plan, cluster, kubeconfigs, writer):
            yield prefix + name, text


def kubeconfig_files(plan: Plan) -> frozenset[str]:
    """The files of `files()` that hold a member's kubeconfig when kubeconfigs are given."""
    return frozenset(f"{c.name}/{file_name(o)}" for c in plan.clusters for o in c.objects
                     if o.kubeconfig_of is not None)
