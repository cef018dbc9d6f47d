"""A diff as a pull-request comment: risks first, then services, warnings, then one <details> per cluster.

Why: the comment is what a reviewer reads before merging; it must stay within GitHub's comment
size, so long field lists and tables are cut with "... and N more", and rows are built lazily.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial

from meshfleet.diff import describe
from meshfleet.diff.compare import PlanDiff
from meshfleet.diff.fields import show
from meshfleet.diff.objects import ClusterDiff
from meshfleet.diff.phrases import Phrase
from meshfleet.diff.services import ServiceChange
from meshfleet.errors import Finding, format_loc

MARKDOWN_FIELD_CAP = 8
MARKDOWN_ROW_CAP = 60
MARKDOWN_BUDGET = 40_000
"""Characters of one markdown diff; a GitHub comment holds 65,536 and may carry several fleets."""


def _code(s: str) -> str:
    s = s.replace("\n", " ").replace("|", "\\|")
    fence = "``" if "`" in s else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _md(s: str) -> str:
    """Plain text in a table cell or list item: nothing that starts markup or splits a cell."""
    s = s.replace("\n", " ").replace(" -> ", " → ").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", s)


def _phrase(phrase: Phrase) -> str:
    """Names and values in code spans, the words around them escaped."""
    return "".join(_md(p.text) if p.kind == "text" else _code(p.text) for p in phrase)


def markdown(d: PlanDiff, old_name: str, new_name: str, *, budget: int = MARKDOWN_BUDGET) -> str:
    """A pull-request comment: risks first, then services, then one <details> block per cluster."""
    out = [f"## meshfleet diff: {_code(old_name)} → {_code(new_name)}", ""]
    if not d.changed:
        n = sum(len(c.new.objects) for c in d.clusters if c.new is not None)
        out += [f"No changes: {len(d.clusters)} clusters, {n} objects are the same.", ""]
        out += _warnings(d)
        return "\n".join(out)
    if d.risks:
        out += [f"### ⚠️ Risks ({len(d.risks)})", ""]
        out += [f"- **{r.kind}** ({_code(r.cluster)}): {_md(r.message)}" for r in d.risks]
    else:
        out += ["### Risks", "", "None found."]
    out.append("")
    out += ["### Summary", ""]
    if d.old_mode != d.new_mode:
        out += [f"Mode: {describe.mode(d.old_mode)} → {describe.mode(d.new_mode)}.", ""]
    totals = describe.totals(d)
    out += [_md(totals[:1].upper() + totals[1:]) + ".", ""]
    services = d.services()
    if services:
        out += ["| Service | Cluster | Change |", "| --- | --- | --- |"]
        rows = [partial(_service_row, s, ch.cluster, ch) for s, changes in services for ch in changes]
        out += _capped_rows(rows, 3)
        out.append("")
    if d.grants or d.mesh:
        out += ["| Cluster | Access change |", "| --- | --- |"]
        access: list[Callable[[], str]] = [partial(_access_row, m.cluster, partial(describe.mesh, m))
                                           for m in d.mesh]
        access += [partial(_access_row, g.cluster, partial(describe.grant, g)) for g in d.grants]
        out += _capped_rows(access, 2)
        out.append("")
    out += _warnings(d)
    out += ["### Clusters", ""]
    unchanged = [c.name for c in d.clusters if c.status == "unchanged"]
    changed = [c for c in d.clusters if c.status != "unchanged"]
    used = _size(out)
    for i, c in enumerate(changed):
        block = _cluster_block(c, budget - used)
        if block is None:
            rest = len(changed) - i
            out += [f"_... and {rest} more changed cluster{'s' if rest > 1 else ''}: "
                    "run `meshfleet diff` locally for the whole list._", ""]
            break
        out += block
        used += _size(block)
    if unchanged:
        out += [f"Unchanged: {', '.join(_code(n) for n in unchanged)}.", ""]
    return "\n".join(out)


def _service_row(service: str, cluster: str, change: ServiceChange) -> str:
    return f"| {_code(service)} | {_code(cluster)} | {_phrase(describe.service(change))} |"


def _access_row(cluster: str, say: Callable[[], Phrase]) -> str:
    return f"| {_code(cluster)} | {_phrase(say())} |"


def _warnings(d: PlanDiff) -> list[str]:
    if not d.warnings:
        return []
    open_ = sum(1 for w in d.warnings if not w.acknowledged)
    out = [f"### Warnings ({open_} open, {len(d.warnings) - open_} acknowledged)", ""]
    rows = [partial(_warning_item, w, d.is_new(w)) for w in d.warnings]
    shown = [row() for row in rows[:MARKDOWN_ROW_CAP]]
    if len(rows) > MARKDOWN_ROW_CAP:
        shown.append(f"- ... and {len(rows) - MARKDOWN_ROW_CAP} more: run `meshfleet validate` locally")
    return [*out, *shown, ""]


def _warning_item(w: Finding, new: bool) -> str:
    p = w.position
    where = f"{p.file}:{p.line}:{p.column}" if p is not None else format_loc(w.loc)
    state = " (acknowledged)" if w.acknowledged else " (new in this change)" if new else ""
    text = f"- **{w.code.name}**{state} at {_code(where)}, {_code(format_loc(w.loc))}"
    if w.acknowledged:
        return text
    return text + f": {_md(w.message)}" + (f". Fix: {_md(w.hint)}" if w.hint else "")


def _capped_rows(rows: Sequence[Callable[[], str]], columns: int) -> list[str]:
    """At most MARKDOWN_ROW_CAP rows; rows are built lazily, so a huge diff costs only what is shown."""
    shown = [row() for row in rows[:MARKDOWN_ROW_CAP]]
    if len(rows) <= MARKDOWN_ROW_CAP:
        return shown
    more = len(rows) - MARKDOWN_ROW_CAP
    return [*shown, "| " + " | ".join([f"... and {more} more"] + [""] * (columns - 1)) + " |"]


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _cluster_block(c: ClusterDiff, room: int) -> list[str] | None:
    """One cluster's <details> block in at most `room` characters (rows cut short), or None."""
    summary = f"<b>{_md(c.name)}</b> ({_md(describe.cluster_role(c))}): {_md(describe.cluster_counts(c))}"
    head = ["<details>", f"<summary>{summary}</summary>", "", "| Change | Object | Role | Fields |",
            "| --- | --- | --- | --- |"]
    tail = ["", "</details>", ""]
    room -= _size(head) + _size(tail) + 200  # 200: the "... and N more" row
    rows: list[str] = []
    for o in c.objects:
        mark, role, note = describe.object_line(o)
        change = {"+": "added", "-": "removed", "~": "changed", ">": "role"}[mark]
        role += f"; {note}" if note else ""
        fields = [f"{_code(f.path)}: {_code(show(f.old, 100))} → {_code(show(f.new, 100))}"
                  for f in o.fields[:MARKDOWN_FIELD_CAP]]
        if len(o.fields) > MARKDOWN_FIELD_CAP:
            fields.append(f"... and {len(o.fields) - MARKDOWN_FIELD_CAP} more")
        row = f"| {change} | {_code(str(o.id))} | {_md(role)} | {'<br>'.join(fields)} |"
        if room - len(row) - 1 < 0 or len(rows) == MARKDOWN_ROW_CAP:
            if not rows:
                return None
            more = len(c.objects) - len(rows)
            rows.append(f"| ... and {more} more |  |  |  |")
            break
        room -= len(row) + 1
        rows.append(row)
    return head + rows + tail
