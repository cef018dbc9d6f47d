"""The `meshfleet` command: validate, plan, render, schema.

Exit codes: 0 success, 1 a problem in the user's input (reported with file:line), 2 bad usage,
70 a bug in meshfleet (reported as such, with the traceback only under MESHFLEET_DEBUG=1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from meshfleet import loader, summary
from meshfleet.errors import FleetError, UsageError
from meshfleet.model import fleet_json_schema
from meshfleet.render import render

EXIT_USER = 1
EXIT_USAGE = 2
EXIT_BUG = 70


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="meshfleet", description="Plan, check and render a multi-cluster service fleet.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("validate", help="check fleet files; report every problem with file:line")
    v.add_argument("fleets", nargs="+", metavar="FLEET")

    pl = sub.add_parser("plan", help="show per cluster what is applied, what FSM derives, every import")
    pl.add_argument("fleet", metavar="FLEET")
    pl.add_argument("--format", choices=("text", "json"), default="text")

    r = sub.add_parser("render", help="write DIR/<cluster>/ manifests (kustomize-ready), replaced atomically")
    r.add_argument("fleet", metavar="FLEET")
    r.add_argument("--out", required=True, metavar="DIR")

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
    if args.format == "json":
        sys.stdout.write(json.dumps(summary.as_json(plan), indent=2) + "\n")
    else:
        sys.stdout.write(summary.text(plan, args.fleet))
    return 0


def _render(args: argparse.Namespace) -> int:
    plan = loader.load_plan(args.fleet)
    written = render(plan, args.out)
    print(f"{args.fleet}: wrote {', '.join(written) or 'nothing'} under {args.out}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    text = json.dumps(fleet_json_schema(), indent=2, sort_keys=True) + "\n"
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    else:
        sys.stdout.write(text)
    return 0


COMMANDS = {"validate": _validate, "plan": _plan, "render": _render, "schema": _schema}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
