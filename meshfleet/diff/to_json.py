"""A diff as JSON for bots and scripts: a stable structure whose keys never depend on the data."""

from __future__ import annotations

from typing import Any

from meshfleet.core.effective import allowed_json, route_json
from meshfleet.core.views import as_json as view_json
from meshfleet.diff import describe
from meshfleet.diff.compare import PlanDiff
from meshfleet.diff.fields import ABSENT, FieldChange, redact
from meshfleet.diff.objects import ObjectChange
from meshfleet.diff.phrases import plain
from meshfleet.diff.routes import AccessChange, RouteChange
from meshfleet.diff.services import ServiceChange


def _pair(old: Any, new: Any) -> dict[str, Any]:
    return {"old": old, "new": new}


def _field(f: FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"path": f.path}
    if f.old is not ABSENT:
        out["old"] = f.old
    if f.new is not ABSENT:
        out["new"] = f.new
    return out


def _object(o: ObjectChange) -> dict[str, Any]:
    out: dict[str, Any] = {
        "change": o.op,
        "apiVersion": o.id.api_version,
        "kind": o.id.kind,
        "namespace": o.id.namespace,
        "name": o.id.name,
        "role": {k: v.role for k, v in (("old", o.old), ("new", o.new)) if v is not None},
    }
    if o.op == "changed":
        out["fields"] = [_field(f) for f in o.fields]
    else:
        body = o.new.body if o.new is not None else o.old.body if o.old is not None else {}
        out["object"] = redact(body)
    return out


def _service(ch: ServiceChange) -> dict[str, Any]:
    """One change of a service in a cluster: the views before and after, and the fields that differ."""
    return {
        "cluster": ch.cluster,
        "aspect": ch.aspect,
        "change": ch.change,
        "description": plain(describe.service(ch)),
        "old": view_json(ch.old),
        "new": view_json(ch.new),
        "fields": [_field(f) for f in ch.fields],
    }


def _route(ch: RouteChange) -> dict[str, Any]:
    """Who answers one consumer's calls to one name of a service, before and after (null: no route)."""
    return {
        "consumer": ch.consumer,
        "service": ch.service,
        "calledAs": ch.called_as,
        "change": ch.change,
        "policy": _pair(ch.old_policy, ch.new_policy),
        "description": plain(describe.route(ch)),
        "old": route_json(ch.old, ch.consumer) if ch.old is not None else None,
        "new": route_json(ch.new, ch.consumer) if ch.new is not None else None,
    }


def _access(ch: AccessChange) -> dict[str, Any]:
    """What one source may call on one side of a service in one consumer, before and after."""
    return {
        "consumer": ch.consumer,
        "service": ch.service,
        "source": ch.source,
        "side": ch.side,
        "change": ch.change,
        "description": plain(describe.access(ch)),
        "old": [allowed_json(a) for a in ch.old],
        "new": [allowed_json(a) for a in ch.new],
    }


def as_json(d: PlanDiff, old_name: str, new_name: str) -> dict[str, Any]:
    """A stable structure: keys never depend on the data; lists are in the plans' order."""
    return {
        "old": old_name,
        "new": new_name,
        "changed": d.changed,
        "mode": _pair(d.old_mode, d.new_mode),
        "maxDeleteShare": d.max_delete_share,
        "totals": {
            "added": d.total("added"),
            "removed": d.total("removed"),
            "changed": d.total("changed"),
            "roleChanged": d.role_changes(),
        },
        "risks": [{"kind": r.kind, "cluster": r.cluster, "message": r.message, "hits": list(r.hits)} for r in d.risks],
        "changedServices": d.changed_services(),
        "routes": [_route(ch) for ch in d.routes],
        "callers": [_access(ch) for ch in d.access],
        "services": [{"service": s, "changes": [_service(ch) for ch in changes]} for s, changes in d.services()],
        "access": [
            {
                "cluster": g.cluster,
                "change": g.change,
                "source": g.source,
                "destination": g.destination,
                "rule": g.rule,
                "service": g.service,
                "matches": list(g.matches),
                "requests": [view_json(m) for m in g.requests],
                "description": plain(describe.grant(g)),
                "fields": [_field(f) for f in g.fields],
            }
            for g in d.grants
        ],
        "mesh": [
            {
                "cluster": m.cluster,
                "permissive": _pair(m.old.permissive, m.new.permissive),
                "description": plain(describe.mesh(m)),
            }
            for m in d.mesh
        ],
        "warnings": [{**w.as_json(), "new": d.is_new(w)} for w in d.warnings],
        "clusters": [
            {
                "name": c.name,
                "change": c.status,
                "role": _pair(c.old.role if c.old else None, c.new.role if c.new else None),
                "clusterKey": _pair(c.old.key if c.old else None, c.new.key if c.new else None),
                "kubeconfig": _pair(
                    c.old.kubeconfig_source() if c.old else None, c.new.kubeconfig_source() if c.new else None
                ),
                "attributes": [_field(f) for f in c.attributes],
                "objects": [_object(o) for o in c.objects],
            }
            for c in d.clusters
        ],
    }
