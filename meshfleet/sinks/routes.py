"""`meshfleet routes`: the effective routing and access view as a text table, markdown, or JSON.

Why: per consuming cluster and service, the reader sees which clusters answer and in what shares
(steady, and with the local copy down), then who may call with which requests and whether the mesh
holds the caller to them there. The view itself is `core.effective`; this only lays it out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from meshfleet.core.effective import (
    ANY,
    MODE_WORDS,
    Allowed,
    ClusterRoutes,
    Effective,
    Serving,
    equal_split,
    percent,
    requests_words,
    servings,
)
from meshfleet.core.effective import as_json as effective_json
from meshfleet.core.meshes import MESHES
from meshfleet.core.views import Route

NO_ROUTE = Route("-", (), (), "no route")

SOURCE_ANY = "any workload"


def _title(c: ClusterRoutes) -> str:
    m = MESHES.get(c.mesh)
    return m.title if m is not None else c.mesh


def shares(items: tuple[Serving, ...]) -> str:
    """`cluster-2 (local) 50%, cluster-1 50% (equal split)`, or `nothing answers`."""
    if not items:
        return "nothing answers"
    text = ", ".join(f"{s.cluster}{' (local)' if s.local else ''} {percent(s.percent)}" for s in items)
    return text + (" (equal split)" if equal_split(items) else "")


def local_down(r: Route, consumer: str, local: bool) -> str:
    return shares(servings(r.local_down, consumer)) if local else "no local copy"


def source(a: Allowed) -> str:
    return SOURCE_ANY if a.source == ANY else a.source


def answers(a: Allowed) -> str:
    where = ", ".join(a.clusters)
    return f"local pods in {where} as {a.identity}" if a.side == "local" else f"{where} as {a.identity}"


def enforced(a: Allowed) -> str:
    """Whether the mesh holds the caller to its rules here, why, and what the rules ask when more."""
    text = f"yes, {a.why}" if a.where != "not-enforced" else f"no: {a.why}"
    if a.requests is None and a.asked:
        text += f" (rule{'s' if len(a.rules) > 1 else ''} {', '.join(a.rules)} ask{'' if len(a.rules) > 1 else 's'}"
        text += f" {requests_words(a.asked)})"
    elif a.rules:
        text += f" (rule{'s' if len(a.rules) > 1 else ''} {', '.join(a.rules)})"
    return text


COLUMN_CAP = 80
"""Columns are padded to their widest cell up to this width; a longer cell pushes the rest of its row."""


def _table(rows: list[list[str]], indent: str) -> list[str]:
    widths = [min(COLUMN_CAP, max(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def text(e: Effective, fleet: str) -> str:
    pairs = sum(len(c.services) for c in e.clusters)
    out = [
        f"{fleet}: who answers each service, in what shares, and who may call it "
        f"({len(e.clusters)} member{'s' if len(e.clusters) != 1 else ''}, {pairs} consumer/service "
        f"pair{'s' if pairs != 1 else ''})",
        "",
    ]
    for c in e.clusters:
        out.append(f"{c.name} ({_title(c)}, {MODE_WORDS[c.mode]})")
        if not c.services:
            out += ["  calls no service of the fleet", ""]
            continue
        rows = [["SERVICE", "POLICY", "CALLED AS", "STEADY", "LOCAL COPY DOWN", "RULE"]]
        for s in c.services:
            for r in s.routes or (NO_ROUTE,):
                rows.append(
                    [
                        s.service,
                        s.policy or "none",
                        r.called_as,
                        shares(servings(r.steady, c.name)),
                        local_down(r, c.name, s.local),
                        r.rule,
                    ]
                )
        out += _table(rows, "  ")
        access = [["FROM", "TO", "ANSWERS FROM", "REQUESTS", "ENFORCED"]]
        for s in c.services:
            access += [[source(a), s.service, answers(a), requests_words(a.requests), enforced(a)] for a in s.access]
        out.append("")
        if len(access) > 1:
            out += _table(access, "  ")
        else:
            out.append("  no source may call these services here (no access rule reaches them)")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _code(s: str) -> str:
    s = s.replace("\n", " ").replace("|", "\\|")
    fence = "``" if "`" in s else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _md(s: str) -> str:
    s = s.replace("\n", " ").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", s)


def _md_shares(items: tuple[Serving, ...]) -> str:
    if not items:
        return "nothing answers"
    text = " · ".join(f"{_code(s.cluster)}{' (local)' if s.local else ''} {percent(s.percent)}" for s in items)
    return text + (" _(equal split)_" if equal_split(items) else "")


def _md_requests(a: Allowed) -> str:
    if a.requests is None:
        return "any request"
    return "; ".join(_md_match(m.methods, m.path_regex) for m in a.requests) or "no request"


def _md_match(methods: tuple[str, ...], path: str) -> str:
    return f"{_md('any method' if ANY in methods else ', '.join(methods))} {_code(path)}"


def markdown(e: Effective, fleet: str) -> str:
    out = [f"## meshfleet routes: {_code(fleet)}", ""]
    for c in e.clusters:
        mode = MODE_WORDS[c.mode]
        out += [f"### {_code(c.name)} ({_md(_title(c))})", "", _md(mode[:1].upper() + mode[1:]) + ".", ""]
        if not c.services:
            out += ["Calls no service of the fleet.", ""]
            continue
        out += [
            "| Service | Policy | Called as | Steady | Local copy down | Rule |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for s in c.services:
            for r in s.routes or (NO_ROUTE,):
                down = _md_shares(servings(r.local_down, c.name)) if s.local else "no local copy"
                out.append(
                    f"| {_code(s.service)} | {_md(s.policy or 'none')} | {_code(r.called_as)} | "
                    f"{_md_shares(servings(r.steady, c.name))} | {down} | {_md(r.rule)} |"
                )
        out.append("")
        lines = [(s.service, a) for s in c.services for a in s.access]
        if not lines:
            out += ["No source may call these services here (no access rule reaches them).", ""]
            continue
        out += ["| From | To | Answers from | Requests | Enforced |", "| --- | --- | --- | --- | --- |"]
        for service, a in lines:
            who = _md(SOURCE_ANY) if a.source == ANY else _code(a.source)
            where = ", ".join(_code(x) for x in a.clusters)
            answers_from = f"local pods in {where}" if a.side == "local" else where
            mark = "✅" if a.where != "not-enforced" else "⚠️"
            out.append(
                f"| {who} | {_code(service)} | {answers_from} as {_code(a.identity)} | {_md_requests(a)} | "
                f"{mark} {_md(enforced(a))} |"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def as_json(e: Effective, fleet: str) -> dict[str, Any]:
    return {"fleet": fleet, "clusters": effective_json(e)}


INLINE = 100
"""Characters a small object or list may take on one line of the JSON output."""
_SMALL = 12


def _small(value: Any, budget: int = _SMALL) -> int:
    """What is left of `budget` after counting `value`'s scalars (negative: too big to inline)."""
    if isinstance(value, dict):
        for v in value.values():
            budget = _small(v, budget - 1)
            if budget < 0:
                return budget
        return budget
    if isinstance(value, list):
        for v in value:
            budget = _small(v, budget)
            if budget < 0:
                return budget
        return budget
    return budget - 1


def write_json(value: Any, write: Callable[[str], object], level: int = 0) -> None:
    """JSON laid out like `json.dumps(value, indent=2)`, except that an object or list with a few values
    that fits on one line stays on it (each share, each HTTP match): readable, and most of it encoded by
    the json module's C encoder (a 100k-object fleet's view is over 100 MB of JSON)."""
    if isinstance(value, dict | list) and value:
        if _small(value) >= 0:
            flat = json.dumps(value, separators=(", ", ": "))
            if len(flat) + 2 * level <= INLINE:
                write(flat)
                return
        pad = "  " * (level + 1)
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        write("{\n" if isinstance(value, dict) else "[\n")
        for i, (k, v) in enumerate(items):
            write(pad + (json.dumps(k) + ": " if isinstance(value, dict) else ""))
            write_json(v, write, level + 1)
            write(",\n" if i < len(items) - 1 else "\n")
        write("  " * level + ("}" if isinstance(value, dict) else "]"))
    else:
        write(json.dumps(value))
