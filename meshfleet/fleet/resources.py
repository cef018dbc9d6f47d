"""The fleet file's `resources:` section: Kubernetes objects placed on members, KubeFed style.

Why: the services the fleet exports run as workloads (a ServiceAccount, a Deployment, a Service) that
users otherwise apply cluster by cluster. A resource is KubeFed's federated type in the fleet's own
words: a **template** (objects written inline, or manifest files beside the fleet file), a
**placement** (`clusters`: names, `all`, or a label selector, as for exports), per-cluster
**overrides** (KubeFed's JSON-patch subset, or a strategic-merge patch) and **replica scheduling**
(KubeFed's ReplicaSchedulingPreference). These models hold the user's words only; what they mean
per cluster is computed by `meshfleet.core.resources`, and manifest files are read by the loader.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from meshfleet.errors import Loc
from meshfleet.fleet import names

if TYPE_CHECKING:  # model/selection.py imports this module, then resolves the selection type (see `resolve_types`)
    from meshfleet.fleet.model.selection import ClusterSelection

PLACEHOLDERS = ("cluster", "region", "zone", "group")
"""Words a template's string values may hold in braces (`{cluster}`); `{{cluster}}` writes `{cluster}`."""
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
"""Files of a manifests directory that are read (as `kubectl apply -f DIR` reads them)."""
REPLICAS_MAX = 2**31 - 1
"""Kubernetes' replicas are 32-bit integers."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)


def _manifest_path(v: str) -> str:
    """A manifest file or directory, relative to the fleet file and inside its directory."""
    if not v:
        raise ValueError("the manifest path is empty; name a file or directory beside the fleet file")
    if "\\" in v:
        raise ValueError(f"manifest path {names.shown(v)} holds a backslash; write paths with '/'")
    if v.startswith("/") or re.match(r"^[A-Za-z]:", v):
        raise ValueError(
            f"manifest path {names.shown(v)} is absolute; write it relative to the fleet file's "
            "directory (manifests live beside or below the fleet file)"
        )
    parts = v.split("/")
    if ".." in parts:
        raise ValueError(
            f"manifest path {names.shown(v)} climbs out with '..'; manifests live beside or below the "
            "fleet file, so that a fleet file cannot make meshfleet read other files of the machine"
        )
    if any(not p.isprintable() or not p.isascii() for p in parts):
        raise ValueError(f"manifest path {names.shown(v)} holds a character other than printable ASCII")
    return v


def _kind(v: str) -> str:
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]{0,62}", v):
        raise ValueError(
            f"kind {names.shown(v)} is not a Kubernetes kind (CamelCase letters and digits, e.g. Deployment)"
        )
    return v


def _json_pointer(v: str) -> str:
    if v == "" or not v.startswith("/"):
        raise ValueError(
            f"path {names.shown(v)} is not a JSON pointer: write it from the object's root, e.g. /spec/replicas"
        )
    if re.search(r"~(?![01])", v):
        raise ValueError(
            f"path {names.shown(v)} holds '~' not followed by 0 or 1: write '~0' for '~' and '~1' for "
            "'/' inside a key (JSON pointer escapes)"
        )
    return v


def _cluster_or_default(v: str) -> str:
    return v if v == "*" else names.dns_label(v, "cluster name")


def _one_or_many(v: Any) -> str:
    return "many" if isinstance(v, list) else "one"


ManifestPath = Annotated[str, AfterValidator(_manifest_path)]
Kind = Annotated[str, AfterValidator(_kind)]
JsonPointer = Annotated[str, AfterValidator(_json_pointer)]
Replicas = Annotated[int, Field(ge=0, le=REPLICAS_MAX)]


class ObjectRef(_Strict):
    """Which object of a resource a setting is about (needed when the resource holds several objects)."""

    kind: Kind = Field(description="The object's kind, as its template writes it.", examples=["Deployment"])
    name: Annotated[str, Field(min_length=1)] = Field(
        description="The object's name as its template writes it, placeholders included.",
        examples=["httpbin", "httpbin-{cluster}"],
    )
    namespace: Annotated[str, AfterValidator(lambda v: names.dns_label(v, "namespace"))] | None = Field(
        default=None, description="The object's namespace, when two objects of the resource share kind and name."
    )

    def shown(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


class PatchOperation(_Strict):
    """One of KubeFed's `clusterOverrides`: a JSON-patch operation (add, replace, remove) at a path."""

    op: Literal["add", "replace", "remove"] = Field(
        default="replace",
        description="`replace` a value the object has (KubeFed's default), `add` a key or list "
        "item under a parent it has (`-` appends to a list), or `remove` what it has.",
    )
    path: JsonPointer = Field(
        description="A JSON pointer into the object, from its root (`~1` for '/' in a key).",
        examples=["/spec/replicas", "/metadata/annotations/example.com~1team"],
    )
    value: Any = Field(default=None, description="The new value (add, replace); remove takes none.", examples=[3])

    @model_validator(mode="after")
    def _value_fits_op(self) -> PatchOperation:
        given = "value" in self.model_fields_set
        if self.op == "remove" and given:
            raise ValueError("op remove takes no value; remove `value`, or use op replace")
        if self.op != "remove" and not given:
            raise ValueError(f"op {self.op} needs a value (write `value: null` for null)")
        _check_plain(self.value)
        return self


