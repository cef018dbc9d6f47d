"""Plan -> per-cluster manifest directories for kubectl, Argo CD or Flux.

Why: many teams apply with a GitOps engine rather than Pulumi, and the same plan must reach them
byte for byte. The renderer writes `DIR/<cluster>/`, one file per object and a kustomization listing
the applied ones (`layout`), plus any hand-off files, through the one atomic writer (`output`).
A large plan is written by as many processes as there are cores (up to four), each taking whole
clusters: creating tens of thousands of files is mostly the kernel's work, which parallelises.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from meshfleet.core.plan import ClusterPlan, Plan
from meshfleet.sinks import layout, output

PARALLEL_FROM = 4000
"""Objects from which a render writes with more than one process (below, a fork costs more than it saves)."""
MAX_PROCESSES = 4


def render(
    plan: Plan,
    out: str | Path,
    *,
    kubeconfigs: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
    rewrite: layout.Rewrite | None = None,
    detach_cleanup: bool = False,
) -> list[str]:
    """Write the plan (and `extra` files, e.g. the GitOps hand-off) to `out` atomically; returns the
    cluster directories written. `rewrite` is a GitOps engine's way to fill kubeconfig fields.

    Files holding kubeconfigs (`kubeconfigs` given) are 0600 in 0700 directories. `detach_cleanup`
    leaves removing the previous output to a detached process (for a command that exits next).
    """
    groups = _groups(plan, _processes(plan))
    files = itertools.chain(layout.files(plan, kubeconfigs, rewrite, clusters=groups[0]), _items(extra))
    shares = [functools.partial(layout.files, plan, kubeconfigs, rewrite, clusters=g) for g in groups[1:]]
    private = layout.kubeconfig_files(plan) if kubeconfigs is not None else frozenset()
    with _collector_paused():
        output.replace_dir(out, files, private=private, detach_cleanup=detach_cleanup, shares=shares)
    return [c.name for c in plan.clusters if c.objects]


def _processes(plan: Plan) -> int:
    if sum(len(c.objects) for c in plan.clusters) < PARALLEL_FROM:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_PROCESSES))


def _groups(plan: Plan, n: int) -> list[list[ClusterPlan]]:
    """The clusters in `n` groups of about equal objects (the largest first, each to the lightest
    group), each group in plan order; the first is never empty unless all are."""
    groups: list[list[ClusterPlan]] = [[] for _ in range(n)]
    loads = [0] * n
    for c in sorted((c for c in plan.clusters if c.objects), key=lambda c: -len(c.objects)):
        i = loads.index(min(loads))
        groups[i].append(c)
        loads[i] += len(c.objects)
    order = {c.name: i for i, c in enumerate(plan.clusters)}
    return [sorted(g, key=lambda c: order[c.name]) for g in groups if g] or [[]]


def _items(extra: Mapping[str, str] | None) -> Iterable[tuple[str, str]]:
    return sorted(extra.items()) if extra else ()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while rendering: a render makes no cycles, and every full
    collection would walk the whole plan again (a tenth of a large render's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
