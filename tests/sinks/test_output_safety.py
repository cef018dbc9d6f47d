"""The output directory under failure: interrupted, full, unwritable, raced, killed."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import meshfleet.sinks.output as render_module
from meshfleet.errors import UsageError
from meshfleet.fleet.load import load_plan
from meshfleet.sinks.render import render
from tests.golden import tree

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    out = tmp_path / "out"
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    return out, tree(out)


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.meshfleet-")
                  and p.is_dir())


@pytest.mark.parametrize("after", [0, 1, 5, 12])
@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failing_write_leaves_the_previous_output_whole(previous: tuple[Path, dict[str, str]], after: int,
                                                          error: int, monkeypatch: pytest.MonkeyPatch) -> None:
    out, before = previous
    real_write = render_module._write
    calls = {"n": 0}

    def failing(path: Path, text: str) -> None:
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(error, os.strerror(error), str(path))
        real_write(path, text)

    monkeypatch.setattr(render_module, "_write", failing)
    with pytest.raises(UsageError, match="previous output is untouched"):
        render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert calls["n"] == after + 1, "the failure was not reached"
    assert tree(out) == before
    assert leftovers(out) == []


def test_a_failing_swap_leaves_the_previous_output_whole(previous: tuple[Path, dict[str, str]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out, before = previous

    def no_swap(stage: Path, target: Path) -> None:
        raise OSError(errno.EXDEV, "cross-device link", str(target))

    monkeypatch.setattr(render_module, "_swap_in", no_swap)
    with pytest.raises(UsageError):
        render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert tree(out) == before
    assert leftovers(out) == []


def test_swap_without_renameat2_and_recovery_after_a_cut(previous: tuple[Path, dict[str, str]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out, before = previous
    monkeypatch.setattr(render_module, "_exchange", lambda a, b: False)
    render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert not (out / "control-plane").exists()
    # A render killed between the two renames leaves only the moved-away copy; the next one restores it.
    moved = out.with_name(f".{out.name}.meshfleet-old-99999")
    os.rename(out, moved)
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert tree(out) == before
    assert not moved.exists()


def render_script(fleet: str, out: Path, delay: float = 0.0) -> list[str]:
    code = (
        "import sys, time\n"
        "import meshfleet.sinks.output as r\n"
        "from meshfleet.fleet.load import load_plan\n"
        "from meshfleet.sinks.render import render\n"
        "real = r._write\n"
        f"def slow(p, t):\n    time.sleep({delay})\n    real(p, t)\n"
        "r._write = slow\n"
        f"render(load_plan({fleet!r}), {str(out)!r})\n"
    )
    return [sys.executable, "-c", code]


def test_concurrent_renders_do_not_interleave(tmp_path: Path) -> None:
    out = tmp_path / "out"
    expected = {}
    for name in ("demo", "demo-standalone"):
        render(load_plan(ROOT / f"fleet/{name}.yaml"), tmp_path / name)
        expected[name] = tree(tmp_path / name)
    procs = [subprocess.Popen(render_script(f"fleet/{name}.yaml", out, 0.01), cwd=ROOT)
             for name in ("demo", "demo-standalone", "demo", "demo-standalone")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert tree(out) in (expected["demo"], expected["demo-standalone"])
    assert leftovers(out) == []


def test_a_killed_render_leaves_the_previous_output_whole(previous: tuple[Path, dict[str, str]]) -> None:
    out, before = previous
    proc = subprocess.Popen(render_script("fleet/demo-standalone.yaml", out, 0.2), cwd=ROOT)
    deadline = time.monotonic() + 60
    while not leftovers(out):  # wait until it is writing its staged copy
        assert proc.poll() is None, "the render ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert tree(out) == before
    render(load_plan(ROOT / "fleet/demo.yaml"), out)  # the next render cleans the killed one's stage
    assert leftovers(out) == []
    assert tree(out) == before


def test_nothing_is_written_outside_the_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    everything = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    outside = [p for p in everything if not p.startswith("deep/out") and p not in ("deep", "deep/.out.meshfleet-lock")]
    assert outside == []
