"""What each `meshfleet` command does once its arguments are parsed.

Why: start-up time is paid on every run, in editors and pre-commit hooks too, so each command
imports the part of the pipeline it uses inside its own function: `validate` never loads the diff,
the renderer or the kubeconfig readers.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from meshfleet import __version__
from meshfleet.cli import terminal
from meshfleet.cli.exitcodes import EXIT_CHANGED, EXIT_OK, EXIT_RISK, EXIT_USER
from meshfleet.cli.parser import STDIN, did_you_mean
from meshfleet.errors import FleetError, UsageError

if TYPE_CHECKING:
    from meshfleet.core.plan import ClusterPlan, Plan
    from meshfleet.fleet.document import Document

STDIN_NAME = "<stdin>"
"""How a fleet read from standard input is named in findings and outputs."""


@dataclasses.dataclass
class Run:
    """One invocation: its arguments, the styles of both streams and the progress line."""

    args: argparse.Namespace
    out: terminal.Style
    err: terminal.Style
    progress: terminal.Progress

    @property
    def quiet(self) -> bool:
        return bool(self.args.quiet)


def display_name(path: str) -> str:
    return STDIN_NAME if path == STDIN else path


def _read_stdin() -> Document:
    """The fleet on standard input, with the reader's own bound: a pipe is read up to the limit and no further."""
    from meshfleet.fleet.document import MAX_BYTES, parse, parse_bytes

    if os.path.exists("/dev/stdin"):
        return parse("/dev/stdin", display=STDIN_NAME)
    return parse_bytes(sys.stdin.buffer.read(MAX_BYTES + 1), STDIN_NAME)  # systems without /dev/stdin


def load(run: Run, path: str) -> Plan:
    """Read, check and plan one fleet (a path, or - for standard input), showing progress."""
    from meshfleet.fleet.load import parse, plan_document

    name = display_name(path)
    run.progress.step(f"reading {name}")
    doc = _read_stdin() if path == STDIN else parse(path)
    run.progress.step(f"checking and planning {name}")
    return plan_document(doc)


def _counts(plan: Plan) -> tuple[int, int]:
    return sum(len(c.applied()) for c in plan.clusters), sum(len(c.derived()) for c in plan.clusters)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def write_json(data: Any, stream: TextIO | None = None) -> None:
    """JSON as the outputs give it: indented, one trailing newline; streamed, for very large plans."""
    from meshfleet.sinks.json_stream import write_json as stream_json

    stream_json(data, (stream or sys.stdout).write)


def versioned(data: dict[str, Any]) -> dict[str, Any]:
    """A JSON output with meshfleet's version first, so that a reader knows what wrote it."""
    return {"meshfleetVersion": __version__, **data}


def report(run: Run, error: FleetError) -> None:
    """A fleet's problems on standard error, each at its file:line:column with its fix."""
    run.progress.clear()
    print(terminal.paint_problems(error.render(), run.err), file=sys.stderr)


def open_warnings(plan: Plan) -> int:
    return sum(1 for w in plan.warnings if not w.acknowledged)


def refused(run: Run, plan: Plan, *, show: bool = True) -> bool:
    """Print the plan's warnings on standard error; True when --strict refuses the fleet for them."""
    from meshfleet.errors import render_findings

    shown = [w for w in plan.warnings if not (run.quiet and w.acknowledged)]  # -q: the decided ones are known
    if shown and show:
        run.progress.clear()
        print(terminal.paint_problems(render_findings(shown), run.err), file=sys.stderr)
    unacknowledged = open_warnings(plan)
    if run.args.strict and unacknowledged:
        if show:
            many = unacknowledged > 1
            print(f"meshfleet: --strict: {unacknowledged} warning{'s' if many else ''} not acknowledged; fix "
                  f"{'them' if many else 'it'}, or acknowledge the code where the fleet means it "
                  "(acknowledge: [code])", file=sys.stderr)
        return True
    return False


# ---------------------------------------------------------------------------------------------
# validate


