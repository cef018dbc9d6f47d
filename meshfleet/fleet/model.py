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
from meshfleet.fleet import resources as _resources
from meshfleet.fleet.resources import Resource

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


# The same rules for editors, as JSON Schema patterns (ECMA-262); the validators above stay the
# judges and give the messages. tests/fleet/test_schema.py holds the two to the same answers.
_JS_LABEL = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_JS_DNS1035 = "[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
_JS_SUBDOMAIN = "(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_JS_LABEL_NAME = "(?=.{1,63}$)([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_JS_LABEL_PREFIX = "(?=[^/]{1,253}/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"


def _schema(pattern: str, **extra: Any) -> Any:
    """Schema-only annotation: the pattern and examples an editor shows; validation is unchanged."""
    return Field(json_schema_extra={"pattern": pattern, **extra})


ClusterName = Annotated[str, AfterValidator(_cluster_name),
                        _schema(f"^{_JS_LABEL}$", examples=["eu-west-1"])]
Namespace = Annotated[str, AfterValidator(_namespace), _schema(f"^{_JS_LABEL}$")]
ObjectName = Annotated[str, AfterValidator(_object_name), _schema(f"^{_JS_LABEL}$")]
ServiceRef = Annotated[str, AfterValidator(_service_ref),
                       _schema(f"^{_JS_LABEL}/{_JS_DNS1035}$", examples=["httpbin/httpbin"])]
ServiceAccountRef = Annotated[str, AfterValidator(_service_account_ref),
                              _schema(f"^{_JS_LABEL}/{_JS_SUBDOMAIN}$", examples=["curl/curl"])]
ServiceAccount = Annotated[str, AfterValidator(_service_account), _schema(f"^(\\*|{_JS_SUBDOMAIN})$")]
LabelKey = Annotated[str, AfterValidator(names.label_key),
                     _schema(f"^(({_JS_LABEL_PREFIX})?/)?{_JS_LABEL_NAME}$", examples=["region"])]
LabelValue = Annotated[str, AfterValidator(names.label_value),
                       _schema("^((?=.{1,63}$)([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", examples=["eu"])]
PathTemplate = Annotated[str, AfterValidator(_path_template),
                         _schema("^(?![\\s\\S]*(//|/\\./|/\\.\\./|%2[fF]))(?![\\s\\S]*/\\.\\.?$)"
                                 "/([A-Za-z0-9/\\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2}|\\{(cluster|namespace|name|port)\\})*$",
                                 examples=["/{cluster}/{name}"])]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
Locality = Annotated[str, AfterValidator(lambda v: names.dns_label(v, "region/zone/group")),
                     _schema(f"^{_JS_LABEL}$")]
FindingCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", examples=["failover-unordered"])]


def _acknowledge() -> Any:
    return Field(default_factory=list, description="Warning codes meant here: shown as acknowledged, "
                 "they do not fail --strict. A code that matches no warning here is itself a warning.")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)


# ---------------------------------------------------------------------------------------------
# Cluster selection: a list of names, "all", or a label selector


class LabelRequirement(Strict):
    """One requirement on a cluster's labels, as in a Kubernetes label selector."""

    key: LabelKey = Field(description="The label key the requirement is about.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="`In`: the label has one of `values`; `NotIn`: it is absent or has none of them; "
                    "`Exists`: the cluster has the label; `DoesNotExist`: it has not. In and NotIn need values, "
                    "Exists and DoesNotExist take none."
    )
    values: list[LabelValue] = Field(default_factory=list, description="The values for In and NotIn.",
                                     examples=[["eu", "us"]])

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(Strict):
    """Clusters chosen by their `labels`: every matchLabels entry and every matchExpressions requirement holds."""

    matchLabels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Labels a chosen cluster has, with exactly these values.",
        examples=[{"region": "eu"}],
    )
    matchExpressions: list[LabelRequirement] = Field(
        default_factory=list, description="Requirements on a chosen cluster's labels, all of which hold.",
        examples=[[{"key": "region", "operator": "In", "values": ["eu", "us"]}]],
    )

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
_resources.resolve_types(ClusterSelection)


