"""The output directory under failure and attack: interrupted, full, unwritable, raced, killed,
renders beside one another, planted symbolic links and directories."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import meshfleet.sinks.output as output
import meshfleet.sinks.render as render_module
from meshfleet.errors import UsageError
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.load import load_plan
from meshfleet.sinks import layout, staging, swap
from meshfleet.sinks.render import render
from tests.golden import tree

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "0123456789abcdef"


@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    out = tmp_path / "out"
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    return out, tree(out)


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.meshfleet-"))


def marked(path: Path, content: str = "planted") -> Path:
    """A directory that looks like one meshfleet wrote (its marker) holding one file."""
    path.mkdir()
    (path / output.MARKER).write_text(output.MARKER_TEXT)
    (path / "file.yaml").write_text(content)
    return path


def wait_for(condition: Any, proc: subprocess.Popen[bytes], what: str) -> None:
    """Poll until `condition()` holds while `proc` runs (a guard against a hang, not a timing check)."""
    deadline = time.monotonic() + 120
    while not condition():
        assert proc.poll() is None, f"the render ended before {what}"
        assert time.monotonic() < deadline, f"waited two minutes for {what}"
        time.sleep(0.01)


# --- failures leave the previous output whole -----------------------------------------------------


@pytest.mark.parametrize("after", [0, 1, 5, 12])
@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failing_write_leaves_the_previous_output_whole(
    previous: tuple[Path, dict[str, str]], after: int, error: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = previous
    real_write = output._write
    calls = {"n": 0}

    def failing(dir_fd: int, name: str, data: bytes, mode: int) -> None:
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(error, os.strerror(error), name)
        real_write(dir_fd, name, data, mode)

    monkeypatch.setattr(output, "_write", failing)
    with pytest.raises(UsageError, match=f"{os.strerror(error)}; the previous output is untouched"):
        render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert calls["n"] == after + 1, "the failure was not reached"
    assert tree(out) == before
    assert leftovers(out) == []


def test_a_failing_first_render_says_nothing_was_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(dir_fd: int, name: str, data: bytes, mode: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)

    monkeypatch.setattr(output, "_write", full)
    out = tmp_path / "out"
    with pytest.raises(UsageError, match=f"No space left on device; {out} was not created$"):
        render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_message_names_the_file_in_the_output_not_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = output._write

    def refuse_policies(dir_fd: int, name: str, data: bytes, mode: int) -> None:
        if name.startswith("globaltrafficpolicy."):
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), name)
        real_write(dir_fd, name, data, mode)

    monkeypatch.setattr(output, "_write", refuse_policies)
    out = tmp_path / "out"
    with pytest.raises(
        UsageError,
        match=rf"^cannot write {out}/cluster-\d/globaltrafficpolicy\.[a-z0-9.-]+\.yaml: "
        "File name too long; ",
    ):
        render(load_plan(ROOT / "fleet/demo.yaml"), out)


def test_a_failing_swap_leaves_the_previous_output_whole(
    previous: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = previous

    def no_swap(*args: object) -> None:
        raise OSError(errno.EXDEV, "cross-device link", str(out))

    monkeypatch.setattr(swap, "swap_in", no_swap)
    with pytest.raises(UsageError, match="cross-device link; the previous output is untouched"):
        render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert tree(out) == before
    assert leftovers(out) == []


def test_an_output_replaced_during_the_render_is_swapped_back_and_refused(
    previous: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = previous
    real_exchange = swap.exchange
    calls: list[str] = []

    def replaced_first(parent_fd: int, a: str, b: str) -> bool:
        calls.append(b)
        if len(calls) == 1:  # just before the swap, someone puts their own directory there
            os.rename(out, out.with_name("moved"))
            out.mkdir()
            (out / "notes.txt").write_text("keep me")
        return real_exchange(parent_fd, a, b)

    monkeypatch.setattr(swap, "exchange", replaced_first)
    with pytest.raises(UsageError, match="was replaced while meshfleet was writing"):
        render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert tree(out) == {"notes.txt": "keep me"}
    assert calls == [out.name, out.name], "the swap was not undone"
    assert leftovers(out) == []


@pytest.mark.parametrize("theirs", [{}, {"notes.txt": "keep me"}])
def test_an_output_made_by_someone_else_during_a_first_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, theirs: dict[str, str]
) -> None:
    """The output did not exist when the render began, and exists when it swaps: it is checked like
    any existing output (an empty directory is replaced, one with files is refused and kept)."""
    out = tmp_path / "out"
    real_renameat2 = swap._renameat2

    def made_meanwhile(parent_fd: int, a: str, b: str, flags: int) -> bool:
        if b == out.name and not out.exists():
            out.mkdir()
            for name, text in theirs.items():
                (out / name).write_text(text)
        return real_renameat2(parent_fd, a, b, flags)

    monkeypatch.setattr(swap, "_renameat2", made_meanwhile)
    if theirs:
        with pytest.raises(UsageError, match="holds files meshfleet did not write"):
            render(load_plan(ROOT / "fleet/demo.yaml"), out)
        assert tree(out) == theirs
    else:
        render(load_plan(ROOT / "fleet/demo.yaml"), out)
        assert (out / "control-plane").is_dir()
    assert leftovers(out) == []


# --- without renameat2, and trees moved aside ----------------------------------------------------


def test_swap_without_renameat2(previous: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = previous
    monkeypatch.setattr(swap, "exchange", lambda *args: False)
    render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert not (out / "control-plane").exists()
    assert (out / "cluster-1").is_dir()
    assert leftovers(out) == []


def test_a_tree_moved_aside_by_a_cut_swap_is_never_taken_back(
    previous: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A swap cut between its two renames leaves the output moved aside. It is not taken back as the
    output (it could be planted); the next render writes a whole new output, then removes it."""
    out, before = previous
    moved = out.with_name(f".{out.name}.meshfleet-old-{TOKEN}")
    os.rename(out, moved)

    def full(dir_fd: int, name: str, data: bytes, mode: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)

    with monkeypatch.context() as m:
        m.setattr(output, "_write", full)
        with pytest.raises(UsageError, match=f"{out} was not created$"):
            render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert not out.exists()
    assert tree(moved) == before, "a failed render removed the moved-aside tree"
    render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert not (out / "control-plane").exists()
    assert leftovers(out) == []


