"""Shared fixtures: the repository root, a CLI runner, the golden-file switch, hypothesis profiles."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent

# Property-test budgets, chosen with `pytest --hypothesis-profile=NAME` (hypothesis' own option):
# "default" for `make test`, "nightly" for a long run. Tests that set max_examples themselves keep it.
settings.register_profile("default", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from the current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@dataclass
class Result:
    code: int
    out: str
    err: str


MEMORY_LIMIT = 1 << 30
"""Address space allowed to one meshfleet run in tests: hostile input must stay within 1 GiB."""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """Run `meshfleet` as a user would: a separate process under a 1 GiB memory limit.

    The timeout only guards against a hang; how long things take is measured by `make bench`.
    """
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "meshfleet.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limit_memory,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli() -> object:
    return run_cli