# ---------------------------------------------------------------------------------------------
# Clusters


class Gateway(Strict):
    """The member's ingress gateway as other clusters reach it (FSM's pipy ingress by default)."""

    host: Annotated[str, AfterValidator(_gateway_host)] = Field(
        description="The DNS name or IP address other clusters reach the gateway at.",
        examples=["192.168.1.110", "gateway.eu-west-1.example.com"],
    )
    ip: Annotated[str, AfterValidator(_ip)] | None = Field(
        default=None,
        description="The gateway's IP address, needed when `host` is a DNS name and meshfleet writes imports "
                    "(a fleet without an FSM control plane, Linkerd endpoints). Not loopback or unspecified.",
        examples=["10.0.12.7"],
    )
    port: PortNumber = Field(default=80, description="The gateway's port (default 80).", examples=[81])
    ingressClass: ObjectName = Field(
        default="pipy", description="The ingress class of the exports' Ingresses (default `pipy`, FSM's ingress)."
    )
    tls: bool = Field(default=False, description="The port is a TLS listener. FSM's sidecars reach an export's "
                      "gateway in plain HTTP, so an FSM member's gateway must not be one (error tls-gateway).")


FSM_RELEASE = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:-[0-9A-Za-z.-]+)?")
FSM_OLDEST = (1, 2)
"""The oldest FSM release meshfleet writes for: v1.2 (group flomesh.io), the seeds' walkthroughs."""


def fsm_release(version: str) -> tuple[int, int]:
    """The (major, minor) of an FSM version as written ("v1.2.9", "1.3", "v1.4.0-rc.1")."""
    m = FSM_RELEASE.fullmatch(version)
    if m is None:
        raise ValueError(f"FSM version {version!r} is not a release like v1.2.9 or 1.3")
    return int(m.group(1)), int(m.group(2))


def _fsm_version(v: str) -> str:
    if fsm_release(v) < FSM_OLDEST:
        raise ValueError(f"FSM {v} is older than v1.2, which meshfleet does not write for; upgrade the cluster to "
                         "v1.2 or later")
    return v


FsmVersion = Annotated[str, AfterValidator(_fsm_version)]


def _dns_server(v: str) -> str:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        raise ValueError(f"{v!r} is not an IP address; give the cluster DNS service's ClusterIP") from None
    return v


class LocalDnsProxy(Strict):
    """FSM's local DNS proxy, which lets a consumer resolve a service it only imports."""

    primaryUpstream: Annotated[str, AfterValidator(_dns_server)] = Field(
        description="The cluster DNS service's IP (kube-dns), where the proxy forwards every other lookup.",
        examples=["10.43.0.10"])
    secondaryUpstream: Annotated[str, AfterValidator(_dns_server)] | None = Field(
        default=None, description="A second DNS server the proxy forwards to when the first does not answer.")


class FsmSettings(Strict):
    """Where FSM is installed in this cluster, and the MeshConfig settings meshfleet manages there."""

    namespace: Namespace = Field(default="fsm-system", description="The namespace FSM is installed in "
                                 "(default `fsm-system`).")
    meshConfig: ObjectName = Field(default="fsm-mesh-config", description="The name of FSM's MeshConfig "
                                   "(default `fsm-mesh-config`); meshfleet only ever patches it.")
    meshName: ObjectName = Field(
        default="fsm", description="The mesh name FSM was installed with (`fsm install --mesh-name`, default "
        "`fsm`); namespaces meshfleet creates are put in this mesh.")
    permissive: bool | None = Field(
        default=None,
        description="Set spec.traffic.enablePermissiveTrafficPolicyMode; leave out to keep what is installed. "
                    "`false` lets only the access rules' grants through.",
    )
    version: FsmVersion | None = Field(
        default=None, description="The FSM release the cluster runs (v1.2.9, 1.3...): v1.2.x serves the "
        "multicluster kinds as flomesh.io, v1.3.0 and later as multicluster.flomesh.io. Default: the fleet's "
        "fsm.version, else v1.3 or later.", examples=["v1.2.9"])
    localDNSProxy: LocalDnsProxy | None = Field(
        default=None, description="Turn FSM's local DNS proxy on in the MeshConfig, forwarding to these upstreams; "
        "leave out to keep what is installed (Helm fsm.localDNSProxy).")


