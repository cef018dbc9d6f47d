"""The `meshfleet` command: validate, plan, render, diff, schema.

Exit codes: 0 success, 1 a problem in the user's input (reported with file:line), 2 bad usage,
3 a risky diff under --fail-on-risk, 70 a bug in meshfleet (reported as such, with the traceback only
under MESHFLEET_DEBUG=1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from meshfleet import diff
from meshfleet.core.plan import Plan
from meshfleet.errors import FleetError, UsageError
from meshfleet.fleet import load as loader
from meshfleet.fleet.model import fleet_json_schema
from meshfleet.kube import secrets
from meshfleet.sinks import gitops, output, shard, summary
from meshfleet.sinks.render import render

EXIT_USER = 1
EXIT_USAGE = 2
EXIT_RISK = 3
EXIT_BUG = 70


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1 (e.g. 0.5)")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="meshfleet", description="Plan, check and render a multi-cluster service fleet.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("validate", help="check fleet files; report every problem with file:line")
    v.add_argument("fleets", nargs="+", metavar="FLEET")

    pl = sub.add_parser("plan", help="show per cluster what is applied, what FSM derives, every import")
    pl.add_argument("fleet", metavar="FLEET")
    pl.add_argument("--format", choices=("text", "json"), default="text")
    stacks = pl.add_mutually_exclusive_group()
    stacks.add_argument("--shards", type=_positive, metavar="N",
                        help="propose N Pulumi stacks: clusters packed by applied objects, with their config")
    stacks.add_argument("--budget", type=_positive, nargs="?", const=shard.DEFAULT_BUDGET, metavar="N",
                        help=f"propose stacks of at most N resources each (default {shard.DEFAULT_BUDGET})")

    r = sub.add_parser("render", help="write DIR/<cluster>/ manifests (kustomize-ready), replaced atomically")
    r.add_argument("fleet", metavar="FLEET")
    r.add_argument("--out", required=True, metavar="DIR")
    r.add_argument("--gitops", choices=gitops.ENGINES, help="also write DIR/argocd/ or DIR/flux/: one app per cluster")
    r.add_argument("--repo-url", metavar="URL", help="the git repository the engine pulls DIR from (with --gitops)")
    r.add_argument("--revision", default="main", metavar="REV", help="the branch it follows (default: main)")
    r.add_argument("--path-prefix", metavar="PATH", help="DIR's path inside the repository (default: --out)")
    r.add_argument("--with-kubeconfigs", action="store_true",
                   help="write each member's kubeconfig into its FSM Cluster object (never done otherwise)")
    r.add_argument("--kubeconfigs-file", metavar="FILE",
                   help="with --with-kubeconfigs: a YAML map cluster -> kubeconfig text for stack-secret clusters")

    d = sub.add_parser("diff", help="what changes where between two fleets, or a fleet and its git revision")
    d.add_argument("fleets", nargs="+", metavar="FLEET", help="OLD NEW, or one FLEET with --base")
    d.add_argument("--base", metavar="REV", help="compare FLEET with its version at git revision REV")
    d.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    d.add_argument("--fail-on-risk", action="store_true", help="exit 3 when the diff names a risk")
    d.add_argument("--max-delete-share", type=_share, default=diff.DEFAULT_MAX_DELETE_SHARE, metavar="SHARE",
                   help="flag a cluster losing more than this share of its objects (default: 0.5)")

    s = sub.add_parser("schema", help="print the fleet file's JSON Schema")
    s.add_argument("--out", metavar="FILE", help="write it to FILE instead of standard output")
    return p


def _validate(args: argparse.Namespace) -> int:
    failed = False
    for path in args.fleets:
        try:
            plan = loader.load_plan(path)
        except FleetError as e:
            print(e.render(), file=sys.stderr)
            failed = True
            continue
        applied = sum(len(c.applied()) for c in plan.clusters)
        derived = sum(len(c.derived()) for c in plan.clusters)
        print(f"{path}: ok ({len(plan.clusters)} clusters, {applied} objects applied, {derived} predicted)")
    return EXIT_USER if failed else 0


def _plan(args: argparse.Namespace) -> int:
    plan = loader.load_plan(args.fleet)
    if args.shards is not None or args.budget is not None:
        proposal = shard.propose(plan, shards=args.shards, budget=args.budget)
        out = json.dumps(shard.as_json(proposal), indent=2) + "\n" if args.format == "json" else \
            shard.text(proposal, args.fleet)
        sys.stdout.write(out)
        return 0
    if args.format == "json":
        sys.stdout.write(json.dumps(summary.as_json(plan), indent=2) + "\n")
    else:
        sys.stdout.write(summary.text(plan, args.fleet))
    return 0


def _render(args: argparse.Namespace) -> int:
    plan = loader.load_plan(args.fleet)
    extra = None
    if args.gitops is not None:
        source = gitops.Source(args.repo_url, args.revision, args.path_prefix)
        extra = gitops.files(plan, args.gitops, source, gitops.resource_name(Path(args.fleet).stem))
    kubeconfigs = None
    if args.with_kubeconfigs:
        given = Path(args.kubeconfigs_file) if args.kubeconfigs_file else None
        kubeconfigs = secrets.kubeconfigs_for_render(plan, Path(args.fleet), given)
    written = render(plan, args.out, extra=extra, kubeconfigs=kubeconfigs, detach_cleanup=True)
    print(f"{args.fleet}: wrote {', '.join(written) or 'nothing'} under {args.out}")
    return 0


def _base_plan(path: str, rev: str) -> Plan | None:
    """FLEET as it was at git revision REV, or None when it did not exist there (a new fleet)."""
    fleet = Path(path)
    if not fleet.is_file():
        raise UsageError(f"{path}: no such fleet file")
    if rev.startswith("-"):
        raise UsageError(f"--base {rev!r} is not a git revision")
    where = fleet.resolve().parent
    try:
        found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=where,
                               capture_output=True, text=True)
        if found.returncode != 0:
            raise UsageError(f"--base {rev}: no such git revision in the repository of {path}")
        shown = subprocess.run(["git", "show", "--no-textconv", f"{rev}:./{fleet.name}"], cwd=where,
                               capture_output=True)
    except FileNotFoundError:
        raise UsageError("--base needs git, which is not installed") from None
    if shown.returncode != 0:
        return None
    fd, tmp = tempfile.mkstemp(prefix="meshfleet-base-", suffix=".yaml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(shown.stdout)
        return loader.load_plan(tmp, display=f"{path}@{rev}")
    finally:
        os.unlink(tmp)


def _diff(args: argparse.Namespace) -> int:
    problems: list[FleetError] = []
    plans: list[Plan | None] = []
    sources = [*([(args.fleets[0], args.base)] if args.base is not None else []), *((f, None) for f in args.fleets)]
    for path, rev in sources:
        try:
            plans.append(_base_plan(path, rev) if rev is not None else loader.load_plan(path))
        except FleetError as e:
            problems.append(e)
    if problems:
        print("\n".join(e.render() for e in problems), file=sys.stderr)
        return EXIT_USER
    old, new = plans
    assert new is not None
    old_name = f"{args.fleets[0]}@{args.base}" if args.base is not None else args.fleets[0]
    if old is None:
        old, old_name = Plan(mode=new.mode, clusters=()), f"{old_name} (absent)"
    new_name = args.fleets[-1]
    result = diff.diff(old, new, max_delete_share=args.max_delete_share)
    if args.format == "json":
        sys.stdout.write(json.dumps(diff.as_json(result, old_name, new_name), indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(diff.markdown(result, old_name, new_name))
    else:
        sys.stdout.write(diff.text(result, old_name, new_name))
    return EXIT_RISK if args.fail_on_risk and result.risks else 0


def _schema(args: argparse.Namespace) -> int:
    text = json.dumps(fleet_json_schema(), indent=2, sort_keys=True) + "\n"
    if args.out:
        output.replace_file(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


COMMANDS = {"validate": _validate, "plan": _plan, "render": _render, "diff": _diff, "schema": _schema}


def _check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Combinations argparse cannot express; each ends in a usage error (exit 2)."""
    if args.command == "diff":
        if args.base is None and len(args.fleets) != 2:
            parser.error("diff takes OLD NEW, or one FLEET with --base REV")
        if args.base is not None and len(args.fleets) != 1:
            parser.error("diff --base REV takes one FLEET")
    if args.command == "render" and args.kubeconfigs_file and not args.with_kubeconfigs:
        parser.error("--kubeconfigs-file only goes with --with-kubeconfigs")
    if args.command == "render":
        if args.gitops is None:
            if args.repo_url is not None or args.path_prefix is not None:
                parser.error("--repo-url and --path-prefix go with --gitops")
            return
        if not args.repo_url:
            parser.error(f"--gitops {args.gitops} needs --repo-url: the repository the engine pulls from")
        try:
            gitops.check_repo_url(args.repo_url, args.gitops)
            if args.path_prefix is None and Path(args.out).is_absolute():
                raise UsageError("--out is an absolute path; give --path-prefix, its path inside the repository")
            args.path_prefix = gitops.normalize_prefix(args.path_prefix if args.path_prefix is not None else args.out)
        except UsageError as e:
            parser.error(str(e))
        if not args.revision.strip():
            parser.error("--revision must not be empty")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_usage(parser, args)
    try:
        return COMMANDS[args.command](args)
    except FleetError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USER
    except UsageError as e:
        print(f"meshfleet: {e}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("meshfleet: interrupted; the previous output is untouched", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not the user's mistake
        print(f"meshfleet: internal error ({type(e).__name__}); this is a bug in meshfleet, please report it "
              "with the command you ran", file=sys.stderr)
        if os.environ.get("MESHFLEET_DEBUG"):
            traceback.print_exc()
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
