"""The fleet file's vocabulary: clusters, services, traffic and access policies.

Why: the model holds the user's words and nothing else. It is strict (`extra="forbid"`, no type
coercion) so that a typo is an error at its line instead of a silently ignored key. Cross-cluster
checks live in `topology`; this package only knows what one value may look like.

The model is a package with one module per part of the file: `values` (names, paths, ports),
`selection` (cluster choices), `clusters`, `services` and `access`; `Fleet`, the whole file, is
defined here, and every name of the model is importable from `meshfleet.fleet.model`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator

from meshfleet.fleet.model.access import AccessRule, HeaderName, HeaderRegex, HttpMatch, HttpMethod
from meshfleet.fleet.model.clusters import (
    FSM_OLDEST,
    FSM_RELEASE,
    CiliumSettings,
    Cluster,
    FleetFsm,
    FsmSettings,
    FsmVersion,
    Gateway,
    IstioSettings,
    KubeconfigFromContext,
    KubeconfigFromStackSecret,
    KubeconfigSource,
    LinkerdSettings,
    LocalDnsProxy,
    McsApiVersion,
    McsSettings,
    Mesh,
    MeshClusterName,
    fsm_release,
)
from meshfleet.fleet.model.selection import ClusterSelection, LabelRequirement, LabelSelector, Selection
from meshfleet.fleet.model.services import (
    REWRITE_PLACEHOLDERS,
    Export,
    ExportOverride,
    Import,
    LbType,
    LoadBalancer,
    Override,
    PathRewrite,
    PathType,
    Port,
    Service,
    Target,
    TargetEntry,
    TrafficPolicy,
    TrafficPolicyOverride,
)
from meshfleet.fleet.model.values import (
    PATH_PLACEHOLDERS,
    WEIGHT_MAX,
    ClusterName,
    FindingCode,
    LabelKey,
    LabelValue,
    Locality,
    Namespace,
    ObjectName,
    PathTemplate,
    PortNumber,
    ServiceAccount,
    ServiceAccountRef,
    ServiceRef,
    Strict,
)
from meshfleet.fleet.resources import Resource


class Fleet(Strict):
    """A meshfleet fleet file: every member cluster, the services that cross between them, and who may call them."""

    controlPlane: ClusterName | None = Field(
        default=None,
        description="The FSM control-plane cluster; leave out to let meshfleet be the control plane.",
        examples=["control-plane"],
    )
    clusters: Annotated[dict[ClusterName, Cluster], Field(min_length=1)] = Field(
        description="Every member cluster, by name (a DNS-1123 label: lower-case letters, digits and '-').",
        examples=[
            {
                "cluster-1": {
                    "gateway": {"host": "192.168.1.110", "port": 81},
                    "kubeconfig": {"from": "context", "context": "k3d-cluster-1"},
                }
            }
        ],
    )
    services: dict[ServiceRef, Service] = Field(
        default_factory=dict,
        description="The services that cross cluster boundaries, by `namespace/name` (the name a DNS-1035 label).",
    )
    access: dict[ObjectName, AccessRule] = Field(
        default_factory=dict,
        description="Access rules by name: which service accounts may call which service, in which clusters "
        "(meshfleet derives an HTTPRouteGroup and SMI TrafficTargets from each).",
    )
    fsm: FleetFsm = Field(
        default_factory=FleetFsm,
        title="FSM settings",
        description="Settings every FSM "
        "cluster shares: the FSM release they run (`version`), unless a cluster names its own.",
    )
    resources: dict[ObjectName, Resource] = Field(
        default_factory=dict,
        description="Kubernetes objects placed on members, KubeFed style: a template (inline or manifest files), "
        "a placement, per-cluster overrides and replica scheduling.",
    )
    acknowledge: list[FindingCode] = Field(
        default_factory=list, description="Warning codes meant everywhere in the fleet (see each entry's acknowledge)."
    )

    @field_validator("clusters")
    @classmethod
    def _names_are_unique_over_time(cls, clusters: dict[str, Cluster]) -> dict[str, Cluster]:
        owner: dict[str, str] = {name: name for name in clusters}
        for name, c in sorted(clusters.items()):
            for old in c.formerNames:
                if old == name:
                    raise ValueError(f"{name}: formerNames lists its own name; list only the names it had before")
                if owner.setdefault(old, name) != name:
                    other = owner[old]
                    what = "the name of" if old == other else "also a former name of"
                    raise ValueError(
                        f"{name}: former name {old!r} is {what} cluster {other}; a name belongs to one "
                        "cluster, or two clusters' Pulumi resources would claim one address"
                    )
        return clusters

    @model_validator(mode="after")
    def _decommissioned_are_not_named(self) -> Fleet:
        gone = {n for n, c in self.clusters.items() if c.decommissioned}
        named = {self.controlPlane} | _named_clusters([self.services, self.access, self.resources])
        if gone & named:
            raise ValueError(
                f"decommissioned cluster(s) {', '.join(sorted(gone & named))} still named elsewhere in "
                "the fleet (controlPlane, services, access, resources); remove them there"
            )
        return self

    def active(self) -> Fleet:
        """The fleet without its decommissioned clusters: what is planned."""
        kept = {n: c for n, c in self.clusters.items() if not c.decommissioned}
        return self if len(kept) == len(self.clusters) else self.model_copy(update={"clusters": kept})


def _named_clusters(value: Any) -> set[str | None]:
    """Every cluster a part of the fleet names explicitly (selections by name, targets, local accounts)."""
    if isinstance(value, Selection):
        return set(value.names or ())
    if isinstance(value, Target):
        return {value.cluster}
    if isinstance(value, BaseModel):
        found = _named_clusters([getattr(value, f) for f in type(value).model_fields])
        return found | set(value.localServiceAccounts) if isinstance(value, Service) else found
    if isinstance(value, dict):
        return _named_clusters(list(value.values()))
    if isinstance(value, list):
        return set().union(*(_named_clusters(v) for v in value)) if value else set()
    return set()


__all__ = [
    "FSM_OLDEST",
    "FSM_RELEASE",
    "PATH_PLACEHOLDERS",
    "REWRITE_PLACEHOLDERS",
    "WEIGHT_MAX",
    "AccessRule",
    "CiliumSettings",
    "Cluster",
    "ClusterName",
    "ClusterSelection",
    "Export",
    "ExportOverride",
    "FindingCode",
    "Fleet",
    "FleetFsm",
    "FsmSettings",
    "FsmVersion",
    "Gateway",
    "HeaderName",
    "HeaderRegex",
    "HttpMatch",
    "HttpMethod",
    "Import",
    "IstioSettings",
    "KubeconfigFromContext",
    "KubeconfigFromStackSecret",
    "KubeconfigSource",
    "LabelKey",
    "LabelRequirement",
    "LabelSelector",
    "LabelValue",
    "LbType",
    "LinkerdSettings",
    "LoadBalancer",
    "LocalDnsProxy",
    "Locality",
    "McsApiVersion",
    "McsSettings",
    "Mesh",
    "MeshClusterName",
    "Namespace",
    "ObjectName",
    "Override",
    "PathRewrite",
    "PathTemplate",
    "PathType",
    "Port",
    "PortNumber",
    "Resource",
    "Selection",
    "Service",
    "ServiceAccount",
    "ServiceAccountRef",
    "ServiceRef",
    "Strict",
    "Target",
    "TargetEntry",
    "TrafficPolicy",
    "TrafficPolicyOverride",
    "fsm_release",
]
