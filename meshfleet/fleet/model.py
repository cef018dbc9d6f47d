"""The fleet file's vocabulary: clusters, services, traffic and access policies.

Why: the model holds the user's words and nothing else. It is strict (`extra="forbid"`, no type
coercion) so that a typo is an error at its line instead of a silently ignored key. Cross-cluster
checks live in `topology`; this module only knows what one value may look like.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from meshfleet.fleet import names

# ---------------------------------------------------------------------------------------------
# Small value types


def _cluster_name(v: str) -> str:
    return names.dns_label(v, "cluster name")


def _namespace(v: str) -> str:
    return names.dns_label(v, "namespace")


def _object_name(v: str) -> str:
    return names.dns_label(v, "name")


def _service_ref(v: str) -> str:
    ns, sep, name = v.partition("/")
    if not sep:
        raise ValueError(f"{v!r} is not 'namespace/name'; write the service as e.g. 'httpbin/httpbin'")
    names.dns_label(ns, "namespace")
    names.dns1035_label(name, "service name")
    return v


def _service_account_ref(v: str) -> str:
    ns, sep, name = v.partition("/")
    if not sep:
        raise ValueError(f"{v!r} is not 'namespace/serviceaccount'; write it as e.g. 'curl/curl'")
    names.dns_label(ns, "namespace")
    names.dns_subdomain(name, "service account name")
    return v


def _service_account(v: str) -> str:
    if v == "*":
        return v
    return names.dns_subdomain(v, "service account name")


def _gateway_host(v: str) -> str:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return names.dns_subdomain(v, "gateway host")
    return _ip(v)


def _ip(v: str) -> str:
    try:
        addr = ipaddress.ip_address(v)
    except ValueError:
        raise ValueError(f"{v!r} is not an IP address") from None
    # An IPv4 address written as IPv6 (::ffff:127.0.0.1) is the IPv4 address to every stack that reaches it.
    plain = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped else addr
    if plain.is_loopback or plain.is_unspecified:
        mapped = f" (the IPv4 address {plain} written as IPv6)" if plain is not addr else ""
        raise ValueError(f"{v!r} is loopback or unspecified{mapped}; other clusters cannot reach it (FSM refuses it)")
    if plain.is_multicast:
        raise ValueError(f"{v!r} is a multicast address; a gateway needs the address of one host")
    return v


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PATH_PLACEHOLDERS = ("cluster", "namespace", "name", "port")


def _path_template(v: str) -> str:
    if not v.startswith("/"):
        raise ValueError(f"path {v!r} must start with '/' (Ingress paths are absolute)")
    for found in _PLACEHOLDER.findall(v):
        if found not in PATH_PLACEHOLDERS:
            allowed = ", ".join("{" + p + "}" for p in PATH_PLACEHOLDERS)
            raise ValueError(f"unknown placeholder {{{found}}} in path {v!r}; use {allowed}")
    # Placeholders become DNS labels and port numbers: check the path as Kubernetes will see it.
    names.ingress_path(_PLACEHOLDER.sub("x", v), shown=v)
    return v


def _weight(v: int) -> int:
    if v > WEIGHT_MAX:
        raise ValueError(f"weight {v:,} is over {WEIGHT_MAX:,}: FSM hands weights to pipy's balancer, which reads "
                         "them as 32-bit integers")
    return v


WEIGHT_MAX = 2**31 - 1


ClusterName = Annotated[str, AfterValidator(_cluster_name)]
Namespace = Annotated[str, AfterValidator(_namespace)]
ObjectName = Annotated[str, AfterValidator(_object_name)]
ServiceRef = Annotated[str, AfterValidator(_service_ref)]
ServiceAccountRef = Annotated[str, AfterValidator(_service_account_ref)]
ServiceAccount = Annotated[str, AfterValidator(_service_account)]
LabelKey = Annotated[str, AfterValidator(names.label_key)]
LabelValue = Annotated[str, AfterValidator(names.label_value)]
PathTemplate = Annotated[str, AfterValidator(_path_template)]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
Locality = Annotated[str, AfterValidator(lambda v: names.dns_label(v, "region/zone/group"))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)


# ---------------------------------------------------------------------------------------------
# Cluster selection: a list of names, "all", or a label selector


class LabelRequirement(Strict):
    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[LabelValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(Strict):
    matchLabels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    matchExpressions: list[LabelRequirement] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.matchLabels.items()):
            return False
        for req in self.matchExpressions:
            present = req.key in labels
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
            if req.operator == "In" and labels.get(req.key) not in req.values:
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
        return True


class Selection(Strict):
    """Normalised form of a cluster choice; users write a list, `all`, or a label selector."""

    names: list[ClusterName] | None = None
    all: bool = False
    selector: LabelSelector | None = None


def _to_selection(v: Any) -> Any:
    if isinstance(v, Selection):
        return v
    if isinstance(v, list):
        return {"names": v}
    if v == "all":
        return {"all": True}
    if isinstance(v, dict):
        return {"selector": v}
    raise ValueError("expected a list of cluster names, the word 'all', or a label selector {matchLabels: {...}}")


ClusterSelection = Annotated[
    Selection,
    BeforeValidator(_to_selection, json_schema_input_type=list[ClusterName] | Literal["all"] | LabelSelector),
]


# ---------------------------------------------------------------------------------------------
# Clusters


class Gateway(Strict):
    """The member's ingress gateway as other clusters reach it (FSM's pipy ingress by default)."""

    host: Annotated[str, AfterValidator(_gateway_host)]
    ip: Annotated[str, AfterValidator(_ip)] | None = None
    port: PortNumber = 80
    ingressClass: ObjectName = "pipy"


class FsmSettings(Strict):
    namespace: Namespace = "fsm-system"
    meshConfig: ObjectName = "fsm-mesh-config"
    permissive: bool | None = Field(
        default=None,
        description="Set spec.traffic.enablePermissiveTrafficPolicyMode; leave out to keep what is installed.",
    )


class KubeconfigFromStackSecret(Strict):
    source: Literal["stack-secret"] = Field(alias="from")


class KubeconfigFromContext(Strict):
    source: Literal["context"] = Field(alias="from")
    context: Annotated[str, Field(min_length=1)]
    file: str | None = Field(default=None, description="Kubeconfig file; default $KUBECONFIG or ~/.kube/config.")


KubeconfigSource = Annotated[KubeconfigFromStackSecret | KubeconfigFromContext, Field(discriminator="source")]


class LinkerdSettings(Strict):
    """How consumers reach this cluster's Linkerd multicluster gateway (static service mirroring)."""

    gatewayPort: PortNumber = 4143
    gatewayIdentity: Annotated[str, Field(min_length=1)] = (
        "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local"
    )
    clusterDomain: Annotated[str, AfterValidator(lambda v: names.dns_subdomain(v, "cluster domain"))] = "cluster.local"


