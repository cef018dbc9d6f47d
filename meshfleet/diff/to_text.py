"""A diff as plain text for a terminal and the job log: risks, who answers and who may call (the same
change in several consumers said once, every consumer named), views, access rules, warnings, then
clusters object by object. Nothing is cut but long field lists: this is the whole diff."""

from __future__ import annotations

from meshfleet.diff import describe
from meshfleet.diff.compare import PlanDiff
from meshfleet.diff.fields import ABSENT, show
from meshfleet.diff.phrases import plain
from meshfleet.diff.routes import grouped_access, grouped_routes

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
    if d.routes:
        out.append("WHO ANSWERS (per consumer and service; the same change in several consumers said once):")
        for g in grouped_routes(d.routes):
            r = g.first
            policy = r.new_policy if r.new is not None else r.old_policy
            out.append(f"  {r.service} as {r.called_as} ({policy or 'no policy'}) in {_clusters(g.consumers)}:")
            out.append(f"    {plain(describe.route(r))}")
        out.append("")
    if d.access:
        out.append("WHO MAY CALL (per consumer, service and source; where the mesh enforces it):")
        for a in grouped_access(d.access):
            out.append(f"  {a.first.service} in {_clusters(a.consumers)}:")
            out.append(f"    {plain(describe.access(a.first))}")
        out.append("")
    services = d.services()
    if services:
        out.append("SERVICES:")
        for service, changes in services:
            out.append(f"  {service}")
            said: dict[str, list[str]] = {}
            for ch in changes:
                said.setdefault(plain(describe.service(ch)), []).append(ch.cluster)
            out.extend(f"    {_clusters(clusters)}: {text}" for text, clusters in said.items())
        out.append("")
    if d.grants or d.mesh:
        out.append("ACCESS RULES:")
        rules: dict[str, list[str]] = {}
        for phrase, cluster in [
            *((describe.mesh(m), m.cluster) for m in d.mesh),
            *((describe.grant(g), g.cluster) for g in d.grants),
        ]:
            rules.setdefault(plain(phrase), []).append(cluster)
        out.extend(f"  {_clusters(clusters)}: {text}" for text, clusters in rules.items())
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
            out.extend(f"        {f.path}: {_shown(f.old)} -> {_shown(f.new)}" for f in o.fields[:TEXT_FIELD_CAP])
            if len(o.fields) > TEXT_FIELD_CAP:
                out.append(f"        ... and {len(o.fields) - TEXT_FIELD_CAP} more")
    if unchanged:
        out.append(f"  unchanged: {', '.join(unchanged)}")
    return "\n".join(out) + "\n"


def _clusters(names: list[str] | tuple[str, ...]) -> str:
    """Every cluster, with a count when there are many (the text is the whole diff: nothing is cut)."""
    return ", ".join(names) if len(names) <= 3 else f"{len(names)} clusters ({', '.join(names)})"


def _shown(v: object) -> str:
    return "(not set)" if v is ABSENT else show(v)


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
