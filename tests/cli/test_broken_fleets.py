"""Every broken fleet in tests/cases/broken: a golden message with file:line, exit 1, no traceback,
nothing written and an existing output untouched.

The corpus runs in-process (the command's `main`, as the console script calls it); a few cases also
run as separate processes under a memory limit, as users run them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshfleet.cli import main
from tests.conftest import ROOT, run_cli
from tests.golden import GOLDEN, compare_text, tree

CASES = sorted((ROOT / "tests/cases/broken").glob("*.yaml"))
SECRET = "INLINE-SECRET-TOKEN"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One render of the demo fleet, copied for each case that must leave it untouched."""
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["render", str(ROOT / "fleet/demo.yaml"), "--out", str(out)]) == 0
    return out


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 80


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_fleet_is_refused_with_its_line(
    case: Path,
    tmp_path: Path,
    demo_output: Path,
    capsys: pytest.CaptureFixture[str],
    update_golden: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    rel = str(case.relative_to(ROOT))
    code, out, err = run(capsys, "validate", rel)
    assert code == 1, err
    assert out == ""
    assert "Traceback" not in err and "internal error" not in err
    # Each finding names a line of the case file, or of a manifest file beside it that the case includes.
    first = err.splitlines()[1]
    where, line = first.split(":")[0], int(first.split(":")[1])
    assert where == rel or where.startswith(f"{Path(rel).parent}/manifests/"), first
    assert 1 <= line <= max(1, len((ROOT / where).read_text(errors="replace").splitlines()) + 1)
    assert SECRET not in err
    assert all(ch.isprintable() for ln in err.splitlines() for ch in ln), "a message prints a control character"
    compare_text(err, GOLDEN / "errors" / f"{case.stem}.txt", update_golden)

    # Rendering the broken fleet over an earlier output leaves that output exactly as it was.
    target = tmp_path / "out"
    shutil.copytree(demo_output, target, symlinks=True)
    before = tree(target)
    code, _, err = run(capsys, "render", rel, "--out", str(target))
    assert code == 1 and "Traceback" not in err
    assert tree(target) == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".out.meshfleet-lock")) == ["out"]


@pytest.mark.parametrize(
    "name", ["hostile-alias-bomb-duplicate-key", "plan-too-many-endpoints", "tag-int-not-a-number"]
)
def test_a_user_running_the_command_sees_the_same(name: str) -> None:
    """Smoke runs as a separate process under the tests' memory limit: same message, exit 1."""
    rel = f"tests/cases/broken/{name}.yaml"
    result = run_cli("validate", rel)
    assert result.code == 1, result
    assert result.out == ""
    assert result.err == (GOLDEN / "errors" / f"{name}.txt").read_text(encoding="utf-8")
