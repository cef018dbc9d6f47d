"""A member cluster: its place, its gateway, its kubeconfig's source and each mesh's settings.

Why: the mesh names and their settings blocks are words users write, so the fleet model holds them
(what each mesh does with them lives in `meshfleet.core.meshes`); a cluster's checks that need no
other cluster live here too (a renamed cluster keeps its id).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    model_validator,
)

from meshfleet.fleet import names
from meshfleet.fleet.model.values import (
    ClusterName,
    FindingCode,
    GatewayHost,
    IPAddress,
    LabelKey,
    LabelValue,
    Locality,
    Namespace,
    ObjectName,
    PortNumber,
    Strict,
    acknowledge_field,
)


class Gateway(Strict):
    """The member's ingress gateway as other clusters reach it (FSM's pipy ingress by default)."""

    host: GatewayHost = Field(
        description="The DNS name or IP address other clusters reach the gateway at.",
        examples=["192.168.1.110", "gateway.eu-west-1.example.com"],
    )
    ip: IPAddress | None = Field(
        default=None,
        description="The gateway's IP address, needed when `host` is a DNS name and meshfleet writes imports "
        "(a fleet without an FSM control plane, Linkerd endpoints). Not loopback or unspecified.",
        examples=["10.0.12.7"],
    )
    port: PortNumber = Field(default=80, description="The gateway's port (default 80).", examples=[81])
    ingressClass: ObjectName = Field(
        default="pipy", description="The ingress class of the exports' Ingresses (default `pipy`, FSM's ingress)."
    )
    tls: bool = Field(
        default=False,
        description="The port is a TLS listener. FSM's sidecars reach an export's "
        "gateway in plain HTTP, so an FSM member's gateway must not be one (error tls-gateway).",
    )


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
        raise ValueError(
            f"FSM {v} is older than v1.2, which meshfleet does not write for; upgrade the cluster to v1.2 or later"
        )
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
        examples=["10.43.0.10"],
    )
    secondaryUpstream: Annotated[str, AfterValidator(_dns_server)] | None = Field(
        default=None, description="A second DNS server the proxy forwards to when the first does not answer."
    )


class FsmSettings(Strict):
    """Where FSM is installed in this cluster, and the MeshConfig settings meshfleet manages there."""

    namespace: Namespace = Field(
        default="fsm-system", description="The namespace FSM is installed in (default `fsm-system`)."
    )
    meshConfig: ObjectName = Field(
        default="fsm-mesh-config",
        description="The name of FSM's MeshConfig (default `fsm-mesh-config`); meshfleet only ever patches it.",
    )
    meshName: ObjectName = Field(
        default="fsm",
        description="The mesh name FSM was installed with (`fsm install --mesh-name`, default "
        "`fsm`); namespaces meshfleet creates are put in this mesh.",
    )
    permissive: bool | None = Field(
        default=None,
        description="Set spec.traffic.enablePermissiveTrafficPolicyMode; leave out to keep what is installed. "
        "`false` lets only the access rules' grants through.",
    )
    version: FsmVersion | None = Field(
        default=None,
        description="The FSM release the cluster runs (v1.2.9, 1.3...): v1.2.x serves the "
        "multicluster kinds as flomesh.io, v1.3.0 and later as multicluster.flomesh.io. Default: the fleet's "
        "fsm.version, else v1.3 or later.",
        examples=["v1.2.9"],
    )
    localDNSProxy: LocalDnsProxy | None = Field(
        default=None,
        description="Turn FSM's local DNS proxy on in the MeshConfig, forwarding to these upstreams; "
        "leave out to keep what is installed (Helm fsm.localDNSProxy).",
    )


class FleetFsm(Strict):
    """What every FSM cluster of the fleet shares unless its own `fsm` says otherwise."""

    version: FsmVersion | None = Field(
        default=None,
        description="The FSM release of every FSM cluster that does not name its own (clusters.<name>.fsm.version).",
    )


class KubeconfigFromStackSecret(Strict):
    """The kubeconfig is the Pulumi stack secret meshfleet:kubeconfigs.<cluster> (CI and previews use this)."""

    source: Literal["stack-secret"] = Field(
        alias="from",
        description="`stack-secret`: set it with `pulumi config set --secret --path 'kubeconfigs.<cluster>' < file`.",
    )


class KubeconfigFromContext(Strict):
    """The kubeconfig is a context of your kubeconfig file, read at run time; only that context is kept."""

    source: Literal["context"] = Field(alias="from", description="`context`: read a context of a kubeconfig file.")
    context: Annotated[str, Field(min_length=1)] = Field(description="The context's name.", examples=["k3d-cluster-1"])
    file: str | None = Field(default=None, description="Kubeconfig file; default $KUBECONFIG or ~/.kube/config.")


KubeconfigSource = Annotated[KubeconfigFromStackSecret | KubeconfigFromContext, Field(discriminator="source")]


class LinkerdSettings(Strict):
    """How consumers reach this cluster's Linkerd multicluster gateway (static service mirroring)."""

    gatewayPort: PortNumber = Field(
        default=4143,
        description="The Linkerd multicluster gateway's port (default 4143), the port of the mirrored Endpoints.",
    )
    gatewayIdentity: Annotated[str, Field(min_length=1)] = Field(
        default="linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local",
        description="The gateway's TLS identity, written on each mirrored Service for Linkerd's proxies.",
    )
    clusterDomain: Annotated[str, AfterValidator(lambda v: names.dns_subdomain(v, "cluster domain"))] = Field(
        default="cluster.local",
        description="The cluster's DNS domain (default `cluster.local`), in each mirrored "
        "Service's remote name `<name>.<namespace>.svc.<domain>`.",
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
        default=None, description="Cilium's cluster-name of this cluster; default: its name in the fleet."
    )


