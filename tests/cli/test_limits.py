"""Every documented limit, as users meet it: `meshfleet validate` in its own process under the
tests' 1 GiB memory limit (conftest.run_cli), a file at the limit and one just over it side by side.

The limits on what a fleet plans are held at their exact values on the model in
tests/fleet/test_limits.py (planning a fleet at the limit would take seconds); here the fleets just
over them are refused before anything is planned.
"""

from __future__ import annotations

import os
from pathlib import Path

from meshfleet.errors import MAX_SHOWN
from meshfleet.fleet.document import MAX_BYTES, MAX_DEPTH, MAX_NODES
from meshfleet.fleet.limits import MAX_ENDPOINTS, MAX_OBJECTS
from tests.conftest import ROOT, run_cli

FLEET = "clusters:\n  c1:\n    gateway: {host: 10.0.0.1}\n"


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_file_size_at_the_limit_is_read_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    padding = "# " + "x" * 98 + "\n"
    body = FLEET + padding * ((MAX_BYTES - len(FLEET)) // len(padding))
    at = body + "#" * (MAX_BYTES - len(body) - 1) + "\n"
    assert len(at.encode()) == MAX_BYTES
    result = run_cli("validate", write(tmp_path / "at.yaml", at), write(tmp_path / "over.yaml", at + "\n"))
    assert f"{tmp_path / 'at.yaml'}: ok (1 cluster," in result.out
    assert (
        f"over.yaml:1:1: error[file-too-large]: (document): the file is {MAX_BYTES + 1:,} bytes; a fleet file "
        f"may be at most {MAX_BYTES:,} (1 MiB)" in result.err
    )
    assert result.code == 1


def test_far_larger_files_are_refused_without_being_read(tmp_path: Path) -> None:
    sparse = tmp_path / "sparse.yaml"
    sparse.touch()
    os.truncate(sparse, 300 * 1024 * 1024)
    scalar = write(tmp_path / "scalar.yaml", 'clusters:\n  c1:\n    id: "' + "x" * 3_000_000 + '"\n')
    result = run_cli("validate", str(sparse), scalar)
    assert result.code == 1 and "Traceback" not in result.err
    assert "the file is 314,572,800 bytes" in result.err
    assert f"the file is {Path(scalar).stat().st_size:,} bytes" in result.err


def nested(levels: int, flow: bool) -> str:
    """A fleet with an unknown key whose value nests `levels` collections (the fleet itself is one)."""
    inner = levels - 1
    if flow:
        return FLEET + "deep: " + "[" * inner + "]" * inner + "\n"
    return FLEET + "".join(f"{'  ' * i}k{i}:\n" for i in range(inner)) + "  " * inner + "k: v\n"


def test_nesting_at_the_limit_is_read_and_one_level_more_is_refused(tmp_path: Path) -> None:
    files = {
        f"{kind}-{n}": write(tmp_path / f"{kind}-{n}.yaml", nested(n, kind == "flow"))
        for kind in ("flow", "block")
        for n in (MAX_DEPTH, MAX_DEPTH + 1)
    }
    result = run_cli("validate", *files.values())
    assert result.code == 1
    for name, path in files.items():
        lines = [ln for ln in result.err.splitlines() if ln.startswith(path + ":")]
        deep = any(f"nested more than {MAX_DEPTH} levels deep" in ln for ln in lines)
        assert lines and deep is name.endswith(str(MAX_DEPTH + 1)), (name, lines)


def test_nesting_far_past_the_limit_is_refused_without_a_crash(tmp_path: Path) -> None:
    """libyaml's composer recurses once per level and crashes the interpreter near 100,000 levels."""
    flow = write(tmp_path / "flow.yaml", "clusters: " + "[" * 200_000 + "]" * 200_000 + "\n")
    block = write(tmp_path / "block.yaml", "clusters:\n" + "- " * 200_000 + "x\n")
    result = run_cli("validate", flow, block)
    assert result.code == 1, result
    assert result.err.count(f"nested more than {MAX_DEPTH} levels deep") == 2


def aliases(values: int) -> str:
    """A document expanding to exactly `values` values, under a key the fleet does not know."""
    # {clusters: {c1: {}}, x: {a: &a [y]*k, b: [*a]*m, c: [y]*p}}: 6 + 1 + (2 + k) + (2 + m(1 + k)) + (2 + p)
    k = 999
    m = (values - 13 - k) // (1 + k) - 1
    p = values - 13 - k - m * (1 + k)
    return (
        f"clusters: {{c1: {{}}}}\nx:\n  a: &a [{', '.join(['y'] * k)}]\n  b: [{', '.join(['*a'] * m)}]\n"
        f"  c: [{', '.join(['y'] * p)}]\n"
    )


def test_alias_expansion_at_the_limit_is_read_and_one_value_more_is_refused(tmp_path: Path) -> None:
    at, over = write(tmp_path / "at.yaml", aliases(MAX_NODES)), write(tmp_path / "over.yaml", aliases(MAX_NODES + 1))
    result = run_cli("validate", at, over)
    assert result.code == 1
    assert (
        f"{at}:1:1: error[unknown-key]: x: unknown key 'x'" in result.err
        or f"{at}:2:1: error[unknown-key]: x: unknown key 'x'" in result.err
    )
    assert result.err.count(f"expands to more than {MAX_NODES:,} values") == 1
    assert f"{over}:" in result.err.split("expands to more than")[0].splitlines()[-1]


def test_findings_printed_at_the_limit_and_one_more(tmp_path: Path) -> None:
    def bad(count: int) -> str:
        return "clusters:\n" + "".join(f"  Bad_{i}: {{}}\n" for i in range(count))

    result = run_cli(
        "validate", write(tmp_path / "at.yaml", bad(MAX_SHOWN)), write(tmp_path / "over.yaml", bad(MAX_SHOWN + 1))
    )
    assert result.code == 1
    assert f"{MAX_SHOWN} problems in the fleet:" in result.err
    assert f"{MAX_SHOWN + 1} problems in the fleet:" in result.err
    assert result.err.count(f"... and 1 more, not shown: fix the first {MAX_SHOWN}") == 1
    assert result.err.count("is not a DNS-1123 label") == 2 * MAX_SHOWN


def test_plans_past_the_limits_are_refused_before_planning() -> None:
    endpoints = "tests/cases/broken/plan-too-many-endpoints.yaml"
    objects = "tests/cases/broken/plan-too-many-objects.yaml"
    result = run_cli("validate", endpoints, objects, cwd=ROOT)
    assert result.code == 1
    assert f"a fleet file may plan at most {MAX_ENDPOINTS:,}" in result.err
    assert f"a fleet file may plan at most {MAX_OBJECTS:,}" in result.err
