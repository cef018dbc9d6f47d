"""A diff as JSON for bots and scripts: a stable structure whose keys never depend on the data."""

from __future__ import annotations

from typing import Any

from meshfleet.core.views import as_json as view_json
from meshfleet.diff import describe
from meshfleet.diff.compare import PlanDiff
from meshfleet.diff.fields import ABSENT, FieldChange, redact
from meshfleet.diff.objects import ObjectChange
from meshfleet.diff.phrases import plain
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
    return {"cluster": ch.cluster, "aspect": ch.aspect, "change": ch.change,
            "description": plain(describe.service(ch)), "old": view_json(ch.old), "new": view_json(ch.new),
            "fields": [_field(f) for f in ch.fields]}


def as_json(d: PlanDiff, old_name: str, new_name: str) -> dict[str, Any]:
    """A stable structure: keys never depend on the data; lists are in the plans' order."""
    return {
        "old": old_name,
        "new": new_name,
        "changed": d.changed,
        "mode": _pair(d.old_mode, d.new_mode),
        "maxDeleteShare": d.max_delete_share,
        "totals": {"added": d.total("added"), "removed": d.total("removed"), "changed": d.total("changed"),
                   "roleChanged": d.role_changes()},
        "risks": [{"kind": r.kind, "cluster": r.cluster, "message": r.message} for r in d.risks],
        "services": [{"service": s, "changes": [_service(ch) for ch in changes]} for s, changes in d.services()],
        "access": [
            {"cluster": g.cluster, "change": g.change, "source": g.source, "destination": g.destination,
             "rule": g.rule, "matches": list(g.matches), "description": plain(describe.grant(g)),
             "fields": [_field(f) for f in g.fields]}
            for g in d.grants
        ],
        "mesh": [{"cluster": m.cluster, "permissive": _pair(m.old.permissive, m.new.permissive),
                  "description": plain(describe.mesh(m))} for m in d.mesh],
        "warnings": [{**w.as_json(), "new": d.is_new(w)} for w in d.warnings],
        "clusters": [
            {
                "name": c.name,
                "change": c.status,
                "role": _pair(c.old.role if c.old else None, c.new.role if c.new else None),
                "clusterKey": _pair(c.old.key if c.old else None, c.new.key if c.new else None),
                "kubeconfig": _pair(c.old.kubeconfig_source() if c.old else None,
                                    c.new.kubeconfig_source() if c.new else None),
                "attributes": [_field(f) for f in c.attributes],
                "objects": [_object(o) for o in c.objects],
            }
            for c in d.clusters
        ],
    }