def validate(run: Run) -> int:
    args = run.args
    if args.fleets.count(STDIN) > 1:
        raise UsageError("validate: standard input (-) can be read only once")
    files: list[dict[str, Any]] = []
    failed = False
    with run.progress:
        for path in args.fleets:
            name = display_name(path)
            try:
                plan = load(run, path)
            except FleetError as e:
                failed = True
                files.append({"file": name, "ok": False, "problems": [f.as_json() for f in e.problems]})
                if args.format == "text":
                    report(run, e)
                continue
            warnings = [w.as_json() for w in plan.warnings]
            if refused(run, plan, show=args.format == "text"):
                failed = True
                files.append({"file": name, "ok": False, "problems": warnings})
                continue
            applied, derived = _counts(plan)
            files.append({"file": name, "ok": True, "clusters": len(plan.clusters), "applied": applied,
                          "predicted": derived, "problems": warnings})
            if args.format == "text" and not run.quiet:
                run.progress.clear()
                print(f"{name}: ok ({_plural(len(plan.clusters), 'cluster')}, {applied} objects applied, "
                      f"{derived} predicted)")
    if args.format == "json":
        write_json(versioned({"ok": not failed, "files": files}))
    return EXIT_USER if failed else EXIT_OK


# ---------------------------------------------------------------------------------------------
# plan


def select_clusters(plan: Plan, wanted: list[str] | None, source: str) -> Plan:
    """The plan narrowed to the clusters named with --cluster (in the fleet's order)."""
    if not wanted:
        return plan
    names = [c.name for c in plan.clusters]
    for name in wanted:
        if name not in names:
            listed = f" (it has {', '.join(names)})" if len(names) <= 12 else ""
            raise UsageError(f"--cluster {name}: no such cluster in {source}{did_you_mean(name, names)}{listed}")
    return dataclasses.replace(plan, clusters=tuple(c for c in plan.clusters if c.name in wanted))


def _role(cluster: ClusterPlan) -> str:
    return "control plane" if cluster.role == "control-plane" else "member"


def summary_rows(plan: Plan) -> list[dict[str, Any]]:
    return [{
        "name": c.name,
        "role": c.role,
        "mesh": c.mesh,
        "clusterKey": c.key,
        "applied": len(c.applied()),
        "predicted": len(c.derived()),
    } for c in plan.clusters]


def summary_text(plan: Plan, source: str) -> str:
    applied, derived = _counts(plan)
    head = f"{source}: {_plural(len(plan.clusters), 'cluster')}, {applied} objects applied, {derived} predicted"
    table = [("CLUSTER", "ROLE", "MESH", "CLUSTER KEY", "APPLIED", "PREDICTED")]
    table += [(c.name, _role(c), c.mesh, c.key or "-", str(len(c.applied())), str(len(c.derived())))
              for c in plan.clusters]
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    lines = []
    for row in table:
        cells = [row[i].ljust(widths[i]) if i < 4 else row[i].rjust(widths[i]) for i in range(6)]
        lines.append("  ".join(cells).rstrip())
    return head + "\n\n" + "\n".join(lines) + "\n"


def plan(run: Run) -> int:
    from meshfleet.sinks import shard, summary

    args = run.args
    source = display_name(args.fleet)
    with run.progress:
        full = load(run, args.fleet)
        if refused(run, full):
            return EXIT_USER
        if args.shards is not None or args.budget is not None:
            run.progress.step(f"packing {_plural(len(full.clusters), 'cluster')} into stacks")
            proposal = shard.propose(full, shards=args.shards, budget=args.budget)
            run.progress.done()
            if args.format == "json":
                write_json(versioned(shard.as_json(proposal)))
            else:
                sys.stdout.write(shard.text(proposal, source))
            return EXIT_OK
        chosen = select_clusters(full, args.clusters, source)
        run.progress.step(f"writing the plan of {_plural(len(chosen.clusters), 'cluster')}")
        if args.summary:
            run.progress.done()
            if args.format == "json":
                write_json(versioned({"fleet": source, "mode": chosen.mode, "clusters": summary_rows(chosen),
                                  "warnings": [w.as_json() for w in chosen.warnings]}))
            else:
                sys.stdout.write(summary_text(chosen, source))
            return EXIT_OK
        if args.format == "json":
            data = versioned({"fleet": source, **summary.as_json(chosen)})
            if terminal.isatty(sys.stdout):
                run.progress.clear()  # the progress line and the JSON share the terminal
            write_json(data)
        else:
            text = summary.text(chosen, source)
            run.progress.done()
            sys.stdout.write(terminal.paint_plan(text, run.out))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# routes


