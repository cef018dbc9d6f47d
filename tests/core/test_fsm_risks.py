"""What FSM does late or never when the fleet changes: the FSM adapter's words for the diff's risks.

The messages are pinned word for word (the diff's goldens and the README show them); every other mesh
has no control plane, no handover and no registered member, so its adapter says nothing of them.
"""

from __future__ import annotations

import pytest

from meshfleet.core.meshes import MESHES

FSM = MESHES["fsm"]
RESTART = "`kubectl rollout restart deployment/fsm-controller -n <its FSM namespace>` in hub"


@pytest.mark.parametrize(
    ("leaves_fleet", "successor", "expected"),
    [
        (
            True,
            False,
            "the FSM control plane hub leaves the fleet: its 3 cluster registrations are deleted and it stops "
            "writing ServiceImports; meshfleet writes the ServiceImports itself from now on (standalone)",
        ),
        (
            False,
            True,
            "the FSM control plane hub is no longer the control plane: its 3 cluster registrations are deleted "
            "and it stops writing ServiceImports; another cluster takes over as control plane",
        ),
    ],
)
def test_a_control_plane_that_leaves_stops_writing_the_imports(
    leaves_fleet: bool, successor: bool, expected: str
) -> None:
    assert FSM.control_plane_removal_risks("hub", 3, leaves_fleet, successor) == (expected,)


def test_imports_handed_to_the_control_plane_name_the_republishing_annotation() -> None:
    assert FSM.handover_risks("cluster-1", 2) == (
        "cluster-1: 2 objects go from applied to predicted: FSM's control plane adopts the ServiceImports "
        "meshfleet applied, then meshfleet deletes them, and FSM writes them again only when a ServiceExport "
        "changes; safe order: apply, then in each exporting cluster run `kubectl annotate serviceexport -A "
        "--all meshfleet.io/republished=<time> --overwrite` so FSM writes every import again",
    )


def test_a_member_that_leaves_keeps_its_connector_until_the_controller_restarts() -> None:
    assert FSM.member_removal_risks("hub", "cluster-3") == (
        "cluster-3 leaves FSM's control plane hub, but FSM keeps its connector running and the imports of its "
        "exports in every member; safe order: first stop exporting from cluster-3 and apply (FSM then removes "
        f"its endpoints), then remove it, then run {RESTART}",
    )


def test_a_member_whose_key_changes_keeps_its_old_connector_until_the_controller_restarts() -> None:
    assert FSM.member_key_risks("hub", "cluster-1", "a/b/c/cluster-1", "eu/b/c/cluster-1") == (
        "cluster-1's clusterKey changes (a/b/c/cluster-1 -> eu/b/c/cluster-1), but FSM keeps the connector "
        "under the old key running beside the new one, and both write cluster-1's endpoints into every import; "
        "safe order: first stop exporting from cluster-1 and apply, then change its region, zone or group, "
        f"run {RESTART}, then export again",
    )


def test_fsm_names_the_objects_of_its_installation_a_member_patches() -> None:
    assert FSM.patched_objects() == "FSM's own objects"


@pytest.mark.parametrize("name", sorted(set(MESHES) - {"fsm"}))
def test_other_meshes_have_no_control_plane_handover_or_lingering_member(name: str) -> None:
    adapter = MESHES[name]
    assert adapter.control_plane_removal_risks("hub", 3, True, False) == ()
    assert adapter.handover_risks("cluster-1", 2) == ()
    assert adapter.member_removal_risks("hub", "cluster-3") == ()
    assert adapter.member_key_risks("hub", "cluster-1", "a/b/c/cluster-1", "eu/b/c/cluster-1") == ()
    assert "FSM" not in (adapter.patched_objects() or "")
