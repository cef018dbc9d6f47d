"""The commands that check a fleet and show it: `validate`, `plan` (summary, shards, the whole plan) and `routes`.

Why: these read a fleet and print what it means; they never load the diff, the renderer or the
kubeconfig readers (each imports what it uses inside its own function, for start-up time).
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Any

from meshfleet.cli import terminal
from meshfleet.cli.common import (
    Run,
    display_name,
    keep_until_exit,
    load,
    object_counts,
    plural,
    refused,
    release_kept,
    report,
    select_clusters,
    versioned,
    write_json,
)
from meshfleet.cli.exitcodes import EXIT_OK, EXIT_USER
from meshfleet.cli.parser import STDIN, did_you_mean
from meshfleet.errors import FleetError, UsageError, shortlist

if TYPE_CHECKING:
    from meshfleet.core.plan import ClusterPlan, Plan


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
            release_kept()  # one file's plan at a time (a pre-commit hook passes every changed file)
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
            applied, derived = object_counts(plan)
            files.append(
                {
                    "file": name,
                    "ok": True,
                    "clusters": len(plan.clusters),
                    "applied": applied,
                    "predicted": derived,
                    "problems": warnings,
                }
            )
            if args.format == "text" and not run.quiet:
                run.progress.clear()
                print(
                    f"{name}: ok ({plural(len(plan.clusters), 'cluster')}, {applied} objects applied, "
                    f"{derived} predicted)"
                )
    if args.format == "json":
        write_json(versioned({"ok": not failed, "files": files}))
    return EXIT_USER if failed else EXIT_OK


def _role(cluster: ClusterPlan) -> str:
    return "control plane" if cluster.role == "control-plane" else "member"


def summary_rows(plan: Plan) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "role": c.role,
            "mesh": c.mesh,
            "clusterKey": c.key,
            "applied": len(c.applied()),
            "predicted": len(c.derived()),
        }
        for c in plan.clusters
    ]


def summary_text(plan: Plan, source: str) -> str:
    applied, derived = object_counts(plan)
    head = f"{source}: {plural(len(plan.clusters), 'cluster')}, {applied} objects applied, {derived} predicted"
    table = [("CLUSTER", "ROLE", "MESH", "CLUSTER KEY", "APPLIED", "PREDICTED")]
    table += [
        (c.name, _role(c), c.mesh, c.key or "-", str(len(c.applied())), str(len(c.derived()))) for c in plan.clusters
    ]
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
            run.progress.step(f"packing {plural(len(full.clusters), 'cluster')} into stacks")
            proposal = shard.propose(full, shards=args.shards, budget=args.budget)
            run.progress.done()
            if args.format == "json":
                write_json(versioned(shard.as_json(proposal)))
            else:
                sys.stdout.write(shard.text(proposal, source))
            return EXIT_OK
        chosen = select_clusters(full, args.clusters, source)
        run.progress.step(f"writing the plan of {plural(len(chosen.clusters), 'cluster')}")
        if args.summary:
            run.progress.done()
            if args.format == "json":
                write_json(
                    versioned(
                        {
                            "fleet": source,
                            "mode": chosen.mode,
                            "clusters": summary_rows(chosen),
                            "warnings": [w.as_json() for w in chosen.warnings],
                        }
                    )
                )
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
        view = keep_until_exit(effective(plan))
        gc.freeze()  # the view lives until exit, as the plan does: the text's allocations never rescan it
        members = [c.name for c in view.clusters]
        if args.cluster is not None and args.cluster not in members:
            raise UsageError(
                f"--cluster {args.cluster}: not a member of {source}{did_you_mean(args.cluster, members)}"
                f"; members: {shortlist(members, 12)}"
            )
        # With --cluster, the services that cluster calls: another cluster's would show an empty view.
        calling = [c for c in view.clusters if args.cluster is None or c.name == args.cluster]
        services = sorted({s.service for c in calling for s in c.services})
        if args.service is not None and args.service not in services:
            who = f"{args.cluster} does not call it" if args.cluster is not None else f"no cluster of {source} calls it"
            raise UsageError(
                f"--service {args.service}: {who}"
                f"{did_you_mean(args.service, services)}; services: {shortlist(services, 12) or '(none)'}"
            )
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
