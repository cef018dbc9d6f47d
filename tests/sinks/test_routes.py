"""`meshfleet routes`: golden text, markdown and JSON of every committed fleet, the filters, the errors, and
the same view inside `plan --format json`."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from meshfleet import __version__
from meshfleet.cli.main import main
from meshfleet.core.effective import effective
from meshfleet.fleet.load import load_plan
from meshfleet.sinks import routes as routes_sink
from tests.conftest import ROOT, Result, run_cli
from tests.diff.test_markdown import check_tables
from tests.golden import GOLDEN, compare_text

FLEETS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "fleet").glob("*.yaml"))
FORMATS = {"text": "txt", "markdown": "md", "json": "json"}


def routes(*args: str) -> Result:
    """`meshfleet routes ARGS` in this process (fast)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["routes", *args])
        except SystemExit as e:  # argparse's usage errors
            code = int(e.code or 0)
    assert "Traceback" not in err.getvalue()
    return Result(code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fleet", FLEETS)
def test_routes_match_golden(fleet: str, fmt: str, update_golden: bool) -> None:
    result = routes(fleet, "--format", fmt)
    assert result.code == 0, result
    compare_text(result.out, GOLDEN / "routes" / f"{Path(fleet).stem}.{FORMATS[fmt]}", update_golden)
    if fmt == "markdown":
        check_tables(result.out.splitlines())
    if fmt == "json":  # laid out by write_json, the same data as the view's JSON, with meshfleet's version
        data = json.loads(result.out)
        assert data.pop("meshfleetVersion") == __version__
        assert data == routes_sink.as_json(effective(load_plan(ROOT / fleet)), fleet)


def test_the_installed_command_prints_the_same() -> None:
    assert run_cli("routes", "fleet/demo.yaml").out == routes("fleet/demo.yaml").out


def test_demo_cluster_2_httpbin_in_words() -> None:
    out = routes("fleet/demo.yaml", "--cluster", "cluster-2", "--service", "httpbin/httpbin").out
    lines = out.splitlines()
    assert lines[2] == "cluster-2 (FSM, access rules enforced: they decide who may call)"
    row = next(line for line in lines if line.startswith("  httpbin/httpbin "))
    assert re.search(
        r"ActiveActive +httpbin\.httpbin +cluster-2 \(local\) 33\.3%, cluster-1 33\.3%, cluster-3 33\.3% "
        r"\(equal split\) +cluster-1 50%, cluster-3 50% \(equal split\)",
        row,
    ), row
    local = next(line for line in lines if "local pods in cluster-2" in line)
    assert re.search(
        r"curl/curl +httpbin/httpbin +local pods in cluster-2 as httpbin/default +GET / +yes, by the "
        r"sidecars of the local pods \(rule curl-to-httpbin\)",
        local,
    ), local
    remote = next(line for line in lines if "cluster-1, cluster-3 as httpbin/httpbin" in line)
    assert re.search(
        r"any request +no: FSM does not restrict answers from other clusters.* \(rule curl-to-httpbin "
        r"asks GET /\)$",
        remote,
    ), remote


def test_from_keeps_only_what_that_source_may_call() -> None:
    data = json.loads(routes("fleet/demo.yaml", "--from", "curl/curl", "-o", "json").out)
    sources = {a["source"] for c in data["clusters"] for s in c["services"] for a in s["access"]}
    assert sources == {"curl/curl", "*"}
    cluster_2 = next(c for c in data["clusters"] if c["name"] == "cluster-2")
    assert {a["source"] for s in cluster_2["services"] for a in s["access"]} == {"curl/curl"}
    nobody = json.loads(
        routes("fleet/demo.yaml", "--from", "nobody/nobody", "--cluster", "cluster-2", "-o", "json").out
    )
    assert nobody["clusters"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--cluster", "cluster-9"),
            r"--cluster cluster-9: not a member of fleet/demo\.yaml; did you mean cluster-\d\?; "
            r"members: cluster-1, cluster-2, cluster-3",
        ),
        (("--cluster", "control-plane"), r"--cluster control-plane: not a member"),
        (
            ("--service", "httpbin/nope"),
            r"--service httpbin/nope: no cluster of fleet/demo\.yaml calls it; did you mean "
            r"httpbin/httpbin\?; services: httpbin/httpbin, ",
        ),
        (("--from", "curl"), r"--from curl: give a service account as namespace/name, e\.g\. curl/curl"),
    ],
)
def test_bad_filters_are_usage_errors_naming_what_exists(args: tuple[str, ...], message: str) -> None:
    result = routes("fleet/demo.yaml", *args)
    assert result.code == 2 and result.out == ""
    assert re.search(message, result.err), result.err


def test_a_broken_fleet_is_reported_like_everywhere_else() -> None:
    result = routes("tests/cases/broken/unknown-key.yaml")
    assert result.code == 1 and "unknown-key.yaml:" in result.err


def test_the_plans_json_carries_the_same_view() -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["plan", "fleet/demo.yaml", "--format", "json"]) == 0
    plan = json.loads(out.getvalue())
    assert plan["routes"] == json.loads(routes("fleet/demo.yaml", "-o", "json").out)["clusters"]
    cluster_2 = next(c for c in plan["clusters"] if c["name"] == "cluster-2")
    assert cluster_2["services"]["local"] == [{"service": "httpbin/httpbin", "serviceAccount": "httpbin/default"}]


def test_a_service_the_chosen_cluster_does_not_call_is_named_not_shown_empty() -> None:
    result = routes("fleet/mixed.yaml", "--cluster", "fsm-ap", "--service", "search/search")
    assert result.code == 2 and result.out == ""
    assert "--service search/search: fsm-ap does not call it; services: " in result.err, result.err
