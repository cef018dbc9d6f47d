"""The GitOps hand-off: the Argo CD or Flux objects that apply a rendered fleet, one cluster each.

Why: a rendered tree (`DIR/<cluster>/`) only helps a GitOps engine if something tells the engine
which directory goes to which cluster. Writing that by hand per cluster drifts from the fleet, so
the renderer writes it from the same plan: an Argo CD ApplicationSet whose list generator yields one
Application per cluster directory (destination by cluster name, server-side apply for FSM's
partial MeshConfig), or a Flux GitRepository plus one Kustomization per cluster that reaches the
member through a per-cluster kubeconfig Secret, so one Flux instance serves the whole fleet.

Some objects must hold a member's kubeconfig (FSM's `Cluster`: its webhook refuses one without),
and a tree that goes to git must not. With Flux, such a field holds a post-build variable
`${MESHFLEET_KUBECONFIG_<MEMBER>}` and the cluster's Kustomization takes the values from a Secret the
user creates (`substitution_secret`). kustomize-controller substitutes the text of each resource as
kustomize re-serialises it (the variable then stands plain, unquoted), after removing every newline
from the Secret's values; so each value is the kubeconfig as one JSON string literal, which reads
back as a YAML double-quoted scalar holding exactly the kubeconfig. Substitution rewrites every
`${...}` and `$$` of a resource, so the other `$` of an object that holds a variable are written
`$$`, and the other objects of that directory opt out (`kustomize.toolkit.fluxcd.io/substitute:
disabled`). Argo CD has no such substitution of its own (only secret-injection plugins, which it
advises against), so those objects stay out of what Argo CD applies (out of their cluster's
kustomization, and a cluster with nothing else to apply out of the ApplicationSet), and the render
says how to apply them.

How an object is applied is a flag in the plan (`patch`: a partial object another manager owns;
`retain`: left in the cluster when meshfleet stops writing it; `wave`: applied once the objects it
waits for are), and each engine is told it in its own annotations, added here and only here (Pulumi
has resource options for the same, and a plain render needs none): Argo CD gets `sync-options`
(server-side apply, no prune, no delete) and `sync-wave`; Flux gets `prune: disabled` and `ssa:
Merge`, and waits with one Kustomization per wave, each dropping the other waves' objects from its
build by their `meshfleet.io/wave` annotation. An engine's annotations go where the plan used to hold
them, so a re-render changes no line but these: before a patch's own, in key order among a retained
object's (a Namespace's are sorted), after a waiting object's.

The files sit in `DIR/argocd/` or `DIR/flux/`, beside the cluster directories rather than in them,
so `kubectl kustomize DIR/<cluster>` keeps building exactly the cluster's objects.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from meshfleet.core.objects import with_field
from meshfleet.core.plan import ClusterPlan, Plan, PlannedObject
from meshfleet.errors import InputError, UsageError
from meshfleet.sinks.layout import Rewrite, kubeconfig_field
from meshfleet.sinks.yaml_text import dump_yaml

Engine = Literal["argocd", "flux"]
ENGINES: tuple[Engine, ...] = ("argocd", "flux")
ARGOCD_NAMESPACE = "argocd"
FLUX_NAMESPACE = "flux-system"
SYNC_OPTIONS = ["ServerSideApply=true", "CreateNamespace=false"]
"""Server-side apply: MeshConfig is a partial object of FSM's. No namespace creation: the plan
creates the namespaces it owns and retains them; others belong to the cluster's owners."""

