"""Plan -> per-cluster manifest directories for kubectl, Argo CD or Flux.

Why: many teams apply with a GitOps engine rather than Pulumi, and the same plan must reach them
byte for byte. The renderer writes `DIR/<cluster>/`, one file per object and a kustomization listing
the applied ones (`layout`), plus any hand-off files, through the one atomic writer (`output`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from meshfleet.core.plan import Plan
from meshfleet.sinks import layout, output


def render(plan: Plan, out: str | Path, *, kubeconfigs: Mapping[str, str] | None = None,
           extra: Mapping[str, str] | None = None, rewrite: layout.Rewrite | None = None) -> list[str]:
    """Write the plan (and `extra` files, e.g. the GitOps hand-off) to `out` atomically; returns the
    cluster directories written. `rewrite` is a GitOps engine's way to fill kubeconfig fields."""
    written: list[str] = []

    def tree() -> Iterator[tuple[str, str]]:
        for rel, text in layout.files(plan, kubeconfigs, rewrite):
            cluster = rel.partition("/")[0]
            if not written or written[-1] != cluster:
                written.append(cluster)
            yield rel, text
        yield from _items(extra)

    output.replace_dir(out, tree())
    return written


def _items(extra: Mapping[str, str] | None) -> Iterable[tuple[str, str]]:
    return sorted(extra.items()) if extra else ()
