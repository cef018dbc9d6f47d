"""From raw samples to what the bench reports: each pair's ratio per round with its spread, each
command's time per object and per KiB, and every target met or missed.

Why here and not in the measuring code: the tests check these rules on made-up numbers, without
running anything.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.measure import (
    DIFF,
    DIFF_INPROC,
    DIFF_INPROC_TINY,
    IO_FLOOR,
    KUSTOMIZE,
    PARSE_FLOOR,
    PLAN,
    PLAN_INPROC,
    PLAN_INPROC_TINY,
    PLAN_JSON,
    PLAN_NEW,
    RENDER,
    RERENDER,
    ROUTES,
    STARTUP,
    STARTUP_FLOOR,
    VALIDATE,
)

MET, MISSED, NOT_MEASURED = "met", "missed", "not measured"


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


@dataclass(frozen=True)
class Pair:
    """A command set against another (or against the sum of others) in the same rounds."""

    id: str
    label: str
    command: str
    against: tuple[str, ...]
    metric: str = "wall_s"


PAIRS: tuple[Pair, ...] = (
    Pair("validate/parse-floor", "validate / parse floor", VALIDATE, (PARSE_FLOOR,)),
    Pair("plan/parse-floor", "plan / parse floor", PLAN, (PARSE_FLOOR,)),
    Pair("plan-json/plan", "plan --format json / plan", PLAN_JSON, (PLAN,)),
    Pair("plan-json/plan:rss", "plan --format json / plan, peak RSS", PLAN_JSON, (PLAN,), "rss_kib"),
    Pair("routes/plan", "routes / plan", ROUTES, (PLAN,)),
    Pair("diff/two-plans", "diff / two plans (diff floor)", DIFF, (PLAN, PLAN_NEW)),
    Pair("diff/plan:rss", "diff / plan, peak RSS", DIFF, (PLAN,), "rss_kib"),
    Pair("render/io-floor", "render / I/O floor", RENDER, (IO_FLOOR,)),
    Pair("render/kustomize", "render / kubectl kustomize", RENDER, (KUSTOMIZE,)),
    Pair("rerender/render", "render over existing / render into a new directory", RERENDER, (RENDER,)),
)
OWN_TIME = {PLAN: (PLAN_INPROC, PLAN_INPROC_TINY), DIFF: (DIFF_INPROC, DIFF_INPROC_TINY)}
"""Commands whose own time per object shows whether they grow linearly: CPU time after the imports,
collector included, beyond the same on the 3-cluster fleet in the same round (what any size costs)."""


def pair_ratios(commands: Mapping[str, Any], pair: Pair) -> list[float] | None:
    if pair.command not in commands or any(a not in commands for a in pair.against):
        return None
    num = commands[pair.command][pair.metric]
    den = [sum(vals) for vals in zip(*(commands[a][pair.metric] for a in pair.against), strict=True)]
    return [a / b if b else float("inf") for a, b in zip(num, den, strict=True)]


def derive_size(row: dict[str, Any]) -> dict[str, Any]:
    """A size's pairs (ratio per round and its spread), and per command its median time, time per
    object and per KiB of rendered output, peak RSS and output."""
    out = dict(row)
    cmds = row["commands"]
    pairs = {}
    for p in PAIRS:
        ratios = pair_ratios(cmds, p)
        if ratios is not None:
            pairs[p.id] = {"ratios": ratios, **spread(ratios)}
            if p.metric == "wall_s":
                pairs[p.id]["cpu_median"] = statistics.median(
                    pair_ratios(cmds, Pair(p.id, p.label, p.command, p.against, "cpu_s")) or [0.0]
                )
    out["pairs"] = pairs
    kib = row["output_bytes"] / 1024
    figures = {}
    for name, c in cmds.items():
        wall = statistics.median(c["wall_s"])
        figures[name] = {
            "wall_s": spread(c["wall_s"]),
            "us_per_object": 1e6 * wall / row["objects"],
            "us_per_kib": 1e6 * wall / kib,
            "rss_kib": max(c["rss_kib"]),
            "out_bytes": c["out_bytes"],
        }
    out["figures"] = figures
    own = {}
    for name, (inside, tiny) in OWN_TIME.items():
        if inside in cmds and tiny in cmds and row["objects"] > row["tiny_objects"]:
            beyond = [a - b for a, b in zip(cmds[inside]["cpu_s"], cmds[tiny]["cpu_s"], strict=True)]
            per = 1e6 * statistics.median(beyond) / (row["objects"] - row["tiny_objects"])
            own[name] = {"us_per_object": per, "beyond_s": spread(beyond), "fixed_s": spread(cmds[tiny]["cpu_s"])}
    out["own_time"] = own
    return out


def derive_startup(row: dict[str, Any]) -> dict[str, Any]:
    cmds = row["commands"]
    ratios = [a / b for a, b in zip(cmds[STARTUP]["wall_s"], cmds[STARTUP_FLOOR]["wall_s"], strict=True)]
    return {**row, "ratios": ratios, **spread(ratios)}


def linearity(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per command, its own CPU time per object at each size and max/min across sizes."""
    out: dict[str, Any] = {}
    for name in OWN_TIME:
        per = {r["size"]: r["own_time"][name]["us_per_object"] for r in rows if name in r["own_time"]}
        values = list(per.values())
        ok = len(values) >= 2 and min(values) > 0
        out[name] = {"us_per_object": per, "max_over_min": max(values) / min(values) if ok else None}
    return out