class IstioSettings(Strict):
    """How this cluster's Istio control plane (a primary of a multi-primary mesh) is installed."""

    clusterName: MeshClusterName | None = Field(
        default=None, description="Istio's cluster ID (values.global.multiCluster.clusterName); default: its name."
    )
    network: Annotated[str, Field(min_length=1), AfterValidator(names.label_value)] | None = Field(
        default=None,
        description="Istio's network of this cluster; set it on every Istio cluster when they sit "
        "on more than one network (each then needs an east-west gateway).",
    )
    namespace: Namespace = Field(
        default="istio-system",
        description="The namespace istiod runs in and reads its remote secrets and mesh config from.",
    )
    trustDomain: Annotated[str, AfterValidator(lambda v: names.dns_subdomain(v, "trust domain"))] = Field(
        default="cluster.local",
        description="The mesh's trust domain in this cluster: access rules admit the "
        "principals <trustDomain>/ns/<namespace>/sa/<account> of the callers here.",
    )
    clusterDomain: Annotated[str, AfterValidator(lambda v: names.dns_subdomain(v, "cluster domain"))] = Field(
        default="cluster.local",
        description="The cluster's DNS domain: services are the hosts <name>.<namespace>.svc.<clusterDomain>.",
    )
    meshConfigMap: ObjectName = Field(
        default="meshfleet-mesh-config",
        description="The ConfigMap istiod merges into its mesh config (istiod's "
        "SHARED_MESH_CONFIG environment variable must name it).",
    )
    eastWestGateway: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"istio": "eastwestgateway"},
        description="Labels of the east-west gateway pods that carry traffic between networks.",
    )


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
    region: Locality = Field(
        default="default",
        description="The cluster's region (default `default`): the first "
        "part of FSM's clusterKey region/zone/group/name.",
        examples=["eu"],
    )
    zone: Locality = Field(
        default="default",
        description="The cluster's zone (default `default`), in FSM's clusterKey.",
        examples=["eu-west-1a"],
    )
    group: Locality = Field(
        default="default", description="The cluster's group (default `default`), in FSM's clusterKey."
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="Labels that the cluster selectors of exports, imports, policies, "
        "overrides and access rules choose the cluster by.",
        examples=[{"region": "eu", "tier": "prod"}],
    )
    gateway: Gateway | None = Field(
        default=None,
        description="The cluster's ingress gateway as other clusters "
        "reach it; a cluster that exports a service needs one.",
    )
    fsm: FsmSettings = Field(
        default_factory=FsmSettings,
        title="FSM settings",
        description="FSM's namespace, MeshConfig and permissive mode in this cluster (mesh: fsm).",
    )
    linkerd: LinkerdSettings = Field(
        default_factory=LinkerdSettings,
        title="Linkerd settings",
        description="How consumers reach this cluster's Linkerd multicluster gateway (mesh: linkerd).",
    )
    mcs: McsSettings = Field(
        default_factory=McsSettings,
        title="MCS API settings",
        description="The MCS API version this cluster's implementation reads (mesh: mcs).",
    )
    cilium: CiliumSettings = Field(
        default_factory=CiliumSettings,
        title="Cilium settings",
        description="Cilium's cluster-name of this cluster (mesh: cilium).",
    )
    istio: IstioSettings = Field(
        default_factory=IstioSettings,
        title="Istio settings",
        description="How this cluster's istiod is installed: cluster ID, network, trust "
        "domain, namespaces and the mesh config it merges (mesh: istio).",
    )
    kubeconfig: KubeconfigSource = Field(
        default_factory=lambda: KubeconfigFromStackSecret.model_validate({"from": "stack-secret"}),
        description="Where the cluster's kubeconfig comes from: `{from: context, context: NAME}` (a context of "
        "your kubeconfig file, read at run time) or `{from: stack-secret}` (the default: the Pulumi "
        "stack secret meshfleet:kubeconfigs.<cluster>). A kubeconfig is never written in the fleet file.",
        examples=[{"from": "context", "context": "k3d-cluster-1"}, {"from": "stack-secret"}],
    )
    acknowledge: list[FindingCode] = acknowledge_field()
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