McsApiVersion = Literal["multicluster.x-k8s.io/v1beta1", "multicluster.x-k8s.io/v1alpha1"]


class McsSettings(Strict):
    """The KEP-1645 implementation's API version (Submariner, Istio and AWS still read v1alpha1)."""

    apiVersion: McsApiVersion = "multicluster.x-k8s.io/v1beta1"


Mesh = Literal["fsm", "linkerd", "mcs"]


class Cluster(Strict):
    mesh: Mesh = Field(default="fsm", description="How services cross into and out of this cluster.")
    id: Annotated[str, Field(min_length=1, max_length=253)] | None = Field(
        default=None,
        description="Stable identity of the cluster for Pulumi's provider (default: the cluster's name).",
    )
    region: Locality = "default"
    zone: Locality = "default"
    group: Locality = "default"
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    gateway: Gateway | None = None
    fsm: FsmSettings = Field(default_factory=FsmSettings)
    linkerd: LinkerdSettings = Field(default_factory=LinkerdSettings)
    mcs: McsSettings = Field(default_factory=McsSettings)
    kubeconfig: KubeconfigSource = Field(
        default_factory=lambda: KubeconfigFromStackSecret.model_validate({"from": "stack-secret"})
    )
    formerNames: list[ClusterName] = Field(
        default_factory=list,
        description="Names this cluster had before; Pulumi keeps its resources' addresses through aliases.",
    )
    decommissioned: bool = Field(
        default=False,
        description="The cluster is gone: nothing is planned for it and Pulumi forgets its objects unread.",
    )

    @model_validator(mode="after")
    def _renamed_keeps_its_id(self) -> Cluster:
        if self.formerNames and self.id is None:
            raise ValueError(
                f"formerNames needs id: set `id: {self.formerNames[0]}` (the id it had: its first name unless "
                "it had an id), or its provider's cluster_identifier changes and Pulumi replaces every object"
            )
        if len(set(self.formerNames)) != len(self.formerNames):
            raise ValueError("formerNames lists a name twice; list each former name once")
        return self


# ---------------------------------------------------------------------------------------------
# Services


class Port(Strict):
    port: PortNumber
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    name: ObjectName | None = None
    appProtocol: Annotated[str, AfterValidator(lambda v: names.qualified_name(v, "appProtocol"))] | None = None


class PathRewrite(Strict):
    from_: Annotated[str, Field(min_length=1, alias="from"),
                     AfterValidator(lambda v: names.regex(v, "pathRewrite.from"))]
    to: Annotated[str, Field(min_length=1)]


LoadBalancer = Literal["RoundRobinLoadBalancer", "HashingLoadBalancer", "LeastWorkLoadBalancer"]
PathType = Literal["Prefix", "Exact"]


def _some_clusters(sel: Selection) -> Selection:
    if sel.names == []:
        raise ValueError("the export lists no cluster, so nothing is exported (and a traffic policy would apply "
                         "nowhere); list the exporting clusters, or remove export")
    return sel