class FleetFsm(Strict):
    """What every FSM cluster of the fleet shares unless its own `fsm` says otherwise."""

    version: FsmVersion | None = Field(default=None, description="The FSM release of every FSM cluster that "
                                       "does not name its own (clusters.<name>.fsm.version).")


class KubeconfigFromStackSecret(Strict):
    """The kubeconfig is the Pulumi stack secret meshfleet:kubeconfigs.<cluster> (CI and previews use this)."""

    source: Literal["stack-secret"] = Field(
        alias="from", description="`stack-secret`: set it with `pulumi config set --secret --path "
                                  "'kubeconfigs.<cluster>' < file`."
    )


class KubeconfigFromContext(Strict):
    """The kubeconfig is a context of your kubeconfig file, read at run time; only that context is kept."""

    source: Literal["context"] = Field(alias="from", description="`context`: read a context of a kubeconfig file.")
    context: Annotated[str, Field(min_length=1)] = Field(description="The context's name.",
                                                         examples=["k3d-cluster-1"])
    file: str | None = Field(default=None, description="Kubeconfig file; default $KUBECONFIG or ~/.kube/config.")


KubeconfigSource = Annotated[KubeconfigFromStackSecret | KubeconfigFromContext, Field(discriminator="source")]


class LinkerdSettings(Strict):
    """How consumers reach this cluster's Linkerd multicluster gateway (static service mirroring)."""

    gatewayPort: PortNumber = Field(default=4143, description="The Linkerd multicluster gateway's port "
                                    "(default 4143), the port of the mirrored Endpoints.")
    gatewayIdentity: Annotated[str, Field(min_length=1)] = Field(
        default="linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
        description="The gateway's TLS identity, written on each mirrored Service for Linkerd's proxies.",
    )
    clusterDomain: Annotated[str, AfterValidator(lambda v: names.dns_subdomain(v, "cluster domain"))] = Field(
        default="cluster.local", description="The cluster's DNS domain (default `cluster.local`), in each mirrored "
                                             "Service's remote name `<name>.<namespace>.svc.<domain>`."
    )


McsApiVersion = Literal["multicluster.x-k8s.io/v1beta1", "multicluster.x-k8s.io/v1alpha1"]


class McsSettings(Strict):
    """The KEP-1645 implementation's API version (Submariner, Istio and AWS still read v1alpha1)."""

    apiVersion: McsApiVersion = Field(
        default="multicluster.x-k8s.io/v1beta1",
        description="The API version of the ServiceExports meshfleet writes: `multicluster.x-k8s.io/v1beta1` "
                    "(the default) or `multicluster.x-k8s.io/v1alpha1` for implementations that still read it.",
    )


MeshClusterName = Annotated[str, AfterValidator(lambda v: names.dns_label(v, "mesh cluster name"))]


class CiliumSettings(Strict):
    """How Cilium ClusterMesh names this cluster (its `cluster-name`, the value of the
    `io.cilium.k8s.policy.cluster` label on every endpoint)."""

    clusterName: MeshClusterName | None = Field(
        default=None, description="Cilium's cluster-name of this cluster; default: its name in the fleet.")


