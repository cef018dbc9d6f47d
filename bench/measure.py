"""Plan, render, floor, kustomize and memory for one fleet size, in one fresh interpreter.

Why a fresh interpreter per size: ru_maxrss only ever grows, and a previous size's garbage or
warmed caches would flatter or blame the next one. Every timed step starts after `os.sync()`, so a
step never pays for the previous step's dirty pages, and nothing is deleted until the whole run is
over: on a filesystem mounted with `discard` (this machine's root is), deleting 100k files makes
the next minutes' file creations several times slower, which would land on whichever step comes
next.
"""

from __future__ import annotations

import copy
import os
import resource
import shutil
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from meshfleet.core.plan import Plan, plan
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.model import Fleet
from meshfleet.sinks.layout import KUBECONFIG_ANNOTATION, file_name, kubeconfig_note
from meshfleet.sinks.render import render

ROOT = Path(__file__).resolve().parent.parent
SEED = 1


def work_dir() -> Path:
    """Scratch space on the repository's filesystem, where users render (bench/work/, ignored by
    git); MESHFLEET_BENCH_WORK moves it, for the tests and the workers they start."""
    return Path(os.environ.get("MESHFLEET_BENCH_WORK") or ROOT / "bench" / "work")


@dataclass(frozen=True)
class Size:
    name: str
    shape: FleetShape
    repeats: int
    """Best of this many runs; 1 for the largest size, which alone takes minutes."""


SIZES: tuple[Size, ...] = (
    Size("1k", FleetShape(clusters=6, services=40), 5),
    Size("10k", FleetShape(clusters=20, services=150), 2),
    Size("100k", FleetShape(clusters=100, services=300), 1),
)
TINY = Size("tiny", FleetShape(clusters=3, services=4), 1)
"""For the correctness tests of this code (never timed there)."""


def size_named(name: str) -> Size:
    for s in (*SIZES, TINY):
        if s.name == name:
            return s
    raise KeyError(f"no size {name!r}; known: {', '.join(s.name for s in (*SIZES, TINY))}")


def fleet_doc(size: Size) -> dict[str, Any]:
    return generate(size.shape, SEED)


def plan_of(doc: dict[str, Any]) -> Plan:
    return plan(Fleet.model_validate(doc))


def maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


# --- the floor -----------------------------------------------------------------------------------

FloorFiles = dict[str, list[tuple[str, Any]]]
"""Cluster directory -> (file name, document): exactly what the renderer writes, as data."""


def floor_files(p: Plan) -> FloorFiles:
    """The renderer's files as documents, prepared outside the timed part.

    The `Cluster` annotation and the kustomization are built here the renderer's way, so the floor
    writes the same documents to the same names; only the renderer's header comment is missing.
    """
    files: FloorFiles = {}
    for cluster in p.clusters:
        if not cluster.objects:
            continue
        entries: list[tuple[str, Any]] = []
        applied: list[str] = []
        for obj in cluster.objects:
            body = obj.body
            if obj.kubeconfig_of is not None:
                body = copy.deepcopy(body)
                meta = body["metadata"]
                meta["annotations"] = {**meta.get("annotations", {}),
                                       KUBECONFIG_ANNOTATION: kubeconfig_note(p.cluster(obj.kubeconfig_of))}
            name = file_name(obj)
            entries.append((name, body))
            if obj.role == "applied":
                applied.append(name)
        entries.append(("kustomization.yaml", {"apiVersion": "kustomize.config.k8s.io/v1beta1",
                                               "kind": "Kustomization", "resources": applied}))
        files[cluster.name] = entries
    return files


def write_floor(files: FloorFiles, out: Path) -> None:
    """libyaml's emitter and plain writes, nothing else: no staging, no fsync, no lock, no swap."""
    out.mkdir()
    for cluster, entries in files.items():
        d = out / cluster
        d.mkdir()
        for name, body in entries:
            with open(d / name, "w", encoding="utf-8") as fh:
                fh.write(yaml.dump(body, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False,
                                   width=1 << 16, allow_unicode=True))


