"""Seeded synthetic fleets of any size, for benchmarks and property tests.

Why: the planner must be checked and measured on fleets far larger and stranger than the demo:
clusters across regions, zones and groups, services exported from several clusters and imported
everywhere or by selector, traffic policies and access rules. The same seed gives the same fleet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, get_args

from meshfleet.fleet.model import Cluster, Mesh

LB_TYPES = ("FailOver", "ActiveActive", "Locality")
DEFAULT_MESH: str = Cluster.model_fields["mesh"].default
OTHER_MESHES = tuple(m for m in get_args(Mesh) if m != DEFAULT_MESH)
"""The meshes a generated cluster may run instead of the default (whose settings block bears its name)."""


@dataclass(frozen=True)
class FleetShape:
    clusters: int = 6
    services: int = 8
    exporters: int = 3
    """Exporting clusters per service (at most the member count)."""
    regions: int = 3
    zones: int = 2
    groups: int = 2
    control_plane: bool = True
    selector_share: float = 0.25
    """Share of services exported by label selector rather than by name."""
    access_share: float = 0.5
    permissive_share: float = 0.5
    multi_port_share: float = 0.2
    mesh_share: float = 0.0
    """Share of clusters that run another mesh than the default one (each other mesh alike)."""


def generate(shape: FleetShape, seed: int) -> dict[str, Any]:
    """A valid fleet document (plain data, as a YAML loader would give it)."""
    rng = random.Random(seed)
    clusters: dict[str, Any] = {}
    names = [f"c{i:03d}" for i in range(shape.clusters)]
    for i, name in enumerate(names):
        region = f"r{i % shape.regions}"
        c: dict[str, Any] = {
            "region": region,
            "zone": f"z{(i // shape.regions) % shape.zones}",
            "group": f"g{rng.randrange(shape.groups)}",
            "labels": {"region": region, "tier": rng.choice(["gold", "silver"])},
            "gateway": {"host": f"10.{i // 250}.{i % 250}.1", "port": 8000 + (i % 1000)},
            "kubeconfig": {"from": "stack-secret"},
        }
        if rng.random() < shape.mesh_share:
            c["mesh"] = rng.choice(OTHER_MESHES)
            c["labels"]["mesh"] = c["mesh"]
        elif rng.random() < shape.permissive_share:
            c[DEFAULT_MESH] = {"permissive": rng.random() < 0.5}
        clusters[name] = c
    doc: dict[str, Any] = {"clusters": clusters}
    if shape.control_plane:
        doc["controlPlane"] = "hub"
        clusters["hub"] = {"kubeconfig": {"from": "stack-secret"}}

    services: dict[str, Any] = {}
    access: dict[str, Any] = {}
    exporters = max(1, min(shape.exporters, shape.clusters))
    for s in range(shape.services):
        ns, name = f"ns{s % 7}", f"svc{s:04d}"
        if rng.random() < shape.multi_port_share:
            ports = [{"port": 8080, "name": "http"}, {"port": 9090, "name": "metrics"}]
            path = "/{cluster}/{name}/{port}"
        else:
            ports = [{"port": 8080}]
            path = "/{cluster}/{name}"
        svc: dict[str, Any] = {"ports": ports, "serviceAccount": f"sa-{name}"}
        if shape.mesh_share > 0:
            svc["podLabels"] = {"app": name}  # meshes that select the pods an access rule protects by label
        chosen = sorted(rng.sample(names, exporters))
        if rng.random() < shape.selector_share:
            region = clusters[chosen[0]]["region"]
            svc["export"] = {"clusters": {"matchLabels": {"region": region}}, "path": path}
            chosen = [n for n in names if clusters[n]["region"] == region]
        else:
            svc["export"] = {"clusters": chosen, "path": path}
        # Traffic policies and access rules are written for the default mesh's clusters.
        default_chosen = [e for e in chosen if "mesh" not in clusters[e]]
        if len(names) > 1 and default_chosen:
            lb = rng.choice(LB_TYPES)
            policy: dict[str, Any] = {"lbType": lb}
            if lb == "ActiveActive" and rng.random() < 0.5 and shape.mesh_share == 0:
                policy["targets"] = [{"cluster": e, "weight": rng.randrange(1, 100)} for e in default_chosen]
            elif lb == "Locality" and shape.mesh_share == 0:
                policy["targets"] = [default_chosen[0]]  # Locality allows zero targets where it is the only one
            # With other meshes in the fleet, targets are left out: consumers of meshes that apply policies
            # by their own rules (affinity, locality) send to every exporter they reach.
            svc["trafficPolicy"] = policy
        default_names = [n for n in names if "mesh" not in clusters[n]]
        if rng.random() < 0.2 and default_names:
            local = rng.choice(default_names)
            svc["localServiceAccounts"] = {local: "default"}
        services[f"{ns}/{name}"] = svc
        if rng.random() < shape.access_share:
            access[f"to-{name}"] = {
                "from": [f"client{s % 3}/client"],
                "to": f"{ns}/{name}",
                "http": [{"name": "read", "pathRegex": "/", "methods": ["GET", "HEAD"]}],
            }
    doc["services"] = services
    if access:
        doc["access"] = access
    return doc