def routes(run: Run) -> int:
    """Who answers each consumer's calls, in what shares, and who may call, enforced where."""
    from meshfleet.core.effective import effective
    from meshfleet.sinks import routes as sink

    args = run.args
    source = display_name(args.fleet)
    with run.progress:
        plan = load(run, args.fleet)
        if refused(run, plan):
            return EXIT_USER
        run.progress.step("working out who answers and who may call")
        view = effective(plan)
        members = [c.name for c in view.clusters]
        if args.cluster is not None and args.cluster not in members:
            raise UsageError(f"--cluster {args.cluster}: not a member of {source}{did_you_mean(args.cluster, members)}"
                             f"; members: {', '.join(members)}")
        services = sorted({s.service for c in view.clusters for s in c.services})
        if args.service is not None and args.service not in services:
            raise UsageError(f"--service {args.service}: no cluster of {source} calls it"
                             f"{did_you_mean(args.service, services)}; services: {', '.join(services) or '(none)'}")
        view = view.filtered(args.cluster, args.service, args.source)
        run.progress.done()
        if args.format == "json":
            sink.write_json(versioned(sink.as_json(view, source)), sys.stdout.write)  # written as it is encoded
            sys.stdout.write("\n")
        elif args.format == "markdown":
            sys.stdout.write(sink.markdown(view, source))
        else:
            sys.stdout.write(sink.text(view, source))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# render


def stream_cluster(plan: Plan, name: str) -> Iterator[str]:
    """One cluster's applied objects as YAML documents, in the kustomization's order (for kubectl -f -).

    Objects that would hold a member's kubeconfig carry the annotation naming its source instead."""
    from meshfleet.sinks import layout

    cluster = plan.cluster(name)
    for f in layout.render_cluster(plan, cluster):
        if f.name == "kustomization.yaml" or f.name.startswith("predicted."):
            continue
        yield "---\n" + f.text


def render(run: Run) -> int:
    from meshfleet.sinks import gitops
    from meshfleet.sinks.render import render as write_tree

    args = run.args
    source = display_name(args.fleet)
    with run.progress:
        plan = load(run, args.fleet)
        if refused(run, plan):
            return EXIT_USER
        if args.stdout:
            [name] = args.clusters
            select_clusters(plan, [name], source)
            run.progress.done()
            for document in stream_cluster(plan, name):
                sys.stdout.write(document)
            return EXIT_OK
        extra = None
        if args.gitops is not None:
            source_repo = gitops.Source(args.repo_url, args.revision, args.path_prefix)
            stem = "fleet" if args.fleet == STDIN else Path(args.fleet).stem
            extra = gitops.files(plan, args.gitops, source_repo, gitops.resource_name(stem))
        kubeconfigs = None
        if args.with_kubeconfigs:
            from meshfleet.kube import secrets

            run.progress.step("reading the members' kubeconfigs")
            given = Path(args.kubeconfigs_file) if args.kubeconfigs_file else None
            fleet_file = Path.cwd() / "fleet.yaml" if args.fleet == STDIN else Path(args.fleet)
            kubeconfigs = secrets.kubeconfigs_for_render(plan, fleet_file, given)
        rewrites = {"flux": gitops.flux_rewrite, "argocd": gitops.argocd_rewrite}
        rewrite = rewrites[args.gitops](plan) if args.gitops else None
        run.progress.step(f"rendering {_plural(len(plan.clusters), 'cluster')} into {args.out}")
        written = write_tree(plan, args.out, extra=extra, kubeconfigs=kubeconfigs, rewrite=rewrite,
                             detach_cleanup=True)
    if not run.quiet:
        print(render_summary(source, args.out, written, [c.name for c in plan.clusters]))
    for note in gitops.notes(plan, args.gitops, args.with_kubeconfigs, source, args.out):
        print(note, file=sys.stderr)
    return EXIT_OK


def render_summary(source: str, out: str, written: list[str], clusters: list[str]) -> str:
    """Every cluster of the fleet, the ones written and the ones with nothing to write."""
    empty = [c for c in clusters if c not in written]
    text = f"{source}: wrote {', '.join(written) or 'nothing'} under {out}"
    if empty:
        text += f"; nothing to write for {', '.join(empty)}"
    return text


# ---------------------------------------------------------------------------------------------
# diff


def _base_plan(run: Run, path: str, base: str) -> tuple[Plan | None, str]:
    """FLEET as it was at --base (None when it did not exist there), and its name in the output."""
    from meshfleet.cli import gitbase
    from meshfleet.fleet.document import parse_bytes
    from meshfleet.fleet.includes import GitFiles
    from meshfleet.fleet.load import plan_document

    if path == STDIN:
        raise UsageError("diff --base reads FLEET from git: give its path, not -")
    run.progress.step(f"reading {path} at {base}")
    found = gitbase.read_at(path, base)
    name = f"{path}@{base}"
    if found.content is None:
        return None, f"{name} (absent)"
    run.progress.step(f"checking and planning {name}")
    # The resources' manifest files as they were at the same commit.
    manifests = GitFiles(Path(path).resolve().parent, found.commit, str(Path(path).parent), label=base)
    return plan_document(parse_bytes(found.content, name), manifests), name


