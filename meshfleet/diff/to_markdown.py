"""A diff as a pull-request comment that fits any fleet: risks, then who answers and who may call, then
views and objects.

Why: the comment is what a reviewer reads before merging, and GitHub refuses a comment over 65,536
characters (the sticky comment then fails to post). So the page is built under a budget
(`MARKDOWN_BUDGET`, counted in UTF-8 bytes, never fewer than characters): first what must always be
said (every risk kind, every changed service, in a few lines each), then the detail sections while
they fit: the picture of the changed routes (Mermaid), the traffic-split tables, the access
matrices, the view-level changes, the warnings, the objects per cluster. What does not fit is
counted at the end with a pointer to the whole diff (the job log, the workflow's artifact, or
`--format text|json` locally). Identical changes across consumers are said once ("in 99 clusters").
"""

from __future__ import annotations

from functools import partial

from meshfleet.diff import describe
from meshfleet.diff.compare import PlanDiff
from meshfleet.diff.fields import ABSENT, show
from meshfleet.diff.markdown_page import Page, byte_size, code_span, in_clusters, md_phrase, md_text
from meshfleet.diff.markdown_routes import access_matrices, has_split, matrix_lines, route_blocks, split_table
from meshfleet.diff.objects import ClusterDiff
from meshfleet.diff.phrases import Phrase, plain
from meshfleet.diff.risks import RISK_ORDER, Risk
from meshfleet.diff.routes import grouped_routes
from meshfleet.errors import Finding, format_loc

MARKDOWN_BUDGET = 60_000
"""Bytes (UTF-8) of one markdown diff: under GitHub's 65,536-character comment limit, with room left for
the comment's marker and a note the workflow adds. A comment carrying several fleets' diffs gives each
a share (`meshfleet diff --budget`)."""
MARKDOWN_MIN_BUDGET = 10_000
"""The least budget a comment is built in: the lines always there (every risk kind, every changed service,
the closing note) take up to a third and a sixth of it, and the closing note its last 1,200 bytes."""
MARKDOWN_FIELD_CAP = 8
MARKDOWN_ROW_CAP = 60
RISK_ROWS = 5
"""Risks of one kind listed before the rest of that kind is counted."""
RISK_CUT = 150
"""Characters of a risk's message kept where a kind is said in one row."""
FULL_DIFF_CUT = 600
FULL_DIFF = "the whole diff: `meshfleet diff OLD NEW --format text` (or `--format json`)"
"""Where the whole diff is, when the CLI is not told (`--full-diff`)."""
_PLURAL = {"access matrix": "access matrices"}


