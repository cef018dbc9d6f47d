"""The pull-request comment's shape: one heading, risks first, a per-service table, then per-cluster
<details> blocks whose tables are well-formed, for every diff of the golden corpus."""

from __future__ import annotations

import re

import pytest

from tests.diff.test_diff_cli import PAIRS, diff

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def cells(row: str) -> list[str]:
    assert row.startswith("| ") and row.endswith(" |"), row
    return [c.strip() for c in _UNESCAPED_PIPE.split(row)[1:-1]]


def check_tables(lines: list[str]) -> int:
    """Every table: a header, a separator with as many columns, rows with as many cells."""
    tables, i = 0, 0
    while i < len(lines):
        if lines[i].startswith("|"):
            assert i > 0 and lines[i - 1] == "", f"a table must follow a blank line: {lines[i]}"
            width = len(cells(lines[i]))
            separator = cells(lines[i + 1])
            assert len(separator) == width and all(re.fullmatch(r":?---:?", c) for c in separator), lines[i + 1]
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                assert len(cells(lines[j])) == width, lines[j]
                assert "\n" not in lines[j]
                j += 1
            assert j == len(lines) or lines[j] == "", f"a table must end with a blank line: {lines[j]}"
            tables += 1
            i = j
        else:
            i += 1
    return tables


SECTIONS = [
    "### Risks",
    "### Who answers",
    "### Traffic split",
    "### Who may call",
    "### Exports, imports and traffic policies",
    "### Access rules",
    "### Warnings",
    "### Objects per cluster",
]


@pytest.mark.parametrize("case", [c for c in PAIRS if c != "demo-unchanged"])
def test_markdown_structure(case: str) -> None:
    old, new = PAIRS[case]
    md = diff(old, new, "--format", "markdown").out
    lines = md.splitlines()
    assert lines[0] == f"## meshfleet diff: `{old}` → `{new}`"
    assert sum(1 for line in lines if line.startswith("## ")) == 1
    assert re.fullmatch(r"> \*\*\d+ risks?\*\* · \d+ of \d+ clusters change · objects: .+", lines[2]), lines[2]
    sections = [line for line in lines if line.startswith("### ")]
    assert re.fullmatch(r"### (⚠️ Risks \(\d+\)|Risks)", sections[0]), sections
    names = [re.sub(r" \(.*\)$", "", s).replace("⚠️ ", "") for s in sections]
    assert names[0] == "### Risks" and names[-1] == "### Objects per cluster"
    assert names == sorted(names, key=SECTIONS.index), "the sections come in their one order"
    # Risks: one row each, before anything else is said.
    count = re.search(r"\((\d+)\)", sections[0])
    risk_lines = lines[lines.index(sections[0]) + 1 : lines.index(sections[1])]
    rows = [line for line in risk_lines if line.startswith("| **")]
    assert len(rows) == (int(count.group(1)) if count else 0)

    # Cluster blocks: balanced, each with a summary line and one table.
    clusters = lines[lines.index("### Objects per cluster") :]
    opens = [i for i, line in enumerate(clusters) if line == "<details>"]
    closes = [i for i, line in enumerate(clusters) if line == "</details>"]
    assert len(opens) == len(closes) >= 1
    for a, b in zip(opens, closes, strict=True):
        assert a < b
        assert re.fullmatch(r"<summary><b>[a-z0-9-]+</b> \(.+\): .+</summary>", clusters[a + 1]), clusters[a + 1]
        assert clusters[a + 2] == ""
        assert check_tables(clusters[a + 2 : b]) == 1
        assert clusters[a + 3] == "| Change | Object | Role | Fields |"
    assert check_tables(lines) >= len(opens)


def test_service_table_comes_after_routes_and_access_and_before_the_objects() -> None:
    old, new = PAIRS["demo-without-cluster-3"]
    lines = diff(old, new, "--format", "markdown").out.splitlines()
    header = lines.index("| Service | Where | Change |")
    assert (
        lines.index("### Who answers")
        < lines.index("### Who may call")
        < header
        < lines.index("### Objects per cluster")
    )
    rows = [cells(line) for line in lines[header + 2 :] if line.startswith("|")][:7]
    assert ["`httpbin/httpbin`", "`cluster-2`", "loses endpoint `cluster-3` (keeps `cluster-1`)"] in rows
    # The same change in two consumers is one row.
    assert [
        "`httpbin/httpbin-cluster-3`",
        "`cluster-1`, `cluster-2`",
        "loses the import (it came from `cluster-3`)",
    ] in rows


def test_the_checker_catches_a_broken_table() -> None:
    with pytest.raises(AssertionError, match=r"^\| 1 \| 2 \| 3 \|\n"):
        check_tables(["", "| a | b |", "| --- | --- |", "| 1 | 2 | 3 |", ""])
    with pytest.raises(AssertionError, match=r"^\| --- \|\n"):
        check_tables(["", "| a | b |", "| --- |", ""])
