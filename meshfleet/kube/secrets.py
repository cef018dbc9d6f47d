"""The kubeconfigs that go into FSM `Cluster` objects and Istio remote secrets, only when the user asks.

Why: a rendered tree is usually committed to git, so by default it holds no kubeconfig; each
`Cluster` names where its kubeconfig must come from instead. `render --with-kubeconfigs` is the
explicit opt-in for a tree that goes somewhere safe (a sealed-secrets step, an encrypted bucket), and
`meshfleet kubeconfig-secret` prints the Secret Flux substitutes them from. Contexts are read from
the user's kubeconfig files, stack-secret clusters from a file the user names; every failure names
the cluster and the file, never a byte of content.

A text given in `--kubeconfigs-file` is cut to one context as the program cuts a stack secret
(`kubecontext.one_context`): the context the fleet names, else the text's only one. A kubeconfig in a
`Cluster` is used from inside fsm-controller on the control-plane cluster (in a remote secret, from
inside another cluster's istiod): what such a controller cannot use (`remote.remote_use_problems`) is
refused here rather than failing later, in its log.
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
from meshfleet.kube.kubecontext import ContextError, one_context
from meshfleet.kube.remote import remote_use_problems


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


def kubeconfigs_for_render(
    plan: Plan, fleet_file: Path, kubeconfigs_file: Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
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
            where = f"the --kubeconfigs-file {kubeconfigs_file} entry {member}"
            wanted = source.context if isinstance(source, KubeconfigFromContext) else None
            try:
                out[member] = one_context(given[member], cluster=member, source=where, wanted=wanted)
            except ContextError as e:
                raise InputError(str(e)) from None
        elif isinstance(source, KubeconfigFromContext):
            try:
                out[member], where = read_context(source, fleet_file.parent, env), f"context {source.context}"
            except KubeconfigUnavailable as e:
                raise InputError(f"cluster {member}: {e}") from None
        else:
            raise InputError(
                f"cluster {member} takes its kubeconfig from the Pulumi stack secret, which only `pulumi` reads; "
                f"give it in --kubeconfigs-file (a YAML map `{member}: <kubeconfig text>`), or name a context "
                "in the fleet file"
            )
        problems = remote_use_problems(out[member])
        if problems:
            raise InputError(
                f"cluster {member}: the kubeconfig from {where} cannot work from inside another "
                "cluster (the mesh's controller: fsm-controller, istiod): " + "; ".join(problems)
            )
    return out