@pytest.mark.parametrize("planted", ["old-1", f"old-{TOKEN}", f"new-{TOKEN}", "99999"])
def test_a_planted_old_tree_is_not_adopted(tmp_path: Path, planted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    plant = marked(tmp_path / f".out.meshfleet-{planted}")

    def full(dir_fd: int, name: str, data: bytes, mode: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)

    with monkeypatch.context() as m:
        m.setattr(output, "_write", full)
        with pytest.raises(UsageError, match=f"{out} was not created$") as failed:
            render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert "untouched" not in str(failed.value)
    assert not out.exists()
    assert (plant / "file.yaml").read_text() == "planted"
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert not (out / "file.yaml").exists()
    assert (out / "control-plane").is_dir()
    # Names of our own form with our marker are leftovers to remove; anything else is left alone.
    ours = planted in (f"old-{TOKEN}", f"new-{TOKEN}")
    assert plant.exists() is not ours


# --- planted symbolic links ----------------------------------------------------------------------


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A directory someone else owns, that a planted link points to."""
    return marked(tmp_path / "victim", "the victim's")


@pytest.mark.parametrize(
    "name",
    [
        f".out.meshfleet-new-{TOKEN}",
        f".out.meshfleet-old-{TOKEN}",
        ".out.meshfleet-lock",
        ".out.meshfleet-old-1",
        ".out.meshfleet-x",
    ],
)
def test_planted_symlinks_beside_the_output_are_never_followed(tmp_path: Path, victim: Path, name: str) -> None:
    out = tmp_path / "out"
    link = tmp_path / name
    link.symlink_to(victim)
    victim_file = tmp_path / "victim-file"
    victim_file.write_text("the victim's")
    for i in range(2):  # into a new directory, then over it
        render(load_plan(ROOT / f"fleet/{('demo', 'demo-standalone')[i]}.yaml"), out)
        assert tree(victim) == {output.MARKER: output.MARKER_TEXT, "file.yaml": "the victim's"}
        assert link.is_symlink()
    assert (out / "cluster-1").is_dir()


def test_a_symlinked_output_is_refused_and_its_target_untouched(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "out"
    out.symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link"):
        render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert tree(victim) == {output.MARKER: output.MARKER_TEXT, "file.yaml": "the victim's"}
    assert leftovers(out) == []


def test_a_planted_link_inside_a_leftover_is_removed_not_followed(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "out"
    left = marked(tmp_path / f".out.meshfleet-new-{TOKEN}")
    (left / "inside").symlink_to(victim)
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert not left.exists()
    assert tree(victim) == {output.MARKER: output.MARKER_TEXT, "file.yaml": "the victim's"}


# --- the lock ------------------------------------------------------------------------------------


def test_nothing_is_written_outside_the_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)  # over it
    everything = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert [p for p in everything if not p.startswith("deep/out/")] == ["deep", "deep/out"]


def test_the_lock_file_of_an_earlier_version_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (tmp_path / ".out.meshfleet-lock").touch()
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.fixture
def no_directory_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A filesystem where a directory cannot be locked (NFS): the lock goes to a private place."""
    real_flock = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if (
            os.path.isdir(f"/proc/self/fd/{fd}")
            and not operation & fcntl.LOCK_NB
            and operation != fcntl.LOCK_UN
            and os.path.samefile(f"/proc/self/fd/{fd}", tmp_path)
        ):
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    private_tmp = tmp_path.parent / f"{tmp_path.name}-tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    return private_tmp / f"meshfleet-{os.getuid()}"


def test_without_directory_locks_the_lock_is_private(tmp_path: Path, no_directory_locks: Path) -> None:
    out = tmp_path / "out"
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert no_directory_locks.stat().st_mode & 0o777 == 0o700
    locks = list(no_directory_locks.iterdir())
    assert len(locks) == 1
    assert locks[0].stat().st_mode & 0o777 == 0o600


def test_a_planted_private_lock_link_is_not_followed(tmp_path: Path, no_directory_locks: Path) -> None:
    victim_file = tmp_path.parent / f"{tmp_path.name}-victim"
    victim_file.write_text("the victim's")
    os.mkdir(no_directory_locks, 0o700)
    st = os.stat(tmp_path)
    (no_directory_locks / f"{st.st_dev:x}-{st.st_ino:x}.lock").symlink_to(victim_file)
    with pytest.raises(UsageError, match="cannot lock the output"):
        render(load_plan(ROOT / "fleet/demo.yaml"), tmp_path / "out")
    assert victim_file.read_text() == "the victim's"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("plant", ["link", "open-to-others"])
def test_a_private_lock_directory_that_is_not_private_is_refused(
    tmp_path: Path, no_directory_locks: Path, plant: str
) -> None:
    if plant == "link":
        elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
        elsewhere.mkdir(mode=0o700)
        no_directory_locks.symlink_to(elsewhere)
    else:
        no_directory_locks.mkdir()
        no_directory_locks.chmod(0o777)
    with pytest.raises(UsageError, match="cannot lock the output"):
        render(load_plan(ROOT / "fleet/demo.yaml"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_where_directories_cannot_be_locked_the_swapped_out_tree_still_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_directory_locks: Path
) -> None:
    """Without directory locks (NFS), a render removes the tree it swapped out itself, and leaves
    other leftovers alone: whether their render still runs cannot be told."""
    real_flock = fcntl.flock

    def no_locks_on_directories(fd: int, operation: int) -> None:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", no_locks_on_directories)
    out = tmp_path / "out"
    other = marked(tmp_path / f".out.meshfleet-new-{TOKEN}")
    for fleet in ("demo", "demo-standalone", "demo"):
        render(load_plan(ROOT / f"fleet/{fleet}.yaml"), out)
    assert (out / "control-plane").is_dir()
    assert leftovers(out) == [other.name]


# --- renders beside one another ------------------------------------------------------------------


def render_script(fleet: str, out: Path, delay: float = 0.0) -> list[str]:
    code = (
        "import sys, time\n"
        "import meshfleet.sinks.output as r\n"
        "from meshfleet.fleet.load import load_plan\n"
        "from meshfleet.sinks.render import render\n"
        "real = r._write\n"
        f"def slow(*args):\n    time.sleep({delay})\n    real(*args)\n"
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
    procs = [
        subprocess.Popen(render_script(f"fleet/{name}.yaml", out, 0.01), cwd=ROOT)
        for name in ("demo", "demo-standalone", "demo", "demo-standalone")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert tree(out) in (expected["demo"], expected["demo-standalone"])
    assert leftovers(out) == []


def test_a_killed_render_leaves_the_previous_output_whole(previous: tuple[Path, dict[str, str]]) -> None:
    out, before = previous
    proc = subprocess.Popen(render_script("fleet/demo-standalone.yaml", out, 0.2), cwd=ROOT)
    wait_for(lambda: leftovers(out), proc, "it started staging")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert tree(out) == before
    assert leftovers(out) != []
    render(load_plan(ROOT / "fleet/demo.yaml"), out)  # the next render removes the killed one's stage
    assert leftovers(out) == []
    assert tree(out) == before


def test_a_live_render_s_stage_is_left_alone(tmp_path: Path) -> None:
    """A stage is removed only once its render is gone: the render holds a lock on it."""
    out = tmp_path / "out"
    stage = marked(tmp_path / f".out.meshfleet-new-{TOKEN}")
    fd = os.open(stage, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        render(load_plan(ROOT / "fleet/demo.yaml"), out)
        assert (stage / "file.yaml").read_text() == "planted"
    finally:
        os.close(fd)
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert not stage.exists()


@pytest.fixture
def large_fleet(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A fleet of some hundreds of files, and the tree it renders to."""
    fleet = tmp_path / "large.yaml"
    fleet.write_text(yaml.safe_dump(generate(FleetShape(clusters=8, services=24), 7), sort_keys=False))
    plan = load_plan(fleet)
    expected = {rel: text for rel, text in layout.files(plan)}
    expected[output.MARKER] = output.MARKER_TEXT
    assert len(expected) > 200
    return fleet, expected


@pytest.mark.parametrize("glob_name", ["out*", "out?b", "out[-]b", "*", ".out-b.meshfleet-*"])
def test_a_render_beside_one_with_a_glob_name_leaves_it_complete(
    tmp_path: Path, large_fleet: tuple[Path, dict[str, str]], glob_name: str
) -> None:
    """The first render stages a large fleet, slowly; meanwhile another render, whose output's name
    matches the first one's stage as a glob pattern, starts and finishes. The first output is whole."""
    fleet, expected = large_fleet
    first = tmp_path / "out-b"
    proc = subprocess.Popen(render_script(str(fleet), first, 0.01), cwd=ROOT)
    wait_for(
        lambda: any(len(list(p.rglob("*.yaml"))) > 20 for p in tmp_path.glob(".out-b.meshfleet-*")),
        proc,
        "it staged some files",
    )
    beside = tmp_path / glob_name
    render(load_plan(ROOT / "fleet/demo.yaml"), beside)
    render(load_plan(ROOT / "fleet/demo-standalone.yaml"), beside)  # over its own output, cleaning leftovers
    assert proc.poll() is None, "the first render ended before the second one ran beside it"
    assert proc.wait(timeout=300) == 0
    assert tree(first) == expected
    assert (beside / "cluster-1").is_dir() and not (beside / "control-plane").exists()
    assert [n for n in leftovers(first) if n != beside.name] == []


# --- detached removal of the previous output -----------------------------------------------------


def test_a_detached_removal_leaves_the_new_output_and_then_nothing_beside_it(
    previous: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    out, _ = previous
    render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out, detach_cleanup=True)
    assert not (out / "control-plane").exists()
    assert (out / "cluster-1").is_dir()
    deadline = time.monotonic() + 60
    while leftovers(out):  # the previous tree goes in the background; wait for it (no timing asserted)
        assert time.monotonic() < deadline, f"the previous output was never removed: {leftovers(out)}"
        time.sleep(0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# --- several processes writing one output --------------------------------------------------------


def render_in_parallel(fleet: Path | str, out: Path, setup: str = "") -> tuple[str, int]:
    """Render with three processes in a fresh interpreter (forking needs a single-threaded process,
    which a test session is not always); what it raised (or "ok") and how many workers it forked.
    `setup` runs first, with `o` the output module and `parent` the render's pid."""
    code = (
        "import os, sys\n"
        "import meshfleet.sinks.layout as layout, meshfleet.sinks.output as o, meshfleet.sinks.render as r\n"
        "from meshfleet.fleet.load import load_plan\n"
        "r._processes = lambda plan: 3\n"
        "parent = os.getpid()\n"
        "forks = []\n"
        "real_fork = os.fork\n"
        "def fork():\n"
        "    pid = real_fork()\n"
        "    forks.append(pid)\n"
        "    return pid\n"
        "os.fork = fork\n"
        f"{setup}\n"
        "try:\n"
        f"    r.render(load_plan({str(fleet)!r}), {str(out)!r})\n"
        "    print('ok')\n"
        "except Exception as e:\n"
        "    print(f'{type(e).__name__}: {e}')\n"
        "print(len(forks))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    outcome, forks = done.stdout.splitlines()
    return outcome, int(forks)


def test_a_render_by_several_processes_writes_the_same_bytes(
    tmp_path: Path, large_fleet: tuple[Path, dict[str, str]]
) -> None:
    fleet, expected = large_fleet
    assert len(render_module._groups(load_plan(fleet), 3)) == 3
    assert render_in_parallel(fleet, tmp_path / "out") == ("ok", 2)
    assert tree(tmp_path / "out") == expected
    assert leftovers(tmp_path / "out") == []


def test_with_other_threads_the_shares_are_written_in_turn(
    tmp_path: Path, large_fleet: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forking a process with other threads is unsafe; the render then writes every share itself."""
    fleet, expected = large_fleet
    monkeypatch.setattr(render_module, "_processes", lambda plan: 3)
    forked: list[int] = []
    real_fork = os.fork

    def counted_fork() -> int:
        forked.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counted_fork)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        render(load_plan(fleet), tmp_path / "out")
    finally:
        release.set()
        other.join()
    assert forked == []
    assert tree(tmp_path / "out") == expected


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EACCES])
def test_a_worker_s_failure_fails_the_render_and_leaves_the_previous_output(
    previous: tuple[Path, dict[str, str]], error: int
) -> None:
    out, before = previous
    setup = (
        "real_write = o._write\n"
        "def failing_in_workers(dir_fd, name, data, mode):\n"
        "    if os.getpid() != parent:\n"
        f"        raise OSError({error}, os.strerror({error}), name)\n"
        "    real_write(dir_fd, name, data, mode)\n"
        "o._write = failing_in_workers\n"
    )
    outcome, forks = render_in_parallel(ROOT / "fleet/demo-standalone.yaml", out, setup)
    assert forks == 2
    assert re.fullmatch(
        rf"UsageError: cannot write {re.escape(str(out))}/[a-z0-9-]+/[a-z0-9._-]+\.yaml: "
        rf"{os.strerror(error)}; the previous output is untouched",
        outcome,
    ), outcome
    assert tree(out) == before
    assert leftovers(out) == []


def test_a_worker_killed_fails_the_render(previous: tuple[Path, dict[str, str]]) -> None:
    out, before = previous
    setup = (
        "import signal\n"
        "def killed(*args):\n"
        "    if os.getpid() != parent:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "o._write = killed\n"
    )
    outcome, forks = render_in_parallel(ROOT / "fleet/demo-standalone.yaml", out, setup)
    assert forks == 2
    assert (
        outcome == f"UsageError: cannot write {out}: a process writing the output ended by signal 9; "
        "the previous output is untouched"
    )
    assert tree(out) == before
    assert leftovers(out) == []


def test_a_bug_in_a_worker_is_reported_as_a_bug(tmp_path: Path) -> None:
    setup = (
        "real_files = layout.files\n"
        "def broken(*args, **kwargs):\n"
        "    if os.getpid() != parent:\n"
        "        raise KeyError('boom')\n"
        "    return real_files(*args, **kwargs)\n"
        "layout.files = broken\n"
    )
    outcome, forks = render_in_parallel(ROOT / "fleet/demo.yaml", tmp_path / "out", setup)
    assert forks == 2
    assert outcome == "RuntimeError: KeyError: 'boom'"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_killed_parallel_render_stops_its_workers(previous: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """Workers die with the render that forked them, so nothing goes on writing a dead render's stage."""
    out, before = previous
    code = (
        "import os, sys, time\n"
        "import meshfleet.sinks.output as o, meshfleet.sinks.render as r\n"
        "from meshfleet.fleet.load import load_plan\n"
        "r.PARALLEL_FROM = 0\n"
        "r._processes = lambda plan: 2\n"
        "real = o._write\n"
        "parent = os.getpid()\n"
        "def slow(*args):\n"
        "    if os.getpid() != parent:\n"
        f"        open({str(tmp_path / 'worker')!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(0.2)\n"
        "    real(*args)\n"
        "o._write = slow\n"
        f"r.render(load_plan('fleet/demo-standalone.yaml'), {str(out)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    wait_for(lambda: (tmp_path / "worker").exists() and (tmp_path / "worker").read_text(), proc, "a worker wrote")
    worker = int((tmp_path / "worker").read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{worker}").exists() and "Z" not in Path(f"/proc/{worker}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "the worker outlived its render"
        time.sleep(0.01)
    assert tree(out) == before
    render(load_plan(ROOT / "fleet/demo.yaml"), out)
    assert leftovers(out) == []


def test_a_command_s_rerender_leaves_the_new_output_and_then_nothing_beside_it(tmp_path: Path) -> None:
    """The command (a fresh, single-threaded process) removes the previous output in a detached one."""
    out = tmp_path / "out"
    for fleet in ("demo", "demo-standalone"):
        done = subprocess.run(
            [sys.executable, "-m", "meshfleet.cli", "render", f"fleet/{fleet}.yaml", "--out", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert not (out / "control-plane").exists()
    deadline = time.monotonic() + 60
    while leftovers(out):  # a guard against a hang, not a timing check
        assert time.monotonic() < deadline, f"the previous output was never removed: {leftovers(out)}"
        time.sleep(0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_detached_remover_keeps_none_of_the_caller_s_descriptors(tmp_path: Path) -> None:
    keep = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    others = [os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY) for _ in range(3)]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            staging._close_all_but({keep, write_end})

            def is_open(fd: int) -> bool:
                try:
                    os.fstat(fd)
                except OSError:
                    return False
                return True

            os.write(write_end, repr([is_open(keep), *(is_open(fd) for fd in [*others, read_end])]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    report = os.read(read_end, 1 << 16).decode()
    for fd in [keep, *others, read_end]:
        os.close(fd)
    assert report == repr([True, False, False, False, False])


def test_a_cleanup_that_fails_after_claiming_keeps_no_descriptor_and_the_next_render_removes_it(
    previous: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = previous

    def unlistable(parent_fd: int, name: str) -> list[str]:
        raise OSError(errno.EIO, "input/output error")

    def open_fds() -> set[str]:
        return set(os.listdir("/proc/self/fd"))

    before = open_fds()
    with monkeypatch.context() as m:
        m.setattr(staging, "leftovers", unlistable)
        render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)  # the render itself succeeds
    assert open_fds() <= before, "the swapped-out tree's locked descriptor is closed"
    aside = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.meshfleet-")]
    assert len(aside) == 1, aside  # left for the next render
    render(load_plan(ROOT / "fleet/demo-standalone.yaml"), out)
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.meshfleet-")] == []