def markdown(
    d: PlanDiff, old_name: str, new_name: str, *, budget: int = MARKDOWN_BUDGET, full_diff: str = FULL_DIFF
) -> str:
    """A pull-request comment of at most `budget` bytes, whatever the fleet."""
    page = Page(budget)
    page.add([f"## meshfleet diff: {code_span(old_name)} → {code_span(new_name)}", ""], force=True)
    if not d.changed:
        n = sum(len(c.new.objects) for c in d.clusters if c.new is not None)
        page.add([f"No changes: {len(d.clusters)} clusters, {n} objects are the same.", ""], force=True)
        page.section([], [("warning list", partial(_warnings, d))])
        return _finish(page, full_diff)
    page.add(_summary(d), force=True)
    page.add(_risks(d, page.budget // 3), force=True)
    page.add(_services_named(d, page.budget // 6), force=True)
    routes = grouped_routes(d.routes)
    page.section(
        [
            "### Who answers",
            "",
            "Per consumer and service, from each mesh's runtime rules; the same change "
            "in several consumers is said once.",
            "",
        ],
        route_blocks(routes),
    )
    page.section(
        ["### Traffic split", ""],
        (("traffic-split table", partial(split_table, g)) for g in routes if has_split(g.first)),
    )
    page.section(
        [
            "### Who may call",
            "",
            "What each source may call, and whether the mesh holds it to its rules "
            "there: on the consumer's own pods, at the answering cluster, or not at all.",
            "",
        ],
        (("access matrix", partial(matrix_lines, d, m)) for m in access_matrices(d)),
    )
    page.section(
        ["### Exports, imports and traffic policies", "", "| Service | Where | Change |", "| --- | --- | --- |"],
        (("view change", partial(list, (r,))) for r in _view_rows(d)),
    )
    page.section(
        ["### Access rules", "", "| Where | Change |", "| --- | --- |"],
        (("access-rule change", partial(list, (r,))) for r in _grant_rows(d)),
    )
    page.section([], [("warning list", partial(_warnings, d))])
    changed = [c for c in d.clusters if c.status != "unchanged"]
    page.section(
        ["### Objects per cluster", ""], (("cluster object list", partial(_cluster_block, c)) for c in changed)
    )
    unchanged = [c.name for c in d.clusters if c.status == "unchanged"]
    if unchanged:
        text = f"Unchanged: {in_clusters(unchanged)}."
        if not page.add([text, ""]):
            page.skip("unchanged cluster list")
    return _finish(page, full_diff)


def _finish(page: Page, full_diff: str) -> str:
    encoded = full_diff.encode()
    if len(encoded) > FULL_DIFF_CUT:  # in bytes, as the budget counts: "…" is 3 of them
        full_diff = encoded[: FULL_DIFF_CUT - 3].decode(errors="ignore") + "…"
    if page.left_out:
        shown = ", ".join(
            f"{n} {what if n == 1 else _PLURAL.get(what, what + 's')}" for what, n in page.left_out.items()
        )
        note = (
            f"**Not shown here** (this comment is kept under {page.budget:,} bytes): {md_text(shown)}. See {full_diff}."
        )
        page.add([note, ""], force=True)
    return "\n".join(page.lines)


# --- the lines that are always there --------------------------------------------------------------


def _summary(d: PlanDiff) -> list[str]:
    members = [c for c in d.clusters if (c.new or c.old) is not None]
    changing = sum(1 for c in members if c.status != "unchanged")
    risks = f"**{len(d.risks)} risk{'s' if len(d.risks) != 1 else ''}**"
    parts = [
        risks,
        f"{changing} of {len(members)} clusters change",
        f"objects: {d.total('added')} added · {d.total('removed')} removed · {d.total('changed')} changed",
    ]
    if d.role_changes():
        parts.append(f"{d.role_changes()} change role")
    out = ["> " + " · ".join(parts), ""]
    if d.old_mode != d.new_mode:
        out += [f"Mode: {describe.mode(d.old_mode)} → {describe.mode(d.new_mode)}.", ""]
    return out


def _risk_row(r: Risk) -> str:
    return f"| **{r.kind}** | {code_span(r.cluster)} | {md_text(r.message)} |"


def _risks(d: PlanDiff, room: int) -> list[str]:
    """Every risk kind, always: all risks while they fit in `room`; else the first few of each kind and a
    count of the rest; else one row per kind (its count, where, and its first message cut short)."""
    if not d.risks:
        return ["### Risks", "", "None found.", ""]
    head = [f"### ⚠️ Risks ({len(d.risks)})", "", "| Risk | Cluster | What happens |", "| --- | --- | --- |"]
    full = [*head, *(_risk_row(r) for r in d.risks), ""]
    if byte_size(full) <= room:
        return full
    kinds = [(kind, [r for r in d.risks if r.kind == kind]) for kind in RISK_ORDER]
    kinds += [
        (kind, [r for r in d.risks if r.kind == kind])
        for kind in dict.fromkeys(r.kind for r in d.risks)
        if kind not in RISK_ORDER
    ]
    rows: list[str] = []
    for kind, of_kind in kinds:
        rows += [_risk_row(r) for r in of_kind[:RISK_ROWS]]
        rest = of_kind[RISK_ROWS:]
        if rest:
            rows.append(
                f"| **{kind}** | {in_clusters([r.cluster for r in rest])} | and {len(rest)} more {kind} risks |"
            )
    if byte_size([*head, *rows, ""]) <= room:
        return [*head, *rows, ""]
    rows = []
    for kind, of_kind in kinds:
        if of_kind:
            first = of_kind[0].message
            first = first if len(first) <= RISK_CUT else first[: RISK_CUT - 1] + "…"
            rows.append(
                f"| **{kind}** | {in_clusters([r.cluster for r in of_kind])} | {len(of_kind)} risk"
                f"{'s' if len(of_kind) > 1 else ''}, e.g. {md_text(first)} |"
            )
    return [*head, *rows, ""]


def _services_named(d: PlanDiff, room: int) -> list[str]:
    """Every service something changes for, by name (cut with a count only past `room`)."""
    services = d.changed_services()
    if not services:
        return []
    head = f"**Changed services ({len(services)}):** "
    shown: list[str] = []
    used = len(head)
    for i, s in enumerate(services):
        item = code_span(s)
        if used + len(item) + 40 > room:
            return [head + ", ".join(shown) + f" and {len(services) - i} more", ""]
        shown.append(item)
        used += len(item) + 2
    return [head + ", ".join(shown), ""]


# --- views, access rules, warnings, objects -------------------------------------------------------


def _view_rows(d: PlanDiff) -> list[str]:
    """Export, import and traffic-policy changes; the same change in several clusters in one row."""
    rows = []
    for service, changes in d.services():
        said: dict[str, tuple[Phrase, list[str]]] = {}
        for ch in changes:
            phrase = describe.service(ch)
            key = f"{ch.aspect}:{plain(phrase)}"
            said.setdefault(key, (phrase, []))[1].append(ch.cluster)
        rows += [
            f"| {code_span(service)} | {in_clusters(clusters)} | {md_phrase(phrase)} |"
            for phrase, clusters in said.values()
        ]
    return rows


def _grant_rows(d: PlanDiff) -> list[str]:
    said: dict[str, tuple[Phrase, list[str]]] = {}
    for m in d.mesh:
        phrase = describe.mesh(m)
        said.setdefault("mesh:" + plain(phrase), (phrase, []))[1].append(m.cluster)
    for g in d.grants:
        phrase = describe.grant(g)
        said.setdefault("grant:" + plain(phrase), (phrase, []))[1].append(g.cluster)
    return [f"| {in_clusters(clusters)} | {md_phrase(phrase)} |" for phrase, clusters in said.values()]


def _warnings(d: PlanDiff) -> list[str]:
    if not d.warnings:
        return []
    open_ = sum(1 for w in d.warnings if not w.acknowledged)
    out = [f"### Warnings ({open_} open, {len(d.warnings) - open_} acknowledged)", ""]
    shown = [_warning_item(w, d.is_new(w)) for w in d.warnings[:MARKDOWN_ROW_CAP]]
    if len(d.warnings) > MARKDOWN_ROW_CAP:
        shown.append(f"- ... and {len(d.warnings) - MARKDOWN_ROW_CAP} more: run `meshfleet validate` locally")
    return [*out, *shown, ""]


def _warning_item(w: Finding, new: bool) -> str:
    p = w.position
    where = f"{p.file}:{p.line}:{p.column}" if p is not None else format_loc(w.loc)
    state = " (acknowledged)" if w.acknowledged else " (new in this change)" if new else ""
    text = f"- **{w.code.name}**{state} at {code_span(where)}, {code_span(format_loc(w.loc))}"
    if w.acknowledged:
        return text
    return text + f": {md_text(w.message)}" + (f". Fix: {md_text(w.hint)}" if w.hint else "")


def _value(v: object) -> str:
    return "_not set_" if v is ABSENT else code_span(show(v, 100))


def _cluster_block(c: ClusterDiff) -> list[str]:
    """One cluster's objects in a <details> block (at most MARKDOWN_ROW_CAP rows)."""
    summary = f"<b>{md_text(c.name)}</b> ({md_text(describe.cluster_role(c))}): {md_text(describe.cluster_counts(c))}"
    rows: list[str] = []
    for o in c.objects[:MARKDOWN_ROW_CAP]:
        mark, role, note = describe.object_line(o)
        change = {"+": "added", "-": "removed", "~": "changed", ">": "role"}[mark]
        role += f"; {note}" if note else ""
        fields = [f"{code_span(f.path)}: {_value(f.old)} → {_value(f.new)}" for f in o.fields[:MARKDOWN_FIELD_CAP]]
        if len(o.fields) > MARKDOWN_FIELD_CAP:
            fields.append(f"... and {len(o.fields) - MARKDOWN_FIELD_CAP} more")
        rows.append(f"| {change} | {code_span(str(o.id))} | {md_text(role)} | {'<br>'.join(fields)} |")
    if len(c.objects) > MARKDOWN_ROW_CAP:
        rows.append(f"| ... and {len(c.objects) - MARKDOWN_ROW_CAP} more |  |  |  |")
    return [
        "<details>",
        f"<summary>{summary}</summary>",
        "",
        "| Change | Object | Role | Fields |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        "</details>",
        "",
    ]