# --- helpers -------------------------------------------------------------------------------------


def timed(fn: Callable[..., object], *args: Any) -> float:
    os.sync()
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def yaml_files(out: Path) -> dict[str, list[Path]]:
    """Cluster directory -> its YAML files (the marker and other dot files are not the output)."""
    return {d.name: sorted(d.glob("*.yaml")) for d in sorted(out.iterdir()) if d.is_dir()}


def dir_bytes(files: list[Path]) -> int:
    return sum(f.stat().st_size for f in files)


def kustomize(out: Path, clusters: list[str]) -> tuple[float, int] | None:
    """Seconds for `kubectl kustomize` over each cluster directory, one after the other (summed), and
    the documents it emitted; None without kubectl."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    total, docs = 0.0, 0
    for c in clusters:
        start = time.perf_counter()
        built = subprocess.run([kubectl, "kustomize", str(out / c)], capture_output=True, check=True)
        total += time.perf_counter() - start
        docs += built.stdout.count(b"\n---\n") + 1 if built.stdout.strip() else 0
    return total, docs


def render_peak(p: Plan, out: Path) -> int:
    """Bytes the renderer holds at its peak, by tracemalloc (Python allocations after the plan exists).

    Times come from the untraced runs.
    """
    tracemalloc.start()
    try:
        render(p, out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- one size ------------------------------------------------------------------------------------


def measure(size: Size, out: Path, *, with_kustomize: bool = True, with_memory: bool = True) -> dict[str, Any]:
    """Every number of one size, written under `out` (left for the caller to delete after the run);
    the caller runs this in a fresh interpreter."""
    doc = fleet_doc(size)
    plan_times: list[float] = []
    plans: list[Plan] = []
    for _ in range(max(1, size.repeats)):
        start = time.perf_counter()
        plans.append(plan_of(doc))
        plan_times.append(time.perf_counter() - start)
        del plans[:-1]
    p = plans[-1]
    rss_after_plan = maxrss_bytes()

    out.mkdir(parents=True, exist_ok=True)
    render_times: list[float] = []
    rss_after_render = 0
    for i in range(size.repeats):
        render_times.append(timed(render, p, out / f"render-{i}"))
        if i == 0:
            rss_after_render = maxrss_bytes()
    rendered = out / "render-0"
    out_files = yaml_files(rendered)
    per_cluster = {c: dir_bytes(fs) for c, fs in out_files.items()}

    files = floor_files(p)
    floor_times = [timed(write_floor, files, out / f"floor-{i}") for i in range(size.repeats)]
    floor_out = yaml_files(out / "floor-0")

    built = kustomize(rendered, sorted(out_files)) if with_kustomize else None
    peak = render_peak(p, out / "traced") if with_memory else None

    largest = max(per_cluster, key=lambda c: (per_cluster[c], c)) if per_cluster else ""
    return {
        "size": size.name,
        "shape": {"clusters": size.shape.clusters, "services": size.shape.services,
                  "exporters": size.shape.exporters, "control_plane": size.shape.control_plane, "seed": SEED},
        "repeats": size.repeats,
        "clusters": len(p.clusters),
        "objects": sum(len(c.objects) for c in p.clusters),
        "applied": sum(len(c.applied()) for c in p.clusters),
        "largest_cluster": largest,
        "largest_cluster_objects": max((len(c.objects) for c in p.clusters), default=0),
        "files": sum(len(fs) for fs in out_files.values()),
        "output_bytes": sum(per_cluster.values()),
        "largest_cluster_bytes": per_cluster.get(largest, 0),
        "plan_s": min(plan_times),
        "render_s": min(render_times),
        "floor_s": min(floor_times),
        "floor_files": sum(len(fs) for fs in floor_out.values()),
        "floor_objects": sum(len(entries) - 1 for entries in files.values()),
        "kustomize_s": built[0] if built is not None else None,
        "kustomize_objects": built[1] if built is not None else None,
        "rss_after_plan_bytes": rss_after_plan,
        "rss_after_render_bytes": rss_after_render,
        "render_peak_bytes": peak,
    }
