"""Each cluster's kubeconfig, as a secret Output, from where the fleet file says it comes from.

Why: a kubeconfig is a credential. It reaches Pulumi in two places only, the cluster's provider
and (for a member of an FSM control plane) its `Cluster` object, and in both it must be a secret
so that state, previews and outputs show ciphertext or `[secret]`. It comes from:

- `from: stack-secret`: `<project>:kubeconfigs.<cluster>`, set with `pulumi config set --secret
  --path`. A key with secret leaves is handed to the program decrypted; only wrapping it in a
  secret Output keeps it secret, so values are only ever read through `get_secret_object`.
- `from: context`: the user's kubeconfig file(s), read at run time and cut down to the one
  context (`kubecontext.reduce_to_context`), so no other cluster's credentials enter the state.

A missing kubeconfig stops the run before anything is registered, naming the cluster and both
ways to provide one, and never quoting any kubeconfig.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from components.settings import StackConfigError
from meshfleet.core.plan import Plan
from meshfleet.fleet.model import KubeconfigFromContext
from meshfleet.kube.kubeconfigs import KubeconfigUnavailable, read_context

CONFIG_KEY = "kubeconfigs"


class KubeconfigError(StackConfigError):
    """A cluster's kubeconfig cannot be found or used; the message holds no kubeconfig content."""


def _both_ways(cluster: str) -> str:
    return (
        "Provide it one of two ways:\n"
        f"  - as a stack secret: pulumi config set --secret --path '{CONFIG_KEY}.{cluster}' < {cluster}.kubeconfig\n"
        f"    (with `kubeconfig: {{from: stack-secret}}` for {cluster} in the fleet file, the default)\n"
        f"  - from a kubeconfig context: `kubeconfig: {{from: context, context: <name>}}` for {cluster} "
        "in the fleet file (read from `file:`, else $KUBECONFIG, else ~/.kube/config)"
    )


class Kubeconfigs:
    """Resolves and caches kubeconfigs; only the clusters a stack touches are ever looked up."""

    def __init__(
        self,
        plan: Plan,
        config: pulumi.Config,
        fleet_dir: Path,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._sources = {c.name: c.kubeconfig for c in plan.clusters}
        self._config = config
        self._fleet_dir = fleet_dir
        self._environ = os.environ if environ is None else environ
        self._stack_names = _stack_secret_names(config)
        self._stack_secret: pulumi.Output[Any] | None = None
        self._resolved: dict[str, pulumi.Output[str]] = {}

    def get(self, cluster: str, needed_for: str) -> pulumi.Output[str]:
        """`cluster`'s kubeconfig text as a secret; `needed_for` only words the error."""
        if cluster not in self._resolved:
            source = self._sources[cluster]
            if isinstance(source, KubeconfigFromContext):
                text = self._from_context(cluster, source, needed_for)
                self._resolved[cluster] = pulumi.Output.secret(text)
            else:
                self._resolved[cluster] = self._from_stack_secret(cluster, needed_for)
        return self._resolved[cluster]

    def _from_stack_secret(self, cluster: str, needed_for: str) -> pulumi.Output[str]:
        full_key = self._config.full_key(CONFIG_KEY)
        if cluster not in self._stack_names:
            raise KubeconfigError(
                f"cluster {cluster} has no kubeconfig (needed for {needed_for}): the fleet file takes it "
                f"from the stack secret {full_key}.{cluster}, which is not set.\n{_both_ways(cluster)}"
            )
        if self._stack_secret is None:
            self._stack_secret = self._config.get_secret_object(CONFIG_KEY)
            assert self._stack_secret is not None  # the names above came from the same key
        return self._stack_secret.apply(lambda kubeconfigs: str(kubeconfigs[cluster]))

    def _from_context(self, cluster: str, source: KubeconfigFromContext, needed_for: str) -> str:
        try:
            return read_context(source, self._fleet_dir, self._environ)
        except KubeconfigUnavailable as e:
            raise KubeconfigError(
                f"cluster {cluster} has no usable kubeconfig (needed for {needed_for}): {e}.\n{_both_ways(cluster)}"
            ) from None


def _stack_secret_names(config: pulumi.Config) -> frozenset[str]:
    """Which clusters have a stack-secret kubeconfig; the values are not kept.

    The names are needed before any resource is registered (to fail with a clear message), and an
    Output cannot be inspected that early, so the key is parsed here for its shape alone.
    """
    full_key = config.full_key(CONFIG_KEY)
    try:
        raw = config.get_object(CONFIG_KEY)
    except pulumi.ConfigTypeError:  # not JSON; its message would quote the value, so it is dropped
        raw = "not JSON"
    if raw is None:
        return frozenset()
    if not isinstance(raw, dict):
        raise KubeconfigError(
            f"{full_key} must map cluster names to kubeconfig texts; "
            f"set one with `pulumi config set --secret --path '{CONFIG_KEY}.<cluster>' < file`"
        )
    if not pulumi.runtime.is_config_secret(full_key):
        raise KubeconfigError(
            f"{full_key} is stored in plain text in the stack file; kubeconfigs are credentials. "
            f"Remove it (`pulumi config rm {CONFIG_KEY}`) and set each one again with "
            f"`pulumi config set --secret --path '{CONFIG_KEY}.<cluster>' < file`"
        )
    bad = sorted(str(k) for k, v in raw.items() if not isinstance(v, str) or not v.strip())
    if bad:
        raise KubeconfigError(
            f"{full_key}: the entries for {', '.join(bad)} are not kubeconfig texts (empty or not a string); "
            f"set each with `pulumi config set --secret --path '{CONFIG_KEY}.<cluster>' < file`"
        )
    return frozenset(str(k) for k in raw)