ARGOCD_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
ARGOCD_SYNC_WAVE = "argocd.argoproj.io/sync-wave"
"""Argo CD applies the objects of a later wave once those of the earlier waves are healthy."""
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
FLUX_SSA = "kustomize.toolkit.fluxcd.io/ssa"
WAVE_ANNOTATION = "meshfleet.io/wave"
"""The wave of an object that waits for others, in a Flux render: each wave's Kustomization selects by it."""
PATCH_ANNOTATIONS: dict[Engine, dict[str, str]] = {
    "argocd": {ARGOCD_SYNC_OPTIONS: "ServerSideApply=true,Prune=false,Delete=false"},
    "flux": {FLUX_PRUNE: "disabled", FLUX_SSA: "Merge"},
}
"""A partial object another manager owns: applied server-side (only meshfleet's fields), never deleted."""
RETAIN_ANNOTATIONS: dict[Engine, dict[str, str]] = {
    "argocd": {ARGOCD_SYNC_OPTIONS: "Prune=false,Delete=false"},
    "flux": {FLUX_PRUNE: "disabled"},
}
"""An object that holds what others own (a Namespace): created, but never pruned or deleted."""
WAVE_ANNOTATIONS: dict[Engine, str] = {"argocd": ARGOCD_SYNC_WAVE, "flux": WAVE_ANNOTATION}

SUBSTITUTE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"
"""Set to `disabled` on an object, it makes kustomize-controller leave the object's text alone."""
VARIABLE_PREFIX = "MESHFLEET_KUBECONFIG_"
_FLUX_VARIABLE = re.compile(r"^[_A-Za-z][_A-Za-z0-9]*$")  # kustomize-controller's check of a variable name
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")

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


def holds_kubeconfig(obj: PlannedObject) -> bool:
    return obj.role == "applied" and obj.kubeconfig_of is not None


def kubeconfig_holders(plan: Plan) -> dict[str, list[PlannedObject]]:
    """Clusters whose applied objects must hold a member's kubeconfig, with those objects."""
    found: dict[str, list[PlannedObject]] = {}
    for c in plan.clusters:
        holding = [o for o in c.objects if holds_kubeconfig(o)]
        if holding:
            found[c.name] = holding
    return found


def variable(member: str) -> str:
    """The Flux post-build variable holding `member`'s kubeconfig (cluster names are DNS labels, so
    upper-casing and `-` -> `_` keeps them apart)."""
    name = VARIABLE_PREFIX + member.upper().replace("-", "_")
    if not _FLUX_VARIABLE.match(name):
        raise ValueError(f"cluster name {member!r} gives no valid Flux variable name")
    return name


def secret_name(name: str) -> str:
    """The Secret, in the Flux Kustomizations' namespace, that holds the fleet's kubeconfig variables."""
    return f"{name}-kubeconfigs"


def substitution_value(kubeconfig: str) -> str:
    """A kubeconfig as the value of its Flux variable: one JSON string literal, one line.

    Placed where the plain `${VAR}` stood, it is a YAML double-quoted scalar whose escapes (JSON's
    are a subset of YAML's) give back the kubeconfig byte for byte. Characters YAML would not take
    raw in a double-quoted scalar (C1 controls, line and paragraph separators, BOM) are escaped too.
    """
    quoted = json.dumps(kubeconfig, ensure_ascii=False)
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def substitution_secret(name: str, kubeconfigs: dict[str, str]) -> dict[str, Any]:
    """The Secret the Flux Kustomizations substitute from: one variable per member kubeconfig."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(name),
            "namespace": FLUX_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "meshfleet"},
        },
        "type": "Opaque",
        "stringData": {variable(m): substitution_value(kubeconfigs[m]) for m in sorted(kubeconfigs)},
    }


def _escape_dollars(value: Any) -> Any:
    """`$` written `$$`, which Flux's substitution turns back into one `$` (and leaves `${` alone)."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {_escape_dollars(k): _escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_dollars(v) for v in value]
    return value


def engine_annotations(engine: Engine, obj: PlannedObject) -> dict[str, str]:
    """The annotations `engine` needs on an applied object, from its flags (none on a predicted one)."""
    if obj.role != "applied":
        return {}
    found: dict[str, str] = {}
    if obj.patch:
        found.update(PATCH_ANNOTATIONS[engine])
    elif obj.retain:
        found.update(RETAIN_ANNOTATIONS[engine])
    if obj.wave:
        found[WAVE_ANNOTATIONS[engine]] = str(obj.wave)
    return found


