"""What each change says, as structured phrases shared by the text, markdown and JSON outputs.

Why: one wording per change, whatever the output format. Known view fields get a sentence of
their own (an import gains an endpoint, a policy's targets change); any other field that differs is
said as `field old -> new`, so a field added to a view shows up without a change here.
"""

from __future__ import annotations

from typing import Any

from meshfleet.core.effective import ANY, Allowed, equal_split, percent, requests_words, servings
from meshfleet.core.plan import PlannedObject, Role
from meshfleet.core.views import EndpointView, ExportView, ImportView, PolicyView, Route, Share, TargetView
from meshfleet.diff.compare import PlanDiff
from meshfleet.diff.fields import ABSENT, FieldChange, show
from meshfleet.diff.objects import ClusterDiff, ObjectChange
from meshfleet.diff.phrases import Phrase, cat, join, name, names, value, words
from meshfleet.diff.routes import AccessChange, RouteChange
from meshfleet.diff.services import GrantChange, MeshChange, ServiceChange

NOT_SET = "not set"
"""A field one side does not have, in words."""

EXPORT_FIELD_CAP = 3


def shown(v: object) -> Phrase:
    """A field's value, or "not set" in words where that side does not have it."""
    return words(NOT_SET) if v is ABSENT else value(show(v))


def field(f: FieldChange) -> Phrase:
    """A field that differs, as it is: `path old -> new`."""
    return cat(name(f.path), " ", shown(f.old), " -> ", shown(f.new))


def service(ch: ServiceChange) -> Phrase:
    if ch.aspect == "import":
        return _import(ch.old, ch.new, ch.fields)
    if ch.aspect == "export":
        return _export(ch.old, ch.new, ch.fields)
    return _policy_change(ch.old, ch.new, ch.fields)


def _exporters(endpoints: tuple[EndpointView, ...]) -> list[str]:
    return list(dict.fromkeys(e.cluster for e in endpoints))


def _address(e: EndpointView) -> str:
    return e.target.describe() if e.target is not None else "(no address: the mesh routes it)"


def _import(old: ImportView | None, new: ImportView | None, fields: tuple[FieldChange, ...]) -> Phrase:
    before = _exporters(old.endpoints) if old is not None else []
    after = _exporters(new.endpoints) if new is not None else []
    if old is None:
        return cat("gains the import, from ", names(after))
    if new is None:
        return cat("loses the import (it came from ", names(before), ")")
    parts: list[Phrase] = []
    gained = [c for c in after if c not in before]
    lost = [c for c in before if c not in after]
    if gained:
        parts.append(cat(f"gains endpoint{'s' if len(gained) > 1 else ''} ", names(gained)))
    if lost:
        parts.append(cat(f"loses endpoint{'s' if len(lost) > 1 else ''} ", names(lost)))
    old_at = {(e.cluster, e.port): e for e in old.endpoints}
    for e in new.endpoints:
        was = old_at.get((e.cluster, e.port))
        if was is not None and _address(was) != _address(e):
            parts.append(
                cat(
                    "endpoint ",
                    name(e.cluster),
                    f" port {e.port} moves ",
                    value(_address(was)),
                    " -> ",
                    value(_address(e)),
                )
            )
    # Endpoints gained, lost or moved are said above; any other field that differs is said as it is.
    parts.extend(field(f) for f in fields if not _endpoint_said(f.path))
    out = join(parts, "; ") if parts else words("import changes")
    kept = [c for c in after if c in before]
    if lost and kept:
        out = cat(out, " (keeps ", names(kept), ")")
    return out


def _endpoint_said(path: str) -> bool:
    if not path.startswith("endpoints["):
        return False
    rest = path[path.index("]") + 1 :]
    return rest == "" or rest.startswith(".target")


def _export(old: ExportView | None, new: ExportView | None, fields: tuple[FieldChange, ...]) -> Phrase:
    if new is None:
        return words("stops exporting")
    if old is None:
        paths = [r.path for r in new.rules if r.path is not None]
        return (
            cat("starts exporting at ", join((value(p) for p in paths), ", ")) if paths else words("starts exporting")
        )
    shown = join((field(f) for f in fields[:EXPORT_FIELD_CAP]), "; ")
    more = f"; ... and {len(fields) - EXPORT_FIELD_CAP} more" if len(fields) > EXPORT_FIELD_CAP else ""
    return cat("changes its export: ", shown, more)


