"""A command's plan is held until the process exits, and the next command in the process lets it go.

Why: freeing a 100k plan object by object when the command returns cost a tenth of a `plan` run,
for memory the process's exit gives back at once; tests run many commands in one process, and must
not pile up every plan they made.
"""

from __future__ import annotations

import contextlib
import io

from meshfleet.cli import common
from meshfleet.cli.main import main
from meshfleet.core.objects import SHARED
from meshfleet.core.plan import Plan

DEMO = "fleet/demo.yaml"


def _run(*args: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(list(args))


def _kept_plans() -> list[Plan]:
    return [k for k in common._KEPT if isinstance(k, Plan)]


def test_a_plan_outlives_its_command() -> None:
    assert _run("plan", DEMO) == 0
    assert len(_kept_plans()) == 1


def test_the_next_command_releases_what_the_last_one_kept() -> None:
    assert _run("plan", DEMO) == 0
    (first,) = _kept_plans()
    assert _run("diff", DEMO, DEMO) == 0
    kept = _kept_plans()
    assert len(kept) == 2 and all(k is not first for k in kept)
    assert _run("routes", DEMO) == 0
    assert len(_kept_plans()) == 1


def test_each_command_starts_with_nothing_shared_from_the_last() -> None:
    SHARED["left by an earlier command"] = object()
    assert _run("plan", DEMO) == 0
    assert "left by an earlier command" not in SHARED
