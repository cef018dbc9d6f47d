"""Where a command's time goes, for the targets it misses: one more run of the same whole command under
cProfile (or `-X importtime` for start-up), reduced to a few lines a reader can act on.

Why: a missed target is only useful with its cause. The profile is taken after every timing is done,
at the size where the target is missed worst, and never timed itself (cProfile slows Python code
about twofold, so its shares are approximate and its seconds are not the table's).
"""

from __future__ import annotations

import pstats
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.measure import MESHFLEET, ROOT

TOP = 6
IMPORT_LOADER = ("_find_and_load",)
SAME = 0.97
"""A callee under this share of its caller's time is shown; above it, it is the caller again."""


def area(filename: str, funcname: str) -> str:
    """A function's place, coarse enough to add up: meshfleet's module, another package, a stdlib
    module, or the builtin itself (`posix.unlink`, `_io.TextIOWrapper.write`)."""
    if filename == "~":
        m = re.fullmatch(r"<built-in method ([\w.]+)>", funcname)
        if m:
            return m.group(1)
        m = re.fullmatch(r"<method '(\w+)' of '([\w.]+)' objects>", funcname)
        if m:
            return f"{m.group(2)}.{m.group(1)}"
        return funcname.strip("<>")
    if filename.startswith("<frozen "):
        return "importlib"
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        top = rest[0].removesuffix(".py")
        return f"{top}.{rest[1].removesuffix('.py')}" if top == "ruamel" and len(rest) > 1 else top
    try:
        rel = path.resolve().relative_to(ROOT)
        return ".".join(rel.with_suffix("").parts)
    except ValueError:
        pass
    for i, p in enumerate(parts):
        if re.fullmatch(r"python3\.\d+", p) and i + 1 < len(parts):
            return parts[i + 1].removesuffix(".py")
    return path.name


def summarize(stats: pstats.Stats) -> dict[str, Any]:
    """Total, time in imports, the meshfleet functions with the most time under them, and own time
    by area."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    imports = sum(
        v[3] for (f, _, n), v in raw.items() if f.startswith("<frozen importlib._bootstrap") and n in IMPORT_LOADER
    )
    areas: dict[str, float] = {}
    for (f, _, n), v in raw.items():
        where = area(f, n)
        areas[where] = areas.get(where, 0.0) + v[2]
    ours = sorted(((k, v) for k, v in raw.items() if _is_phase(k)), key=lambda kv: -kv[1][3])
    phases: list[list[Any]] = []
    shown: set[tuple[str, int, str]] = set()
    for key, v in ours:
        if len(phases) == TOP:
            break
        callers: dict[tuple[str, int, str], Any] = v[4]
        # A wrapper's single callee (render -> replace_dir -> _replace) says nothing new.
        if any(c in shown and v[3] >= SAME * raw[c][3] for c in callers):
            shown.add(key)
            continue
        shown.add(key)
        phases.append([f"{area(key[0], key[2])}.{key[2]}", v[3]])
    top_areas = sorted(areas.items(), key=lambda kv: -kv[1])[:TOP]
    return {"total_s": total, "imports_s": imports, "phases": phases, "areas": [[k, v] for k, v in top_areas]}


def _is_phase(key: tuple[str, int, str]) -> bool:
    where = area(key[0], key[2])
    return where.startswith(("meshfleet.", "components.")) and where != "meshfleet.cli" and key[2] != "<module>"


def profile_command(argv: list[str], cwd: Path = ROOT) -> dict[str, Any]:
    """`argv` (a `meshfleet` command line) run once under cProfile, summarized."""
    if argv[0] != MESHFLEET:
        raise ValueError(f"only meshfleet commands are profiled, not {argv[0]}")
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        out = Path(tmp) / "prof"
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "meshfleet.cli", *argv[1:]],
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return summarize(pstats.Stats(str(out)))


def import_times(argv: list[str], cwd: Path = ROOT) -> dict[str, Any]:
    """The top-level imports of a whole `meshfleet` run by their cumulative import time."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "meshfleet.cli", *argv[1:]],
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    top: dict[str, float] = {}
    for line in done.stderr.splitlines():
        m = re.fullmatch(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)", line)
        if m and not m.group(2).startswith(" "):
            name = m.group(2).strip()
            top[name] = top.get(name, 0.0) + int(m.group(1)) / 1e6
    ranked = sorted(top.items(), key=lambda kv: -kv[1])
    return {"total_s": None, "imports_s": sum(top.values()), "phases": [], "areas": [[k, v] for k, v in ranked[:TOP]]}