def _targets(targets: tuple[TargetView, ...] | None, lb_type: str) -> Phrase:
    if targets is None:
        return words("(every exporter)")
    if not targets:
        return words("(none)")
    listed = join((cat(name(t.cluster), f" weight {t.weight}" if t.weight is not None else "") for t in targets), ", ")
    if lb_type == "ActiveActive" and len(targets) > 1 and all(t.weight is None for t in targets):
        return cat(listed, " (no weights: equal split)")
    return listed


def _tiers(tiers: tuple[tuple[Share, ...], ...] | None) -> Phrase:
    """Where the mesh sends the calls, tier by tier: `a; then b 80, c 20`."""
    if tiers is None:
        return words("(as the targets say)")
    return join(
        (
            join((cat(name(s.cluster), f" {s.weight}%" if len(t) > 1 and s.weight != 1 else "") for s in t), ", ")
            for t in tiers
        ),
        "; then ",
    )


def policy(p: PolicyView) -> Phrase:
    return words(p.lb_type) if p.targets is None else cat(p.lb_type, " to ", _targets(p.targets, p.lb_type))


def _policy_change(old: PolicyView | None, new: PolicyView | None, fields: tuple[FieldChange, ...]) -> Phrase:
    if old is None:
        assert new is not None
        return cat("gets a traffic policy: ", policy(new))
    if new is None:
        return cat("drops its traffic policy (", policy(old), "); imports are ignored (Locality)")
    parts: list[Phrase] = []
    if old.lb_type != new.lb_type:
        parts.append(cat("lbType ", value(old.lb_type), " -> ", value(new.lb_type)))
    if old.targets != new.targets:
        parts.append(cat("targets ", _targets(old.targets, old.lb_type), " -> ", _targets(new.targets, new.lb_type)))
    if old.tiers != new.tiers:
        parts.append(cat("sends to ", _tiers(old.tiers), " -> ", _tiers(new.tiers)))
    parts.extend(field(f) for f in fields if not f.path.startswith(("lbType", "targets", "tiers")))
    return cat("traffic policy: ", join(parts, "; "))


def grant(g: GrantChange) -> Phrase:
    if g.source is None:
        return cat(
            "rule ",
            name(g.rule),
            " for service account ",
            name(g.destination),
            ": ",
            join((field(f) for f in g.fields), "; "),
        )
    verb = "now lets" if g.change == "added" else "no longer lets"
    asked = requests_words(g.requests) if g.requests else ", ".join(g.matches)
    return cat(
        f"{verb} ",
        name(g.source),
        " call service account ",
        name(g.destination),
        " (rule ",
        name(g.rule),
        ": ",
        value(asked) if asked else words("no request"),
        ")",
    )


def mesh(m: MeshChange) -> Phrase:
    def say(v: bool | None) -> str:
        return "as installed" if v is None else "permissive" if v else "non-permissive"

    parts: list[Phrase] = []
    if m.old.permissive != m.new.permissive:
        parts.append(words(f"mesh mode {say(m.old.permissive)} -> {say(m.new.permissive)}"))
    parts.extend(field(f) for f in m.fields if f.path != "permissive")
    return join(parts, "; ")


# --- routes and access (the effective view) -----------------------------------------------------


def serving(cluster: str, consumer: str) -> Phrase:
    """A serving cluster; the consumer's own copy is "the local copy" (alike in every consumer)."""
    return words("the local copy") if cluster == consumer else name(cluster)


def shares(items: tuple[Share, ...], consumer: str) -> Phrase:
    """`cluster-1 50%, cluster-3 50% (equal split)`, or "nothing answers"."""
    if not items:
        return words("nothing answers")
    listed = join(
        (cat(serving(s.cluster, consumer), f" {percent(s.percent)}") for s in servings(items, consumer)), ", "
    )
    return cat(listed, " (equal split)") if equal_split(items) else listed


