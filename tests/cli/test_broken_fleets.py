"""Every broken fleet in tests/cases/broken: a golden message with file:line, exit 1, no traceback,
nothing written and an existing output untouched."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.golden import GOLDEN, compare_text, tree

CASES = sorted((ROOT / "tests/cases/broken").glob("*.yaml"))


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("name", "make"), [
    ("a 300 MB file", lambda p: os.truncate(p, 300 * 1024 * 1024)),
    ("a 3 MB scalar", lambda p: p.write_text('clusters:\n  c1:\n    id: "' + "x" * 3_000_000 + '"\n')),
    ("a 5 MB file of comments", lambda p: p.write_text("# x\n" * 1_300_000)),
])
def test_huge_input_is_refused_within_bounds(name: str, make: Callable[[Path], object], tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.touch()
    make(fleet)
    result = run_cli("validate", str(fleet))
    assert result.code == 1, (name, result)
    assert f"{fleet}:1:" in result.err or f"{fleet}:3:" in result.err, result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_fleet_is_refused_with_its_line(case: Path, tmp_path: Path, update_golden: bool) -> None:
    rel = case.relative_to(ROOT)
    checked = run_cli("validate", str(rel))
    assert checked.code == 1, checked
    assert "Traceback" not in checked.err
    assert f"{rel}:" in checked.err
    first = checked.err.splitlines()[1]
    line = int(first.split(":")[1])
    assert 1 <= line <= max(1, len(case.read_text(errors="replace").splitlines()) + 1)
    compare_text(checked.err, GOLDEN / "errors" / f"{case.stem}.txt", update_golden)

    # Rendering the broken fleet over an earlier output leaves that output exactly as it was.
    out = tmp_path / "out"
    assert run_cli("render", "fleet/demo.yaml", "--out", str(out)).code == 0
    before = tree(out)
    rendered = run_cli("render", str(rel), "--out", str(out))
    assert rendered.code == 1 and "Traceback" not in rendered.err
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".out.meshfleet-lock")) == ["out"]
