"""The GitOps hand-off: the Argo CD or Flux objects that apply a rendered fleet, one cluster each.

Why: a rendered tree (`DIR/<cluster>/`) only helps a GitOps engine if something tells the engine
which directory goes to which cluster. Writing that by hand per cluster drifts from the fleet, so
the renderer writes it from the same plan: an Argo CD ApplicationSet whose list generator yields one
Application per cluster directory (destination by cluster name, server-side apply for FSM's
partial MeshConfig), or a Flux GitRepository plus one Kustomization per cluster that reaches the
member through a per-cluster kubeconfig Secret, so one Flux instance serves the whole fleet.

The files sit in `DIR/argocd/` or `DIR/flux/`, beside the cluster directories rather than in them,
so `kubectl kustomize DIR/<cluster>` keeps building exactly the cluster's objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from meshfleet.core.plan import Plan
from meshfleet.errors import InputError, UsageError
from meshfleet.sinks.yaml_text import dump_yaml

Engine = Literal["argocd", "flux"]
ENGINES: tuple[Engine, ...] = ("argocd", "flux")
ARGOCD_NAMESPACE = "argocd"
FLUX_NAMESPACE = "flux-system"
SYNC_OPTIONS = ["ServerSideApply=true", "CreateNamespace=false"]
"""Server-side apply: MeshConfig is a partial object of FSM's. No namespace creation: the plan
creates the namespaces it owns and retains them; others belong to the cluster's owners."""

_URL = re.compile(r"^(https?|ssh)://[^\s]+$")
_SCP = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$")
_NAME = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Source:
    """Where the engine finds the rendered tree: repository, revision and the tree's path in it."""

    repo_url: str
    revision: str
    path_prefix: str

    def cluster_path(self, cluster: str) -> str:
        return f"{self.path_prefix}/{cluster}" if self.path_prefix else cluster


def check_repo_url(url: str, engine: Engine) -> str:
    """Refuse what the engine would refuse (Flux takes http(s):// and ssh:// only)."""
    if _URL.match(url) or (engine == "argocd" and _SCP.match(url)):
        return url
    allowed = "https://, http:// or ssh:// URL" + (" or git@host:path" if engine == "argocd" else "")
    raise UsageError(f"--repo-url {url!r} is not a repository URL {engine} accepts; give an {allowed}")


def normalize_prefix(prefix: str) -> str:
    """The rendered tree's directory inside the repository, as a clean relative POSIX path."""
    p = PurePosixPath(prefix.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts:
        raise UsageError(f"--path-prefix {prefix!r} must be a path inside the repository (relative, no '..')")
    text = str(p)
    return "" if text == "." else text


def resource_name(stem: str) -> str:
    """A DNS label for the hand-off objects, from the fleet file's name (meshfleet-<stem>)."""
    base = _NAME.sub("-", stem.lower()).strip("-") or "fleet"
    return ("meshfleet-" + base)[:40].rstrip("-")


def clusters_with_output(plan: Plan) -> list[str]:
    """The clusters the renderer writes a directory for (it skips clusters with nothing in them)."""
    return [c.name for c in plan.clusters if c.objects]


def applicationset(plan: Plan, source: Source, name: str) -> dict[str, Any]:
    elements = [{"cluster": c, "path": source.cluster_path(c)} for c in clusters_with_output(plan)]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": ARGOCD_NAMESPACE},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": elements}}],
            "template": {
                "metadata": {
                    "name": f"{name}-{{{{.cluster}}}}",
                    "labels": {"app.kubernetes.io/managed-by": "meshfleet", "meshfleet.io/fleet": name},
                },
                "spec": {
                    "project": "default",
                    "source": {"repoURL": source.repo_url, "targetRevision": source.revision,
                               "path": "{{.path}}"},
                    "destination": {"name": "{{.cluster}}"},
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": list(SYNC_OPTIONS),
                    },
                },
            },
        },
    }


def flux_objects(plan: Plan, source: Source, name: str) -> list[dict[str, Any]]:
    repo = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
        "spec": {"interval": "1m", "url": source.repo_url, "ref": {"branch": source.revision}},
    }
    out = [repo]
    for cluster in clusters_with_output(plan):
        out.append({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": f"{name}-{cluster}", "namespace": FLUX_NAMESPACE,
                         "labels": {"app.kubernetes.io/managed-by": "meshfleet", "meshfleet.io/cluster": cluster}},
            "spec": {
                "interval": "10m",
                "retryInterval": "1m",
                "timeout": "2m",
                "path": f"./{source.cluster_path(cluster)}",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": name},
                "kubeConfig": {"secretRef": {"name": f"{cluster}-kubeconfig", "key": "value"}},
            },
        })
    return out


def files(plan: Plan, engine: Engine, source: Source, name: str) -> dict[str, str]:
    """Relative path -> text of every hand-off file, with a kustomization to apply them with -k."""
    if engine in {c.name for c in plan.clusters}:
        raise InputError(f"a cluster is named {engine!r}, like the GitOps directory {engine}/; rename the cluster")
    if engine == "argocd":
        docs = {"applicationset.yaml": [applicationset(plan, source, name)]}
    else:
        objs = flux_objects(plan, source, name)
        docs = {"gitrepository.yaml": objs[:1], **{f"{o['metadata']['name']}.yaml": [o] for o in objs[1:]}}
    header = f"# written by meshfleet render --gitops {engine}; re-render instead of editing\n"
    out = {f"{engine}/{fn}": header + "---\n".join(dump_yaml(d) for d in ds) for fn, ds in docs.items()}
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": list(docs)}
    out[f"{engine}/kustomization.yaml"] = header + dump_yaml(kustomization)
    return out
