"""The Pulumi pair of the bench measures registrations only: the program's run and the floor's run hand
Pulumi the same kind of thing to wait for. Nothing here is timed."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pulumi_kubernetes as k8s

from bench import registration


class Probe:
    """An awaitable that records whether anything awaited it."""

    def __init__(self) -> None:
        self.awaited = False

    def __await__(self) -> Generator[Any, None, None]:
        self.awaited = True
        return
        yield  # a generator: awaiting it finishes at once


def test_what_a_measured_body_returns_is_never_lifted_into_outputs() -> None:
    """The language host drops what a program returns; `pulumi.runtime.test` lifts it deeply into Outputs
    and awaits them. For the program, runpy returns `__main__`'s globals: the stack outputs and the
    builtins became thousands of Outputs that `pulumi up` never makes, counted as registration time."""
    mocks = registration._start({}, [])
    probe = Probe()
    registration._run(lambda: {"globals": [probe]})
    assert probe.awaited is False
    assert sum(mocks.types.values()) == 0 and mocks.reads == 0


def test_a_measured_body_runs_and_its_registrations_finish() -> None:
    mocks = registration._start({}, [])
    registration._run(lambda: k8s.Provider("p", kubeconfig="{}"))
    assert mocks.types == {"pulumi:providers:kubernetes": 1}
