"""`meshfleet`'s entry point: parse, check the combination of options, run the command, map failures to exit codes.

Exit codes: 0 success, 1 a problem in the user's input (reported with file:line; with `diff
--exit-code`, also "something changed"), 2 bad usage, 3 a risky diff under --fail-on-risk, 70 a
bug in meshfleet (reported as such, with the traceback only under MESHFLEET_DEBUG=1).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from meshfleet.cli import exitcodes, parser, terminal
from meshfleet.errors import FleetError, InputError, UsageError


def check_usage(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Combinations argparse cannot express; each ends in a usage error (exit 2) with the command's usage."""
    command = parser.subparser(p, args.command)
    if args.command == "diff":
        if args.base is None and len(args.fleets) != 2:
            command.error("diff takes OLD NEW, or one FLEET with --base REV")
        if args.base is not None and len(args.fleets) != 1:
            command.error("diff --base REV takes one FLEET")
        if args.format != "markdown" and (args.full_diff is not None or args.budget != parser.MARKDOWN_BUDGET):
            command.error("--budget and --full-diff go with --format markdown")
    if (
        args.command == "routes"
        and args.source is not None
        and (args.source.count("/") != 1 or not all(args.source.split("/")))
    ):
        command.error(f"--from {args.source}: give a service account as namespace/name, e.g. curl/curl")
    stacks = args.command == "plan" and (args.shards is not None or args.budget is not None)
    if stacks and (args.clusters or args.summary):
        command.error("--shards and --budget propose stacks for the whole fleet: leave out --cluster and --summary")
    if args.command == "render":
        _check_render(command, args)


def _check_render(command: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.stdout:
        if args.out is not None:
            command.error("--stdout prints instead of writing --out DIR: give one of them")
        if not args.clusters or len(args.clusters) != 1:
            command.error("--stdout prints one cluster: give it with --cluster NAME")
        if args.gitops or args.with_kubeconfigs or args.kubeconfigs_file:
            command.error("--stdout prints one cluster's objects: --gitops and kubeconfigs go with --out DIR")
        return
    if args.clusters:
        command.error("--cluster goes with --stdout; a render to --out DIR always writes every cluster")
    if args.out is None:
        command.error("give --out DIR (the output directory), or --cluster NAME --stdout")
    if args.kubeconfigs_file and not args.with_kubeconfigs:
        command.error("--kubeconfigs-file only goes with --with-kubeconfigs")
    if args.gitops is None:
        if args.repo_url is not None or args.path_prefix is not None:
            command.error("--repo-url and --path-prefix go with --gitops")
        return
    if not args.repo_url:
        command.error(f"--gitops {args.gitops} needs --repo-url: the repository the engine pulls from")
    if args.with_kubeconfigs:
        command.error(
            f"--with-kubeconfigs writes kubeconfigs into the tree, which --gitops {args.gitops} hands to "
            "git; with --gitops flux they come from a Secret instead (meshfleet kubeconfig-secret)"
        )
    from pathlib import Path

    from meshfleet.sinks import gitops

    try:
        gitops.check_repo_url(args.repo_url, args.gitops)
        if args.path_prefix is None and Path(args.out).is_absolute():
            raise UsageError("--out is an absolute path; give --path-prefix, its path inside the repository")
        args.path_prefix = gitops.normalize_prefix(args.path_prefix if args.path_prefix is not None else args.out)
    except UsageError as e:
        command.error(str(e))
    if not args.revision.strip():
        command.error("--revision must not be empty")


def _complete(p: argparse.ArgumentParser) -> None:
    """Shell completion (argcomplete): only when the shell asks, so a normal start never imports it."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    from meshfleet.cli import completion

    completion.attach(p)
    argcomplete.autocomplete(p)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser.build_parser()
    _complete(p)
    try:
        args = parser.parse(p, sys.argv[1:] if argv is None else argv)
        if args.command is None:
            p.print_help()
            return exitcodes.EXIT_OK
        check_usage(p, args)
    except parser.UsageExit as e:
        parser.print_usage_error(e)
        return exitcodes.EXIT_USAGE

    from meshfleet.cli import commands

    commands.release_kept()  # what an earlier command in this process kept to its end
    run = commands.Run(
        args=args,
        out=terminal.Style(terminal.wants_color(args.color, sys.stdout)),
        err=terminal.Style(terminal.wants_color(args.color, sys.stderr)),
        progress=terminal.Progress.for_terminal(sys.stderr, args.quiet),
    )
    try:
        return commands.COMMANDS[args.command](run)
    except FleetError as e:
        commands.report(run, e)
        return exitcodes.EXIT_USER
    except InputError as e:
        run.progress.done()
        print(f"meshfleet: {e}", file=sys.stderr)
        return exitcodes.EXIT_USER
    except UsageError as e:
        run.progress.done()
        print(f"meshfleet: {e}", file=sys.stderr)
        return exitcodes.EXIT_USAGE
    except KeyboardInterrupt:
        run.progress.done()
        print("meshfleet: interrupted; the previous output is untouched", file=sys.stderr)
        return exitcodes.EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader stopped (e.g. `| head`): nothing more to say, and nothing to flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exitcodes.EXIT_BROKEN_PIPE
    except Exception as e:  # a bug, not the user's mistake
        run.progress.done()
        print(
            f"meshfleet: internal error ({type(e).__name__}); this is a bug in meshfleet, please report it "
            "with the command you ran",
            file=sys.stderr,
        )
        if os.environ.get("MESHFLEET_DEBUG"):
            import traceback

            traceback.print_exc()
        return exitcodes.EXIT_BUG