def diff(run: Run) -> int:
    from meshfleet import diff as compare
    from meshfleet.core.plan import Plan

    args = run.args
    if args.fleets.count(STDIN) > 1:
        raise UsageError("diff: standard input (-) can be read only once")
    problems: list[FleetError] = []
    old: Plan | None = None
    new: Plan | None = None
    old_name = new_name = ""
    with run.progress:
        if args.base is not None:
            new_name = display_name(args.fleets[0])
            try:
                old, old_name = _base_plan(run, args.fleets[0], args.base)
            except FleetError as e:
                problems.append(e)
            try:
                new = load(run, args.fleets[0])
            except FleetError as e:
                problems.append(e)
        else:
            old_name, new_name = (display_name(f) for f in args.fleets)
            for i, path in enumerate(args.fleets):
                try:
                    loaded = load(run, path)
                except FleetError as e:
                    problems.append(e)
                    continue
                old, new = (loaded, new) if i == 0 else (old, loaded)
        if problems:
            run.progress.done()
            for problem in problems:
                report(run, problem)
            return EXIT_USER
        assert new is not None
        gc.freeze()  # both plans live until exit: keep the cyclic collector from rescanning them while diffing
        if old is None:
            old = Plan(mode=new.mode, clusters=())
        run.progress.step(f"comparing {_plural(max(len(old.clusters), len(new.clusters)), 'cluster')}")
        result = compare.diff(old, new, max_delete_share=args.max_delete_share)
        if args.format == "json":
            out = json.dumps(versioned(compare.as_json(result, old_name, new_name)), indent=2) + "\n"
        elif args.format == "markdown":
            where = {"full_diff": args.full_diff} if args.full_diff else {}
            out = compare.markdown(result, old_name, new_name, budget=args.budget, **where)
        else:
            out = terminal.paint_diff(compare.text(result, old_name, new_name), run.out)
    sys.stdout.write(out)
    if args.strict and open_warnings(new):
        return EXIT_USER
    if args.fail_on_risk and result.risks:
        return EXIT_RISK
    if args.exit_code and result.changed:
        return EXIT_CHANGED
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# schema, completion


def schema(run: Run) -> int:
    from meshfleet.fleet.schema import fleet_json_schema

    text = json.dumps(fleet_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if run.args.out:
        from meshfleet.sinks import output

        output.replace_file(run.args.out, text)  # atomic, no symbolic link followed, like a render
    else:
        sys.stdout.write(text)
    return EXIT_OK


def kubeconfig_secret(run: Run) -> int:
    """The Secret Flux substitutes member kubeconfigs from; never printed to a terminal."""
    from meshfleet.errors import InputError
    from meshfleet.kube import secrets
    from meshfleet.sinks import gitops
    from meshfleet.sinks.yaml_text import dump_yaml

    args = run.args
    with run.progress:
        plan = load(run, args.fleet)
    if not gitops.kubeconfig_holders(plan):
        raise InputError(f"{args.fleet}: no object of this fleet holds a member's kubeconfig "
                         "(no FSM control plane, no Istio cluster)")
    if terminal.isatty(sys.stdout):
        raise InputError("the Secret holds kubeconfigs, so it is not printed to a terminal; pipe it, e.g. "
                         f"`meshfleet kubeconfig-secret {args.fleet} | kubectl apply --server-side -f -`")
    given = Path(args.kubeconfigs_file) if args.kubeconfigs_file else None
    kubeconfigs = secrets.kubeconfigs_for_render(plan, Path(args.fleet), given)
    secret = gitops.substitution_secret(gitops.resource_name(Path(args.fleet).stem), kubeconfigs)
    sys.stdout.write(f"# meshfleet kubeconfig-secret {Path(args.fleet).name}: the values Flux substitutes into "
                     "its rendered objects\n" + dump_yaml(secret))
    return EXIT_OK


def completion(run: Run) -> int:
    from argcomplete.shell_integration import shellcode

    sys.stdout.write(shellcode(["meshfleet"], shell=run.args.shell))
    return EXIT_OK


COMMANDS = {
    "validate": validate,
    "plan": plan,
    "routes": routes,
    "render": render,
    "diff": diff,
    "schema": schema,
    "kubeconfig-secret": kubeconfig_secret,
    "completion": completion,
}