@dataclass(frozen=True)
class Target:
    """One promise the bench checks, where it comes from, and what explains a miss."""

    id: str
    label: str
    wanted: str
    limit: float
    kind: str
    """"pair" (the pair's median at every size), "linear", "routes", "startup" or "pulumi"."""
    subject: str
    """The pair id, the linear command, or empty."""
    profile: str | None
    """The command to profile where the target is missed worst; None where a profile explains
    nothing (memory)."""


ROUTES_LIMIT_S = 5.0

TARGETS: tuple[Target, ...] = (
    Target(
        "render-kustomize",
        "render vs kubectl kustomize",
        "≤ 0.5x at every size",
        0.5,
        "pair",
        "render/kustomize",
        RENDER,
    ),
    Target("render-io-floor", "render vs its I/O floor", "≤ 2x at every size", 2.0, "pair", "render/io-floor", RENDER),
    Target(
        "rerender",
        "render over existing output vs into a new directory",
        "≤ 1.2x at every size",
        1.2,
        "pair",
        "rerender/render",
        RERENDER,
    ),
    Target(
        "validate-parse-floor",
        "validate vs the C-loader parse floor",
        "≤ 4x at every size",
        4.0,
        "pair",
        "validate/parse-floor",
        VALIDATE,
    ),
    Target(
        "plan-linear",
        "plan: own time per object, beyond fixed costs",
        "max/min ≤ 1.25 across sizes",
        1.25,
        "linear",
        PLAN,
        PLAN,
    ),
    Target(
        "diff-linear",
        "diff: own time per object, beyond fixed costs",
        "max/min ≤ 1.25 across sizes",
        1.25,
        "linear",
        DIFF,
        DIFF,
    ),
    Target("diff-two-plans", "diff vs two plans", "≤ 1.5x at every size", 1.5, "pair", "diff/two-plans", DIFF),
    Target(
        "diff-memory",
        "diff peak RSS vs plan's",
        "≤ 2x at every size (at most both plans)",
        2.0,
        "pair",
        "diff/plan:rss",
        None,
    ),
    Target(
        "plan-json-memory",
        "plan --format json peak RSS vs plan's",
        "≤ 2x at every size",
        2.0,
        "pair",
        "plan-json/plan:rss",
        None,
    ),
    Target(
        "routes",
        "routes on the largest fleet",
        f"≤ {ROUTES_LIMIT_S:g} s (a few seconds)",
        ROUTES_LIMIT_S,
        "routes",
        ROUTES,
        ROUTES,
    ),
    Target(
        "startup",
        "start-up: validate fleet/demo.yaml vs importing pydantic and yaml",
        "≤ 1.5x",
        1.5,
        "startup",
        "",
        "startup",
    ),
    Target("pulumi", "Pulumi registration vs bare resources, under mocks", "≤ 1.2x", 1.2, "pulumi", "", "pulumi"),
)