class IstioSettings(Strict):
    """How this cluster's Istio control plane (a primary of a multi-primary mesh) is installed."""

    clusterName: MeshClusterName | None = Field(
        default=None, description="Istio's cluster ID (values.global.multiCluster.clusterName); default: its name.")
    network: Annotated[str, Field(min_length=1), AfterValidator(names.label_value)] | None = Field(
        default=None, description="Istio's network of this cluster; set it on every Istio cluster when they sit "
        "on more than one network (each then needs an east-west gateway).")
    namespace: Namespace = Field(default="istio-system", description="The namespace istiod runs in and reads "
                                 "its remote secrets and mesh config from.")
    trustDomain: Annotated[str, AfterValidator(lambda v: names.dns_subdomain(v, "trust domain"))] = Field(
        default="cluster.local", description="The mesh's trust domain in this cluster: access rules admit the "
        "principals <trustDomain>/ns/<namespace>/sa/<account> of the callers here.")
    clusterDomain: Annotated[str, AfterValidator(lambda v: names.dns_subdomain(v, "cluster domain"))] = Field(
        default="cluster.local", description="The cluster's DNS domain: services are the hosts "
        "<name>.<namespace>.svc.<clusterDomain>.")
    meshConfigMap: ObjectName = Field(
        default="meshfleet-mesh-config", description="The ConfigMap istiod merges into its mesh config (istiod's "
        "SHARED_MESH_CONFIG environment variable must name it).")
    eastWestGateway: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"istio": "eastwestgateway"},
        description="Labels of the east-west gateway pods that carry traffic between networks.")


Mesh = Literal["fsm", "linkerd", "mcs", "cilium", "istio"]


class Cluster(Strict):
    """A member cluster: its mesh, its place (region, zone, group), its gateway and its kubeconfig's source."""

    mesh: Mesh = Field(
        default="fsm",
        description="How services cross into and out of this cluster: `fsm` Flomesh Service Mesh (the default: "
                    "ServiceExports, ServiceImports, GlobalTrafficPolicies), `linkerd` mirrored Services at the "
                    "exporters' Linkerd gateways, with no mirror controller, `mcs` the Multi-Cluster Services "
                    "API (KEP-1645: Submariner, Cilium, Antrea, Karmada), `cilium` Cilium ClusterMesh (global "
                    "Services, their affinity, CiliumNetworkPolicies) or `istio` an Istio primary (remote secrets, "
                    "DestinationRules, AuthorizationPolicies). A fleet may mix them.",
    )
    id: Annotated[str, Field(min_length=1, max_length=253)] | None = Field(
        default=None,
        description="Stable identity of the cluster for Pulumi's provider (default: the cluster's name).",
        examples=["eks-prod-eu-1"],
    )
    region: Locality = Field(default="default", description="The cluster's region (default `default`): the first "
                             "part of FSM's clusterKey region/zone/group/name.", examples=["eu"])
    zone: Locality = Field(default="default", description="The cluster's zone (default `default`), in FSM's "
                           "clusterKey.", examples=["eu-west-1a"])
    group: Locality = Field(default="default", description="The cluster's group (default `default`), in FSM's "
                            "clusterKey.")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Labels that the cluster selectors of exports, imports, policies, "
                                          "overrides and access rules choose the cluster by.",
        examples=[{"region": "eu", "tier": "prod"}],
    )
    gateway: Gateway | None = Field(default=None, description="The cluster's ingress gateway as other clusters "
                                    "reach it; a cluster that exports a service needs one.")
    fsm: FsmSettings = Field(default_factory=FsmSettings, title="FSM settings",
                             description="FSM's namespace, MeshConfig and permissive mode in this cluster (mesh: fsm).")
    linkerd: LinkerdSettings = Field(default_factory=LinkerdSettings, title="Linkerd settings",
                                     description="How consumers reach this cluster's Linkerd multicluster gateway "
                                                 "(mesh: linkerd).")
    mcs: McsSettings = Field(default_factory=McsSettings, title="MCS API settings",
                             description="The MCS API version this cluster's implementation reads (mesh: mcs).")
    cilium: CiliumSettings = Field(default_factory=CiliumSettings, title="Cilium settings",
                                   description="Cilium's cluster-name of this cluster (mesh: cilium).")
    istio: IstioSettings = Field(default_factory=IstioSettings, title="Istio settings",
                                 description="How this cluster's istiod is installed: cluster ID, network, trust "
                                             "domain, namespaces and the mesh config it merges (mesh: istio).")
    kubeconfig: KubeconfigSource = Field(
        default_factory=lambda: KubeconfigFromStackSecret.model_validate({"from": "stack-secret"}),
        description="Where the cluster's kubeconfig comes from: `{from: context, context: NAME}` (a context of "
                    "your kubeconfig file, read at run time) or `{from: stack-secret}` (the default: the Pulumi "
                    "stack secret meshfleet:kubeconfigs.<cluster>). A kubeconfig is never written in the fleet file.",
        examples=[{"from": "context", "context": "k3d-cluster-1"}, {"from": "stack-secret"}],
    )
    acknowledge: list[FindingCode] = _acknowledge()
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
    """A port of the service, as on its Kubernetes Service."""

    port: PortNumber = Field(description="The port number.", examples=[8080])
    protocol: Literal["TCP", "UDP", "SCTP"] = Field(default="TCP", description="`TCP` (the default), `UDP` or "
                                                    "`SCTP`.")
    name: ObjectName | None = Field(default=None, description="The port's name; a service with several ports "
                                    "names each.", examples=["http"])
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

    from_: Annotated[str, Field(min_length=1, alias="from"),
                     AfterValidator(lambda v: names.regex(v, "pathRewrite.from")),
                     AfterValidator(_rewrite_placeholders)] = Field(
        description="The path prefix to replace (a regular expression), with the placeholders {cluster}, "
                    "{namespace} and {name} of the export's path (each exporter's value, escaped).",
        examples=["^/{cluster}/{name}/?"]
    )
    to: Annotated[str, Field(min_length=1), AfterValidator(_rewrite_placeholders)] = Field(
        description="What replaces it.", examples=["/"])


