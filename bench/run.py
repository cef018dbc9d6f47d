"""`make bench`: one run on this machine, a printed table and bench/results.json.

Every measurement runs in its own fresh interpreter (`--worker`), started from here one after the
other, so no two measurements share memory, caches or the two cores. `--profile SIZE` prints where
plan+render spend their time at one size instead.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.measure import ROOT, SIZES, Size, fleet_doc, measure, plan_of, size_named, work_dir
from meshfleet.sinks.render import render

RESULTS = ROOT / "bench" / "results.json"
PULUMI_SIZE = "10k"

RENDER_OVER_FLOOR = 1.5
FLATNESS = 1.25
PULUMI_OVER_FLOOR = 1.2

SIZE_KEYS = (
    "size", "shape", "repeats", "clusters", "objects", "applied", "largest_cluster", "largest_cluster_objects",
    "files", "output_bytes", "largest_cluster_bytes", "plan_s", "render_s", "floor_s", "floor_files",
    "floor_objects", "kustomize_s", "kustomize_objects", "rss_after_plan_bytes", "rss_after_render_bytes",
    "render_peak_bytes", "plan_render_s", "render_over_floor", "render_over_kustomize", "us_per_object",
    "plan_us_per_object", "render_us_per_object", "us_per_kib", "peak_over_largest_cluster", "peak_over_output",
)
PULUMI_KEYS = ("size", "objects", "program", "floor", "registration_over_floor", "program_over_floor")
TOP_KEYS = ("date", "machine", "load", "method", "sizes", "flatness", "pulumi", "targets", "total_s")
MACHINE_KEYS = ("cpu", "cores", "python", "platform", "pyyaml", "libyaml", "kubectl", "kustomize", "pulumi",
                "pulumi_kubernetes")
METHOD = {
    "time": "wall clock (perf_counter), best of `repeats` runs per size, os.sync() before each timed step",
    "plan": "Fleet.model_validate + plan() of the generated fleet document (no YAML parsing)",
    "render": "meshfleet.sinks.render.render() into a new directory: staging, one file per object, "
              "kustomization.yaml, marker, one syncfs of the staged tree, atomic swap",
    "floor": "yaml.dump(CSafeDumper) of the same documents to the same file names with plain writes: "
             "no header, sync, lock, staging or swap",
    "kustomize": "kubectl kustomize over every rendered cluster directory, sequentially, times summed",
    "memory": "render_peak_bytes: tracemalloc peak of one render after the plan exists; "
              "rss_*: ru_maxrss of the size's fresh interpreter after planning and after its first "
              "render",
    "pulumi": "the real __main__.py under pulumi.runtime.set_mocks with a minimal Mocks (id, no state), every "
              "kubeconfig from the stack secret; registration_s excludes components.load (YAML load + plan). "
              "Floor: one Provider per cluster and one bare apiextensions.CustomResource per applied object with "
              "the same metadata and spec; each in a fresh interpreter",
}


# --- machine -------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _kubectl() -> tuple[str | None, str | None]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None, None
    out = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True)
    try:
        info = json.loads(out.stdout)
    except json.JSONDecodeError:
        return None, None
    return info.get("clientVersion", {}).get("gitVersion"), info.get("kustomizeVersion")


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    kubectl, kustomize = _kubectl()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pyyaml": yaml.__version__,
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        "kubectl": kubectl,
        "kustomize": kustomize,
        "pulumi": _version("pulumi"),
        "pulumi_kubernetes": _version("pulumi-kubernetes"),
    }


# --- workers -------------------------------------------------------------------------------------


def worker(kind: str, size: str, run_dir: Path) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter, writing under `run_dir/<kind>-<size>/`; its
    result comes back through a file there."""
    where = run_dir / f"{kind}-{size}"
    subprocess.run([sys.executable, "-m", "bench.run", "--worker", kind, "--size", size, "--dir", str(where)],
                   cwd=ROOT, check=True)
    loaded: dict[str, Any] = json.loads((where / "result.json").read_text(encoding="utf-8"))
    return loaded


def _run_worker(kind: str, size: Size, where: Path) -> dict[str, Any]:
    where.mkdir(parents=True)
    if kind == "size":
        return measure(size, where / "out")
    from bench import registration

    if kind == "pulumi-program":
        return registration.program(size, where)
    if kind == "pulumi-floor":
        return registration.floor(size, where)
    raise ValueError(f"unknown worker {kind!r}")


# --- results -------------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def derive(row: dict[str, Any]) -> dict[str, Any]:
    """Ratios and per-object times of one size's raw numbers."""
    n = row["objects"]
    out = dict(row)
    out["plan_render_s"] = row["plan_s"] + row["render_s"]
    out["render_over_floor"] = _ratio(row["render_s"], row["floor_s"])
    out["render_over_kustomize"] = _ratio(row["render_s"], row["kustomize_s"])
    out["us_per_object"] = 1e6 * out["plan_render_s"] / n
    out["plan_us_per_object"] = 1e6 * row["plan_s"] / n
    out["render_us_per_object"] = 1e6 * row["render_s"] / n
    out["us_per_kib"] = 1e6 * out["plan_render_s"] / (row["output_bytes"] / 1024)
    out["peak_over_largest_cluster"] = _ratio(row["render_peak_bytes"], row["largest_cluster_bytes"])
    out["peak_over_output"] = _ratio(row["render_peak_bytes"], row["output_bytes"])
    return out