def _verdict(value: float | None, limit: float, missing: str) -> str:
    if value is None:
        return missing
    return MET if value <= limit else MISSED


def evaluate(t: Target, results: Mapping[str, Any]) -> dict[str, Any]:
    """The target's value (its worst), where it is worst, the per-size figures and its status."""
    rows = results["sizes"]
    out: dict[str, Any] = {
        "id": t.id,
        "target": t.label,
        "wanted": t.wanted,
        "limit": t.limit,
        "value": None,
        "worst": None,
        "per_size": {},
        "status": NOT_MEASURED,
    }
    if t.kind == "pair":
        per = {
            r["size"]: {k: r["pairs"][t.subject][k] for k in ("min", "median", "max")}
            for r in rows
            if t.subject in r["pairs"]
        }
        out["per_size"] = per
        if per:
            worst = max(per, key=lambda s: per[s]["median"])
            out["value"], out["worst"] = per[worst]["median"], worst
        out["status"] = _verdict(out["value"], t.limit, NOT_MEASURED)
    elif t.kind == "linear":
        lin = results["linearity"].get(t.subject, {})
        per_obj = lin.get("us_per_object", {})
        out["per_size"] = per_obj
        out["value"] = lin.get("max_over_min")
        out["worst"] = max(per_obj, key=lambda s: per_obj[s]) if per_obj else None
        out["status"] = _verdict(out["value"], t.limit, NOT_MEASURED)
    elif t.kind == "routes":
        measured = [r for r in rows if ROUTES in r["commands"]]
        if measured:
            largest = max(measured, key=lambda r: r["objects"])
            out["per_size"] = {r["size"]: r["figures"][ROUTES]["wall_s"] for r in measured}
            out["value"], out["worst"] = largest["figures"][ROUTES]["wall_s"]["median"], largest["size"]
            out["status"] = _verdict(out["value"], t.limit, NOT_MEASURED)
    elif t.kind == "startup":
        st = results.get("startup")
        if st is not None:
            out["per_size"] = {"demo": {k: st[k] for k in ("min", "median", "max")}}
            out["value"] = st["median"]
            out["status"] = _verdict(out["value"], t.limit, NOT_MEASURED)
    elif t.kind == "pulumi":
        pul = results.get("pulumi")
        if pul is not None:
            out["per_size"] = {pul["size"]: {k: pul[k] for k in ("min", "median", "max")}}
            out["value"], out["worst"] = pul["median"], pul["size"]
            out["status"] = _verdict(out["value"], t.limit, NOT_MEASURED)
    else:
        raise ValueError(f"unknown target kind {t.kind!r}")
    return out


def evaluate_all(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [evaluate(t, results) for t in TARGETS]


PROFILE_CAP = 10_000
"""Profiles run at no more objects than about this (at 100k a profile takes minutes and names the
same functions as at 10k), except for growth with size, which shows only where it is worst."""


def profile_wanted(targets: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Target id -> (command, size) to profile for each missed target: its command where it is missed
    worst, or (but for linearity) the largest size within PROFILE_CAP objects if that is smaller."""
    by_id = {t.id: t for t in TARGETS}
    objects = {r["size"]: r["objects"] for r in rows}
    capped = [s for s, n in objects.items() if n <= PROFILE_CAP * 1.5]
    largest = max(capped or objects, key=lambda s: objects[s]) if objects else None
    wanted: dict[str, tuple[str, str]] = {}
    for res in targets:
        t = by_id[res["id"]]
        if res["status"] != MISSED or t.profile is None:
            continue
        at = res["worst"] or largest
        if t.kind == "startup":
            at = "demo"
        elif t.kind != "linear" and at in objects and largest is not None and objects[at] > objects[largest]:
            at = largest
        if at is not None:
            wanted[t.id] = (t.profile, at)
    return wanted
