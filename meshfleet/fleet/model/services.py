"""A service that crosses clusters: its ports, export, import, traffic policy and per-cluster overrides.

Why: these are the words a service entry of the fleet file holds; where they apply and what they
mean per cluster is computed by the core (`meshfleet.core.resolved`, `topology`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
)

from meshfleet.fleet import names
from meshfleet.fleet.model.selection import ClusterSelection, Selection
from meshfleet.fleet.model.values import (
    ClusterName,
    FindingCode,
    LabelKey,
    LabelValue,
    ObjectName,
    PathTemplate,
    PortNumber,
    ServiceAccount,
    Strict,
    Weight,
    acknowledge_field,
)


class Port(Strict):
    """A port of the service, as on its Kubernetes Service."""

    port: PortNumber = Field(description="The port number.", examples=[8080])
    protocol: Literal["TCP", "UDP", "SCTP"] = Field(default="TCP", description="`TCP` (the default), `UDP` or `SCTP`.")
    name: ObjectName | None = Field(
        default=None, description="The port's name; a service with several ports names each.", examples=["http"]
    )
    appProtocol: Annotated[str, AfterValidator(lambda v: names.qualified_name(v, "appProtocol"))] | None = Field(
        default=None, description="The application protocol, as the Service port's appProtocol.", examples=["grpc"]
    )


REWRITE_PLACEHOLDERS = ("cluster", "namespace", "name")


def _rewrite_placeholders(v: str) -> str:
    # One pathRewrite serves every exported port of the export, so {port} has no single value.
    if "{port}" in v:
        allowed = ", ".join("{" + p + "}" for p in REWRITE_PLACEHOLDERS)
        raise ValueError(f"pathRewrite {v!r} uses {{port}}, but one rewrite serves every exported port; use {allowed}")
    return v


class PathRewrite(Strict):
    """The rewrite FSM's pipy ingress applies to the path before the request reaches the service.

    `{cluster}`, `{namespace}` and `{name}` are expanded per exporter as in `path` (escaped in `from`).
    """

    from_: Annotated[
        str,
        Field(min_length=1, alias="from"),
        AfterValidator(lambda v: names.regex(v, "pathRewrite.from")),
        AfterValidator(_rewrite_placeholders),
    ] = Field(
        description="The path prefix to replace (a regular expression), with the placeholders {cluster}, "
        "{namespace} and {name} of the export's path (each exporter's value, escaped).",
        examples=["^/{cluster}/{name}/?"],
    )
    to: Annotated[str, Field(min_length=1), AfterValidator(_rewrite_placeholders)] = Field(
        description="What replaces it.", examples=["/"]
    )


LoadBalancer = Literal["RoundRobinLoadBalancer", "HashingLoadBalancer", "LeastWorkLoadBalancer"]
PathType = Literal["Prefix", "Exact"]


SELECTION_HELP = "a list of cluster names, `all`, or a label selector `{matchLabels: ..., matchExpressions: ...}`"
"""How every key that selects clusters is described in the schema, in one wording."""
_LOAD_BALANCER = (
    "The load balancer the export asks of FSM's ingress: `RoundRobinLoadBalancer`, `HashingLoadBalancer` "
    "or `LeastWorkLoadBalancer`. FSM's pipy ingress reads none of these and balances round-robin "
    "(warning load-balancer-ignored); leave out."
)
_PATH = (
    "The path of the export's Ingress in the exporting cluster, with the placeholders {cluster}, {namespace}, "
    "{name} and {port}. Two exports in one cluster need different paths."
)
_PATH_TYPE = (
    "`Prefix` (the default): the Ingress path matches as a prefix; `Exact`: only the path itself, which "
    "no call from another FSM cluster matches (error exact-export-path)."
)


def _some_clusters(sel: Selection) -> Selection:
    if sel.names == []:
        raise ValueError(
            "the export lists no cluster, so nothing is exported (and a traffic policy would apply "
            "nowhere); list the exporting clusters, or remove export"
        )
    return sel


class Export(Strict):
    """Where the service is exported from (its exporting clusters) and how its Ingress there looks."""

    clusters: Annotated[ClusterSelection, AfterValidator(_some_clusters)] = Field(
        description=f"The exporting clusters: {SELECTION_HELP}.",
        examples=[["cluster-1", "cluster-3"], "all", {"matchLabels": {"region": "eu"}}],
    )
    path: PathTemplate = Field(default="/{cluster}/{name}", description=_PATH + " Default `/{cluster}/{name}`.")
    pathType: PathType = Field(default="Prefix", description=_PATH_TYPE)
    ports: list[PortNumber] | None = Field(
        default=None, description="Service ports to export; default all.", examples=[[8080]]
    )
    loadBalancer: LoadBalancer | None = Field(default=None, description=_LOAD_BALANCER)
    sessionSticky: bool | None = Field(
        default=None,
        description="Keep a client on the same endpoint (FSM's sticky sessions); leave out for FSM's default.",
    )
    pathRewrite: PathRewrite | None = Field(
        default=None,
        description="Rewrite the start of the path before the request reaches the service.",
        examples=[{"from": "^/api", "to": "/"}],
    )


class Import(Strict):
    """Which clusters import the service."""

    clusters: ClusterSelection = Field(
        description=f"The importing clusters: {SELECTION_HELP}. With an FSM control plane it cannot be narrowed: FSM "
        "imports every export everywhere.",
        examples=[["cluster-2"]],
    )


class Target(Strict):
    """An exporting cluster a traffic policy sends traffic to, with its weight."""

    cluster: ClusterName = Field(description="The exporting cluster.")
    weight: Weight | None = Field(
        default=None,
        description="The cluster's share of the traffic under ActiveActive, relative to the other "
        "targets' (not negative, at most 2147483647; FSM reads 0 as 100).",
        examples=[70],
    )


def _to_target(v: Any) -> Any:
    return {"cluster": v} if isinstance(v, str) else v


TargetEntry = Annotated[Target, BeforeValidator(_to_target, json_schema_input_type=ClusterName | Target)]
LbType = Literal["Locality", "FailOver", "ActiveActive"]


_LB_TYPE = (
    "How consumers choose among the service's endpoints: `Locality` only the consumer's own cluster's "
    "(nothing crosses clusters), `FailOver` the targets when there is no local endpoint (balanced "
    "round-robin, in no order), `ActiveActive` local and target endpoints together, by `weight`."
)
_TARGETS = (
    "The exporting clusters to use, by name (`- cluster-1`) or with a weight (`- {cluster: cluster-1, "
    "weight: 70}`); default every exporter of the service."
)


class TrafficPolicy(Strict):
    """The GlobalTrafficPolicy consuming clusters get: how they share traffic among the exporters."""

    lbType: LbType = Field(description=_LB_TYPE, examples=["ActiveActive"])
    clusters: ClusterSelection | None = Field(
        default=None,
        description=f"Consuming clusters that get the policy: {SELECTION_HELP}; default every importing cluster.",
        examples=[["cluster-2"]],
    )
    targets: list[TargetEntry] | None = Field(
        default=None,
        description=_TARGETS,
        examples=[
            ["cluster-1", "cluster-3"],
            [{"cluster": "fsm-eu", "weight": 70}, {"cluster": "fsm-us", "weight": 30}],
        ],
    )


class ExportOverride(Strict):
    """Export settings that differ in the override's clusters; what is left out stays as the export says."""

    path: PathTemplate | None = Field(default=None, description=_PATH, examples=["/us/api"])
    pathType: PathType | None = Field(default=None, description=_PATH_TYPE)
    ports: list[PortNumber] | None = Field(default=None, description="Service ports to export there.")
    loadBalancer: LoadBalancer | None = Field(default=None, description=_LOAD_BALANCER)
    sessionSticky: bool | None = Field(default=None, description="Sticky sessions there.")
    pathRewrite: PathRewrite | None = Field(default=None, description="The path rewrite there.")


