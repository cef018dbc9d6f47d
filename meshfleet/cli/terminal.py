"""What meshfleet shows on a terminal: colour and progress, and nothing of either elsewhere.

Why: on 100 clusters a render or a diff takes many seconds, and a silent terminal looks hung; yet
pipes, files and CI logs must get plain, deterministic bytes. Colour follows `--color` and
NO_COLOR (https://no-color.org); progress goes to standard error, only when it is a terminal.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36", "bold-red": "1;31"}


def wants_color(choice: str, stream: TextIO) -> bool:
    """Colour for `stream`: `always` and `never` win; `auto` means a terminal, no NO_COLOR, not TERM=dumb."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return isatty(stream)


def isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Style:
    """ANSI colour when enabled, the text unchanged otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, style: str, text: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{_CODES[style]}m{text}\x1b[0m"


# Line patterns of the text outputs, each with the style of its marker (the rest stays plain).
_DIFF_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(RISKS \(\d+\):)"), "bold-red"),
    (re.compile(r"^(  ! )"), "red"),
    (re.compile(r"^(SERVICES:|CLUSTERS:|ACCESS:)"), "bold"),
    (re.compile(r"^(\s+\+ )"), "green"),
    (re.compile(r"^(\s+- )"), "red"),
    (re.compile(r"^(\s+~ )"), "yellow"),
    (re.compile(r"^(\s+> )"), "cyan"),
]
_PLAN_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(\S.*)$"), "bold"),
    (re.compile(r"^  (apply  )"), "green"),
    (re.compile(r"^  (predict)"), "dim"),
]
_PROBLEM_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(\S+:\d+:\d+:)"), "bold"),
    (re.compile(r"^(\d+ problems? in the fleet:)"), "bold-red"),
    (re.compile(r"^(    fix:)"), "green"),
]


def _paint(text: str, style: Style, rules: list[tuple[re.Pattern[str], str]]) -> str:
    if not style.enabled:
        return text
    out = []
    for line in text.split("\n"):
        for pattern, name in rules:
            m = pattern.match(line)
            if m:
                line = line[: m.start(1)] + style(name, m.group(1)) + line[m.end(1) :]
                break
        out.append(line)
    return "\n".join(out)


def paint_diff(text: str, style: Style) -> str:
    """Risks in red, + green, - red, ~ yellow, > (role changes) cyan."""
    return _paint(text, style, _DIFF_LINES)


def paint_plan(text: str, style: Style) -> str:
    return _paint(text, style, _PLAN_LINES)


def paint_problems(text: str, style: Style) -> str:
    return _paint(text, style, _PROBLEM_LINES)


_SPINNER = "|/-\\"


class Progress:
    """One line on standard error naming the current step and its elapsed time, redrawn in place.

    Disabled (every call does nothing) unless standard error is a terminal and --quiet is off.
    Use as a context manager: the line is erased before the command prints its result.
    """

    interval = 0.2

    def __init__(self, stream: TextIO, enabled: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.enabled = enabled
        self._clock = clock
        self._text = ""
        self._started = 0.0
        self._tick = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_terminal(cls, stream: TextIO, quiet: bool) -> Progress:
        return cls(stream, enabled=not quiet and isatty(stream) and os.environ.get("TERM") != "dumb")

    def step(self, text: str) -> None:
        """Start a step: `reading fleet/prod.yaml`, `planning 100 clusters`..."""
        if not self.enabled:
            return
        with self._lock:
            self._text = text
            self._started = self._clock()
            self._draw()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="meshfleet-progress", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._text:
                    self._draw()

    def _draw(self) -> None:
        self._tick += 1
        elapsed = self._clock() - self._started
        spin = _SPINNER[self._tick % len(_SPINNER)]
        try:
            self.stream.write(f"\r\x1b[K{spin} {self._text} ({elapsed:.1f}s)")
            self.stream.flush()
        except (OSError, ValueError):
            self._stop.set()

    def clear(self) -> None:
        """Erase the line until the next step, so that a message can be printed on the terminal."""
        if not self.enabled:
            return
        with self._lock:
            if self._text:
                self._text = ""
                try:
                    self.stream.write("\r\x1b[K")
                    self.stream.flush()
                except (OSError, ValueError):
                    self._stop.set()

    def done(self) -> None:
        """Stop and erase the line."""
        if not self.enabled:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.clear()
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.done()
