"""The `diff` command: two fleets, or a fleet against itself at a git revision, as text, markdown or JSON.

Why: a pull request's preview is this command; it reads both plans (and the manifest files as they
were at --base), compares them, and exits by what changed and what is at risk.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from meshfleet.cli import terminal
from meshfleet.cli.common import (
    Run,
    display_name,
    keep_until_exit,
    load,
    open_warnings,
    plural,
    report,
    versioned,
)
from meshfleet.cli.exitcodes import EXIT_CHANGED, EXIT_OK, EXIT_RISK, EXIT_USER
from meshfleet.cli.parser import STDIN
from meshfleet.errors import FleetError, UsageError

if TYPE_CHECKING:
    from meshfleet.core.plan import Plan


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
    return keep_until_exit(plan_document(parse_bytes(found.content, name), manifests)), name


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
        run.progress.step(f"comparing {plural(max(len(old.clusters), len(new.clusters)), 'cluster')}")
        result = keep_until_exit(compare.diff(old, new, max_delete_share=args.max_delete_share))
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