def annotated(engine: Engine, obj: PlannedObject) -> dict[str, Any]:
    """The object's body as `engine` applies it: the plan's body with the engine's annotations, placed
    before a patch's own annotations, in key order among a retained object's, after a waiting one's."""
    extra = engine_annotations(engine, obj)
    if not extra:
        return obj.body
    meta = obj.body["metadata"]
    own: dict[str, Any] = meta.get("annotations", {})
    wave = WAVE_ANNOTATIONS[engine]
    first = {k: v for k, v in extra.items() if k != wave}
    if obj.patch:
        annotations = {**first, **own, **first}  # first in place, the engine's value in any case
    else:
        annotations = dict(sorted({**own, **first}.items())) if first else dict(own)
    if wave in extra:
        annotations.pop(wave, None)
        annotations[wave] = extra[wave]
    return {**obj.body, "metadata": {**meta, "annotations": annotations}}


def flux_rewrite(plan: Plan) -> Rewrite:
    """Bodies for a Flux render: Flux's annotations, kubeconfig fields hold variables, nothing else is
    substituted."""
    holders = set(kubeconfig_holders(plan))

    def rewrite(cluster: ClusterPlan, obj: PlannedObject) -> dict[str, Any]:
        body = annotated("flux", obj)
        if cluster.name not in holders or obj.role != "applied":
            return body  # no postBuild on this cluster's Kustomization, or not applied at all
        if obj.kubeconfig_of is None:
            meta = body["metadata"]
            return {
                **body,
                "metadata": {**meta, "annotations": {**meta.get("annotations", {}), SUBSTITUTE_ANNOTATION: "disabled"}},
            }
        return with_field(_escape_dollars(body), kubeconfig_field(obj), "${" + variable(obj.kubeconfig_of) + "}")

    return rewrite


def argocd_rewrite(plan: Plan) -> Rewrite:
    """Bodies for an Argo CD render: Argo CD's annotations; an object that needs a member's kubeconfig
    is left out (None)."""

    def rewrite(cluster: ClusterPlan, obj: PlannedObject) -> dict[str, Any] | None:
        return None if holds_kubeconfig(obj) else annotated("argocd", obj)

    return rewrite


def argocd_clusters(plan: Plan) -> list[str]:
    """The clusters Argo CD applies: those left with an applied object once kubeconfig holders are out."""
    return [c.name for c in plan.clusters if any(o.role == "applied" and not holds_kubeconfig(o) for o in c.objects)]


def applicationset(plan: Plan, source: Source, name: str) -> dict[str, Any]:
    elements = [{"cluster": c, "path": source.cluster_path(c)} for c in argocd_clusters(plan)]
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
                    "source": {"repoURL": source.repo_url, "targetRevision": source.revision, "path": "{{.path}}"},
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
    holders = kubeconfig_holders(plan)
    for cluster in clusters_with_output(plan):
        ks = _kustomization(name, cluster, source)
        if cluster in holders:
            ks["spec"]["postBuild"] = {"substituteFrom": [{"kind": "Secret", "name": secret_name(name)}]}
        waves = sync_waves(plan.cluster(cluster))
        if waves:
            # Objects that must wait for others (an FSM export for its Service) go in one Kustomization
            # per wave, each waiting for the one before to be ready (`wait`, `dependsOn`); every
            # Kustomization builds the same directory and deletes the other waves' objects from its build.
            ks["spec"]["wait"] = True
            ks["spec"]["patches"] = [_drop(WAVE_ANNOTATION)]
            out.append(ks)
            before = ks["metadata"]["name"]
            for wave in waves:
                later = _kustomization(name, cluster, source, f"-wave-{wave}")
                later["spec"]["dependsOn"] = [{"name": before}]
                later["spec"]["wait"] = True
                later["spec"]["patches"] = [_drop(f"{WAVE_ANNOTATION}!={wave}")]
                out.append(later)
                before = later["metadata"]["name"]
            continue
        out.append(ks)
    return out


def sync_waves(cluster: ClusterPlan) -> list[int]:
    """The waves after the first that a cluster's applied objects are in (none: one apply does)."""
    return sorted({o.wave for o in cluster.applied() if o.wave})


def _drop(selector: str) -> dict[str, Any]:
    """A kustomize patch that deletes every object whose annotations match `selector` from the build."""
    return {
        "patch": "$patch: delete\napiVersion: any\nkind: any\nmetadata:\n  name: any\n",
        "target": {"annotationSelector": selector},
    }


