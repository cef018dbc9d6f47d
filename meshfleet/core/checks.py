"""What a check may do: report a finding at a key path, and resolve the cluster names it reads.

Why: the core's checks and each mesh adapter's checks report the same way, so the loader can place
every finding at its line; one finding reported twice is shown once, and findings that differ only in
the cluster they are about (one per consumer of a policy written once, say) are shown once, naming
the others.
"""

from __future__ import annotations

from meshfleet import codes
from meshfleet.errors import Code, Finding, Loc, count, natural_key, shortlist
from meshfleet.fleet.model import Fleet, Selection

_Group = tuple[Loc, str, Code, str]


class Checks:
    """Findings of one fleet, and name resolution that reports unknown and control-plane names."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.members = sorted(n for n in fleet.clusters if n != fleet.controlPlane)
        self.meshes: dict[str, str] = {n: str(c.mesh) for n, c in fleet.clusters.items()}
        self._findings: dict[Finding | _Group, None] = {}
        self._groups: dict[_Group, dict[str, str]] = {}

    @property
    def findings(self) -> list[Finding]:
        out = []
        for entry in self._findings:
            if isinstance(entry, Finding):
                out.append(entry)
                continue
            loc, hint, code, _ = entry
            first, *others = sorted(self._groups[entry], key=natural_key)  # c2 before c10
            message = self._groups[entry][first]
            if others:
                message += f" (likewise for {count(len(others), 'other cluster')}: {shortlist(others)})"
            out.append(Finding(loc, message, hint, code=code))
        return out

    def mesh(self, cluster: str) -> str:
        return self.meshes[cluster]

    def problem(self, loc: Loc, message: str, hint: str, code: Code) -> None:
        self._findings.setdefault(Finding(loc, message, hint, code=code), None)

    def problem_for(self, cluster: str, loc: Loc, message: str, hint: str, code: Code, *, same: str = "") -> None:
        """A finding about `cluster` at a key that holds for many clusters (a policy for every consumer):
        those at one key with one code, one fix and one `same` are shown once, with the first cluster's
        message. `same` is what else the message says that is not about the cluster itself (its mesh,
        why it fails), so that "likewise" never claims one cluster's reason for another."""
        group = (loc, hint, code, same)
        self._findings.setdefault(group, None)
        self._groups.setdefault(group, {}).setdefault(cluster, message)

    def known(self) -> str:
        return ", ".join(self.members) or "(none)"

    def select(self, sel: Selection, loc: Loc, what: str) -> list[str]:
        """Resolve a cluster choice to member names, reporting unknown and control-plane names."""
        if sel.all:
            return list(self.members)
        if sel.selector is not None:
            selector = sel.selector
            return [m for m in self.members if selector.matches(self.fleet.clusters[m].labels)]
        chosen: list[str] = []
        for i, name in enumerate(sel.names or []):
            if name == self.fleet.controlPlane:
                self.problem(
                    (*loc, i),
                    f"{name!r} is the FSM control-plane cluster and cannot {what}",
                    "the control plane only registers members; name a member cluster instead",
                    codes.CONTROL_PLANE_CHOSEN,
                )
            elif name not in self.fleet.clusters:
                self.problem(
                    (*loc, i), f"unknown cluster {name!r}", f"use one of: {self.known()}", codes.UNKNOWN_CLUSTER
                )
            elif name in chosen:
                self.problem(
                    (*loc, i), f"cluster {name!r} is listed twice", "list each cluster once", codes.CLUSTER_LISTED_TWICE
                )
            else:
                chosen.append(name)
        return sorted(chosen)

    def cluster_ref(self, name: str, loc: Loc, what: str) -> bool:
        """Whether `name` is a member cluster; reports it at `loc` when it is not."""
        if name == self.fleet.controlPlane:
            self.problem(
                loc,
                f"{name!r} is the FSM control-plane cluster and cannot {what}",
                "name a member cluster instead",
                codes.CONTROL_PLANE_CHOSEN,
            )
            return False
        if name not in self.fleet.clusters:
            self.problem(loc, f"unknown cluster {name!r}", f"use one of: {self.known()}", codes.UNKNOWN_CLUSTER)
            return False
        return True