def _check_plain(value: Any) -> None:
    """JSON's values only: a float that is not a number (`.nan`, `.inf`) has no JSON form."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{v} is not a number JSON (and so Kubernetes) can hold")
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _plain_mapping(v: dict[str, Any]) -> dict[str, Any]:
    _check_plain(v)
    return v


PlainMapping = Annotated[dict[str, Any], AfterValidator(_plain_mapping)]


class ResourceOverride(_Strict):
    """Per-cluster variation of a resource's objects (KubeFed's `overrides`), for the clusters selected."""

    clusters: ClusterSelection = Field(
        description="The clusters it applies to, among those the resource is placed "
        "in: names, `all`, or a label selector."
    )
    object: ObjectRef | None = Field(
        default=None, description="The object it changes; may be left out when the resource holds one object."
    )
    patch: Annotated[list[PatchOperation], Field(min_length=1)] | None = Field(
        default=None, description="JSON-patch operations (KubeFed's clusterOverrides)."
    )
    merge: PlainMapping | None = Field(
        default=None, description="A strategic-merge patch (built-in kinds; see the README for the subset)."
    )

    @model_validator(mode="after")
    def _one_kind_of_patch(self) -> ResourceOverride:
        if (self.patch is None) == (self.merge is None):
            raise ValueError(
                "an override takes either `patch` (JSON-patch operations) or `merge` (a strategic-merge "
                "patch)" + ("" if self.patch is None else ", not both")
            )
        return self


class ReplicaPreference(_Strict):
    """One cluster's share of a scheduled workload (KubeFed's ClusterPreferences)."""

    weight: Annotated[int, Field(ge=0, le=REPLICAS_MAX)] = Field(
        default=1, description="The cluster's share of the replicas beyond the minimums (0: its minimum only)."
    )
    minReplicas: Replicas = Field(default=0, description="Replicas the cluster gets first, whatever the weights.")
    maxReplicas: Replicas | None = Field(default=None, description="Replicas the cluster never goes over.")

    @model_validator(mode="after")
    def _min_under_max(self) -> ReplicaPreference:
        if self.maxReplicas is not None and self.minReplicas > self.maxReplicas:
            raise ValueError(f"minReplicas {self.minReplicas} is over maxReplicas {self.maxReplicas}")
        return self


class ReplicaScheduling(_Strict):
    """KubeFed's ReplicaSchedulingPreference: a total split over the placed clusters by weight."""

    totalReplicas: Replicas = Field(description="The replicas to split over the placed clusters.", examples=[6])
    object: ObjectRef | None = Field(
        default=None, description="The Deployment or StatefulSet; may be left out when the resource has one."
    )
    clusters: dict[Annotated[str, AfterValidator(_cluster_or_default)], ReplicaPreference] = Field(
        default_factory=dict,
        description="Per placed cluster (or `*` for the others): weight, minReplicas, maxReplicas. Default: "
        "every placed cluster with weight 1.",
    )


class Resource(_Strict):
    """Objects placed on some clusters, with per-cluster overrides (a KubeFed federated type)."""

    clusters: ClusterSelection = Field(
        description="Placement: cluster names, `all`, or a label selector, as for exports."
    )
    # One or several: the discriminator sends a value to the one branch it can be, so that a problem is
    # reported once, in the form the user wrote.
    template: (
        Annotated[
            Annotated[PlainMapping, Tag("one")] | Annotated[list[PlainMapping], Field(min_length=1), Tag("many")],
            Discriminator(_one_or_many),
        ]
        | None
    ) = Field(default=None, description="The objects, written inline: one object, or a list of them.")
    manifests: (
        Annotated[
            Annotated[ManifestPath, Tag("one")] | Annotated[list[ManifestPath], Field(min_length=1), Tag("many")],
            Discriminator(_one_or_many),
        ]
        | None
    ) = Field(
        default=None, description="Manifest files or directories (.yaml, .yml, .json) beside or below the fleet file."
    )
    namespace: Annotated[str, AfterValidator(lambda v: names.dns_label(v, "namespace"))] | None = Field(
        default=None, description="The namespace of objects that name none (as `kubectl apply -n`)."
    )
    createNamespace: bool = Field(
        default=False, description="Create the objects' namespaces, put in the cluster's mesh (kept on delete)."
    )
    overrides: list[ResourceOverride] = Field(
        default_factory=list, description="Per-cluster changes of the objects, applied in this order."
    )
    replicaScheduling: ReplicaScheduling | None = Field(
        default=None, description="Split a Deployment's (StatefulSet's, ReplicaSet's) replicas over the placement."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Resource:
        if (self.template is None) == (self.manifests is None):
            raise ValueError(
                "a resource takes either `template` (objects written inline) or `manifests` (files)"
                + ("" if self.template is None else ", not both")
            )
        return self

    def manifest_paths(self) -> list[str]:
        if self.manifests is None:
            return []
        return [self.manifests] if isinstance(self.manifests, str) else list(self.manifests)


def resolve_types(selection: Any) -> None:
    """Complete the models once `fleet.model.selection` has defined the cluster selection type they share."""
    for model in (ResourceOverride, Resource):
        model.model_rebuild(_types_namespace={"ClusterSelection": selection})


@dataclass(frozen=True)
class IncludedObject:
    """One object read from a resource's manifest files, and the key path findings about it carry.

    `loc` is `("resources", <name>, "manifests", <file>, <document>)`: the loader places a finding
    under it in that document of that file.
    """

    body: dict[str, Any]
    loc: Loc


def manifest_loc(resource: str, file: str, document: int) -> Loc:
    """The key path of a document of a manifest file, as findings about its object carry it."""
    return ("resources", resource, "manifests", file, document)


__all__ = [
    "MANIFEST_SUFFIXES",
    "PLACEHOLDERS",
    "IncludedObject",
    "ObjectRef",
    "PatchOperation",
    "ReplicaPreference",
    "ReplicaScheduling",
    "Resource",
    "ResourceOverride",
    "manifest_loc",
    "resolve_types",
]