def _moves(old: tuple[Share, ...], new: tuple[Share, ...], consumer: str) -> Phrase:
    """Per serving cluster whose share moves: `cluster-1 33.3% -> 40%`, `cluster-4 joins at 25%`."""
    a = {s.cluster: s.percent for s in servings(old, consumer)}
    b = {s.cluster: s.percent for s in servings(new, consumer)}
    parts: list[Phrase] = []
    for c in [*b, *(c for c in a if c not in b)]:
        if c not in a:
            parts.append(cat(serving(c, consumer), f" joins at {percent(b[c])}"))
        elif c not in b:
            parts.append(cat(serving(c, consumer), f" leaves (was {percent(a[c])})"))
        elif a[c] != b[c]:
            parts.append(cat(serving(c, consumer), f" {percent(a[c])} -> {percent(b[c])}"))
    out = join(parts, ", ") if parts else words("same shares")
    if equal_split(old) and not equal_split(new):
        out = cat(out, " (was an equal split)")
    return out


def route(ch: RouteChange) -> Phrase:
    """What changes in who answers one consumer's calls to one name of a service."""
    if ch.old is None:
        assert ch.new is not None
        if not (ch.new.steady or ch.new.local_down):
            return cat("a new name, but nothing answers it (", ch.new.rule, ")")
        return cat("now answered by ", _route_states(ch.new, ch.consumer))
    if ch.new is None:
        if not (ch.old.steady or ch.old.local_down):
            return cat("goes away; nothing answered it before either (", ch.old.rule, ")")
        return cat("goes away (it was answered by ", _route_states(ch.old, ch.consumer), ")")
    parts: list[Phrase] = []
    if ch.old.steady != ch.new.steady:
        parts.append(cat("steady: ", _moves(ch.old.steady, ch.new.steady, ch.consumer)))
    if ch.old.local_down != ch.new.local_down and ch.new.local_down != ch.new.steady:
        parts.append(cat("with the local copy down: ", _moves(ch.old.local_down, ch.new.local_down, ch.consumer)))
    if ch.old.rule != ch.new.rule:
        parts.append(cat("rule ", value(ch.old.rule), " -> ", value(ch.new.rule)))
    return join(parts, "; ")


def _route_states(r: Route, consumer: str) -> Phrase:
    out = shares(r.steady, consumer)
    if r.local_down != r.steady:
        out = cat(out, "; with the local copy down: ", shares(r.local_down, consumer))
    return cat(out, " (", r.rule, ")")


def source(s: str) -> Phrase:
    return words("any workload") if s == ANY else name(s)


def side(a: Allowed, consumer: str) -> Phrase:
    """Who answers on an access line's side: "its local pods", "cluster-1, cluster-3"."""
    if a.side == "local":
        return words("the local pods")
    return cat("the answers from ", names([c for c in a.clusters if c != consumer]))


def _rules(a: Allowed) -> Phrase:
    return cat("rule" + ("s " if len(a.rules) > 1 else " "), join((name(r) for r in a.rules), ", "))


def allowed(a: Allowed, with_rules: bool = True) -> Phrase:
    """What may be called and whether the mesh holds the caller to it: `GET / (enforced by ...)`."""
    requests = words("any request") if a.requests is None else value(requests_words(a.requests))
    if not with_rules:
        return cat(requests, ", enforced " if a.where != "not-enforced" else ", not enforced: ", a.why)
    if a.where == "not-enforced":
        said = cat(requests, ", not enforced: ", a.why)
        if a.requests is None and a.asked:
            said = cat(
                said, " (", _rules(a), " ask" if len(a.rules) > 1 else " asks", " ", value(requests_words(a.asked)), ")"
            )
        return said
    return cat(requests, ", enforced ", a.why, " (", _rules(a), ")")


def _lines(lines: tuple[Allowed, ...]) -> Phrase:
    return join((allowed(a) for a in lines), "; ")


