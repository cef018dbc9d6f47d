"""A service's traffic policy per consuming cluster, overrides applied, checked by the consumer's mesh.

Why: which consumers get a policy, and with which lbType and targets after overrides, is the same
question for every mesh that applies policies; what a policy may say is the mesh's own rule.
"""

from __future__ import annotations

from meshfleet import codes
from meshfleet.core.checks import Checks
from meshfleet.core.meshes import MESHES, mesh
from meshfleet.core.resolved import PolicySettings, ServiceTopology
from meshfleet.errors import Loc


def resolve_policies(checks: Checks, topo: ServiceTopology, matches: list[set[str]], base: Loc) -> None:
    """Fill `topo.policies` for every consumer that gets the service's traffic policy."""
    svc = topo.spec
    tp = svc.trafficPolicy
    assert tp is not None
    loc: Loc = (*base, "trafficPolicy")

    def applies(cluster: str) -> bool:
        return mesh(checks.mesh(cluster)).capabilities.traffic_policies

    if tp.clusters is not None:
        consumers = checks.select(tp.clusters, (*loc, "clusters"), "consume services")
        if tp.clusters.all:
            # `all` means every consumer the policy can apply to (not the exporter of its only copy).
            consumers = [c for c in consumers if c in topo.importers and applies(c)]
        for c in consumers:
            if not applies(c):
                able = sorted(m.name for m in MESHES.values() if m.capabilities.traffic_policies)
                checks.problem_for(
                    c,
                    (*loc, "clusters"),
                    f"cluster {c!r} runs {checks.mesh(c)}, which applies no traffic policies",
                    f"choose clusters that run {' or '.join(able)}, or leave clusters out",
                    codes.NO_TRAFFIC_POLICIES,
                    same=checks.mesh(c),
                )
            elif c not in topo.importers:
                only = " (it is the only exporter)" if c in topo.exporters else ""
                checks.problem_for(
                    c,
                    (*loc, "clusters"),
                    f"cluster {c!r} gets a traffic policy for {topo.ref} but imports nothing of it{only}",
                    "choose clusters that import the service",
                    codes.POLICY_WITHOUT_IMPORT,
                    same=only,
                )
        consumers = [c for c in consumers if c in topo.importers and applies(c)]
    else:
        consumers = [c for c in topo.importers if applies(c)]

    for c in consumers:
        lb_type, targets = tp.lbType, tp.targets
        lb_loc, targets_loc = (*loc, "lbType"), (*loc, "targets")
        for i, o in enumerate(svc.overrides):
            if c in matches[i] and o.trafficPolicy is not None:
                here: Loc = (*base, "overrides", i, "trafficPolicy")
                if o.trafficPolicy.lbType is not None:
                    lb_type, lb_loc = o.trafficPolicy.lbType, (*here, "lbType")
                if o.trafficPolicy.targets is not None:
                    targets, targets_loc = o.trafficPolicy.targets, (*here, "targets")
        topo.policies[c] = PolicySettings(
            lb_type=lb_type,
            targets=tuple(targets) if targets is not None else None,
            loc=loc,
            targets_loc=targets_loc,
            lb_type_loc=lb_loc,
        )
    for c, pol in sorted(topo.policies.items()):
        mesh(checks.mesh(c)).check_policy(checks, topo, c, pol)
