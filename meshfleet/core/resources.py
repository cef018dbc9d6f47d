"""Resources placed on members: each template object as each cluster of its placement gets it.

Why: a resource is KubeFed's federated type (template, placement, overrides, replica scheduling) in
the fleet's words. Here it becomes, per cluster, plain objects: the template, then the overrides that
select the cluster (JSON patch or strategic merge, in the order written), then the placeholders
(`{cluster}`, `{region}`, `{zone}`, `{group}` in string values; `{{cluster}}` writes `{cluster}`),
then the cluster's share of the replicas. Every problem is reported at the words that cause it, in
the fleet file or in the manifest file the object comes from: an object that is not one, a Secret, a
namespace that does not fit, a placement that selects nothing, an override for a cluster the resource
is not placed in or for an object it does not hold, a patch path the object does not have, replicas
that cannot be split, and two resources writing the same object in one cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from meshfleet import codes
from meshfleet.core.checks import Checks
from meshfleet.core.kinds import MERGE_LISTS, SCALABLE, cluster_scoped, group_of, is_builtin
from meshfleet.core.patches import PatchError, json_patch, strategic_merge
from meshfleet.core.replicas import Infeasible, Preference, split
from meshfleet.core.resolved import PlacedObject
from meshfleet.errors import Code, Loc
from meshfleet.fleet import names
from meshfleet.fleet.model import Selection
from meshfleet.fleet.resources import IncludedObject, ObjectRef, Resource, ResourceOverride

_PLACEHOLDER = re.compile(r"\{\{(cluster|region|zone|group)\}\}|\{(cluster|region|zone|group)\}")
_API_VERSION = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?v[0-9]+"
                          r"((alpha|beta)[0-9]+)?")
_KIND = re.compile(r"[A-Z][A-Za-z0-9]{0,62}")
FILE_NAME_MAX = 255
"""`render` writes an object to `<kind>.<namespace>.<name>.yaml`; file systems allow 255 bytes."""

SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                 "generation", "selfLink", "managedFields", "ownerReferences")
"""Metadata the API server writes (or, for ownerReferences, that names one cluster's objects by uid)."""


def placeholders(value: Any, words: Mapping[str, str]) -> Any:
    """`value` with `{cluster}`, `{region}`, `{zone}`, `{group}` replaced in every string value (keys are
    left alone); `{{word}}` gives `{word}`."""
    if isinstance(value, str):
        if "{" not in value:
            return value
        return _PLACEHOLDER.sub(lambda m: "{" + m.group(1) + "}" if m.group(1) else words[m.group(2)], value)
    if isinstance(value, dict):
        return {k: placeholders(v, words) for k, v in value.items()}
    if isinstance(value, list):
        return [placeholders(v, words) for v in value]
    return value


_FIRST = {(): ("apiVersion", "kind", "metadata"), ("metadata",): ("name", "namespace")}


def canonical(value: Any, at: tuple[str, ...] = ()) -> Any:
    """`value` with its mappings' keys in one order (apiVersion, kind, metadata, name and namespace first,
    then by name, as `kubectl get -o yaml` prints them): how a template is written (its key order) does not
    change a byte of what is planned; lists keep their order, which means something."""
    if isinstance(value, dict):
        first = [k for k in _FIRST.get(at, ()) if k in value]
        keys = first + sorted(k for k in value if k not in first)
        return {k: canonical(value[k], (*at, k) if len(at) < 1 else ("*",)) for k in keys}
    if isinstance(value, list):
        return [canonical(v, ("*",)) for v in value]
    return value


@dataclass(frozen=True)
class Template:
    """One object of a resource as written, with its namespace settled."""

    body: dict[str, Any]
    loc: Loc

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def group(self) -> str:
        return group_of(str(self.body["apiVersion"]))

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        ns = self.body["metadata"].get("namespace")
        return str(ns) if ns is not None else None

    def shown(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def matches(self, ref: ObjectRef) -> bool:
        return ref.kind == self.kind and ref.name == self.name and ref.namespace in (None, self.namespace)


def _sources(name: str, res: Resource, included: Mapping[str, tuple[IncludedObject, ...]]) -> list[tuple[Any, Loc]]:
    base: Loc = ("resources", name, "template")
    if isinstance(res.template, dict):
        return [(res.template, base)]
    if res.template is not None:
        return [(t, (*base, i)) for i, t in enumerate(res.template)]
    if name not in included:
        raise ValueError(f"resource {name}'s manifests were not read; load the fleet with meshfleet.fleet.load")
    return [(o.body, o.loc) for o in included[name]]


class _Placing:
    """Places the resources of one fleet, collecting findings and each cluster's objects."""

    def __init__(self, checks: Checks) -> None:
        self.checks = checks
        self.fleet = checks.fleet
        self.placed: dict[str, list[PlacedObject]] = {c: [] for c in sorted(self.fleet.clusters)}
        self.owners: dict[tuple[str, tuple[str, str, str, str]], PlacedObject] = {}
        self._reported: set[tuple[Loc, str]] = set()

    def problem(self, loc: Loc, message: str, hint: str, code: Code, *, once: str | None = None) -> None:
        """Report a finding; with `once`, only the first of a kind at `loc` (not one per cluster)."""
        if once is not None:
            if (loc, once) in self._reported:
                return
            self._reported.add((loc, once))
        self.checks.problem(loc, message, hint, code)

    # --- choosing clusters ------------------------------------------------------------------------

    def choose(self, sel: Selection, loc: Loc) -> list[str]:
        """Cluster names a resource's selection means: names (the control plane may be named), or the
        members `all` or a label selector match."""
        if sel.all:
            return list(self.checks.members)
        if sel.selector is not None:
            selector = sel.selector
            return [m for m in self.checks.members if selector.matches(self.fleet.clusters[m].labels)]
        chosen: list[str] = []
        for i, cname in enumerate(sel.names or []):
            if cname not in self.fleet.clusters:
                known = ", ".join(sorted(self.fleet.clusters))
                self.problem((*loc, i), f"unknown cluster {cname!r}", f"use one of: {known}", codes.UNKNOWN_CLUSTER)
            elif cname in chosen:
                self.problem((*loc, i), f"cluster {cname!r} is listed twice", "list each cluster once",
                             codes.CLUSTER_LISTED_TWICE)
            else:
                chosen.append(cname)
        return sorted(chosen)

    def within(self, sel: Selection, loc: Loc, placement: list[str], what: str) -> list[str]:
        """The placed clusters a selection of an override (or replica preference) names; a named cluster
        outside the placement is an error, `all` and selectors are read inside the placement."""
        if sel.names is None:
            chosen = [c for c in self.choose(sel, loc) if c in placement]
            if sel.selector is not None and not chosen:
                self.problem(loc, f"the selector matches no cluster the resource is placed in "
                             f"({', '.join(placement) or 'none'})", f"select placed clusters, or remove the {what}",
                             codes.NOT_PLACED)
            return chosen
        chosen = []
        for i, cname in enumerate(sel.names):
            if cname in self.fleet.clusters and cname not in placement:
                self.problem((*loc, i), f"the resource is not placed in cluster {cname!r}, so the {what} applies to "
                             f"nothing there (placed in: {', '.join(placement) or 'none'})",
                             f"add {cname} to the resource's clusters, or remove it here", codes.NOT_PLACED)
        for cname in self.choose(sel, loc):
            if cname in placement:
                chosen.append(cname)
        return chosen

    # --- objects as written ------------------------------------------------------------------------

    def template(self, value: Any, loc: Loc, res: Resource) -> Template | None:
        """The object as written, checked for what every cluster's copy needs; None when it cannot be placed."""
        if not isinstance(value, dict):
            self.problem(loc, "a template entry is not a mapping", "write each object as a mapping with apiVersion, "
                         "kind and metadata", codes.BAD_OBJECT)
            return None
        ok = True
        api_version, kind, meta = value.get("apiVersion"), value.get("kind"), value.get("metadata")
        for key, got, pattern, example in (("apiVersion", api_version, _API_VERSION, "apps/v1"),
                                           ("kind", kind, _KIND, "Deployment")):
            if not isinstance(got, str) or not pattern.fullmatch(got):
                what = "missing" if got is None else f"{names.shown(str(got))} is not one"
                self.problem((*loc, key) if got is not None else loc, f"the object's {key} is {what}",
                             f"write the object's {key}, e.g. {key}: {example}", codes.BAD_OBJECT)
                ok = False
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            self.problem((*loc, "metadata") if isinstance(meta, dict) else loc, "the object has no metadata.name",
                         "give the object a name (meshfleet places objects by name; generateName is not taken)",
                         codes.BAD_OBJECT)
            ok = False
        if not ok:
            return None
        assert isinstance(api_version, str) and isinstance(kind, str) and isinstance(meta, dict)
        if kind.endswith("List"):
            self.problem((*loc, "kind"), f"a {kind} holds several objects", "write each object as its own "
                         "document (or template entry)", codes.BAD_OBJECT)
            return None
        if group_of(api_version) == "" and kind == "Secret":
            self.problem((*loc, "kind"), "a Secret in a template: its data would be written in plain text into the "
                         "plan, the rendered files, the diff and Pulumi's state (which holds template values "
                         "unencrypted)", "create Secrets out of band (kubectl, Sealed Secrets, External Secrets "
                         "Operator) and reference them by name; meshfleet never writes secret values",
                         codes.SECRET_IN_TEMPLATE)
            return None
        for key in ("generateName", *SERVER_FIELDS):
            if key in meta:
                why = "meshfleet places objects by name" if key == "generateName" else \
                    "it names one cluster's objects by uid" if key == "ownerReferences" else "the API server writes it"
                self.problem((*loc, "metadata", key), f"metadata.{key} cannot be placed: {why}",
                             "remove it (an object copied from `kubectl get -o yaml` holds such fields)",
                             codes.BAD_OBJECT)
                ok = False
        if "status" in value:
            self.problem((*loc, "status"), "the object has a status, which its controller writes",
                         "remove status", codes.BAD_OBJECT)
            ok = False
        body = dict(value)
        ns = meta.get("namespace")
        if ns is not None and not isinstance(ns, str):
            self.problem((*loc, "metadata", "namespace"), "metadata.namespace is not a string", "quote it",
                         codes.BAD_OBJECT)
            return None
        if cluster_scoped(api_version, kind):
            if ns is not None:
                self.problem((*loc, "metadata", "namespace"), f"a {kind} is cluster-scoped: it has no namespace",
                             "remove metadata.namespace", codes.OBJECT_NAMESPACE)
                ok = False
        elif ns is None and res.namespace is not None:
            body["metadata"] = {"name": meta["name"], "namespace": res.namespace,
                                **{k: v for k, v in meta.items() if k != "name"}}
        elif ns is None and is_builtin(api_version):
            self.problem((*loc, "metadata"), f"a {kind} lives in a namespace, and neither the object nor its resource "
                         "names one", "add metadata.namespace, or the resource's `namespace:`", codes.OBJECT_NAMESPACE)
            ok = False
        elif ns is not None and res.namespace is not None and ns != res.namespace:
            self.problem((*loc, "metadata", "namespace"), f"the object is in namespace {ns!r}, but its resource "
                         f"places its objects in {res.namespace!r}", "remove one of the two (kubectl apply -n refuses "
                         "this mismatch too)", codes.OBJECT_NAMESPACE)
            ok = False
        return Template(body, loc) if ok else None

    def target(self, ref: ObjectRef | None, templates: list[Template], loc: Loc, what: str,
               fits: Any = None) -> Template | None:
        """The object an override or replica scheduling is about (the only candidate when not named)."""
        candidates = [t for t in templates if fits is None or fits(t)]
        if ref is None:
            if len(candidates) == 1:
                return candidates[0]
            listed = ", ".join(t.shown() for t in candidates) or "none"
            self.problem(loc, f"the resource holds {len(candidates)} objects the {what} could be about ({listed})",
                         "name it: object: {kind: ..., name: ...}", codes.UNKNOWN_OBJECT)
            return None
        found = [t for t in templates if t.matches(ref)]
        if len(found) != 1:
            listed = ", ".join(t.shown() for t in templates) or "none"
            why = "holds no" if not found else "holds more than one"
            self.problem((*loc, "object"), f"the resource {why} {ref.shown()} (it holds {listed})",
                         "name an object of the resource by kind and name as written (placeholders included)",
                         codes.UNKNOWN_OBJECT)
            return None
        if fits is not None and not fits(found[0]):
            self.problem((*loc, "object"), f"{ref.shown()} has no replicas to schedule: replica scheduling sets "
                         "spec.replicas of a Deployment, StatefulSet or ReplicaSet", "name one of those",
                         codes.UNKNOWN_OBJECT)
            return None
        return found[0]

    # --- one resource -------------------------------------------------------------------------------

    def resource(self, name: str, res: Resource, sources: list[tuple[Any, Loc]]) -> None:
        base: Loc = ("resources", name)
        placement = self.choose(res.clusters, (*base, "clusters"))
        if not placement and (res.clusters.names is None or not res.clusters.names):
            self.problem((*base, "clusters"), f"resource {name} is placed in no cluster",
                         "name the clusters, or fix the label selector", codes.PLACEMENT_SELECTS_NOTHING)
        templates = [t for value, loc in sources if (t := self.template(value, loc, res)) is not None]
        if len(templates) != len(sources):
            return
        overrides = [self.override(name, i, o, templates, placement) for i, o in enumerate(res.overrides)]
        replicas = self.replicas(name, res, templates, placement, overrides)
        for cluster in placement:
            c = self.fleet.clusters[cluster]
            words = {"cluster": cluster, "region": c.region, "zone": c.zone, "group": c.group}
            for t in templates:
                body: dict[str, Any] | None = t.body
                for i, (o, clusters, target) in enumerate(overrides):
                    if body is None or target is not t or cluster not in clusters:
                        continue
                    body = self.patched(body, o, (*base, "overrides", i), t)
                if body is None:
                    continue
                body = placeholders(body, words)
                if replicas is not None and replicas[0] is t:
                    spec = body.get("spec")
                    body["spec"] = {**(spec if isinstance(spec, dict) else {}), "replicas": replicas[1][cluster]}
                self.add(PlacedObject(name, cluster, canonical(body), t.loc), t)

    def override(self, name: str, i: int, o: ResourceOverride, templates: list[Template],
                 placement: list[str]) -> tuple[ResourceOverride, list[str], Template | None]:
        loc: Loc = ("resources", name, "overrides", i)
        clusters = self.within(o.clusters, (*loc, "clusters"), placement, "override")
        target = self.target(o.object, templates, loc, "override")
        if target is not None and o.merge is not None and (target.group, target.kind) not in MERGE_LISTS:
            kinds = ", ".join(sorted(k for _, k in MERGE_LISTS))
            why = "the API server has no strategic merge for custom resources" if not is_builtin(
                str(target.body["apiVersion"])) else f"meshfleet's strategic-merge subset covers {kinds}"
            self.problem((*loc, "merge"), f"a strategic-merge patch of a {target.kind}: {why}",
                         "use `patch:` with JSON-patch operations (path, op, value)", codes.MERGE_UNSUPPORTED)
            target = None
        return o, clusters, target

    def patched(self, body: dict[str, Any], o: ResourceOverride, loc: Loc, t: Template) -> dict[str, Any] | None:
        try:
            if o.merge is not None:
                return strategic_merge(body, o.merge, MERGE_LISTS[(t.group, t.kind)])
            for j, op in enumerate(o.patch or ()):
                try:
                    body = json_patch(body, op.op, op.path, op.value)
                except PatchError as e:
                    self.problem((*loc, "patch", j, "path"), f"{e.message}: {t.shown()} as the template and the "
                                 "earlier overrides make it", e.hint, codes.PATCH_PATH_MISSING, once="path")
                    return None
        except PatchError as e:
            self.problem((*loc, "merge", *e.at), e.message, e.hint, codes.MERGE_UNSUPPORTED, once="merge")
            return None
        return body

    def replicas(self, name: str, res: Resource, templates: list[Template], placement: list[str],
                 overrides: list[tuple[ResourceOverride, list[str], Template | None]]
                 ) -> tuple[Template, dict[str, int]] | None:
        rs = res.replicaScheduling
        if rs is None:
            return None
        loc: Loc = ("resources", name, "replicaScheduling")
        target = self.target(rs.object, templates, loc, "replica scheduling",
                             fits=lambda t: (t.group, t.kind) in SCALABLE)
        for key in sorted(rs.clusters):
            if key != "*" and key not in placement:
                what = "unknown cluster" if key not in self.fleet.clusters else \
                    "a cluster the resource is not placed in"
                self.problem((*loc, "clusters", key), f"{key!r} is {what} (placed in: "
                             f"{', '.join(placement) or 'none'})", "list placed clusters, or `*` for every other",
                             codes.NOT_PLACED)
        if target is None:
            return None
        for i, (o, _clusters, t) in enumerate(overrides):
            if t is not target:
                continue
            sets = [j for j, op in enumerate(o.patch or ()) if op.path in ("/spec", "/spec/replicas")]
            spec = (o.merge or {}).get("spec")
            if sets or (isinstance(spec, dict) and "replicas" in spec):
                where: Loc = ("resources", name, "overrides", i, *(("patch", sets[0], "path") if sets else ("merge",)))
                self.problem(where, f"replicaScheduling sets the replicas of {target.shown()} in every cluster",
                             "set minReplicas/maxReplicas/weight under replicaScheduling.clusters instead",
                             codes.REPLICAS_OVERRIDDEN)
        default = rs.clusters.get("*")
        prefs: dict[str, Preference] = {}
        for c in placement:
            p = rs.clusters.get(c, default)
            if p is None:
                prefs[c] = Preference(1 if not rs.clusters else 0, 0, None)
            else:
                prefs[c] = Preference(p.weight, p.minReplicas, p.maxReplicas)
        try:
            return target, split(rs.totalReplicas, prefs)
        except Infeasible as e:
            self.problem((*loc, "totalReplicas"), str(e), "change totalReplicas, or the clusters' weights and bounds",
                         codes.REPLICAS_INFEASIBLE)
            return None

    # --- each cluster's copy ------------------------------------------------------------------------

    def add(self, obj: PlacedObject, t: Template) -> None:
        meta = obj.body.get("metadata")
        if not isinstance(meta, dict) or not self.names_fit(obj, meta, t):
            return
        key = (obj.cluster, obj.identity)
        other = self.owners.get(key)
        if other is not None:
            by = f"resource {other.resource}" if other.resource != obj.resource else "another object of this resource"
            self.problem(obj.loc, f"{t.shown()} would be placed twice in cluster {obj.cluster}: also by {by}",
                         "place each object once (merge the two, or give them other names)", codes.DUPLICATE_OBJECT,
                         once="duplicate")
            return
        self.owners[key] = obj
        self.placed[obj.cluster].append(obj)

    def names_fit(self, obj: PlacedObject, meta: dict[str, Any], t: Template) -> bool:
        """The copy's name, namespace, labels and annotations are what the API server takes."""
        name, ns = meta.get("name"), meta.get("namespace")
        checks: list[tuple[Loc, Any, Any]] = [
            (("metadata", "name"), name, _name_rule(obj.group, obj.kind)),
            (("metadata", "namespace"), ns, lambda v: names.dns_label(v, "namespace")),
        ]
        for key, rule in (("labels", names.label_key), ("annotations", lambda k: names.qualified_name(
                k, "annotation key"))):
            block = meta.get(key)
            if block is None:
                continue
            if not isinstance(block, dict):
                self.problem((*t.loc, "metadata", key), f"metadata.{key} is not a mapping",
                             f"write {key} as key: value", codes.BAD_OBJECT, once=key)
                return False
            for k, v in block.items():
                checks.append((("metadata", key, k), k, rule))
                if not isinstance(v, str):
                    self.problem((*t.loc, "metadata", key, k), f"the value of {key[:-1]} {k!r} is not a string",
                                 "quote it: Kubernetes takes only strings here", codes.BAD_OBJECT, once=key)
                    return False
                if key == "labels":
                    checks.append((("metadata", key, k), v, names.label_value))
        ok = True
        for path, value, rule in checks:
            if value is None:
                continue
            if not isinstance(value, str):
                self.problem((*t.loc, *path), f"{'.'.join(map(str, path))} is not a string", "write it as a string",
                             codes.BAD_OBJECT, once="/".join(map(str, path)))
                ok = False
                continue
            try:
                rule(value)
            except ValueError as e:
                expanded = value != _raw(t.body, path)
                where = f"in cluster {obj.cluster}, with its placeholders replaced: " if expanded else ""
                self.problem((*t.loc, *path), f"{where}{e}", "fix the value (placeholders included)" if expanded
                             else "fix the value", codes.INVALID_VALUE, once="/".join(map(str, path)))
                ok = False
        file_name = f"{obj.kind.lower()}.{ns or '_'}.{name}.yaml"
        if ok and len(file_name.encode()) > FILE_NAME_MAX:
            self.problem((*t.loc, "metadata", "name"), f"{t.shown()} would be rendered to a file name of "
                         f"{len(file_name.encode())} bytes; file systems allow {FILE_NAME_MAX}",
                         "shorten its name or namespace", codes.DERIVED_NAME_INVALID, once="file")
            ok = False
        return ok


def _raw(body: dict[str, Any], path: Loc) -> Any:
    node: Any = body
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _name_rule(group: str, kind: str) -> Any:
    if group == "" and kind == "Service":
        return lambda v: names.dns1035_label(v, "Service name")
    if group == "" and kind == "Namespace":
        return lambda v: names.dns_label(v, "Namespace name")
    return lambda v: names.dns_subdomain(v, f"{kind} name")


def place_resources(checks: Checks,
                    included: Mapping[str, tuple[IncludedObject, ...]]) -> dict[str, list[PlacedObject]]:
    """Every resource's objects per cluster (findings go to `checks`)."""
    placing = _Placing(checks)
    for name in sorted(checks.fleet.resources):
        res = checks.fleet.resources[name]
        placing.resource(name, res, _sources(name, res, included))
    return placing.placed


def objects_of(placed: Mapping[str, list[PlacedObject]]) -> Iterator[PlacedObject]:
    for cluster in sorted(placed):
        yield from placed[cluster]


__all__ = ["Template", "objects_of", "place_resources", "placeholders"]
