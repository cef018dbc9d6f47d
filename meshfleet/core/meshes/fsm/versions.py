"""FSM releases and the API group each serves its multicluster kinds in.

Why: FSM v1.2.x serves `Cluster`, `ServiceExport`, `ServiceImport` and `GlobalTrafficPolicy` as
`flomesh.io/v1alpha1` (`+groupName=flomesh.io` in pkg/apis/multicluster/v1alpha1/doc.go at tag
v1.2.9); v1.3.0 and later as `multicluster.flomesh.io/v1alpha1` (the same file at v1.3.0; the schemas
are otherwise the same). A cluster's objects must be in the group its own FSM serves. The MeshConfig
is `config.flomesh.io/v1alpha3` in both (v1.2.9's CRD serves v1alpha3 as its storage version).

With an FSM control plane, its connector reads and writes members' objects through the clientset of
its own release (pkg/mcs/remote/types.go:109-116,160-161), so every member must serve the control
plane's group. Without one, each member reads only its own objects: releases may differ.
"""

from __future__ import annotations

from meshfleet.core.checks import Checks
from meshfleet.core.meshes.fsm.codes import FSM_VERSIONS_DIFFER
from meshfleet.errors import Loc
from meshfleet.fleet.model import Fleet, fsm_release

GROUP = "multicluster.flomesh.io"
GROUP_V1_2 = "flomesh.io"
MESHCONFIG_API = "config.flomesh.io/v1alpha3"
FIRST_MULTICLUSTER_GROUP = (1, 3)
"""The first release that serves `multicluster.flomesh.io` (commit e889e66d, shipped in v1.3.0)."""


def version(fleet: Fleet, cluster: str) -> str | None:
    """The FSM release `cluster` runs, as written (its own `fsm.version`, else the fleet's); None: unsaid."""
    return fleet.clusters[cluster].fsm.version or fleet.fsm.version


def version_loc(fleet: Fleet, cluster: str) -> Loc:
    """Where that release is written (the cluster's own setting, the fleet's, or the cluster)."""
    if fleet.clusters[cluster].fsm.version is not None:
        return ("clusters", cluster, "fsm", "version")
    return ("fsm", "version") if fleet.fsm.version is not None else ("clusters", cluster)


def group(fleet: Fleet, cluster: str) -> str:
    """The API group `cluster`'s FSM serves the multicluster kinds in (the newest when unsaid)."""
    written = version(fleet, cluster)
    if written is not None and fsm_release(written) < FIRST_MULTICLUSTER_GROUP:
        return GROUP_V1_2
    return GROUP


def api_version(fleet: Fleet, cluster: str) -> str:
    """`apiVersion` of `cluster`'s Cluster, ServiceExport, ServiceImport and GlobalTrafficPolicy objects."""
    return f"{group(fleet, cluster)}/v1alpha1"


def check_versions(checks: Checks, members: list[str]) -> None:
    """With a control plane, every FSM member serves the control plane's API group."""
    fleet = checks.fleet
    cp = fleet.controlPlane
    if cp is None or cp not in fleet.clusters:
        return
    wanted = group(fleet, cp)
    for m in members:
        if group(fleet, m) == wanted:
            continue
        mine, theirs = version(fleet, m) or "v1.3 or later", version(fleet, cp) or "v1.3 or later"
        checks.problem(
            version_loc(fleet, m),
            f"member {m} runs FSM {mine} ({group(fleet, m)}) and the control plane {cp} runs {theirs} "
            f"({wanted}): the control plane's connector reads and writes members' objects in its own API "
            f"group only, so it would never see {m}'s exports nor write its imports",
            "run every FSM cluster of a control plane on releases of one group (v1.2.x, or v1.3 and "
            "later); while they differ, run without controlPlane",
            FSM_VERSIONS_DIFFER,
        )
