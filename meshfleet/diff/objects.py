"""Object-level changes: per cluster, the objects added, removed and changed, field by field.

Why: below the service terms, a reviewer (and Pulumi) sees objects; this compares two plans object
by object, in apply order, and the cluster-level attributes that decide how a sink applies them
(role, mesh, clusterKey, provider identity, kubeconfig source, labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from meshfleet.core.plan import ClusterPlan, ObjectId, Plan, PlannedObject, Role
from meshfleet.diff.fields import FieldChange, field_changes

ObjectOp = Literal["added", "removed", "changed"]
ClusterStatus = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True)
class ObjectChange:
    """One object that is added, removed, or changed (in fields or in role) in one cluster."""

    op: ObjectOp
    id: ObjectId
    old: PlannedObject | None
    new: PlannedObject | None
    fields: tuple[FieldChange, ...] = ()

    @property
    def role_change(self) -> tuple[Role, Role] | None:
        if self.old is not None and self.new is not None and self.old.role != self.new.role:
            return (self.old.role, self.new.role)
        return None

    @property
    def deletes(self) -> bool:
        """Removed from the cluster, not merely left behind (retained) or no longer patched."""
        return self.op == "removed" and self.old is not None and not self.old.retain and not self.old.patch


@dataclass(frozen=True)
class ClusterDiff:
    """One cluster's changes: its attributes and its objects."""

    name: str
    old: ClusterPlan | None
    new: ClusterPlan | None
    attributes: tuple[FieldChange, ...]
    """Cluster-level changes: role, clusterKey, Pulumi identity, kubeconfig source, labels."""
    objects: tuple[ObjectChange, ...]

    @property
    def status(self) -> ClusterStatus:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed" if self.objects or self.attributes else "unchanged"

    def count(self, op: ObjectOp) -> int:
        return sum(1 for o in self.objects if o.op == op and (op != "changed" or o.fields))

    def role_changes(self) -> int:
        return sum(1 for o in self.objects if o.role_change is not None)


def cluster_diff(
    name: str, old: ClusterPlan | None, new: ClusterPlan | None, old_plan: Plan, new_plan: Plan
) -> ClusterDiff:
    before = {o.id: o for o in old.objects} if old is not None else {}
    after = {o.id: o for o in new.objects} if new is not None else {}
    changes: list[ObjectChange] = []
    # The new plan's order (apply order), then what only the old plan had, in its order.
    for key, o in after.items():
        was = before.get(key)
        if was is None:
            changes.append(ObjectChange("added", key, None, o))
            continue
        if was.body == o.body and was.role == o.role:
            continue
        fields = () if was.body == o.body else tuple(field_changes(was.body, o.body))
        changes.append(ObjectChange("changed", key, was, o, fields))
    changes.extend(ObjectChange("removed", key, o, None) for key, o in before.items() if key not in after)
    attributes: list[FieldChange] = []
    if old is not None and new is not None:
        pairs: list[tuple[str, Any, Any]] = [
            ("role", old.role, new.role),
            ("mesh", old.mesh, new.mesh),
            ("clusterKey", old.key, new.key),
            ("id", old.id, new.id),
            ("kubeconfig", old.kubeconfig_source(), new.kubeconfig_source()),
            ("labels", old_plan.labels.get(name, {}), new_plan.labels.get(name, {})),
        ]
        attributes = [FieldChange(k, a, b) for k, a, b in pairs if a != b]
    return ClusterDiff(name, old, new, tuple(attributes), tuple(changes))
