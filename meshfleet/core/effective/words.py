"""The effective view in words and JSON, shared by `meshfleet routes`, the plan's JSON and the diff.

Why: the same route or access line reads the same wherever it is shown, and the JSON is a stable
structure whose keys never depend on the data.
"""

from __future__ import annotations

from meshfleet.core.effective.records import (
    ANY,
    MODE_WORDS,
    Allowed,
    ClusterRoutes,
    Effective,
    ServiceRoutes,
    Serving,
    equal_split,
    servings,
)
from meshfleet.core.views import HttpMatchView, Route


def percent(value: float) -> str:
    """A share in percent: `50%`, `33.3%`."""
    return f"{value:.0f}%" if value == int(value) else f"{value:.1f}%"


def match_words(m: HttpMatchView) -> str:
    """One HTTP match in words: `GET, HEAD /get`, `any method /.*`, with its headers."""
    methods = "any method" if ANY in m.methods else ", ".join(m.methods)
    text = f"{methods} {m.path_regex}"
    for headers in m.headers:
        text += " with " + ", ".join(f"{k}: {v}" for k, v in headers)
    return text


def requests_words(matches: tuple[HttpMatchView, ...] | None) -> str:
    """The requests a caller may send: its matches in words, or `any request`."""
    if matches is None:
        return "any request"
    return "; ".join(match_words(m) for m in matches) or "no request"


def side_words(a: Allowed) -> str:
    """Who answers on an access line's side: `local pods in cluster-2`, `cluster-1, cluster-3`."""
    clusters = ", ".join(a.clusters)
    return f"local pods in {clusters}" if a.side == "local" else f"remote: {clusters}"


def _serving_json(shares: tuple[Serving, ...]) -> list[dict[str, object]]:
    return [{"cluster": s.cluster, "weight": s.weight, "percent": s.percent, "local": s.local} for s in shares]


def _match_json(m: HttpMatchView) -> dict[str, object]:
    out: dict[str, object] = {"name": m.name, "pathRegex": m.path_regex, "methods": list(m.methods)}
    if m.headers:
        out["headers"] = [dict(h) for h in m.headers]
    return out


def route_json(r: Route, consumer: str) -> dict[str, object]:
    return {
        "calledAs": r.called_as,
        "steady": _serving_json(servings(r.steady, consumer)),
        "localDown": _serving_json(servings(r.local_down, consumer)),
        "equalSplit": equal_split(r.steady),
        "rule": r.rule,
    }


def allowed_json(a: Allowed) -> dict[str, object]:
    """One access line; `requests` null is any request, `asked` what the rules say."""
    return {
        "source": a.source,
        "side": a.side,
        "clusters": list(a.clusters),
        "identity": a.identity,
        "rules": list(a.rules),
        "asked": [_match_json(m) for m in a.asked],
        "requests": None if a.requests is None else [_match_json(m) for m in a.requests],
        "enforced": a.where != "not-enforced",
        "where": a.where,
        "why": a.why,
    }


def service_json(s: ServiceRoutes) -> dict[str, object]:
    return {
        "service": s.service,
        "local": s.local,
        "policy": s.policy,
        "routes": [route_json(r, s.consumer) for r in s.routes],
        "access": [allowed_json(a) for a in s.access],
    }


def cluster_json(c: ClusterRoutes) -> dict[str, object]:
    """One member as a consumer: a stable structure whose keys never depend on the data."""
    return {
        "name": c.name,
        "mesh": c.mesh,
        "mode": c.mode,
        "modeDescription": MODE_WORDS[c.mode],
        "services": [service_json(s) for s in c.services],
    }


def as_json(e: Effective) -> list[dict[str, object]]:
    """Each member as a consumer."""
    return [cluster_json(c) for c in e.clusters]
