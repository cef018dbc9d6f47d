"""The diff's comment on the effective view: who answers (routes, their picture, traffic-split tables) and who may call.

Why: a reviewer reads the change in the consumer's terms: which clusters answer its calls in what
shares before and after, and what each source may call, enforced where; identical changes in several
consumers are said once. The blocks are built here and placed on the page by `to_markdown`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from meshfleet.core.effective import ANY, MODE_SHORT, Allowed, equal_split, percent, requests_words, servings
from meshfleet.core.views import Route
from meshfleet.diff import describe
from meshfleet.diff.compare import PlanDiff
from meshfleet.diff.markdown_page import code_span, in_clusters, md_phrase, md_text
from meshfleet.diff.mermaid import graph
from meshfleet.diff.routes import AccessChange, Grouped, RouteChange, group

MATRIX_COLUMNS = 6
"""Services in one access matrix: those whose access changes, then unchanged ones for context."""
BAR = 10


# --- who answers ----------------------------------------------------------------------------------


def _route_title(ch: RouteChange, consumers: Sequence[str]) -> str:
    policy = ch.new_policy if ch.new is not None else ch.old_policy
    policy_text = (
        f"{ch.old_policy or 'no policy'} → {ch.new_policy or 'no policy'}"
        if ch.old_policy != ch.new_policy and ch.old is not None and ch.new is not None
        else (policy or "no policy")
    )
    return f"{code_span(ch.service)} as {code_span(ch.called_as)} in {in_clusters(consumers)} ({md_text(policy_text)})"


def route_blocks(routes: list[Grouped[RouteChange]]) -> Iterable[tuple[str, Callable[[], list[str]]]]:
    """The changed routes' blocks, each built only when the page has room: their picture, then a line each."""
    picture = graph(routes)
    if picture is not None:

        def draw() -> list[str]:
            note = (
                [f"_{picture.left_out} more changed routes are not drawn (see the tables below)._", ""]
                if picture.left_out
                else []
            )
            return [
                "Dashed ✖: a route that goes away; thick +: a new one; others: shares that move.",
                "",
                "```mermaid",
                *picture.lines,
                "```",
                "",
                *note,
            ]

        yield "route graph", draw
    for g in routes:
        yield "route change", partial(_route_item, g)


def _route_item(g: Grouped[RouteChange]) -> list[str]:
    return [f"- {_route_title(g.first, g.consumers)}: {md_phrase(describe.route(g.first))}"]


def has_split(ch: RouteChange) -> bool:
    """A route that stays and moves shares between clusters (a table says more than a sentence)."""
    return (
        ch.old is not None
        and ch.new is not None
        and ch.old.steady != ch.new.steady
        and len({s.cluster for r in (ch.old, ch.new) for s in r.steady}) > 1
    )


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


def split_table(g: Grouped[RouteChange]) -> list[str]:
    """Before/after shares per serving cluster, with a bar of the new share and its move in points."""
    ch = g.first
    local = any(r is not None and r.local_down != r.steady for r in (ch.old, ch.new))
    clusters = list(
        dict.fromkeys(s.cluster for r in (ch.old, ch.new) if r is not None for s in (*r.steady, *r.local_down))
    )
    head = "| Serving cluster | Before | After | |"
    sep = "| --- | ---: | ---: | --- |"
    if local:
        head = "| Serving cluster | Before | After | | Local copy down: before | after |"
        sep = "| --- | ---: | ---: | --- | ---: | ---: |"
    rows = []
    for c in clusters:
        who = "the local copy" if c == ch.consumer else code_span(c)
        before, after = _cell(ch.old, "steady", c, ch.consumer), _cell(ch.new, "steady", c, ch.consumer)
        new_share = (
            next((s.percent for s in servings(ch.new.steady, ch.consumer) if s.cluster == c), 0.0)
            if ch.new is not None
            else 0.0
        )
        old_share = (
            next((s.percent for s in servings(ch.old.steady, ch.consumer) if s.cluster == c), 0.0)
            if ch.old is not None
            else 0.0
        )
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
class AccessMatrix:
    """One consumer's (or several alike) access changes: sources by services, before and after."""

    consumers: tuple[str, ...]
    consumer: str
    sources: tuple[str, ...]
    services: tuple[str, ...]
    cells: dict[tuple[str, str], _Cell]


