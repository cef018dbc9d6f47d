"""The bench measures what it says: its floors do the same work as the commands they stand beside, the
diff compares a real change, whole processes are counted as such, and the committed results agree
with the README. Nothing here is timed."""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import io_floor, report, run, targets
from bench.fleets import ADDED_RULE, SIZES, TINY, changed, fleet_doc, size_named, write_fleet
from bench.measure import (
    COMMANDS,
    KUSTOMIZE,
    MESHFLEET,
    PARSE_FLOOR_CODE,
    STARTUP_FLOOR,
    STARTUP_REFERENCES,
    kubectl,
    wait_removed,
)
from bench.procs import CommandFailed
from bench.procs import run as run_process
from meshfleet.core.plan import Plan, plan
from meshfleet.fleet.model import Fleet
from tests.conftest import ROOT, run_cli

NOMINAL = {"1k": 1_000, "10k": 10_000, "100k": 100_000}


def plan_of(doc: dict[str, Any]) -> Plan:
    return plan(Fleet.model_validate(doc))


def objects(p: Plan) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    return {(c.name, o.kind, o.namespace, o.name): o.body for c in p.clusters for o in c.objects}


def test_the_io_floor_writes_the_rendered_trees_exact_bytes(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    write_fleet(fleet_doc(TINY), fleet)
    assert run_cli("render", str(fleet), "--out", str(tmp_path / "render")).code == 0
    packed = io_floor.pack(tmp_path / "render", tmp_path / "pack")
    run_process(
        [sys.executable, str(ROOT / "bench" / "io_floor.py"), str(tmp_path / "pack"), str(tmp_path / "floor")], cwd=ROOT
    )

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    rendered = tree(tmp_path / "render")
    assert tree(tmp_path / "floor") == rendered
    assert packed == sum(len(b) for b in rendered.values())
    assert ".meshfleet" in rendered and any(k.endswith("/kustomization.yaml") for k in rendered)


def test_the_parse_floor_loads_the_fleet_file_the_commands_read(tmp_path: Path) -> None:
    doc = fleet_doc(TINY)
    fleet = tmp_path / "fleet.yaml"
    write_fleet(doc, fleet)
    sample = run_process(
        [sys.executable, "-c", PARSE_FLOOR_CODE + "; print(len(sys.argv))", str(fleet)],
        cwd=ROOT,
        stdout=tmp_path / "out",
    )
    assert (tmp_path / "out").read_text() == "2\n" and sample.out_bytes == 2
    assert yaml.load(fleet.read_bytes(), Loader=yaml.CSafeLoader) == doc


def test_a_process_is_counted_whole_and_a_failure_stops_the_run(tmp_path: Path) -> None:
    code = "import sys; b = b'x' * (64 << 20); sys.stdout.write('x' * 1000)"
    sample = run_process([sys.executable, "-c", code], cwd=ROOT, stdout=tmp_path / "out")
    assert sample.out_bytes == 1000
    assert sample.rss_kib >= 64 * 1024, "the child's own peak, with its 64 MiB"
    assert sample.wall_s >= sample.cpu_s * 0.5 > 0
    with pytest.raises(CommandFailed, match=r"exited with 3:\nboom"):
        run_process([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"], cwd=ROOT)


def test_the_tree_a_re_render_swaps_out_is_gone_before_the_next_command_runs(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    write_fleet(fleet_doc(TINY), fleet)
    for _ in range(2):
        run_process([MESHFLEET, "render", str(fleet), "--out", "out"], cwd=tmp_path)
    wait_removed(tmp_path, "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.yaml", "out"]
    (tmp_path / ".out.meshfleet-old-0123456789abcdef").mkdir()
    with pytest.raises(CommandFailed, match=r"swapped out of .*/out was not removed within 0 s"):
        wait_removed(tmp_path, "out", timeout_s=0.1)


def test_the_diffed_change_moves_weights_removes_one_export_and_adds_one_access_rule() -> None:
    doc = fleet_doc(SIZES[0])
    before = copy.deepcopy(doc)
    new, change = changed(doc)
    assert doc == before, "the original fleet is left as it was"
    assert len(change.weights) == 3 and change.export_removed is not None
    old_objects, new_objects = objects(plan_of(doc)), objects(plan_of(new))
    service, cluster = change.export_removed
    ns, name = service.split("/")
    assert (cluster, "ServiceExport", ns, name) in old_objects
    assert (cluster, "ServiceExport", ns, name) not in new_objects
    touched = [s.split("/") for s in (*change.weights, service, change.access_to)]
    differing = {k for k in old_objects.keys() | new_objects.keys() if old_objects.get(k) != new_objects.get(k)}
    unrelated = {
        k
        for k in differing
        if not k[3].startswith(ADDED_RULE)
        and not any(k[2] == ns and (k[3] == n or k[3].endswith(f"-{n}")) for ns, n in touched)
    }
    assert not unrelated, "the change touches the services it names and the new rule, nothing else"
    added = {k[1] for k in new_objects.keys() - old_objects.keys() if k[3].startswith(ADDED_RULE)}
    assert added == {"HTTPRouteGroup", "TrafficTarget"}
    moved = {f"{k[2]}/{k[3]}" for k in differing if k[1] == "GlobalTrafficPolicy"}
    assert set(change.weights) <= moved


def test_every_size_runs_three_rounds_or_more_and_the_smallest_is_about_1k_objects() -> None:
    # The larger sizes' object counts are checked in the committed results, which plan them.
    assert [s.name for s in SIZES] == list(NOMINAL)
    assert all(s.rounds >= 3 for s in SIZES)
    p = plan_of(fleet_doc(SIZES[0]))
    assert 500 <= sum(len(c.objects) for c in p.clusters) <= 1500
    with pytest.raises(KeyError, match="no size 'huge'"):
        size_named("huge")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MESHFLEET_BENCH_WORK", str(tmp_path / "work"))
    return tmp_path / "work"


def test_one_round_at_the_tiny_size_measures_every_command_pairs_them_and_reports_every_target(work: Path) -> None:
    results = run.collect(["tiny"], "tiny", rounds=1, log=lambda _m: None)
    assert not list(work.iterdir()), "every measurement's files are removed after the run"
    row = results["sizes"][0]
    expected = [c for c in COMMANDS if c != KUSTOMIZE or kubectl()]
    assert list(row["commands"]) == expected
    for name, c in row["commands"].items():
        assert len(c["wall_s"]) == len(c["rss_kib"]) == 1, name
        assert c["rss_kib"][0] > 0, name
    assert row["objects"] > 0 and row["files"] == row["objects"] + row["clusters"] + 1  # kustomizations, marker
    for pair in targets.PAIRS:
        if pair.command in row["commands"] and all(a in row["commands"] for a in pair.against):
            cpu = {"cpu_median"} if pair.metric == "wall_s" else set()
            assert set(row["pairs"][pair.id]) == {"ratios", "min", "median", "max", *cpu}
    assert [t["id"] for t in results["targets"]] == [t.id for t in targets.TARGETS]
    assert {t["status"] for t in results["targets"]} <= {
        targets.MET,
        targets.MISSED,
        targets.NOT_MEASURED,
    }
    pul = results["pulumi"]
    assert pul["objects"] == pul["floor_objects"] == row["applied"]
    assert pul["providers"] == pul["components"] == row["clusters"]
    json.dumps(results)
    text = report.table(results)
    block = report.readme_block(results)
    for t in targets.TARGETS:
        assert t.label in text and t.label in block
    missed = [t for t in results["targets"] if t["status"] == targets.MISSED]
    assert all(f"**{t['target']}**" in block for t in missed)
    wanted = targets.profile_wanted(results["targets"], results["sizes"])
    assert sorted(t for p in results["profiles"] for t in p["targets"]) == sorted(wanted)


def test_the_committed_results_cover_every_size_pair_and_target() -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    assert [r["size"] for r in results["sizes"]] == [s.name for s in SIZES]
    for r, s in zip(results["sizes"], SIZES, strict=True):
        assert NOMINAL[r["size"]] / 2 <= r["objects"] <= NOMINAL[r["size"]] * 1.5
        assert r["rounds"] == s.rounds >= 3, "no size rests on one unpaired sample"
        for pid, pair in r["pairs"].items():
            assert len(pair["ratios"]) == r["rounds"], (r["size"], pid)
            assert pair["min"] <= pair["median"] <= pair["max"]
        # `meshfleet routes` exists, so every pair is measured, routes / plan included.
        assert {p.id for p in targets.PAIRS} <= set(r["pairs"]), r["size"]
    assert [t["id"] for t in results["targets"]] == [t.id for t in targets.TARGETS]
    for t in results["targets"]:
        assert t["status"] in {targets.MET, targets.MISSED}, t["id"]  # none left unmeasured
    machine = results["machine"]
    assert machine["cpu"] and machine["cores"] and machine["filesystem"]["type"]
    assert len(results["load"]["start"]) == 3 and all(r["load"] for r in results["sizes"])


def test_the_readme_performance_block_is_the_one_generated_from_the_committed_results() -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = report.extract_block(readme)
    assert block == report.readme_block(results), "run `make bench` (it rewrites the block), do not edit it"
    assert block in readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    for t in results["targets"]:
        row = next(line for line in block.splitlines() if line.startswith(f"| {t['target']} |"))
        assert row.rstrip(" |").endswith(t["status"] if t["status"] != targets.MISSED else "**missed**")
    for name in results["floors"]:
        assert f"- **{name}**: " in block


def test_a_missed_target_says_what_it_is_up_against_from_the_measurements() -> None:
    results = json.loads(run.RESULTS.read_text(encoding="utf-8"))
    startup = results["startup"]["commands"]
    floor = statistics.median(startup[STARTUP_FLOOR]["wall_s"])
    machinery, model = STARTUP_REFERENCES
    startup[machinery] = {"wall_s": [floor * 1.25]}
    startup[model] = {"wall_s": [floor * 2.5]}
    for t in results["targets"]:
        if t["id"] in ("startup", "validate-parse-floor", "render-io-floor", "plan-linear"):
            t["status"] = targets.MISSED
    text = "\n".join(report.missed_lines(results))
    assert "alone takes 1.25x the floor, and defining the fleet model (`import meshfleet.fleet.model`) 2.50x: " in text
    assert "1.5x cannot hold while the fleet model is pydantic's." in text
    big = results["sizes"][-1]
    assert f"fleet file means {big['objects']:,} objects" in text
    assert text.count("Why: start-up alone (`meshfleet validate fleet/demo.yaml`") == 2
    assert "per KiB of rendered output the own time is" in text.split("**plan: own time per object")[1]
    startup[model] = {"wall_s": [floor * 1.4]}
    assert "cannot hold" not in "\n".join(report.missed_lines(results))


def test_a_target_missed_at_one_size_says_what_that_size_measured() -> None:
    results = json.loads(run.RESULTS.read_text(encoding="utf-8"))
    for t in results["targets"]:
        if t["id"] in ("render-kustomize", "rerender", "routes"):
            t["status"] = targets.MISSED
    lines = {line.split("**")[1]: line for line in report.missed_lines(results)}
    small = results["sizes"][0]
    kustomize = small["figures"]["kubectl kustomize"]["wall_s"]["median"]
    by_id = {t["id"]: t for t in results["targets"]}
    assert (
        f"over the {small['clusters']} cluster directories ({kustomize:.3f} s)"
        in lines[by_id["render-kustomize"]["target"]]
    )
    worst = by_id["rerender"]["worst"]
    row = next(r for r in results["sizes"] if r["size"] == worst)
    more = 1000 * (
        row["figures"]["render over existing"]["wall_s"]["median"] - row["figures"]["render"]["wall_s"]["median"]
    )
    assert (
        f"at {worst} a render over the existing output takes {more:.0f} ms more" in lines[by_id["rerender"]["target"]]
    )
    assert "`routes` plans the fleet" in lines[by_id["routes"]["target"]]
    row["figures"]["render over existing"]["wall_s"]["median"] = row["figures"]["render"]["wall_s"]["median"] - 0.01
    lines = {line.split("**")[1]: line for line in report.missed_lines(results)}
    assert "takes no longer than one into a new directory by the medians" in lines[by_id["rerender"]["target"]]


def test_a_missed_pulumi_target_says_what_the_program_adds_to_the_floor() -> None:
    results = json.loads(run.RESULTS.read_text(encoding="utf-8"))
    pulumi = next(t for t in results["targets"] if t["id"] == "pulumi")
    pulumi["status"] = targets.MISSED
    results["profiles"] = [p for p in results["profiles"] if "pulumi" not in p["targets"]] + [
        {
            "command": "the Pulumi program",
            "size": "10k",
            "targets": ["pulumi"],
            "total_s": 20.0,
            "imports_s": 0.1,
            "phases": [],
            "areas": [["pulumi", 8.0], ["traceback", 3.0], ["pathlib", 1.0]],
        }
    ]
    (line,) = [x for x in report.missed_lines(results) if x.startswith(f"- **{pulumi['target']}**")]
    pu = results["pulumi"]
    assert f"registering the {pu['objects']:,} objects that the floor registers bare in" in line
    assert "(traceback and pathlib) is 20 % of the program's profile" in line
    assert f"the ratio goes from {pu['min']:.2f} to {pu['max']:.2f}." in line


def test_replacing_the_block_keeps_the_rest_of_the_text() -> None:
    text = f"before\n{report.BEGIN}\nold\n{report.END}\nafter\n"
    assert (
        report.replace_block(text, f"{report.BEGIN}\nnew\n{report.END}")
        == f"before\n{report.BEGIN}\nnew\n{report.END}\nafter\n"
    )
    with pytest.raises(ValueError, match="substring not found"):
        report.replace_block("no block here", "x")


def _results(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sizes": rows,
        "linearity": targets.linearity(rows),
        "startup": None,
        "pulumi": None,
    }
    return {**base, **extra}


def _row(size: str, objects: int, walls: dict[str, list[float]], rss: dict[str, int] | None = None) -> dict[str, Any]:
    commands = {
        name: {"wall_s": w, "cpu_s": w, "rss_kib": [(rss or {}).get(name, 1000)] * len(w), "out_bytes": 10}
        for name, w in walls.items()
    }
    return targets.derive_size(
        {"size": size, "objects": objects, "tiny_objects": 0, "output_bytes": 1024 * objects, "commands": commands}
    )


def test_a_target_holds_when_the_median_ratio_is_within_it_at_every_size() -> None:
    # render / I/O floor per round: 1k 1.5, 2.5, 1.9 (median 1.9); 10k 2.1, 2.2, 1.0 (median 2.1)
    a = _row("1k", 1000, {"render": [1.5, 2.5, 1.9], "I/O floor": [1.0, 1.0, 1.0]})
    b = _row("10k", 10_000, {"render": [4.2, 4.4, 2.0], "I/O floor": [2.0, 2.0, 2.0]})
    only_a = {t["id"]: t for t in targets.evaluate_all(_results([a]))}
    assert only_a["render-io-floor"]["status"] == targets.MET
    assert only_a["render-io-floor"]["per_size"]["1k"] == pytest.approx({"min": 1.5, "median": 1.9, "max": 2.5})
    both = {t["id"]: t for t in targets.evaluate_all(_results([a, b]))}
    assert both["render-io-floor"]["status"] == targets.MISSED
    assert both["render-io-floor"]["worst"] == "10k" and both["render-io-floor"]["value"] == pytest.approx(2.1)
    assert both["render-kustomize"]["status"] == targets.NOT_MEASURED
    assert both["routes"]["status"] == targets.NOT_MEASURED  # no size measured routes


def test_linearity_is_the_spread_of_the_own_time_per_object_beyond_fixed_costs() -> None:
    # CPU time after the imports beyond the 3-cluster fleet's 0.3 s: 1k 0.1 s (100 µs/object), 10k 1.2 s (120)
    fixed = {"plan, after imports, 3 clusters": [0.3, 0.3, 0.3]}
    a = _row("1k", 1000, {"plan, after imports": [0.4, 0.4, 0.5], **fixed})
    b = _row("10k", 10_000, {"plan, after imports": [1.4, 1.5, 1.6], **fixed})
    lin = targets.linearity([a, b])
    assert lin["plan"]["us_per_object"] == pytest.approx({"1k": 100.0, "10k": 120.0})
    assert lin["plan"]["max_over_min"] == pytest.approx(1.2)
    verdict = {t["id"]: t for t in targets.evaluate_all(_results([a, b]))}
    assert verdict["plan-linear"]["status"] == targets.MET and verdict["plan-linear"]["worst"] == "10k"
    c = _row("100k", 100_000, {"plan, after imports": [15.3, 15.3, 15.3], **fixed})
    assert {t["id"]: t for t in targets.evaluate_all(_results([a, b, c]))}["plan-linear"]["status"] == targets.MISSED


def test_memory_targets_compare_peak_rss_and_routes_is_judged_at_the_largest_size() -> None:
    walls = {"plan": [1.0] * 3, "plan --format json": [2.0] * 3, "routes": [4.0, 6.0, 6.0]}
    big = _row("100k", 100_000, walls, rss={"plan": 400_000, "plan --format json": 1_600_000})
    verdict = {t["id"]: t for t in targets.evaluate_all(_results([big]))}
    assert verdict["plan-json-memory"]["status"] == targets.MISSED
    assert verdict["plan-json-memory"]["value"] == pytest.approx(4.0)
    assert verdict["routes"]["status"] == targets.MISSED and verdict["routes"]["value"] == pytest.approx(6.0)
    assert targets.profile_wanted(list(verdict.values()), [big]) == {"routes": ("routes", "100k")}


def test_a_profile_adds_up_time_by_package_and_names_builtins_plainly() -> None:
    from bench.profile import area

    site = os.path.join("x", ".venv", "lib", "python3.11", "site-packages")
    assert area(os.path.join(site, "ruamel", "yaml", "scanner.py"), "scan") == "ruamel.yaml"
    assert area(os.path.join(site, "pydantic", "main.py"), "f") == "pydantic"
    assert area(str(ROOT / "meshfleet" / "diff" / "compare.py"), "diff") == "meshfleet.diff.compare"
    assert area("/usr/lib/python3.11/shutil.py", "rmtree") == "shutil"
    assert area("~", "<built-in method posix.unlink>") == "posix.unlink"
    assert area("~", "<method 'write' of '_io.TextIOWrapper' objects>") == "_io.TextIOWrapper.write"


@pytest.mark.parametrize(("cpu_s", "runs"), [(0.3, 2), (0.06, 7), (0.9, 1)])
def test_a_commands_own_time_is_the_median_of_runs_adding_up_to_half_a_second(
    cpu_s: float, runs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import measure
    from bench.procs import Sample

    started: list[int] = []

    def fake_run_all(commands: Any, *, cwd: Path, stdout: Path | None = None) -> Sample:
        assert stdout is not None
        n = len(started)
        started.append(n)
        stdout.write_text(json.dumps({"wall_s": 1.0 + n, "cpu_s": cpu_s + n / 1000, "code": 0}), encoding="utf-8")
        (tmp_path / "stdout-diff-inproc.txt").write_text("x")
        return Sample(9.0, 9.0, 100 + n, 0)

    monkeypatch.setattr(measure, "run_all", fake_run_all)
    monkeypatch.setattr(measure.Files, "stdout", lambda self, command: tmp_path / "stdout-diff-inproc.txt")
    sample = measure.measure_once(measure.DIFF_INPROC, measure.Files(tmp_path), 0)
    assert len(started) == runs
    assert sample.cpu_s == pytest.approx(statistics.median(cpu_s + n / 1000 for n in range(runs)))
    assert sample.wall_s == statistics.median(1.0 + n for n in range(runs))
    assert sample.rss_kib == 100 + runs - 1


def test_a_command_waits_for_the_disk_to_go_quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bench import procs

    monkeypatch.setattr(procs, "QUIET_WINDOW_S", 0.001)
    busy = iter([1000, 1200, 1400, 1400, 5000])  # busy, busy, then quiet: the last is never read
    read: list[int] = []

    def fake_busy(device: tuple[int, int]) -> int | None:
        read.append(next(busy))
        return read[-1]

    monkeypatch.setattr(procs, "_busy_ms", fake_busy)
    procs.wait_quiet_disk(tmp_path)
    assert read == [1000, 1200, 1400, 1400]


def test_without_disk_statistics_nothing_is_waited(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bench import procs

    monkeypatch.setattr(procs, "_busy_ms", lambda device: None)
    assert procs.wait_quiet_disk(tmp_path) == 0.0
