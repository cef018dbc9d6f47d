"""Progress and colour appear on a terminal only: a pseudo-terminal stands in for the user's."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys

import pytest

from meshfleet.cli import terminal
from tests.conftest import ROOT, run_cli

DEMO = "fleet/demo.yaml"
STANDALONE = "fleet/demo-standalone.yaml"
ESC = "\x1b["


def run_on_pty(
    *args: str, stdout_tty: bool = False, stderr_tty: bool = True, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run meshfleet with standard error (and optionally output) on a pseudo-terminal."""
    master, slave = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    full_env.update({"TERM": "xterm", **(env or {})})
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshfleet.cli", *args],
        cwd=ROOT,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave if stderr_tty else subprocess.PIPE,
    )
    os.close(slave)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        seen.extend(chunk)
    os.close(master)
    code = proc.wait(timeout=120)
    piped = b""
    if proc.stdout is not None:
        piped = proc.stdout.read()
        proc.stdout.close()
    if proc.stderr is not None:
        piped = proc.stderr.read()
        proc.stderr.close()
    return code, seen.decode(errors="replace"), piped.decode(errors="replace")


@pytest.mark.parametrize(
    ("args", "step"),
    [
        (["plan", "fleet/prod.yaml", "--summary"], "checking and planning fleet/prod.yaml"),
        (["diff", DEMO, STANDALONE], "comparing 4 clusters"),
        (["render", DEMO, "--out", "{out}"], "rendering 4 clusters into "),
    ],
)
def test_progress_is_shown_on_a_terminal_and_erased(args: list[str], step: str, tmp_path: os.PathLike[str]) -> None:
    args = [a.replace("{out}", str(tmp_path)) for a in args]
    code, terminal_text, out = run_on_pty(*args)
    assert code == 0, terminal_text
    assert step in terminal_text and "reading " in terminal_text
    last_draw = max(m.end() for m in re.finditer(r"\(\d+\.\ds\)", terminal_text))
    assert terminal_text[last_draw:].startswith("\r\x1b[K"), "the progress line is erased before anything else"
    assert out and "\r" not in out and ESC not in out, "standard output stays plain"


def test_no_progress_when_standard_error_is_not_a_terminal() -> None:
    result = run_cli("plan", "fleet/prod.yaml", "--summary")
    assert result.code == 0 and "\r" not in result.err and ESC not in result.err
    assert result.err.startswith("4 warnings (4 acknowledged) in the fleet:"), "warnings are reported, not progress"
    assert run_cli("render", "fleet/mixed.yaml", "--cluster", "fsm-eu", "--stdout", "-q").err == ""


def test_quiet_silences_progress_on_a_terminal() -> None:
    code, terminal_text, out = run_on_pty("plan", "fleet/mixed.yaml", "--summary", "--quiet")
    assert code == 0 and terminal_text == "" and out.startswith("fleet/mixed.yaml: 7 clusters")
    code, terminal_text, out = run_on_pty("validate", DEMO, "-q")
    assert code == 0 and terminal_text == "" and out == ""


def test_colour_on_a_terminal_and_not_with_no_color() -> None:
    code, shown, _ = run_on_pty("diff", DEMO, STANDALONE, stdout_tty=True, stderr_tty=False)
    assert code == 0
    # Every member patches its MeshConfig in both fleets: going standalone changes each (its clusterSet).
    assert "\x1b[1;31mRISKS (1):\x1b[0m" in shown and "\x1b[33m    ~ \x1b[0mMeshConfig" in shown
    code, plain, _ = run_on_pty("diff", DEMO, STANDALONE, stdout_tty=True, stderr_tty=False, env={"NO_COLOR": "1"})
    assert code == 0 and ESC not in plain and "RISKS (1):" in plain
    code, never, _ = run_on_pty("diff", DEMO, STANDALONE, "--color", "never", stdout_tty=True, stderr_tty=False)
    assert ESC not in never


def test_color_always_wins_over_no_color_and_pipes() -> None:
    piped = run_cli("diff", DEMO, STANDALONE, "--color", "always", env={"NO_COLOR": "1"})
    assert "\x1b[31m  ! \x1b[0mcontrol-plane-removed" in piped.out
    assert ESC not in run_cli("diff", DEMO, STANDALONE).out
    assert run_cli("--color", "always", "plan", DEMO).out == run_cli("plan", DEMO, "--color", "always").out
    broken = run_cli("validate", "tests/cases/broken/unknown-key.yaml", "--color", "always")
    assert "\x1b[32m    fix:\x1b[0m" in broken.err


def test_colour_only_adds_escapes() -> None:
    plain = run_cli("diff", DEMO, STANDALONE).out
    coloured = run_cli("diff", DEMO, STANDALONE, "--color", "always").out
    assert coloured != plain
    assert terminal_strip(coloured) == plain
    plan_plain, plan_coloured = run_cli("plan", DEMO).out, run_cli("plan", DEMO, "--color", "always").out
    assert terminal_strip(plan_coloured) == plan_plain and plan_coloured != plan_plain


def terminal_strip(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_wants_color_follows_the_flag_no_color_and_term(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert terminal.wants_color("auto", Tty()) and not terminal.wants_color("auto", io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not terminal.wants_color("auto", Tty()) and terminal.wants_color("always", Tty())
    monkeypatch.setenv("NO_COLOR", "")
    assert terminal.wants_color("auto", Tty()), "an empty NO_COLOR does not count (no-color.org)"
    monkeypatch.setenv("TERM", "dumb")
    assert not terminal.wants_color("auto", Tty()) and not terminal.wants_color("never", Tty())


def test_progress_redraws_in_place_and_stops() -> None:
    now = [10.0]
    stream = io.StringIO()
    progress = terminal.Progress(stream, enabled=True, clock=lambda: now[0])
    progress.interval = 3600  # the background redraw never fires in this test
    with progress:
        progress.step("reading fleet/prod.yaml")
        now[0] = 12.5
        progress.step("planning")
    text = stream.getvalue()
    assert text.startswith("\r\x1b[K") and "reading fleet/prod.yaml (0.0s)" in text and "planning (0.0s)" in text
    assert text.endswith("\r\x1b[K") and "\n" not in text
    silent = io.StringIO()
    with terminal.Progress(silent, enabled=False) as off:
        off.step("anything")
    assert silent.getvalue() == ""


def test_progress_steps_aside_for_each_message_and_comes_back() -> None:
    code, shown, _ = run_on_pty("validate", DEMO, "fleet/prod.yaml", stdout_tty=True)
    assert code == 0
    first_ok = shown.index("fleet/demo.yaml: ok")
    assert "reading fleet/prod.yaml" in shown[first_ok:], "progress resumes after a message"
    for line in shown.replace("\r\n", "\n").split("\n"):
        if ": ok (" in line:
            assert line.rsplit("\r\x1b[K", 1)[-1].startswith("fleet/"), "each message starts on a clean line"
    tail = shown[shown.rindex("fleet/prod.yaml: ok") :]
    assert "reading" not in tail and "checking" not in tail, "no progress is left behind"
