"""A diff as plain text for a terminal: risks, services, access, warnings, then clusters object by object."""

from __future__ import annotations

from meshfleet.diff import describe
from meshfleet.diff.compare import PlanDiff
from meshfleet.diff.fields import show
from meshfleet.diff.phrases import plain

TEXT_FIELD_CAP = 20


def text(d: PlanDiff, old_name: str, new_name: str) -> str:
    head = f"{old_name} -> {new_name}"
    if not d.changed:
        n = sum(len(c.new.objects) for c in d.clusters if c.new is not None)
        return f"{head}: nothing changes ({len(d.clusters)} clusters, {n} objects are the same)\n" + _warnings(d)
    out = [head]
    if d.old_mode != d.new_mode:
        out.append(f"mode: {describe.mode(d.old_mode)} -> {describe.mode(d.new_mode)}")
    out.append(describe.totals(d))
    out.append("")
    if d.risks:
        out.append(f"RISKS ({len(d.risks)}):")
        out.extend(f"  ! {r.kind}: {r.message}" for r in d.risks)
    else:
        out.append("RISKS: none")
    out.append("")
    services = d.services()
    if services:
        out.append("SERVICES:")
        for service, changes in services:
            out.append(f"  {service}")
            out.extend(f"    {ch.cluster}: {plain(describe.service(ch))}" for ch in changes)
        out.append("")
    if d.grants or d.mesh:
        out.append("ACCESS:")
        out.extend(f"  {m.cluster}: {plain(describe.mesh(m))}" for m in d.mesh)
        out.extend(f"  {g.cluster}: {plain(describe.grant(g))}" for g in d.grants)
        out.append("")
    warnings = _warnings(d)
    if warnings:
        out.append(warnings)
    out.append("CLUSTERS:")
    unchanged = [c.name for c in d.clusters if c.status == "unchanged"]
    for c in d.clusters:
        if c.status == "unchanged":
            continue
        out.append(f"  {c.name} ({describe.cluster_role(c)}): {describe.cluster_counts(c)}")
        for o in c.objects:
            mark, role, note = describe.object_line(o)
            out.append(f"    {mark} {o.id} ({role})" + (f": {note}" if note else ""))
            out.extend(f"        {f.path}: {show(f.old)} -> {show(f.new)}" for f in o.fields[:TEXT_FIELD_CAP])
            if len(o.fields) > TEXT_FIELD_CAP:
                out.append(f"        ... and {len(o.fields) - TEXT_FIELD_CAP} more")
    if unchanged:
        out.append(f"  unchanged: {', '.join(unchanged)}")
    return "\n".join(out) + "\n"


def _warnings(d: PlanDiff) -> str:
    """The new fleet's warnings (acknowledged ones in one line each), or nothing."""
    if not d.warnings:
        return ""
    lines = [f"WARNINGS ({len(d.warnings)}):"]
    for w in d.warnings:
        shown = w.render().splitlines()
        shown[0] += " (new)" if d.is_new(w) else ""
        lines.extend("  " + line for line in shown)
    return "\n".join(lines) + "\n"
