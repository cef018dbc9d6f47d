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

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

from meshfleet.core.effective import ANY, MODE_SHORT, Allowed, equal_split, percent, requests_words, servings
from meshfleet.core.views import Route
from meshfleet.diff import describe
from meshfleet.diff.compare import PlanDiff
from meshfleet.diff.fields import ABSENT, show
from meshfleet.diff.mermaid import graph
from meshfleet.diff.objects import ClusterDiff
from meshfleet.diff.phrases import Phrase, plain
from meshfleet.diff.risks import RISK_ORDER, Risk
from meshfleet.diff.routes import AccessChange, Grouped, RouteChange, group, grouped_routes
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
NAMES_SHOWN = 5
MATRIX_COLUMNS = 6
"""Services in one access matrix: those whose access changes, then unchanged ones for context."""
BAR = 10
FULL_DIFF = "the whole diff: `meshfleet diff OLD NEW --format text` (or `--format json`)"
"""Where the whole diff is, when the CLI is not told (`--full-diff`)."""
_TAIL_ROOM = 1_200
"""Kept free for the closing note on what is left out."""


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


def _size(lines: Sequence[str]) -> int:
    return sum(len(line.encode()) + 1 for line in lines)


def _where(consumers: Sequence[str]) -> str:
    """`cluster-2`, or `99 clusters (c001, c002, ... and 94 more)`."""
    if len(consumers) <= 3:
        return ", ".join(_code(c) for c in consumers)
    shown = ", ".join(_code(c) for c in consumers[:NAMES_SHOWN])
    more = f" and {len(consumers) - NAMES_SHOWN} more" if len(consumers) > NAMES_SHOWN else ""
    return f"{len(consumers)} clusters ({shown}{more})"


@dataclass
class _Page:
    """Lines under a budget; what is left out is counted by kind for the closing note."""

    budget: int
    lines: list[str] = field(default_factory=list)
    used: int = 0
    left_out: dict[str, int] = field(default_factory=dict)

    def room(self) -> int:
        return self.budget - _TAIL_ROOM - self.used

    def add(self, block: Sequence[str], force: bool = False) -> bool:
        size = _size(block)
        if not force and size > self.room():
            return False
        self.lines.extend(block)
        self.used += size
        return True

    def skip(self, what: str, n: int = 1) -> None:
        if n:
            self.left_out[what] = self.left_out.get(what, 0) + n

    def section(self, head: Sequence[str], blocks: Iterable[tuple[str, Callable[[], list[str]]]]) -> None:
        """A heading and its blocks, each added while it fits (the heading only with its first block);
        every block that does not fit is counted under its name."""
        started = False
        for what, build in blocks:
            if self.room() < _MIN_BLOCK:  # full: count what is left without building it
                self.skip(what)
                continue
            block = build()
            if not started:
                if self.add([*head, *block]):
                    started = True
                    continue
            elif self.add(block):
                continue
            self.skip(what)
        if started and self.lines[-1] != "":
            self.add([""], force=True)


_MIN_BLOCK = 80
_PLURAL = {"access matrix": "access matrices"}


