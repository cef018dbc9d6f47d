"""Plan -> per-cluster manifest directories for kubectl, Argo CD or Flux.

Why: many teams apply with a GitOps engine rather than Pulumi, and the same plan must reach them
byte for byte. The renderer writes `DIR/<cluster>/`, one file per object and a kustomization listing
the applied ones (`layout`), plus any hand-off files, through the one atomic writer (`output`).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from meshfleet.core.plan import Plan
from meshfleet.sinks import layout, output


def render(plan: Plan, out: str | Path, *, kubeconfigs: Mapping[str, str] | None = None,
           extra: Mapping[str, str] | None = None, detach_cleanup: bool = False) -> list[str]:
    """Write the plan (and `extra` files, e.g. the GitOps hand-off) to `out` atomically; returns the
    cluster directories written.

    Files holding kubeconfigs (`kubeconfigs` given) are 0600 in 0700 directories. `detach_cleanup`
    leaves removing the previous output to a detached process (for a command that exits next).
    """
    written: list[str] = []

    def tree() -> Iterator[tuple[str, str]]:
        for rel, text in layout.files(plan, kubeconfigs):
            cluster = rel.partition("/")[0]
            if not written or written[-1] != cluster:
                written.append(cluster)
            yield rel, text
        yield from _items(extra)

    private = layout.kubeconfig_files(plan) if kubeconfigs is not None else frozenset()
    with _collector_paused():
        output.replace_dir(out, tree(), private=private, detach_cleanup=detach_cleanup)
    return written


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


def _items(extra: Mapping[str, str] | None) -> Iterable[tuple[str, str]]:
    return sorted(extra.items()) if extra else ()