def _kustomization(name: str, cluster: str, source: Source, suffix: str = "") -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {
            "name": f"{name}-{cluster}{suffix}",
            "namespace": FLUX_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "meshfleet", "meshfleet.io/cluster": cluster},
        },
        "spec": {
            "interval": "10m",
            "retryInterval": "1m",
            "timeout": "2m",
            "path": f"./{source.cluster_path(cluster)}",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": name},
            "kubeConfig": {"secretRef": {"name": f"{cluster}-kubeconfig", "key": "value"}},
        },
    }


def _comments(plan: Plan, engine: Engine, name: str) -> dict[str, list[str]]:
    """Per hand-off file, what a reader of the repository must know beyond the objects."""
    holders = kubeconfig_holders(plan)
    if not holders:
        return {}
    if engine == "argocd":
        idle = [c for c in holders if c not in set(argocd_clusters(plan))]
        return {
            "applicationset.yaml": [
                f"not applied by Argo CD: the {_kinds(holders)} objects of {', '.join(holders)} (left out of their",
                "cluster's kustomization): they need member kubeconfigs, which Argo CD cannot fill without a",
                "secret-injection plugin"
                + (f"; not listed below, having nothing else to apply: {', '.join(idle)}" if idle else "")
                + ".",
                "Apply those objects with `--gitops flux`, `pulumi up`, or `meshfleet render --with-kubeconfigs`",
                "into a directory kept out of git.",
            ]
        }
    out: dict[str, list[str]] = {}
    for cluster, objs in holders.items():
        members = sorted({o.kubeconfig_of for o in objs if o.kubeconfig_of is not None})
        out[f"{name}-{cluster}.yaml"] = [
            f"postBuild: Flux fills the kubeconfigs in {cluster}'s {_kinds(holders)} objects from the Secret",
            f"{FLUX_NAMESPACE}/{secret_name(name)}; create it with `meshfleet kubeconfig-secret FLEET |",
            "kubectl apply --server-side -f -` (README: GitOps hand-off). Its keys:",
            *(f"  {variable(m)}" for m in members),
        ]
    return out


def _kinds(holders: dict[str, list[PlannedObject]]) -> str:
    return ", ".join(sorted({o.kind for objs in holders.values() for o in objs}))


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
    comments = _comments(plan, engine, name)
    out = {
        f"{engine}/{fn}": header
        + "".join(f"# {line}\n" for line in comments.get(fn, ()))
        + "---\n".join(dump_yaml(d) for d in ds)
        for fn, ds in docs.items()
    }
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": list(docs)}
    out[f"{engine}/kustomization.yaml"] = header + dump_yaml(kustomization)
    return out


def notes(plan: Plan, engine: Engine | None, with_kubeconfigs: bool, fleet: str, out: str) -> list[str]:
    """What `render` tells the user about objects that need member kubeconfigs, for the engine chosen."""
    holders = kubeconfig_holders(plan)
    if not holders:
        return []
    where = ", ".join(f"{out.rstrip('/')}/{c}" for c in holders)
    kinds = _kinds(holders)
    if with_kubeconfigs:
        return [f"note: {where} holds member kubeconfigs in plain text: keep it out of git"]
    if engine == "flux":
        return [
            f"note: Flux fills the kubeconfigs of the {kinds} objects in {where} from Secret "
            f"{FLUX_NAMESPACE}/{secret_name(resource_name(PurePosixPath(fleet).stem))}; create it before the "
            f"first sync with `meshfleet kubeconfig-secret {fleet} | kubectl apply --server-side -f -`"
        ]
    lead = (
        f"note: Argo CD applies none of the {kinds} objects in {where}: they need member kubeconfigs, "
        if engine == "argocd"
        else f"note: the {kinds} objects in {where} hold no kubeconfig (safe to commit), "
    )
    return [
        lead + f"and the mesh cannot use a {kinds} without one: apply them with `--gitops flux` "
        "(Flux fills them from a Secret), `pulumi up`, or `--with-kubeconfigs` into a directory kept out of git"
    ]
