"""What FSM does late or never when the fleet changes around it, worded for the diff's risks.

Why: the diff decides when a generic change happens (an export changes, a control plane leaves,
objects pass from applied to derived, a registered member leaves or changes its key); what FSM's controllers then do,
and the safe order, is FSM's knowledge and lives here, each rule citing FSM's source by file and line
(../shared/reference/fsm-runtime-semantics.md).
"""

from __future__ import annotations

from meshfleet.core.objects import split
from meshfleet.core.views import ExportView

STICKY = "pipy.ingress.kubernetes.io/session-sticky"
REWRITE_FROM = "pipy.ingress.kubernetes.io/rewrite-target-from"
REWRITE_TO = "pipy.ingress.kubernetes.io/rewrite-target-to"
"""The annotations FSM writes on an export's Ingress for `sessionSticky` and `pathRewrite`."""
OWN_OBJECTS = "FSM's own objects"
"""The objects of FSM's installation that a member patches (its MeshConfig), kept when it leaves."""


def control_plane_removal(cluster: str, registrations: int, leaves_fleet: bool, successor: bool) -> tuple[str, ...]:
    """The control plane's `Cluster` registrations go with it, and so does the connector that writes
    every member's ServiceImports."""
    then = (
        "another cluster takes over as control plane"
        if successor
        else ("meshfleet writes the ServiceImports itself from now on (standalone)")
    )
    leaves = "leaves the fleet" if leaves_fleet else "is no longer the control plane"
    return (
        f"the FSM control plane {cluster} {leaves}: its {registrations} cluster registrations "
        f"are deleted and it stops writing ServiceImports; {then}",
    )


def handover(cluster: str, objects: int) -> tuple[str, ...]:
    """Imports meshfleet applied pass to FSM's control plane."""
    # FSM's connector merges into an import of the same name, whoever wrote it
    # (pkg/mcs/remote/connector.go:233-236,245-289); deleted afterwards, it is written again only
    # when a ServiceExport changes (informer resync 0, pkg/k8s/informers/types.go:178; any update
    # re-publishes an export, pkg/mcs/remote/types.go:234-267).
    return (
        f"{cluster}: {objects} objects go from applied to predicted: FSM's control plane "
        "adopts the ServiceImports meshfleet applied, then meshfleet deletes them, and FSM "
        "writes them again only when a ServiceExport changes; safe order: apply, then in each "
        "exporting cluster run `kubectl annotate serviceexport -A --all "
        "meshfleet.io/republished=<time> --overwrite` so FSM writes every import again",
    )


# FSM handles a deleted `Cluster` as an empty object, so it looks up the connector under the key
# `///` and stops nothing (pkg/controllers/cluster/v1alpha1/cluster_controller.go:105-118,205-211);
# a region, zone or group change starts a connector under the new key and leaves the old one
# running (:136-152). Imports are deleted only when a ServiceExport is (connector.go:401-470).


def _restart(control_plane: str) -> str:
    return f"`kubectl rollout restart deployment/fsm-controller -n <its FSM namespace>` in {control_plane}"


def member_removal(control_plane: str, member: str) -> tuple[str, ...]:
    """A member whose registration goes: its connector keeps running."""
    return (
        f"{member} leaves FSM's control plane {control_plane}, but FSM keeps its connector running and "
        f"the imports of its exports in every member; safe order: first stop exporting from "
        f"{member} and apply (FSM then removes its endpoints), then remove it, then run {_restart(control_plane)}",
    )


def member_key(control_plane: str, member: str, old_key: str, new_key: str) -> tuple[str, ...]:
    """A member whose clusterKey changes: the connector under the old key keeps running."""
    return (
        f"{member}'s clusterKey changes ({old_key} -> {new_key}), but FSM keeps the connector "
        f"under the old key running beside the new one, and both write {member}'s endpoints into "
        f"every import; safe order: first stop exporting from {member} and apply, then change its "
        f"region, zone or group, run {_restart(control_plane)}, then export again",
    )


def export_change(cluster: str, old: ExportView, new: ExportView) -> tuple[str, ...]:
    """FSM merges the export's Ingress annotations and never removes one (serviceexport_controller.go:
    210-216): a setting turned off stays live. Deleting the Ingress makes FSM write it afresh
    (it owns the Ingress, :437, and creates it when missing, :160-178); removing the annotation is
    quicker and leaves no gap."""
    namespace, name = split(new.service)
    ingress = f"{namespace} svcexp-ing-{name}"
    stays = []
    if old.session_sticky and not new.session_sticky:
        stays.append(("sessionSticky", [STICKY]))
    if old.path_rewrite is not None and new.path_rewrite is None:
        stays.append(("pathRewrite", [REWRITE_FROM, REWRITE_TO]))
    out = []
    for setting, keys in stays:
        drop = " ".join(f"{k}-" for k in keys)
        out.append(
            f"{cluster}: {new.service} turns {setting} off, but FSM never removes an annotation from the "
            f"export's Ingress, so the old {setting} stays live; after applying, run "
            f"`kubectl annotate ingress -n {ingress} {drop}` in {cluster}"
        )
    return tuple(out)