LoadBalancer = Literal["RoundRobinLoadBalancer", "HashingLoadBalancer", "LeastWorkLoadBalancer"]
PathType = Literal["Prefix", "Exact"]


_SELECTION = "a list of cluster names, `all`, or a label selector `{matchLabels: ..., matchExpressions: ...}`"
_LOAD_BALANCER = ("The load balancer the export asks of FSM's ingress: `RoundRobinLoadBalancer`, `HashingLoadBalancer` "
                  "or `LeastWorkLoadBalancer`. FSM's pipy ingress reads none of these and balances round-robin "
                  "(warning load-balancer-ignored); leave out.")
_PATH = ("The path of the export's Ingress in the exporting cluster, with the placeholders {cluster}, {namespace}, "
         "{name} and {port}. Two exports in one cluster need different paths.")
_PATH_TYPE = ("`Prefix` (the default): the Ingress path matches as a prefix; `Exact`: only the path itself, which "
              "no call from another FSM cluster matches (error exact-export-path).")


def _some_clusters(sel: Selection) -> Selection:
    if sel.names == []:
        raise ValueError("the export lists no cluster, so nothing is exported (and a traffic policy would apply "
                         "nowhere); list the exporting clusters, or remove export")
    return sel


class Export(Strict):
    """Where the service is exported from (its exporting clusters) and how its Ingress there looks."""

    clusters: Annotated[ClusterSelection, AfterValidator(_some_clusters)] = Field(
        description=f"The exporting clusters: {_SELECTION}.",
        examples=[["cluster-1", "cluster-3"], "all", {"matchLabels": {"region": "eu"}}],
    )
    path: PathTemplate = Field(default="/{cluster}/{name}", description=_PATH + " Default `/{cluster}/{name}`.")
    pathType: PathType = Field(default="Prefix", description=_PATH_TYPE)
    ports: list[PortNumber] | None = Field(default=None, description="Service ports to export; default all.",
                                           examples=[[8080]])
    loadBalancer: LoadBalancer | None = Field(default=None, description=_LOAD_BALANCER)
    sessionSticky: bool | None = Field(default=None, description="Keep a client on the same endpoint (FSM's "
                                       "sticky sessions); leave out for FSM's default.")
    pathRewrite: PathRewrite | None = Field(default=None, description="Rewrite the start of the path before the "
                                            "request reaches the service.", examples=[{"from": "^/api", "to": "/"}])