class Export(Strict):
    clusters: Annotated[ClusterSelection, AfterValidator(_some_clusters)]
    path: PathTemplate = "/{cluster}/{name}"
    pathType: PathType = "Prefix"
    ports: list[PortNumber] | None = Field(default=None, description="Service ports to export; default all.")
    loadBalancer: LoadBalancer | None = None
    sessionSticky: bool | None = None
    pathRewrite: PathRewrite | None = None


class Import(Strict):
    clusters: ClusterSelection


class Target(Strict):
    cluster: ClusterName
    weight: Annotated[int, AfterValidator(_weight)] | None = None


def _to_target(v: Any) -> Any:
    return {"cluster": v} if isinstance(v, str) else v


TargetEntry = Annotated[Target, BeforeValidator(_to_target, json_schema_input_type=ClusterName | Target)]
LbType = Literal["Locality", "FailOver", "ActiveActive"]


class TrafficPolicy(Strict):
    lbType: LbType
    clusters: ClusterSelection | None = Field(
        default=None, description="Consuming clusters that get the policy; default every importing cluster."
    )
    targets: list[TargetEntry] | None = Field(
        default=None, description="Exporting clusters to use; default every exporter of the service."
    )


class ExportOverride(Strict):
    path: PathTemplate | None = None
    pathType: PathType | None = None
    ports: list[PortNumber] | None = None
    loadBalancer: LoadBalancer | None = None
    sessionSticky: bool | None = None
    pathRewrite: PathRewrite | None = None


class TrafficPolicyOverride(Strict):
    lbType: LbType | None = None
    targets: list[TargetEntry] | None = None


class Override(Strict):
    """Settings that differ in some clusters: the selected clusters see these values instead."""

    clusters: ClusterSelection
    ports: list[Port] | None = None
    serviceAccount: ServiceAccount | None = None
    export: ExportOverride | None = None
    trafficPolicy: TrafficPolicyOverride | None = None


class Service(Strict):
    ports: Annotated[list[Port], Field(min_length=1)]
    serviceAccount: ServiceAccount = Field(
        default="*", description="Identity of the exported endpoints (ServiceExport serviceAccountName)."
    )
    localServiceAccounts: dict[ClusterName, ServiceAccount] = Field(
        default_factory=dict,
        description="Clusters where the service also runs without exporting it, with its service account there.",
    )
    createNamespace: bool = Field(
        default=False, description="Create the namespace where meshfleet writes objects into it (kept on delete)."
    )
    export: Export | None = None
    import_: Import | None = Field(default=None, alias="import")
    trafficPolicy: TrafficPolicy | None = None
    overrides: list[Override] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Access


HttpMethod = Literal["*", "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]


HeaderName = Annotated[str, AfterValidator(names.http_header_name)]
HeaderRegex = Annotated[str, AfterValidator(lambda v: names.regex(v, "header value"))]


class HttpMatch(Strict):
    name: ObjectName
    pathRegex: Annotated[str, AfterValidator(lambda v: names.regex(v, "pathRegex"))] = ".*"
    methods: Annotated[list[HttpMethod], Field(min_length=1)] = Field(default_factory=lambda: ["*"])  # type: ignore[arg-type]
    headers: list[dict[HeaderName, HeaderRegex]] | None = None


class AccessRule(Strict):
    """`from` service accounts may call the service `to` in the clusters `in`, for the `http` matches."""

    from_: Annotated[list[ServiceAccountRef], Field(min_length=1, alias="from")]
    to: ServiceRef
    in_: ClusterSelection | None = Field(
        default=None, alias="in", description="Clusters where the grant holds; default where the service is reachable."
    )
    http: Annotated[list[HttpMatch], Field(min_length=1)] = Field(
        default_factory=lambda: [HttpMatch(name="all")]
    )


# ---------------------------------------------------------------------------------------------
# The fleet


class Fleet(Strict):
    controlPlane: ClusterName | None = Field(
        default=None, description="The FSM control-plane cluster; leave out to let meshfleet be the control plane."
    )
    clusters: Annotated[dict[ClusterName, Cluster], Field(min_length=1)]
    services: dict[ServiceRef, Service] = Field(default_factory=dict)
    access: dict[ObjectName, AccessRule] = Field(default_factory=dict)

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
                    raise ValueError(f"{name}: former name {old!r} is {what} cluster {other}; a name belongs to one "
                                     "cluster, or two clusters' Pulumi resources would claim one address")
        return clusters

    @model_validator(mode="after")
    def _decommissioned_are_not_named(self) -> Fleet:
        gone = {n for n, c in self.clusters.items() if c.decommissioned}
        named = {self.controlPlane} | _named_clusters([self.services, self.access])
        if gone & named:
            raise ValueError(f"decommissioned cluster(s) {', '.join(sorted(gone & named))} still named elsewhere in "
                             "the fleet (controlPlane, services, access); remove them there")
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


def fleet_json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to check fleet files (committed as fleet/schema.json)."""
    schema = Fleet.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "meshfleet fleet file"
    return schema