def markdown(d: PlanDiff, old_name: str, new_name: str, *, budget: int = MARKDOWN_BUDGET,
             full_diff: str = FULL_DIFF) -> str:
    """A pull-request comment of at most `budget` bytes, whatever the fleet."""
    page = _Page(budget)
    page.add([f"## meshfleet diff: {_code(old_name)} → {_code(new_name)}", ""], force=True)
    if not d.changed:
        n = sum(len(c.new.objects) for c in d.clusters if c.new is not None)
        page.add([f"No changes: {len(d.clusters)} clusters, {n} objects are the same.", ""], force=True)
        page.section([], [("warning list", partial(_warnings, d))])
        return _finish(page, full_diff)
    page.add(_summary(d), force=True)
    page.add(_risks(d, page.budget // 3), force=True)
    page.add(_services_named(d, page.budget // 6), force=True)
    routes = grouped_routes(d.routes)
    page.section(["### Who answers", "", "Per consumer and service, from each mesh's runtime rules; the same change "
                  "in several consumers is said once.", ""], _route_blocks(routes))
    page.section(["### Traffic split", ""], (("traffic-split table", partial(_split_table, g))
                                             for g in routes if _has_split(g.first)))
    page.section(["### Who may call", "", "What each source may call, and whether the mesh holds it to its rules "
                  "there: on the consumer's own pods, at the answering cluster, or not at all.", ""],
                 (("access matrix", partial(_matrix, d, m)) for m in _matrices(d)))
    page.section(["### Exports, imports and traffic policies", "", "| Service | Where | Change |",
                  "| --- | --- | --- |"], (("view change", partial(list, (r,))) for r in _view_rows(d)))
    page.section(["### Access rules", "", "| Where | Change |", "| --- | --- |"],
                 (("access-rule change", partial(list, (r,))) for r in _grant_rows(d)))
    page.section([], [("warning list", partial(_warnings, d))])
    changed = [c for c in d.clusters if c.status != "unchanged"]
    page.section(["### Objects per cluster", ""], (("cluster object list", partial(_cluster_block, c))
                                                   for c in changed))
    unchanged = [c.name for c in d.clusters if c.status == "unchanged"]
    if unchanged:
        text = f"Unchanged: {_where(unchanged)}."
        if not page.add([text, ""]):
            page.skip("unchanged cluster list")
    return _finish(page, full_diff)


def _finish(page: _Page, full_diff: str) -> str:
    if len(full_diff) > FULL_DIFF_CUT:
        full_diff = full_diff[:FULL_DIFF_CUT - 1] + "…"
    if page.left_out:
        shown = ", ".join(f"{n} {what if n == 1 else _PLURAL.get(what, what + 's')}"
                          for what, n in page.left_out.items())
        note = (f"**Not shown here** (this comment is kept under {page.budget:,} bytes): {_md(shown)}. "
                f"See {full_diff}.")
        page.add([note, ""], force=True)
    return "\n".join(page.lines)


# --- the lines that are always there --------------------------------------------------------------


def _summary(d: PlanDiff) -> list[str]:
    members = [c for c in d.clusters if (c.new or c.old) is not None]
    changing = sum(1 for c in members if c.status != "unchanged")
    risks = f"**{len(d.risks)} risk{'s' if len(d.risks) != 1 else ''}**"
    parts = [risks, f"{changing} of {len(members)} clusters change",
             f"objects: {d.total('added')} added · {d.total('removed')} removed · {d.total('changed')} changed"]
    if d.role_changes():
        parts.append(f"{d.role_changes()} change role")
    out = ["> " + " · ".join(parts), ""]
    if d.old_mode != d.new_mode:
        out += [f"Mode: {describe.mode(d.old_mode)} → {describe.mode(d.new_mode)}.", ""]
    return out


def _risk_row(r: Risk) -> str:
    return f"| **{r.kind}** | {_code(r.cluster)} | {_md(r.message)} |"


def _risks(d: PlanDiff, room: int) -> list[str]:
    """Every risk kind, always: all risks while they fit in `room`; else the first few of each kind and a
    count of the rest; else one row per kind (its count, where, and its first message cut short)."""
    if not d.risks:
        return ["### Risks", "", "None found.", ""]
    head = [f"### ⚠️ Risks ({len(d.risks)})", "", "| Risk | Cluster | What happens |", "| --- | --- | --- |"]
    full = [*head, *(_risk_row(r) for r in d.risks), ""]
    if _size(full) <= room:
        return full
    kinds = [(kind, [r for r in d.risks if r.kind == kind]) for kind in RISK_ORDER]
    kinds += [(kind, [r for r in d.risks if r.kind == kind]) for kind in dict.fromkeys(r.kind for r in d.risks)
              if kind not in RISK_ORDER]
    rows: list[str] = []
    for kind, of_kind in kinds:
        rows += [_risk_row(r) for r in of_kind[:RISK_ROWS]]
        rest = of_kind[RISK_ROWS:]
        if rest:
            rows.append(f"| **{kind}** | {_where([r.cluster for r in rest])} | and {len(rest)} more {kind} risks |")
    if _size([*head, *rows, ""]) <= room:
        return [*head, *rows, ""]
    rows = []
    for kind, of_kind in kinds:
        if of_kind:
            first = of_kind[0].message
            first = first if len(first) <= RISK_CUT else first[:RISK_CUT - 1] + "…"
            rows.append(f"| **{kind}** | {_where([r.cluster for r in of_kind])} | {len(of_kind)} risk"
                        f"{'s' if len(of_kind) > 1 else ''}, e.g. {_md(first)} |")
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
        item = _code(s)
        if used + len(item) + 40 > room:
            return [head + ", ".join(shown) + f" and {len(services) - i} more", ""]
        shown.append(item)
        used += len(item) + 2
    return [head + ", ".join(shown), ""]


# --- who answers ----------------------------------------------------------------------------------


def _route_title(ch: RouteChange, consumers: Sequence[str]) -> str:
    policy = ch.new_policy if ch.new is not None else ch.old_policy
    policy_text = f"{ch.old_policy or 'no policy'} → {ch.new_policy or 'no policy'}" \
        if ch.old_policy != ch.new_policy and ch.old is not None and ch.new is not None else (policy or "no policy")
    return f"{_code(ch.service)} as {_code(ch.called_as)} in {_where(consumers)} ({_md(policy_text)})"


def _route_blocks(routes: list[Grouped[RouteChange]]) -> Iterable[tuple[str, Callable[[], list[str]]]]:
    picture = graph(routes)
    if picture is not None:
        def draw() -> list[str]:
            note = [f"_{picture.left_out} more changed routes are not drawn (see the tables below)._", ""] \
                if picture.left_out else []
            return ["Dashed ✖: a route that goes away; thick +: a new one; others: shares that move.", "",
                    "```mermaid", *picture.lines, "```", "", *note]
        yield "route graph", draw
    for g in routes:
        yield "route change", partial(_route_item, g)


def _route_item(g: Grouped[RouteChange]) -> list[str]:
    return [f"- {_route_title(g.first, g.consumers)}: {_phrase(describe.route(g.first))}"]


def _has_split(ch: RouteChange) -> bool:
    """A route that stays and moves shares between clusters (a table says more than a sentence)."""
    return ch.old is not None and ch.new is not None and ch.old.steady != ch.new.steady and \
        len({s.cluster for r in (ch.old, ch.new) for s in r.steady}) > 1


def _bar(value: float) -> str:
    full = round(value / 100 * BAR)
    return "█" * full + "░" * (BAR - full)


def _cell(r: Route | None, which: str, cluster: str, consumer: str) -> str:
    if r is None:
        return "—"
    shares = getattr(r, which)
    for s in servings(shares, consumer):
        if s.cluster == cluster:
            return percent(s.percent) + (" _(equal split)_" if equal_split(shares) else "")
    return "—"


def _split_table(g: Grouped[RouteChange]) -> list[str]:
    """Before/after shares per serving cluster, with a bar of the new share and its move in points."""
    ch = g.first
    local = any(r is not None and r.local_down != r.steady for r in (ch.old, ch.new))
    clusters = list(dict.fromkeys(s.cluster for r in (ch.old, ch.new) if r is not None
                                  for s in (*r.steady, *r.local_down)))
    head = "| Serving cluster | Before | After | |"
    sep = "| --- | ---: | ---: | --- |"
    if local:
        head = "| Serving cluster | Before | After | | Local copy down: before | after |"
        sep = "| --- | ---: | ---: | --- | ---: | ---: |"
    rows = []
    for c in clusters:
        who = "the local copy" if c == ch.consumer else _code(c)
        before, after = _cell(ch.old, "steady", c, ch.consumer), _cell(ch.new, "steady", c, ch.consumer)
        new_share = next((s.percent for s in servings(ch.new.steady, ch.consumer) if s.cluster == c), 0.0) \
            if ch.new is not None else 0.0
        old_share = next((s.percent for s in servings(ch.old.steady, ch.consumer) if s.cluster == c), 0.0) \
            if ch.old is not None else 0.0
        move = round(new_share - old_share, 1)
        delta = f"▲ +{percent(move)}" if move > 0 else f"▼ \N{MINUS SIGN}{percent(-move)}" if move < 0 else ""
        row = f"| {who} | {before} | **{after}** | `{_bar(new_share)}` {delta} |"
        if local:
            row += f" {_cell(ch.old, 'local_down', c, ch.consumer)} | {_cell(ch.new, 'local_down', c, ch.consumer)} |"
        rows.append(row)
    return [f"{_route_title(ch, g.consumers)}:", "", head, sep, *rows, ""]


# --- who may call ---------------------------------------------------------------------------------

_Cell = tuple[str, tuple[Allowed, ...], tuple[Allowed, ...]]


@dataclass(frozen=True)
class _Matrix:
    """One consumer's (or several alike) access changes: sources by services, before and after."""

    consumers: tuple[str, ...]
    consumer: str
    sources: tuple[str, ...]
    services: tuple[str, ...]
    cells: dict[tuple[str, str], _Cell]


def _matrices(d: PlanDiff) -> list[_Matrix]:
    by_consumer: dict[str, list[AccessChange]] = {}
    for ch in d.access:
        by_consumer.setdefault(ch.consumer, []).append(ch)
    built: list[_Matrix] = []
    for consumer, changes in by_consumer.items():
        sources = tuple(dict.fromkeys(sorted((c.source for c in changes), key=lambda s: (s == ANY, s))))
        services = list(dict.fromkeys(c.service for c in changes))
        # Context: a few other services these sources may call here, unchanged (those their rules name,
        # then the consumer's first services); a bounded number of entries looked at.
        if d.new_view is not None:
            candidates = list(dict.fromkeys([*d.new_view.granted_to(consumer, sources),
                                             *d.new_view.services(consumer)[:MATRIX_COLUMNS]]))
            for service in candidates[:2 * MATRIX_COLUMNS]:
                if len(services) >= MATRIX_COLUMNS:
                    break
                entry = d.new_view.get(consumer, service)
                if service not in services and entry is not None and any(a.source in sources for a in entry.access):
                    services.append(service)
        cells: dict[tuple[str, str], _Cell] = {}
        for source in sources:
            for service in services:
                old = _lines(d.old_view.get(consumer, service) if d.old_view is not None else None, source)
                new = _lines(d.new_view.get(consumer, service) if d.new_view is not None else None, source)
                if not old and not new:
                    continue
                mark = "unchanged" if old == new else "new" if not old else "removed" if not new else "changed"
                cells[(source, service)] = (mark, old, new)
        built.append(_Matrix((consumer,), consumer, sources, tuple(services), cells))
    grouped = group(built, lambda m: m.consumer, _matrix_key)
    return [_Matrix(g.consumers, g.first.consumer, g.first.sources, g.first.services, g.first.cells) for g in grouped]


def _lines(entry: object, source: str) -> tuple[Allowed, ...]:
    access: tuple[Allowed, ...] = getattr(entry, "access", ())
    return tuple(a for a in access if a.source == source)


def _matrix_key(m: _Matrix) -> Hashable:
    def norm(lines: tuple[Allowed, ...]) -> tuple[object, ...]:
        return tuple((a.side, tuple("" if c == m.consumer else c for c in a.clusters), a.identity, a.rules, a.asked,
                      a.requests, a.where, a.why) for a in lines)

    return (m.sources, m.services, tuple((k, v[0], norm(v[1]), norm(v[2])) for k, v in sorted(m.cells.items())))


_MARKS = {"new": "🟢 **new:** ", "removed": "🔴 **removed**, was: ", "changed": "🟡 **changed:** ", "unchanged": ""}


def _access_line(a: Allowed, consumer: str, notes: list[str]) -> str:
    """`GET /get on local pods, enforced¹ (rule x)`; the footnote says where or why not."""
    if a.why not in notes:
        notes.append(a.why)
    ref = _SUPERSCRIPTS[notes.index(a.why) % len(_SUPERSCRIPTS)]
    side = "on local pods" if a.side == "local" else "from " + ", ".join(_code(c) for c in a.clusters if c != consumer)
    requests = "any request" if a.requests is None else "; ".join(
        f"{_md('any method' if ANY in m.methods else ', '.join(m.methods))} {_code(m.path_regex)}" for m in a.requests)
    state = "enforced" if a.where != "not-enforced" else "**not enforced**"
    text = f"{requests} {side}, {state}{ref}"
    rules = ", ".join(_code(r) for r in a.rules)
    if a.requests is None and a.asked:
        text += f" (rule{'s' if len(a.rules) > 1 else ''} {rules} ask{'' if len(a.rules) > 1 else 's'} " \
                f"{_md(requests_words(a.asked))})"
    elif a.rules:
        text += f" (rule{'s' if len(a.rules) > 1 else ''} {rules})"
    return text


def _access_cell(cell: _Cell | None, consumer: str, notes: list[str]) -> str:
    if cell is None:
        return "—"
    mark, old, new = cell
    if mark == "removed":
        return _MARKS[mark] + "<br>".join(_access_line(a, consumer, notes) for a in old)
    body = "<br>".join(_access_line(a, consumer, notes) for a in new)
    if mark == "unchanged":
        return body + " _(unchanged)_"
    if mark == "changed":
        was = [a for a in old if a not in new]
        body += "<br>_was:_ " + "<br>".join(_access_line(a, consumer, notes) for a in was)
    return _MARKS[mark] + body


_SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹"


def _matrix(d: PlanDiff, m: _Matrix) -> list[str]:
    notes: list[str] = []
    head = "| from ↓ / to → | " + " | ".join(_code(s) for s in m.services) + " |"
    sep = "| --- | " + " | ".join("---" for _ in m.services) + " |"
    rows = []
    for source in m.sources:
        who = "any workload" if source == ANY else _code(source)
        rows.append(f"| {who} | " + " | ".join(_access_cell(m.cells.get((source, s)), m.consumer, notes)
                                               for s in m.services) + " |")
    mode_text = f" ({_md(MODE_SHORT[d.new_view.mode(m.consumer)])})" if d.new_view is not None else ""
    legend = [f"{_SUPERSCRIPTS[i % len(_SUPERSCRIPTS)]} {_md(why)}" for i, why in enumerate(notes)]
    return [f"**Access in {_where(m.consumers)}**{mode_text}:", "", head, sep, *rows, "", "<br>".join(legend), ""]


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
        rows += [f"| {_code(service)} | {_where(clusters)} | {_phrase(phrase)} |" for phrase, clusters in said.values()]
    return rows


def _grant_rows(d: PlanDiff) -> list[str]:
    said: dict[str, tuple[Phrase, list[str]]] = {}
    for m in d.mesh:
        phrase = describe.mesh(m)
        said.setdefault("mesh:" + plain(phrase), (phrase, []))[1].append(m.cluster)
    for g in d.grants:
        phrase = describe.grant(g)
        said.setdefault("grant:" + plain(phrase), (phrase, []))[1].append(g.cluster)
    return [f"| {_where(clusters)} | {_phrase(phrase)} |" for phrase, clusters in said.values()]


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
    text = f"- **{w.code.name}**{state} at {_code(where)}, {_code(format_loc(w.loc))}"
    if w.acknowledged:
        return text
    return text + f": {_md(w.message)}" + (f". Fix: {_md(w.hint)}" if w.hint else "")


def _value(v: object) -> str:
    return "_not set_" if v is ABSENT else _code(show(v, 100))


def _cluster_block(c: ClusterDiff) -> list[str]:
    """One cluster's objects in a <details> block (at most MARKDOWN_ROW_CAP rows)."""
    summary = f"<b>{_md(c.name)}</b> ({_md(describe.cluster_role(c))}): {_md(describe.cluster_counts(c))}"
    rows: list[str] = []
    for o in c.objects[:MARKDOWN_ROW_CAP]:
        mark, role, note = describe.object_line(o)
        change = {"+": "added", "-": "removed", "~": "changed", ">": "role"}[mark]
        role += f"; {note}" if note else ""
        fields = [f"{_code(f.path)}: {_value(f.old)} → {_value(f.new)}" for f in o.fields[:MARKDOWN_FIELD_CAP]]
        if len(o.fields) > MARKDOWN_FIELD_CAP:
            fields.append(f"... and {len(o.fields) - MARKDOWN_FIELD_CAP} more")
        rows.append(f"| {change} | {_code(str(o.id))} | {_md(role)} | {'<br>'.join(fields)} |")
    if len(c.objects) > MARKDOWN_ROW_CAP:
        rows.append(f"| ... and {len(c.objects) - MARKDOWN_ROW_CAP} more |  |  |  |")
    return ["<details>", f"<summary>{summary}</summary>", "", "| Change | Object | Role | Fields |",
            "| --- | --- | --- | --- |", *rows, "", "</details>", ""]
