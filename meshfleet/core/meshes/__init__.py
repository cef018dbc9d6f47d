"""The registry of mesh adapters, by the word a cluster's `mesh` names them by.

Adding a mesh takes:
1. its name in the `Mesh` literal of `meshfleet/fleet/model/clusters.py`, and its settings class as a field of
   `Cluster` named like the mesh (if it has settings);
2. one module here implementing `base.Mesh` (and, if it enforces access with its own objects, an
   `base.AccessAdapter`): capabilities, checks with their codes, objects and views, runtime rules;
3. one line in `_ADAPTERS` below;
4. a fleet that uses it, with golden renders (and broken-fleet cases for its refusals).
Topology, planning, the diff and the summary need no change: they read capabilities and views.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from meshfleet import codes as core_codes
from meshfleet.core.meshes import base, cilium, fsm, istio, linkerd, mcs, smi
from meshfleet.core.meshes.base import AccessAdapter, Mesh
from meshfleet.errors import Code

_ADAPTERS: tuple[Mesh, ...] = (
    fsm.Fsm(access=smi.Smi()),
    linkerd.Linkerd(),
    mcs.Mcs(),
    cilium.Cilium(access=cilium.CiliumNetworkPolicies()),
    istio.Istio(access=istio.AuthorizationPolicies()),
)

MESHES: Mapping[str, Mesh] = MappingProxyType({m.name: m for m in _ADAPTERS})


def mesh(name: str) -> Mesh:
    """The adapter of the mesh a cluster runs."""
    return MESHES[name]


def access_adapters() -> tuple[AccessAdapter, ...]:
    """Each access adapter once, in registry order."""
    found: list[AccessAdapter] = []
    for m in MESHES.values():
        if m.access is not None and m.access not in found:
            found.append(m.access)
    return tuple(found)


def all_codes() -> tuple[Code, ...]:
    """Every finding code meshfleet can report: the core's, then each mesh's and access adapter's."""
    found = [*core_codes.CODES, base.GATEWAY_NEEDS_IP]
    for m in MESHES.values():
        found.extend(m.codes)
    for a in access_adapters():
        found.extend(a.codes)
    return tuple(found)


__all__ = ["MESHES", "AccessAdapter", "Mesh", "access_adapters", "all_codes", "mesh"]
