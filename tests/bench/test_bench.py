"""The benchmark measures what it says: the floor writes the renderer's files, the Pulumi floor
registers the program's objects, and results.json holds every number. Nothing here is timed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import run
from bench.measure import SIZES, TINY, fleet_doc, floor_files, measure, plan_of, write_floor, yaml_files
from meshfleet.sinks.render import render
from tests.conftest import ROOT

NOMINAL = {"1k": 1_000, "10k": 10_000, "100k": 100_000}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Scratch space of this test, also for the workers the bench starts."""
    monkeypatch.setenv("MESHFLEET_BENCH_WORK", str(tmp_path / "work"))
    return tmp_path


def test_the_floor_writes_the_renderers_documents_to_the_same_files(tmp_path: Path) -> None:
    p = plan_of(fleet_doc(TINY))
    render(p, tmp_path / "render")
    files = floor_files(p)
    write_floor(files, tmp_path / "floor")
    rendered, floored = yaml_files(tmp_path / "render"), yaml_files(tmp_path / "floor")
    assert {c: [f.name for f in fs] for c, fs in floored.items()} == \
        {c: [f.name for f in fs] for c, fs in rendered.items()}
    for cluster, fs in rendered.items():
        for f in fs:
            assert yaml.safe_load(f.read_text()) == yaml.safe_load((tmp_path / "floor" / cluster / f.name).read_text())
    assert sum(len(entries) - 1 for entries in files.values()) == sum(len(c.objects) for c in p.clusters)
    # The Cluster objects carry the kubeconfig note in both, so the floor is not spared that work.
    assert any(o.kind == "Cluster" for c in p.clusters for o in c.objects)


def test_one_size_has_every_number_and_consistent_counts(tmp_path: Path) -> None:
    row = run.derive(measure(TINY, tmp_path / "out", with_kustomize=shutil.which("kubectl") is not None))
    assert set(run.SIZE_KEYS) <= set(row)
    assert row["floor_files"] == row["files"] == row["objects"] + row["clusters"]  # + each kustomization
    assert row["floor_objects"] == row["objects"]
    if row["kustomize_objects"] is not None:
        assert row["kustomize_objects"] == row["applied"], "kustomize builds exactly the applied objects"
    assert 0 < row["largest_cluster_bytes"] <= row["output_bytes"]
    assert row["render_peak_bytes"] > 0


def test_a_whole_run_at_the_tiny_size_has_every_key_and_registers_like_the_program(work: Path) -> None:
    results = run.collect(["tiny"], "tiny", log=lambda _msg: None)
    assert not list((work / "work").iterdir()), "every measurement's files are removed after the run"
    assert set(run.TOP_KEYS) <= set(results)
    pul = results["pulumi"]
    assert set(run.PULUMI_KEYS) <= set(pul)
    prog, floor = pul["program"], pul["floor"]
    applied = results["sizes"][0]["applied"]
    assert prog["objects"] == floor["objects"] == applied
    assert prog["providers"] == floor["providers"] == results["sizes"][0]["clusters"]
    assert prog["components"] == prog["providers"] and floor["components"] == 0
    text = run.table(results)
    assert "render/floor" in text and "targets:" in text and "Pulumi under mocks" in text


def test_targets_hold_and_miss_on_the_stated_thresholds() -> None:
    def row(size: str, render_s: float, floor_s: float, kust: float, objects: int) -> dict[str, Any]:
        return run.derive({"size": size, "objects": objects, "plan_s": 0.0, "render_s": render_s, "floor_s": floor_s,
                           "kustomize_s": kust, "render_peak_bytes": 10, "largest_cluster_bytes": 20,
                           "output_bytes": objects * 100})
    rows = [row("a", 1.5, 1.0, 2.0, 1000), row("b", 12.0, 10.0, 20.0, 10_000)]
    results = {"sizes": rows, "flatness": run.flatness(rows),
               "pulumi": {"size": "a", "registration_over_floor": 1.3}}
    verdict = {t["target"]: t["holds"] for t in run.targets(results)}
    assert verdict == {"render vs floor": True, "render vs kubectl kustomize": True,
                       "time per object, plan+render": True, "render peak memory": True,
                       "Pulumi registration vs floor": False}
    assert results["flatness"]["plan_render"] == pytest.approx(1.25)


def test_the_committed_results_have_every_number_of_every_size() -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    assert set(run.TOP_KEYS) <= set(results)
    assert set(run.MACHINE_KEYS) <= set(results["machine"])
    assert [r["size"] for r in results["sizes"]] == [s.name for s in SIZES]
    for r in results["sizes"]:
        assert set(run.SIZE_KEYS) <= set(r), r["size"]
        assert NOMINAL[r["size"]] / 2 <= r["objects"] <= NOMINAL[r["size"]] * 1.5
        assert r["floor_files"] == r["files"]
    assert set(run.PULUMI_KEYS) <= set(results["pulumi"])
    assert results["pulumi"]["size"] == "10k"
    assert {t["target"] for t in results["targets"]} == {
        "render vs floor", "render vs kubectl kustomize", "time per object, plan+render", "render peak memory",
        "Pulumi registration vs floor"}
    assert results["total_s"] < 15 * 60, "make bench must finish within 15 minutes"


def test_the_sizes_are_about_1k_10k_and_100k_objects() -> None:
    # The shapes are chosen by object count; a change in the planner that moves them far off
    # makes the table compare other sizes than it claims.
    p = plan_of(fleet_doc(SIZES[0]))
    assert 500 <= sum(len(c.objects) for c in p.clusters) <= 1500
