"""No kubeconfig byte in what the program logs or prints, on success or on failure.

Pulumi's mock engine hands every `pulumi.log` message to Python logging; the real engine shows the
same messages in `pulumi up`. Both sources of kubeconfigs are run, and a failing run too.
"""

from __future__ import annotations

import logging

import pytest

from components import StackConfigError
from tests.components.conftest import MARKER, OTHER_MARKER, StackRunner, demo_text, fake_kubeconfig


@pytest.mark.parametrize("source", ["stack-secret", "context"])
def test_a_run_logs_and_prints_no_kubeconfig(
    source: str, stack: StackRunner, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    run = stack(demo_text(), source=source)
    assert run.registrations, "the program registered nothing, so nothing was checked"
    out, err = capfd.readouterr()
    for text in (caplog.text, out, err, repr(run.outputs)):
        assert MARKER not in text and OTHER_MARKER not in text


def test_a_failing_run_logs_no_kubeconfig(
    stack: StackRunner, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    kubeconfigs = {c: fake_kubeconfig(c) for c in ("control-plane", "cluster-1", "cluster-2")}
    with pytest.raises(StackConfigError) as failure:
        stack(demo_text(), kubeconfigs=kubeconfigs)
    out, err = capfd.readouterr()
    for text in (
        caplog.text,
        out,
        err,
        str(failure.value),
        repr(failure.value.__cause__),
        repr(failure.value.__context__),
    ):
        assert MARKER not in text