class TrafficPolicyOverride(Strict):
    """Traffic policy settings that differ in the override's clusters."""

    lbType: LbType | None = Field(default=None, description=_LB_TYPE)
    targets: list[TargetEntry] | None = Field(default=None, description=_TARGETS)


class Override(Strict):
    """Settings that differ in some clusters: the selected clusters see these values instead."""

    clusters: ClusterSelection = Field(
        description=f"The clusters that see these values: {SELECTION_HELP}.",
        examples=[["fsm-us"], {"matchLabels": {"region": "ap"}}],
    )
    ports: list[Port] | None = Field(default=None, description="The service's ports in these clusters.")
    serviceAccount: ServiceAccount | None = Field(default=None, description="The service's account in these clusters.")
    export: ExportOverride | None = Field(
        default=None, description="Export settings that differ in these clusters.", examples=[{"path": "/us/api"}]
    )
    trafficPolicy: TrafficPolicyOverride | None = Field(
        default=None, description="Traffic policy settings that differ in these clusters."
    )


class Service(Strict):
    """A service that crosses cluster boundaries: its ports, identity, exports, imports and traffic policy."""

    ports: Annotated[list[Port], Field(min_length=1)] = Field(
        description="The service's ports (at least one).", examples=[[{"port": 8080, "protocol": "TCP"}]]
    )
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
    podLabels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="Labels every pod of the service carries (its Service's selector): Istio access rules select "
        "the pods they protect by them, and Cilium's where the service answers as any service account.",
        examples=[{"app": "httpbin"}],
    )
    export: Export | None = Field(
        default=None, description="Where the service is exported from, and how: path, ports, load balancing."
    )
    import_: Import | None = Field(
        default=None, alias="import", description="Which clusters import the service; default every other member."
    )
    trafficPolicy: TrafficPolicy | None = Field(
        default=None, description="The GlobalTrafficPolicy consuming clusters get: lbType, targets and weights."
    )
    overrides: list[Override] = Field(
        default_factory=list,
        description="Settings that differ in some clusters (another path in one region, other weights in another).",
    )
    acknowledge: list[FindingCode] = acknowledge_field()