class Import(Strict):
    """Which clusters import the service."""

    clusters: ClusterSelection = Field(
        description=f"The importing clusters: {_SELECTION}. With an FSM control plane it cannot be narrowed: FSM "
                    "imports every export everywhere.",
        examples=[["cluster-2"]],
    )


class Target(Strict):
    """An exporting cluster a traffic policy sends traffic to, with its weight."""

    cluster: ClusterName = Field(description="The exporting cluster.")
    weight: Annotated[int, AfterValidator(_weight)] | None = Field(
        default=None, description="The cluster's share of the traffic under ActiveActive, relative to the other "
                                  "targets' (not negative, at most 2147483647; FSM reads 0 as 100).", examples=[70]
    )


def _to_target(v: Any) -> Any:
    return {"cluster": v} if isinstance(v, str) else v


TargetEntry = Annotated[Target, BeforeValidator(_to_target, json_schema_input_type=ClusterName | Target)]
LbType = Literal["Locality", "FailOver", "ActiveActive"]


_LB_TYPE = ("How consumers choose among the service's endpoints: `Locality` only the consumer's own cluster's "
            "(nothing crosses clusters), `FailOver` the targets when there is no local endpoint (balanced "
            "round-robin, in no order), `ActiveActive` local and target endpoints together, by `weight`.")
_TARGETS = ("The exporting clusters to use, by name (`- cluster-1`) or with a weight (`- {cluster: cluster-1, "
            "weight: 70}`); default every exporter of the service.")


