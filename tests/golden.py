"""Golden-file comparison with a readable diff; `pytest --update-golden` rewrites them."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file()}


def compare_tree(actual_root: Path, golden_root: Path, update: bool) -> None:
    if update:
        shutil.rmtree(golden_root, ignore_errors=True)
        shutil.copytree(actual_root, golden_root)
        return
    assert golden_root.is_dir(), f"no golden output at {golden_root}; run pytest --update-golden"
    actual, golden = tree(actual_root), tree(golden_root)
    problems = []
    for name in sorted(set(actual) | set(golden)):
        if name not in golden:
            problems.append(f"unexpected file {name}")
        elif name not in actual:
            problems.append(f"missing file {name}")
        elif actual[name] != golden[name]:
            diff = difflib.unified_diff(
                golden[name].splitlines(), actual[name].splitlines(), f"golden/{name}", f"actual/{name}", lineterm=""
            )
            problems.append("\n".join(diff))
    assert not problems, (
        "rendered output differs from the golden files "
        "(run pytest --update-golden if the change is intended):\n" + "\n".join(problems)
    )


def compare_text(actual: str, golden_file: Path, update: bool) -> None:
    if update:
        golden_file.parent.mkdir(parents=True, exist_ok=True)
        golden_file.write_text(actual, encoding="utf-8")
        return
    assert golden_file.is_file(), f"no golden file {golden_file}; run pytest --update-golden"
    expected = golden_file.read_text(encoding="utf-8")
    if actual != expected:
        diff = "\n".join(
            difflib.unified_diff(
                expected.splitlines(), actual.splitlines(), str(golden_file.name), "actual", lineterm=""
            )
        )
        raise AssertionError(f"output differs from {golden_file.name}:\n{diff}")
