"""The diff's Mermaid blocks are diagrams Mermaid itself accepts.

Checked with Mermaid's own parser: mermaid 11 run under Node with jsdom instead of a browser
(`tests/mermaid/parse.mjs`, pinned in `tests/mermaid/package-lock.json`; `make test` installs it with
`npm ci`). Where it is not installed the test is skipped with the command that installs it, except in
CI (`CI` set), where it fails: CI always runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from meshfleet import diff
from meshfleet.core.plan import plan
from meshfleet.diff.mermaid import graph
from meshfleet.diff.routes import grouped_routes
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.model import Fleet
from tests.conftest import ROOT
from tests.diff.test_budget import review_change
from tests.diff.test_diff_cli import PAIRS
from tests.diff.test_diff_cli import diff as run_diff

PARSER = ROOT / "tests" / "mermaid"
BLOCK = re.compile(r"^```mermaid\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def parse(diagrams: list[str]) -> list[dict[str, object]]:
    """Mermaid's verdict on each diagram."""
    node = shutil.which("node")
    if node is None or not (PARSER / "node_modules" / "mermaid").is_dir():
        message = "Mermaid's parser is not installed: run `make mermaid` (npm ci in tests/mermaid)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    proc = subprocess.run(
        [node, str(PARSER / "parse.mjs")],
        input=json.dumps(diagrams),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results: list[dict[str, object]] = json.loads(proc.stdout)
    return results


def blocks(markdown: str) -> list[str]:
    return BLOCK.findall(markdown)


def test_the_parser_refuses_a_broken_diagram() -> None:
    broken = ['flowchart LR\n  n0 -- "unclosed --> n1\n', "flowchart LR\n  n0 --> n1\n  linkStyle 3 stroke:#d73a49\n"]
    assert [r["ok"] for r in parse(broken)] == [False, False]


def test_the_demo_change_draws_a_diagram_mermaid_accepts_with_the_split_table_and_access_matrix() -> None:
    md = run_diff(*PAIRS["demo-reweighted"], "--format", "markdown").out
    (picture,) = blocks(md)
    assert picture.startswith("flowchart LR\n")
    assert '-- "httpbin 33.3% → 40%" -->' in picture and '-- "httpbin 33.3% → 10%" -->' in picture
    assert parse([picture]) == [{"ok": True, "diagramType": "flowchart-v2"}]
    # The split table (before/after with a bar) and the from x to access matrix sit beside it.
    assert "| Serving cluster | Before | After | | Local copy down: before | after |" in md
    assert "| `cluster-1` | 33.3% _(equal split)_ | **40%** | `████░░░░░░` ▲ +6.7% | 50% _(equal split)_ | 80% |" in md
    assert "| from ↓ / to → | `httpbin/httpbin` | `httpbin/httpbin-cluster-1` | `httpbin/httpbin-cluster-3` |" in md
    # The access cell says where GET / is enforced, and that remote answers are not held to it.
    row = next(line for line in md.splitlines() if line.startswith("| `curl/curl` |"))
    assert "GET `/` on local pods, enforced¹" in row
    assert "any request from `cluster-1`, `cluster-3`, **not enforced**²" in row
    assert "¹ by the sidecars of the local pods<br>² FSM does not restrict answers from other clusters" in md


def test_removed_routes_are_dashed_and_new_ones_thick_and_both_parse() -> None:
    removed = run_diff(*PAIRS["demo-without-cluster-3"], "--format", "markdown").out
    added = run_diff(PAIRS["demo-without-cluster-3"][1], PAIRS["demo-without-cluster-3"][0], "--format", "markdown").out
    (gone,), (new,) = blocks(removed), blocks(added)
    assert re.search(r'n\d+ -\. "✖ httpbin" \.-> n\d+', gone) and "linkStyle 0 stroke:#d73a49" in gone
    assert re.search(r'n\d+ == "\+ httpbin 33.3%" ==> n\d+', new) and "stroke:#2da44e" in new
    assert [r["ok"] for r in parse([gone, new])] == [True, True]


def test_a_large_fleet_draws_grouped_consumers_within_the_edge_cap_and_parses() -> None:
    doc = generate(FleetShape(clusters=40, services=60), 7)
    new, _ = review_change(doc)
    d = diff.diff(plan(Fleet.model_validate(doc)), plan(Fleet.model_validate(new)))
    picture = graph(grouped_routes(d.routes))
    assert picture is not None and picture.edges <= 40
    text = "\n".join(picture.lines)
    assert re.search(r'\["\d+ clusters: c\d+, c\d+, c\d+ and \d+ more"\]:::group', text), text
    assert parse([text]) == [{"ok": True, "diagramType": "flowchart-v2"}]


def test_labels_with_markup_characters_are_escaped() -> None:
    from meshfleet.diff.mermaid import quoted_label

    label = quoted_label('a "quoted" #1 <b>')
    assert label == '"a #quot;quoted#quot; #35;1 #lt;b#gt;"'
    assert parse([f"flowchart LR\n  n0[{label}] --> n1\n"])[0]["ok"] is True
