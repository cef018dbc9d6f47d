"""Warnings end to end: printed at their line by validate, plan and render, failing only under
--strict unless the fleet acknowledges them; stale acknowledgements; warnings in plan JSON and in
the diff's pull-request forms. Runs the CLI in-process (one subprocess smoke run at the end)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshfleet.cli import main
from tests.conftest import ROOT, run_cli
from tests.golden import GOLDEN, compare_text

CASES = sorted((ROOT / "tests/cases/warnings").glob("*.yaml"))
STRICT_PASSES = {
    "failover-unordered-acknowledged",
    "failover-unordered-acknowledged-fleet-wide",
    "runtime-traps-acknowledged",
}
"""The cases whose every warning is acknowledged."""
UNORDERED = "tests/cases/warnings/failover-unordered.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_each_case_is_named_in_the_expectations() -> None:
    names = {c.stem for c in CASES}
    assert names >= STRICT_PASSES and len(names - STRICT_PASSES) >= 2


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_warnings_are_printed_at_their_line_and_fail_only_under_strict(
    case: Path, capsys: pytest.CaptureFixture[str], update_golden: bool
) -> None:
    rel = str(case.relative_to(ROOT))
    code, out, err = run(capsys, "validate", rel)
    assert code == 0, err
    assert out.startswith(f"{rel}: ok (")
    compare_text(err, GOLDEN / "warnings" / f"{case.stem}.txt", update_golden)
    for line in err.splitlines()[1:]:
        assert line.startswith((f"{rel}:", "    fix: ")), line

    strict_code, strict_out, strict_err = run(capsys, "validate", "--strict", rel)
    if case.stem in STRICT_PASSES:
        assert (strict_code, strict_out, strict_err) == (0, out, err)
        assert all("acknowledged" in line for line in err.splitlines()[1:])
    else:
        assert strict_code == 1 and strict_out == ""
        assert strict_err.startswith(err) and "meshfleet: --strict: " in strict_err


def test_the_unordered_failover_names_its_targets_the_fix_and_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(capsys, "validate", UNORDERED)
    first, fix = err.splitlines()[1:3]
    key = "services.shop/api.trafficPolicy.targets"
    assert first.startswith(f"{UNORDERED}:16:16: warning[failover-unordered]: {key}: ")
    assert "round-robin" in first and "eu, us" in first
    assert fix.startswith("    fix: to prefer one cluster, use ActiveActive with weights")


def test_a_policy_for_many_consumers_warns_once_at_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    every = "tests/cases/warnings/failover-unordered-every-consumer.yaml"
    code, _, err = run(capsys, "validate", every)
    assert code == 0
    head, first, fix = err.splitlines()
    assert head == "1 warning in the fleet:"
    assert first.startswith(
        f"{every}:17:15: warning[failover-unordered]: services.shop/api.trafficPolicy.lbType: "
        "FSM balances c1's calls to shop/api round-robin across the FailOver targets c2, c3, c4"
    )
    assert first.endswith("(likewise for 3 other clusters: c2, c3, c4)")
    assert fix.startswith("    fix: ")


def test_plan_and_render_refuse_only_under_strict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "plan", UNORDERED, "--format", "json")
    assert code == 0 and "warning[failover-unordered]" in err
    (warning,) = json.loads(out)["warnings"]
    assert warning == {
        "code": "failover-unordered",
        "severity": "warning",
        "acknowledged": False,
        "file": UNORDERED,
        "line": 16,
        "column": 16,
        "key": "services.shop/api.trafficPolicy.targets",
        "message": warning["message"],
        "fix": warning["fix"],
    }
    assert run(capsys, "plan", "--strict", UNORDERED)[:2] == (1, "")

    out_dir = tmp_path / "out"
    assert run(capsys, "render", "--strict", UNORDERED, "--out", str(out_dir))[0] == 1
    assert not out_dir.exists(), "a refused fleet writes nothing"
    assert run(capsys, "render", UNORDERED, "--out", str(out_dir))[0] == 0
    assert (out_dir / "ap" / "globaltrafficpolicy.shop.api.yaml").is_file()


def test_the_pull_request_preview_shows_new_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    acknowledged = "tests/cases/warnings/failover-unordered-acknowledged.yaml"
    code, md, _ = run(capsys, "diff", acknowledged, UNORDERED, "--format", "markdown")
    assert code == 0
    section = md.split("### Warnings (1 open, 0 acknowledged)\n\n", 1)[1].split("\n\n", 1)[0]
    assert section.startswith("- **failover-unordered** (new in this change) at `" + UNORDERED + ":16:16`")
    code, js, _ = run(capsys, "diff", acknowledged, UNORDERED, "--format", "json")
    (warning,) = json.loads(js)["warnings"]
    assert warning["new"] is True and warning["code"] == "failover-unordered"
    # The same warning in both fleets is not new; --strict fails the diff on an open warning.
    code, text, _ = run(capsys, "diff", UNORDERED, UNORDERED, "--strict")
    assert code == 1 and "WARNINGS (1):" in text and "(new)" not in text
    assert run(capsys, "diff", UNORDERED, acknowledged, "--strict")[0] == 0


def test_committed_fleets_pass_strict_as_a_user_runs_it() -> None:
    fleets = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "fleet").glob("*.yaml"))
    result = run_cli("validate", "--strict", *fleets)
    assert result.code == 0, result.err
    assert result.out.count(": ok (") == len(fleets)
