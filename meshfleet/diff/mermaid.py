"""The routes a change touches as a Mermaid flowchart (GitHub draws it in a comment).

Why: which clusters start or stop answering whom is seen faster than read. Clusters are nodes, a
changed route is an edge from the serving cluster to its consumer (or to a group of consumers that
see the same change): a removed route is dashed and marked ✖, a new one thick and marked +, a
moved share carries before → after. Only changed routes are drawn, at most `EDGE_CAP` of them.
The syntax is the subset `tests/diff/test_mermaid.py` checks with Mermaid's own parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshfleet.core.effective import percent, servings
from meshfleet.core.views import Route
from meshfleet.diff.phrases import listed
from meshfleet.diff.routes import Grouped, RouteChange

EDGE_CAP = 40
REMOVED_STYLE = "stroke:#d73a49,stroke-width:2px,stroke-dasharray:5 5"
ADDED_STYLE = "stroke:#2da44e,stroke-width:3px"


@dataclass(frozen=True)
class Graph:
    """A flowchart's lines, and how many changed routes it leaves out (over the cap)."""

    lines: tuple[str, ...]
    edges: int
    left_out: int


def quoted_label(text: str) -> str:
    """A quoted Mermaid label: quotes and markup characters as entity codes."""
    return '"' + text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") + '"'


def _percents(r: Route | None, consumer: str) -> dict[str, float]:
    """Each serving cluster's share of a route (steady, else with the local copy down)."""
    if r is None:
        return {}
    found = {s.cluster: s.percent for s in servings(r.local_down, consumer)}
    found.update({s.cluster: s.percent for s in servings(r.steady, consumer)})
    return found


def graph(groups: list[Grouped[RouteChange]], cap: int = EDGE_CAP) -> Graph | None:
    """The changed routes as `flowchart LR` lines, or None when no serving cluster changes."""
    nodes: dict[str, str] = {}
    declared: list[str] = []
    edges: list[tuple[str, str, str, str]] = []  # from, to, label, kind
    wanted = 0

    def node(key: str, label: str, group: bool = False) -> str:
        if key not in nodes:
            nodes[key] = f"n{len(nodes)}"
            declared.append(f"  {nodes[key]}[{quoted_label(label)}]" + (":::group" if group else ""))
        return nodes[key]

    for g in groups:
        ch = g.first
        gained, lost, kept = ch.served()
        before, after = _percents(ch.old, ch.consumer), _percents(ch.new, ch.consumer)
        changed = [c for c in kept if c != ch.consumer and before.get(c) != after.get(c)]
        todo = (
            [(c, "added") for c in gained if c != ch.consumer]
            + [(c, "removed") for c in lost if c != ch.consumer]
            + [(c, "changed") for c in changed]
        )
        wanted += len(todo)
        for cluster, kind in todo:
            if len(edges) >= cap:
                continue
            if len(g.consumers) == 1:
                to = node(g.consumers[0], g.consumers[0])
            else:
                to = node(
                    "group:" + ",".join(g.consumers),
                    f"{len(g.consumers)} clusters: {listed(list(g.consumers), 3)}",
                    group=True,
                )
            src = node(cluster, cluster)
            service = ch.service.split("/", 1)[1]
            if kind == "added":
                label = f"+ {service} {percent(after.get(cluster, 0.0))}"
            elif kind == "removed":
                label = f"✖ {service}"
            else:
                label = f"{service} {percent(before.get(cluster, 0.0))} → {percent(after.get(cluster, 0.0))}"
            edges.append((src, to, label, kind))
    if not edges:
        return None
    lines = ["flowchart LR", *declared]
    arrows = {"added": ("==", "==>"), "removed": ("-.", ".->"), "changed": ("--", "-->")}
    for src, to, label, kind in edges:
        head, tail = arrows[kind]
        lines.append(f"  {src} {head} {quoted_label(label)} {tail} {to}")
    for kind, style in (("removed", REMOVED_STYLE), ("added", ADDED_STYLE)):
        which = [str(i) for i, e in enumerate(edges) if e[3] == kind]
        if which:
            lines.append(f"  linkStyle {','.join(which)} {style}")
    if any(line.endswith(":::group") for line in declared):
        lines.append("  classDef group fill:#f6f8fa,stroke:#57606a,stroke-dasharray:3 3")
    return Graph(tuple(lines), len(edges), wanted - len(edges))
