"""A resource's objects as written and as each cluster gets them: what an object must be to be placed.

Why: a template is the user's Kubernetes object, written inline or in a manifest file; before it is
placed it must be one (apiVersion, kind, a name), not a Secret (its data would land in plain text in
plans, renders and Pulumi's state), free of what the API server writes, and in a namespace that fits;
each cluster's copy, placeholders replaced, must still have names the API server takes and a file name
`render` can write. Placeholders and a canonical key order are applied here too, so that how a template
is written never changes a byte of what is planned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meshfleet import codes
from meshfleet.core.checks import Checks
from meshfleet.core.kinds import cluster_scoped, group_of, is_builtin
from meshfleet.core.resolved import PlacedObject
from meshfleet.errors import Code, Loc
from meshfleet.fleet import names
from meshfleet.fleet.resources import ObjectRef, Resource

_PLACEHOLDER = re.compile(r"\{\{(cluster|region|zone|group)\}\}|\{(cluster|region|zone|group)\}")
_API_VERSION = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?v[0-9]+"
    r"((alpha|beta)[0-9]+)?"
)
_KIND = re.compile(r"[A-Z][A-Za-z0-9]{0,62}")
FILE_NAME_MAX = 255
"""`render` writes an object to `<kind>.<namespace>.<name>.yaml`; file systems allow 255 bytes."""

SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
    "ownerReferences",
)
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


class ObjectChecks:
    """The checks of a resource's objects as written and of each cluster's copy; findings go to `checks`."""

    def __init__(self, checks: Checks) -> None:
        self.checks = checks
        self._reported: set[tuple[Loc, str]] = set()

    def problem(self, loc: Loc, message: str, hint: str, code: Code, *, once: str | None = None) -> None:
        """Report a finding; with `once`, only the first of a kind at `loc` (not one per cluster)."""
        if once is not None:
            if (loc, once) in self._reported:
                return
            self._reported.add((loc, once))
        self.checks.problem(loc, message, hint, code)

    # --- objects as written ------------------------------------------------------------------------

    def template(self, value: Any, loc: Loc, res: Resource) -> Template | None:
        """The object as written, checked for what every cluster's copy needs; None when it cannot be placed."""
        if not isinstance(value, dict):
            self.problem(
                loc,
                "a template entry is not a mapping",
                "write each object as a mapping with apiVersion, kind and metadata",
                codes.BAD_OBJECT,
            )
            return None
        ok = True
        api_version, kind, meta = value.get("apiVersion"), value.get("kind"), value.get("metadata")
        for key, got, pattern, example in (
            ("apiVersion", api_version, _API_VERSION, "apps/v1"),
            ("kind", kind, _KIND, "Deployment"),
        ):
            if not isinstance(got, str) or not pattern.fullmatch(got):
                what = "missing" if got is None else f"{names.shown(str(got))} is not one"
                self.problem(
                    (*loc, key) if got is not None else loc,
                    f"the object's {key} is {what}",
                    f"write the object's {key}, e.g. {key}: {example}",
                    codes.BAD_OBJECT,
                )
                ok = False
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            self.problem(
                (*loc, "metadata") if isinstance(meta, dict) else loc,
                "the object has no metadata.name",
                "give the object a name (meshfleet places objects by name; generateName is not taken)",
                codes.BAD_OBJECT,
            )
            ok = False
        if not ok:
            return None
        assert isinstance(api_version, str) and isinstance(kind, str) and isinstance(meta, dict)
        if kind.endswith("List"):
            self.problem(
                (*loc, "kind"),
                f"a {kind} holds several objects",
                "write each object as its own document (or template entry)",
                codes.BAD_OBJECT,
            )
            return None
        if group_of(api_version) == "" and kind == "Secret":
            self.problem(
                (*loc, "kind"),
                "a Secret in a template: its data would be written in plain text into the "
                "plan, the rendered files, the diff and Pulumi's state (which holds template values "
                "unencrypted)",
                "create Secrets out of band (kubectl, Sealed Secrets, External Secrets "
                "Operator) and reference them by name; meshfleet never writes secret values",
                codes.SECRET_IN_TEMPLATE,
            )
            return None
        for key in ("generateName", *SERVER_FIELDS):
            if key in meta:
                why = (
                    "meshfleet places objects by name"
                    if key == "generateName"
                    else "it names one cluster's objects by uid"
                    if key == "ownerReferences"
                    else "the API server writes it"
                )
                self.problem(
                    (*loc, "metadata", key),
                    f"metadata.{key} cannot be placed: {why}",
                    "remove it (an object copied from `kubectl get -o yaml` holds such fields)",
                    codes.BAD_OBJECT,
                )
                ok = False
        if "status" in value:
            self.problem(
                (*loc, "status"),
                "the object has a status, which its controller writes",
                "remove status",
                codes.BAD_OBJECT,
            )
            ok = False
        body = dict(value)
        ns = meta.get("namespace")
        if ns is not None and not isinstance(ns, str):
            self.problem(
                (*loc, "metadata", "namespace"), "metadata.namespace is not a string", "quote it", codes.BAD_OBJECT
            )
            return None
        if cluster_scoped(api_version, kind):
            if ns is not None:
                self.problem(
                    (*loc, "metadata", "namespace"),
                    f"a {kind} is cluster-scoped: it has no namespace",
                    "remove metadata.namespace",
                    codes.OBJECT_NAMESPACE,
                )
                ok = False
        elif ns is None and res.namespace is not None:
            body["metadata"] = {
                "name": meta["name"],
                "namespace": res.namespace,
                **{k: v for k, v in meta.items() if k != "name"},
            }
        elif ns is None and is_builtin(api_version):
            self.problem(
                (*loc, "metadata"),
                f"a {kind} lives in a namespace, and neither the object nor its resource names one",
                "add metadata.namespace, or the resource's `namespace:`",
                codes.OBJECT_NAMESPACE,
            )
            ok = False
        elif ns is not None and res.namespace is not None and ns != res.namespace:
            self.problem(
                (*loc, "metadata", "namespace"),
                f"the object is in namespace {ns!r}, but its resource places its objects in {res.namespace!r}",
                "remove one of the two (kubectl apply -n refuses this mismatch too)",
                codes.OBJECT_NAMESPACE,
            )
            ok = False
        return Template(body, loc) if ok else None

    # --- each cluster's copy ------------------------------------------------------------------------

    def names_fit(self, obj: PlacedObject, meta: dict[str, Any], t: Template) -> bool:
        """The copy's name, namespace, labels and annotations are what the API server takes."""
        name, ns = meta.get("name"), meta.get("namespace")
        checks: list[tuple[Loc, Any, Any]] = [
            (("metadata", "name"), name, _name_rule(obj.group, obj.kind)),
            (("metadata", "namespace"), ns, lambda v: names.dns_label(v, "namespace")),
        ]
        for key, rule in (
            ("labels", names.label_key),
            ("annotations", lambda k: names.qualified_name(k, "annotation key")),
        ):
            block = meta.get(key)
            if block is None:
                continue
            if not isinstance(block, dict):
                self.problem(
                    (*t.loc, "metadata", key),
                    f"metadata.{key} is not a mapping",
                    f"write {key} as key: value",
                    codes.BAD_OBJECT,
                    once=key,
                )
                return False
            for k, v in block.items():
                checks.append((("metadata", key, k), k, rule))
                if not isinstance(v, str):
                    self.problem(
                        (*t.loc, "metadata", key, k),
                        f"the value of {key[:-1]} {k!r} is not a string",
                        "quote it: Kubernetes takes only strings here",
                        codes.BAD_OBJECT,
                        once=key,
                    )
                    return False
                if key == "labels":
                    checks.append((("metadata", key, k), v, names.label_value))
        ok = True
        for path, value, rule in checks:
            if value is None:
                continue
            if not isinstance(value, str):
                self.problem(
                    (*t.loc, *path),
                    f"{'.'.join(map(str, path))} is not a string",
                    "write it as a string",
                    codes.BAD_OBJECT,
                    once="/".join(map(str, path)),
                )
                ok = False
                continue
            try:
                rule(value)
            except ValueError as e:
                expanded = value != _raw(t.body, path)
                where = f"in cluster {obj.cluster}, with its placeholders replaced: " if expanded else ""
                self.problem(
                    (*t.loc, *path),
                    f"{where}{e}",
                    "fix the value (placeholders included)" if expanded else "fix the value",
                    codes.INVALID_VALUE,
                    once="/".join(map(str, path)),
                )
                ok = False
        file_name = f"{obj.kind.lower()}.{ns or '_'}.{name}.yaml"
        if ok and len(file_name.encode()) > FILE_NAME_MAX:
            self.problem(
                (*t.loc, "metadata", "name"),
                f"{t.shown()} would be rendered to a file name of "
                f"{len(file_name.encode())} bytes; file systems allow {FILE_NAME_MAX}",
                "shorten its name or namespace",
                codes.DERIVED_NAME_INVALID,
                once="file",
            )
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
