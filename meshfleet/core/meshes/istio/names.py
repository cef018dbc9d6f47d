"""Istio's words and who is who in an Istio mesh: API versions, labels, cluster IDs, hosts, serving clusters.

Why: the adapter's checks, its objects, its locality settings and its authorization policies all ask
the same questions (which members run Istio, what is a service's host, whose endpoints answer a
consumer); one module answers them for all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from meshfleet.core.resolved import ServiceTopology
from meshfleet.fleet.model import Cluster, Fleet

NAME = "istio"
"""The mesh's name: what a cluster's `mesh` says (`Istio.name`)."""
NETWORKING_API = "networking.istio.io/v1"
SECURITY_API = "security.istio.io/v1"
NETWORK_LABEL = "topology.istio.io/network"
CLUSTER_LABEL = "topology.istio.io/cluster"
REGION_LABEL = "topology.kubernetes.io/region"
MULTICLUSTER_LABEL = "istio/multiCluster"
CLUSTER_ANNOTATION = "networking.istio.io/cluster"
REMOTE_SECRET_PREFIX = "istio-remote-secret-"
CROSS_NETWORK_GATEWAY = "meshfleet-cross-network"
CROSS_NETWORK_PORT = 15443
OUTLIER_DETECTION = {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 100}
"""Envoy's defaults for 5xx ejection, and every endpoint ejectable: a cluster whose endpoints all fail
is left for the next tier (Envoy's default of 10% would keep most of them in rotation)."""


def cluster_id(cluster: Cluster, name: str) -> str:
    """Istio's cluster ID of a member (the data key of its remote secret, `topology.istio.io/cluster`)."""
    return cluster.istio.clusterName or name


def host(svc: ServiceTopology, cluster: Cluster) -> str:
    """The service's host name in the mesh: `name.namespace.svc.<cluster domain>`."""
    return f"{svc.name}.{svc.namespace}.svc.{cluster.istio.clusterDomain}"


def members(fleet: Fleet, names: Sequence[str]) -> list[str]:
    """The members of `names` that run Istio."""
    return [n for n in names if fleet.clusters[n].mesh == NAME]


def several_networks(fleet: Fleet, names: Sequence[str]) -> bool:
    return len({fleet.clusters[n].istio.network for n in members(fleet, names)}) > 1


def serving(svc: ServiceTopology, cluster: str) -> list[str]:
    """The clusters whose endpoints answer `cluster`'s calls to `svc`: its own, and those it imports from."""
    found = {cluster} if svc.runs_in(cluster) else set()
    if cluster in svc.importers:
        found.update(svc.endpoints_for(cluster))
    return sorted(found)


def mesh_config(hosts: Sequence[str]) -> str:
    """The mesh config istiod merges: every host cluster-local except `hosts`. JSON, which istiod reads
    as the YAML it is (one line, so the rendered ConfigMap stays readable)."""
    settings: list[dict[str, Any]] = [{"settings": {"clusterLocal": True}, "hosts": ["*"]}]
    if hosts:
        settings.append({"settings": {"clusterLocal": False}, "hosts": list(hosts)})
    return json.dumps({"serviceSettings": settings})
