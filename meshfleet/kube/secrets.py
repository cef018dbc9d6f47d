"""The kubeconfigs a render writes into FSM `Cluster` objects, only when the user asks.

Why: a rendered tree is usually committed to git, so by default it holds no kubeconfig; each
`Cluster` names where its kubeconfig must come from instead. `render --with-kubeconfigs` is the
explicit opt-in for a tree that goes somewhere safe (a sealed-secrets step, an encrypted bucket).
Contexts are read from the user's kubeconfig files, stack-secret clusters from a file the user
names; every failure names the cluster and the file, never a byte of content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from meshfleet.core.plan import Plan
from meshfleet.errors import InputError
from meshfleet.fleet.model import KubeconfigFromContext
from meshfleet.kube.kubeconfigs import KubeconfigUnavailable, read_context


def _read_map(path: Path) -> dict[str, str]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"cannot read --kubeconfigs-file {path}: {e.strerror or e}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise InputError(f"--kubeconfigs-file {path} is not YAML (its content is not shown)") from None
    if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()):
        raise InputError(f"--kubeconfigs-file {path} must map cluster names to kubeconfig texts")
    return dict(loaded)


def kubeconfigs_for_render(plan: Plan, fleet_file: Path, kubeconfigs_file: Path | None,
                           environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each member kubeconfig the plan's `Cluster` objects need, by cluster name."""
    env = os.environ if environ is None else environ
    given = _read_map(kubeconfigs_file) if kubeconfigs_file is not None else {}
    sources = {c.name: c.kubeconfig for c in plan.clusters}
    out: dict[str, str] = {}
    for _cluster, obj in plan.objects():
        member = obj.kubeconfig_of
        if member is None or member in out:
            continue
        source = sources[member]
        if member in given:
            out[member] = given[member]
        elif isinstance(source, KubeconfigFromContext):
            try:
                out[member] = read_context(source, fleet_file.parent, env)
            except KubeconfigUnavailable as e:
                raise InputError(f"cluster {member}: {e}") from None
        else:
            raise InputError(
                f"cluster {member} takes its kubeconfig from the Pulumi stack secret, which only `pulumi` reads; "
                f"give it in --kubeconfigs-file (a YAML map `{member}: <kubeconfig text>`), or name a context "
                "in the fleet file"
            )
    return out