def access_matrices(d: PlanDiff) -> list[AccessMatrix]:
    """One access matrix per consumer whose access changes; consumers with the same change share one."""
    by_consumer: dict[str, list[AccessChange]] = {}
    for ch in d.access:
        by_consumer.setdefault(ch.consumer, []).append(ch)
    built: list[AccessMatrix] = []
    for consumer, changes in by_consumer.items():
        sources = tuple(dict.fromkeys(sorted((c.source for c in changes), key=lambda s: (s == ANY, s))))
        services = list(dict.fromkeys(c.service for c in changes))
        # Context: a few other services these sources may call here, unchanged (those their rules name,
        # then the consumer's first services); a bounded number of entries looked at.
        if d.new_view is not None:
            candidates = list(
                dict.fromkeys(
                    [*d.new_view.granted_to(consumer, sources), *d.new_view.services(consumer)[:MATRIX_COLUMNS]]
                )
            )
            for service in candidates[: 2 * MATRIX_COLUMNS]:
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
        built.append(AccessMatrix((consumer,), consumer, sources, tuple(services), cells))
    grouped = group(built, lambda m: m.consumer, _matrix_key)
    return [
        AccessMatrix(g.consumers, g.first.consumer, g.first.sources, g.first.services, g.first.cells) for g in grouped
    ]


def _lines(entry: object, source: str) -> tuple[Allowed, ...]:
    access: tuple[Allowed, ...] = getattr(entry, "access", ())
    return tuple(a for a in access if a.source == source)


def _matrix_key(m: AccessMatrix) -> Hashable:
    def norm(lines: tuple[Allowed, ...]) -> tuple[object, ...]:
        return tuple(
            (
                a.side,
                tuple("" if c == m.consumer else c for c in a.clusters),
                a.identity,
                a.rules,
                a.asked,
                a.requests,
                a.where,
                a.why,
            )
            for a in lines
        )

    return (m.sources, m.services, tuple((k, v[0], norm(v[1]), norm(v[2])) for k, v in sorted(m.cells.items())))


_MARKS = {"new": "🟢 **new:** ", "removed": "🔴 **removed**, was: ", "changed": "🟡 **changed:** ", "unchanged": ""}


def _access_line(a: Allowed, consumer: str, notes: list[str]) -> str:
    """`GET /get on local pods, enforced¹ (rule x)`; the footnote says where or why not."""
    if a.why not in notes:
        notes.append(a.why)
    ref = footnote_mark(notes.index(a.why))
    side = (
        "on local pods" if a.side == "local" else "from " + ", ".join(code_span(c) for c in a.clusters if c != consumer)
    )
    requests = (
        "any request"
        if a.requests is None
        else "; ".join(
            f"{md_text('any method' if ANY in m.methods else ', '.join(m.methods))} {code_span(m.path_regex)}"
            for m in a.requests
        )
    )
    state = "enforced" if a.where != "not-enforced" else "**not enforced**"
    text = f"{requests} {side}, {state}{ref}"
    rules = ", ".join(code_span(r) for r in a.rules)
    if a.requests is None and a.asked:
        text += (
            f" (rule{'s' if len(a.rules) > 1 else ''} {rules} ask{'' if len(a.rules) > 1 else 's'} "
            f"{md_text(requests_words(a.asked))})"
        )
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


_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def footnote_mark(i: int) -> str:
    """The footnote mark of the i-th reason: ¹ … ⁹, then ¹⁰, ¹¹ …, never one mark for two reasons."""
    return "".join(_SUPERSCRIPTS[int(d)] for d in str(i + 1))


def matrix_lines(d: PlanDiff, m: AccessMatrix) -> list[str]:
    """An access matrix as a table under a heading naming its consumers and access mode, its reasons as footnotes."""
    notes: list[str] = []
    head = "| from ↓ / to → | " + " | ".join(code_span(s) for s in m.services) + " |"
    sep = "| --- | " + " | ".join("---" for _ in m.services) + " |"
    rows = []
    for source in m.sources:
        who = "any workload" if source == ANY else code_span(source)
        rows.append(
            f"| {who} | "
            + " | ".join(_access_cell(m.cells.get((source, s)), m.consumer, notes) for s in m.services)
            + " |"
        )
    mode_text = f" ({md_text(MODE_SHORT[d.new_view.mode(m.consumer)])})" if d.new_view is not None else ""
    legend = [f"{footnote_mark(i)} {md_text(why)}" for i, why in enumerate(notes)]
    return [f"**Access in {in_clusters(m.consumers)}**{mode_text}:", "", head, sep, *rows, "", "<br>".join(legend), ""]