def _spread(values: Sequence[float]) -> float | None:
    return max(values) / min(values) if values and min(values) > 0 else None


def flatness(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """max/min across sizes of the time per object (1.0 is perfectly linear scaling); per KiB of
    output too, because objects grow with the fleet (an import lists every exporter)."""
    return {
        "plan_render": _spread([r["us_per_object"] for r in rows]),
        "plan": _spread([r["plan_us_per_object"] for r in rows]),
        "render": _spread([r["render_us_per_object"] for r in rows]),
        "plan_render_per_kib": _spread([r["us_per_kib"] for r in rows]),
    }


def _target(name: str, wanted: str, value: float | None, holds: bool | None, worst: str) -> dict[str, Any]:
    return {"target": name, "wanted": wanted, "value": value, "holds": holds, "worst": worst}


def _worst(rows: Sequence[dict[str, Any]], key: str) -> tuple[float | None, str]:
    known = [r for r in rows if r.get(key) is not None]
    if not known:
        return None, ""
    r = max(known, key=lambda r: float(r[key]))
    return float(r[key]), str(r["size"])


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = results["sizes"]
    out = []
    v, at = _worst(rows, "render_over_floor")
    out.append(_target("render vs floor", f"<= {RENDER_OVER_FLOOR}x at every size", v,
                       None if v is None else v <= RENDER_OVER_FLOOR, at))
    v, at = _worst(rows, "render_over_kustomize")
    out.append(_target("render vs kubectl kustomize", "< 1x (faster) at every size", v,
                       None if v is None else v < 1, at))
    flat = results["flatness"]["plan_render"]
    out.append(_target("time per object, plan+render", f"max/min <= {FLATNESS} across sizes", flat,
                       None if flat is None or len(rows) < 2 else flat <= FLATNESS, ""))
    v, at = _worst(rows, "peak_over_largest_cluster")
    out.append(_target("render peak memory", "<= the largest cluster's output bytes at every size", v,
                       None if v is None else v <= 1.0, at))
    pul = results.get("pulumi")
    v = pul["registration_over_floor"] if pul else None
    out.append(_target("Pulumi registration vs floor", f"<= {PULUMI_OVER_FLOOR}x", v,
                       None if v is None else v <= PULUMI_OVER_FLOOR, pul["size"] if pul else ""))
    return out


def collect(sizes: Sequence[str], pulumi_size: str | None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every measurement, one fresh interpreter each; their files are deleted only at the end."""
    work = work_dir()
    work.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    try:
        return _collect(sizes, pulumi_size, log, run_dir)
    finally:
        log("removing the measurements' files ...")
        shutil.rmtree(run_dir, ignore_errors=True)


def _collect(sizes: Sequence[str], pulumi_size: str | None, log: Callable[[str], None],
             run_dir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load": {"start": list(os.getloadavg())},
        "method": METHOD,
    }
    rows = []
    for name in sizes:
        log(f"measuring {name} ...")
        rows.append(derive(worker("size", name, run_dir)))
    results["sizes"] = rows
    results["flatness"] = flatness(rows)
    results["pulumi"] = None
    if pulumi_size is not None:
        log(f"registering the {pulumi_size} fleet under Pulumi mocks ...")
        prog = worker("pulumi-program", pulumi_size, run_dir)
        floor = worker("pulumi-floor", pulumi_size, run_dir)
        results["pulumi"] = {
            "size": pulumi_size,
            "objects": prog["objects"],
            "program": prog,
            "floor": floor,
            "registration_over_floor": _ratio(prog["registration_s"], floor["seconds"]),
            "program_over_floor": _ratio(prog["seconds"], floor["seconds"]),
        }
    results["targets"] = targets(results)
    results["load"]["end"] = list(os.getloadavg())
    results["total_s"] = time.perf_counter() - started
    return results


# --- table ---------------------------------------------------------------------------------------


def _fmt(v: Any, spec: str = ".2f", suffix: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    return f"{v:{spec}}{suffix}"


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True)))
            for r in rows]


def table(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [f"meshfleet bench, {results['date']}: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
             f"kubectl {m['kubectl'] or 'absent'} (kustomize {m['kustomize'] or '-'})", ""]
    rows = results["sizes"]
    kib, mib = 1024, 1024 * 1024
    time_rows = [["size", "clusters", "objects", "plan s", "render s", "floor s", "render/floor", "kustomize s",
                  "render/kustomize", "us/object", "bytes/object"]]
    for r in rows:
        time_rows.append([r["size"], str(r["clusters"]), f"{r['objects']:,}", _fmt(r["plan_s"], ".3f"),
                          _fmt(r["render_s"], ".3f"), _fmt(r["floor_s"], ".3f"),
                          _fmt(r["render_over_floor"], suffix="x"),
                          _fmt(r["kustomize_s"], ".3f"), _fmt(r["render_over_kustomize"], suffix="x"),
                          _fmt(r["us_per_object"], ".0f"), str(r["output_bytes"] // r["objects"])])
    lines += _grid(time_rows)
    flat = results["flatness"]
    lines += ["", f"time per object, max/min across sizes: plan+render {_fmt(flat['plan_render'], suffix='x')}, "
              f"plan {_fmt(flat['plan'], suffix='x')}, render {_fmt(flat['render'], suffix='x')}; "
              f"plan+render per KiB of output {_fmt(flat['plan_render_per_kib'], suffix='x')}", ""]
    mem_rows = [["size", "output MiB", "largest cluster KiB", "render peak KiB", "peak/largest", "peak/output",
                 "RSS plan MiB", "RSS +render MiB"]]
    for r in rows:
        peak = r["render_peak_bytes"]
        mem_rows.append([r["size"], _fmt(r["output_bytes"] / mib, ".1f"), _fmt(r["largest_cluster_bytes"] / kib, ".0f"),
                         _fmt(peak / kib if peak is not None else None, ".0f"),
                         _fmt(r["peak_over_largest_cluster"], suffix="x"), _fmt(r["peak_over_output"], ".4f", "x"),
                         _fmt(r["rss_after_plan_bytes"] / mib, ".0f"),
                         _fmt((r["rss_after_render_bytes"] - r["rss_after_plan_bytes"]) / mib, ".1f")])
    lines += _grid(mem_rows)
    pul = results["pulumi"]
    if pul is not None:
        prog, floor = pul["program"], pul["floor"]
        lines += ["", f"Pulumi under mocks, {pul['size']} fleet ({prog['objects']:,} objects, {prog['providers']} "
                  f"providers): program {prog['seconds']:.1f} s = load+plan {prog['load_plan_s']:.1f} s + registration "
                  f"{prog['registration_s']:.1f} s; floor ({floor['objects']:,} bare CustomResources) "
                  f"{floor['seconds']:.1f} s; registration/floor {_fmt(pul['registration_over_floor'], suffix='x')} "
                  f"(whole program/floor {_fmt(pul['program_over_floor'], suffix='x')})"]
    lines += ["", "targets:"]
    for t in results["targets"]:
        at = f" (worst: {t['worst']})" if t["worst"] else ""
        lines.append(f"  {t['target']}: {t['wanted']}: {_fmt(t['value'], suffix='x')}{at} -> "
                     f"{'holds' if t['holds'] else 'MISSED' if t['holds'] is not None else 'not measured'}")
    load = results["load"]
    lines += ["", f"total {results['total_s']:.0f} s; load average (1, 5, 15 min) at start "
              f"{', '.join(f'{x:.1f}' for x in load['start'])}, at end {', '.join(f'{x:.1f}' for x in load['end'])}"]
    return "\n".join(lines) + "\n"


# --- profile -------------------------------------------------------------------------------------


def profile(size: Size, top: int = 25) -> str:
    """cProfile of plan+render at one size, by own time: where an optimisation would pay."""
    doc = fleet_doc(size)
    work = work_dir()
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="profile-", dir=work) as tmp:
        prof = cProfile.Profile()
        prof.enable()
        render(plan_of(doc), Path(tmp) / "out")
        prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


# --- command line --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--sizes", default=",".join(s.name for s in SIZES), help="comma-separated sizes (default: all)")
    p.add_argument("--pulumi-size", default=PULUMI_SIZE, help="fleet size for the Pulumi run, or 'none'")
    p.add_argument("--out", default=str(RESULTS), help="where to write the results (default: bench/results.json)")
    p.add_argument("--profile", metavar="SIZE", help="print a cProfile of plan+render at SIZE instead")
    p.add_argument("--worker", choices=("size", "pulumi-program", "pulumi-floor"), help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    p.add_argument("--dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker is not None:
        where = Path(args.dir)
        data = _run_worker(args.worker, size_named(args.size), where)
        (where / "result.json").write_text(json.dumps(data), encoding="utf-8")
        if args.worker.startswith("pulumi"):
            # Pulumi's mock runtime leaves an event loop whose finalizer fails noisily at exit; the
            # result is written, so leave without finalizers.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        return 0
    if args.profile is not None:
        sys.stdout.write(profile(size_named(args.profile)))
        return 0
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        size_named(s)
    results = collect(sizes, None if args.pulumi_size == "none" else args.pulumi_size,
                      log=lambda msg: print(msg, file=sys.stderr, flush=True))
    sys.stdout.write(table(results))
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
