"""Every broken fleet in tests/cases/broken: a golden message with file:line, exit 1, no traceback,
nothing written and an existing output untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.golden import GOLDEN, compare_text, tree

CASES = sorted((ROOT / "tests/cases/broken").glob("*.yaml"))


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 25


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