def access(ch: AccessChange) -> Phrase:
    """What one source gains or loses on one side of a service in one consumer."""
    first = (ch.new or ch.old)[0]
    where = side(first, ch.consumer)
    if ch.change == "added":
        return cat(source(ch.source), " may now call ", where, ": ", _lines(ch.new))
    if ch.change == "removed":
        return cat(source(ch.source), " may no longer call ", where, " (was: ", _lines(ch.old), ")")
    if len(ch.old) == len(ch.new) == 1:
        # One line before and after: say what moves (who answers, the rules), then what the mesh lets through.
        a, b = ch.old[0], ch.new[0]
        parts: list[Phrase] = []
        if a.clusters != b.clusters:
            parts.append(cat("answers from ", names(list(a.clusters)), " -> ", names(list(b.clusters))))
        if a.identity != b.identity:
            parts.append(cat("answering as ", name(a.identity), " -> ", name(b.identity)))
        if (a.rules, a.asked) != (b.rules, b.asked):
            asked = cat(" (they ask ", value(requests_words(b.asked)), ")") if b.asked else words("")
            parts.append(cat(_rules(a), " -> ", _rules(b), asked))
        same = (a.requests, a.where, a.why) == (b.requests, b.where, b.why)
        if not same:
            parts.append(cat(allowed(a, with_rules=False), " -> ", allowed(b, with_rules=False)))
        general = words("the local pods" if b.side == "local" else "the answers from other clusters")
        said = cat(source(ch.source), " calling ", general, ": ", join(parts, "; "))
        return cat(said, "; the mesh still lets through ", allowed(b, with_rules=False)) if same else said
    return cat(source(ch.source), " calling ", where, ": ", _lines(ch.old), " -> ", _lines(ch.new))


# --- clusters and objects ----------------------------------------------------------------------


def mode(m: str) -> str:
    return "with an FSM control plane" if m == "control-plane" else "standalone"


def totals(d: PlanDiff) -> str:
    n_old = sum(1 for c in d.clusters if c.old is not None)
    n_new = sum(1 for c in d.clusters if c.new is not None)
    by = {s: sum(1 for c in d.clusters if c.status == s) for s in ("added", "removed", "changed")}
    cl = ", ".join(f"{n} {s}" for s, n in by.items() if n) or "none changed"
    return (
        f"clusters {n_old} -> {n_new} ({cl}); objects: {d.total('added')} added, {d.total('removed')} removed, "
        f"{d.total('changed')} changed, {d.role_changes()} change role"
    )


def cluster_role(c: ClusterDiff) -> str:
    plan = c.new or c.old
    assert plan is not None
    return "FSM control plane" if plan.role == "control-plane" else f"member {plan.key}"


def cluster_counts(c: ClusterDiff) -> str:
    if c.status == "added":
        return f"joins the fleet; {len(c.objects)} objects added"
    if c.status == "removed":
        return f"leaves the fleet; {len(c.objects)} objects removed"
    parts = [
        f"{n} {word}"
        for n, word in ((c.count("added"), "added"), (c.count("removed"), "removed"), (c.count("changed"), "changed"))
        if n
    ]
    ups = sum(1 for o in c.objects if o.role_change == ("derived", "applied"))
    downs = sum(1 for o in c.objects if o.role_change == ("applied", "derived"))
    if ups:
        parts.append(f"{ups} predicted -> applied")
    if downs:
        parts.append(f"{downs} applied -> predicted")
    parts.extend(f"{f.path} {_plain(f.old)} -> {_plain(f.new)}" for f in c.attributes)
    return ", ".join(parts)


def _plain(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={x}" for k, x in v.items()) + "}"
    return str(v)


def role_word(role: Role) -> str:
    return "applied" if role == "applied" else "predicted"


def _role(o: PlannedObject) -> str:
    extra = ", patch" if o.patch else ""
    extra += ", kept on delete" if o.retain else ""
    return role_word(o.role) + extra


def _left_behind(o: PlannedObject) -> str:
    """What stays in the cluster of an object that leaves the plan without being deleted."""
    if o.retain:
        return "stays in the cluster"
    if o.relinquish:
        # Pulumi deletes the patch, which gives the fields back (components/member.py); a GitOps engine
        # never prunes a partial object (sinks/gitops.py tells it not to), so the fields stay until removed by hand.
        return "its owner's object: Pulumi gives back the fields meshfleet set; under Argo CD or Flux they stay"
    return "its owner's object: left as it is, no longer patched"


def object_line(o: ObjectChange) -> tuple[str, str, str]:
    """(mark, role, note) for one object change: + added, - removed, ~ changed, > role only."""
    if o.op == "added":
        assert o.new is not None
        return "+", _role(o.new), ""
    if o.op == "removed":
        assert o.old is not None
        return "-", _role(o.old), "" if o.deletes else _left_behind(o.old)
    assert o.new is not None
    rc = o.role_change
    role = f"{role_word(rc[0])} -> {role_word(rc[1])}" if rc else _role(o.new)
    return ("~" if o.fields else ">"), role, ""