class TrafficPolicy(Strict):
    """The GlobalTrafficPolicy consuming clusters get: how they share traffic among the exporters."""

    lbType: LbType = Field(description=_LB_TYPE, examples=["ActiveActive"])
    clusters: ClusterSelection | None = Field(
        default=None,
        description=f"Consuming clusters that get the policy: {_SELECTION}; default every importing cluster.",
        examples=[["cluster-2"]],
    )
    targets: list[TargetEntry] | None = Field(
        default=None, description=_TARGETS,
        examples=[["cluster-1", "cluster-3"],
                  [{"cluster": "fsm-eu", "weight": 70}, {"cluster": "fsm-us", "weight": 30}]],
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

    clusters: ClusterSelection = Field(description=f"The clusters that see these values: {_SELECTION}.",
                                       examples=[["fsm-us"], {"matchLabels": {"region": "ap"}}])
    ports: list[Port] | None = Field(default=None, description="The service's ports in these clusters.")
    serviceAccount: ServiceAccount | None = Field(default=None, description="The service's account in these "
                                                  "clusters.")
    export: ExportOverride | None = Field(default=None, description="Export settings that differ in these "
                                          "clusters.", examples=[{"path": "/us/api"}])
    trafficPolicy: TrafficPolicyOverride | None = Field(default=None, description="Traffic policy settings that "
                                                        "differ in these clusters.")


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
    export: Export | None = Field(default=None, description="Where the service is exported from, and how: path, "
                                  "ports, load balancing.")
    import_: Import | None = Field(default=None, alias="import", description="Which clusters import the service; "
                                   "default every other member.")
    trafficPolicy: TrafficPolicy | None = Field(default=None, description="The GlobalTrafficPolicy consuming "
                                                "clusters get: lbType, targets and weights.")
    overrides: list[Override] = Field(default_factory=list, description="Settings that differ in some clusters "
                                      "(another path in one region, other weights in another).")
    acknowledge: list[FindingCode] = _acknowledge()


# ---------------------------------------------------------------------------------------------
# Access


HttpMethod = Literal["*", "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]


HeaderName = Annotated[str, AfterValidator(names.http_header_name)]
HeaderRegex = Annotated[str, AfterValidator(lambda v: names.regex(v, "header value"))]


class HttpMatch(Strict):
    """Requests an access rule lets through: path, methods and headers (an HTTPRouteGroup match)."""

    name: ObjectName = Field(description="The match's name in the HTTPRouteGroup.", examples=["all"])
    pathRegex: Annotated[str, AfterValidator(lambda v: names.regex(v, "pathRegex"))] = Field(
        default=".*", description="A regular expression the request path matches (default `.*`, any path).",
        examples=["/"],
    )
    methods: Annotated[list[HttpMethod], Field(min_length=1)] = Field(
        default_factory=lambda: ["*"],  # type: ignore[arg-type]
        description="The HTTP methods allowed: `GET`, `HEAD`, `PUT`, `POST`, `DELETE`, `CONNECT`, `OPTIONS`, `TRACE`, "
                    "`PATCH`, or `*` for any (the default).",
        examples=[["GET"]],
    )
    headers: list[dict[HeaderName, HeaderRegex]] | None = Field(
        default=None, description="Header matches: each maps header names to regular expressions their values match.",
        examples=[[{"x-tenant": "blue"}]],
    )


class AccessRule(Strict):
    """`from` service accounts may call the service `to` in the clusters `in`, for the `http` matches."""

    from_: Annotated[list[ServiceAccountRef], Field(min_length=1, alias="from")] = Field(
        description="The service accounts that may call, as `namespace/serviceaccount`.", examples=[["curl/curl"]]
    )
    to: ServiceRef = Field(description="The service they may call, as `namespace/name`, one of `services`.")
    in_: ClusterSelection | None = Field(
        default=None, alias="in",
        description=f"Clusters where the grant holds: {_SELECTION}; default where the service is reachable.",
        examples=[["cluster-2"]],
    )
    http: Annotated[list[HttpMatch], Field(min_length=1)] = Field(
        default_factory=lambda: [HttpMatch(name="all")],
        description="The requests the grant lets through (default one match `all`: any path, any method).",
    )
    acknowledge: list[FindingCode] = _acknowledge()


# ---------------------------------------------------------------------------------------------
# The fleet


class Fleet(Strict):
    """A meshfleet fleet file: every member cluster, the services that cross between them, and who may call them."""

    controlPlane: ClusterName | None = Field(
        default=None, description="The FSM control-plane cluster; leave out to let meshfleet be the control plane.",
        examples=["control-plane"],
    )
    clusters: Annotated[dict[ClusterName, Cluster], Field(min_length=1)] = Field(
        description="Every member cluster, by name (a DNS-1123 label: lower-case letters, digits and '-').",
        examples=[{"cluster-1": {"gateway": {"host": "192.168.1.110", "port": 81},
                                 "kubeconfig": {"from": "context", "context": "k3d-cluster-1"}}}],
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
    fsm: FleetFsm = Field(default_factory=FleetFsm, title="FSM settings", description="Settings every FSM "
                          "cluster shares: the FSM release they run (`version`), unless a cluster names its own.")
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
                    raise ValueError(f"{name}: former name {old!r} is {what} cluster {other}; a name belongs to one "
                                     "cluster, or two clusters' Pulumi resources would claim one address")
        return clusters

    @model_validator(mode="after")
    def _decommissioned_are_not_named(self) -> Fleet:
        gone = {n for n, c in self.clusters.items() if c.decommissioned}
        named = {self.controlPlane} | _named_clusters([self.services, self.access, self.resources])
        if gone & named:
            raise ValueError(f"decommissioned cluster(s) {', '.join(sorted(gone & named))} still named elsewhere in "
                             "the fleet (controlPlane, services, access, resources); remove them there")
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

