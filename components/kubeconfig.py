"""Each cluster's kubeconfig, as a secret Output, cut down to the one context that cluster uses.

Why: a kubeconfig is a credential. It reaches Pulumi in two places only, the cluster's provider
and (for a member of an FSM control plane) its `Cluster` object, and in both it must be a secret
so that state, previews and outputs show ciphertext or `[secret]`. Where it comes from:

1. The stack secret `<project>:kubeconfigs.<cluster>`, when it is set, whatever the fleet file
   says. This is the rule that lets one fleet serve a laptop and CI: the fleet names the
   laptop's contexts (`from: context`), and CI, which has no such contexts, sets stack secrets
   for the same clusters. The text is cut down to one context: the one the fleet names if the
   secret holds it, else the secret's only context; several contexts and no way to choose is an
   error naming the cluster.
2. Otherwise the fleet's source: `from: context` reads the user's kubeconfig file(s) and cuts
   them to that context; `from: stack-secret` (the default) is an error saying how to set one.

A kubeconfig that goes into an FSM `Cluster` object (or an Istio remote secret) is read by the
mesh's controller inside another cluster: what cannot work there (`meshfleet.kube.remote`: a loopback
or unspecified server, an exec or auth-provider plugin, a file on this machine) is an error naming
the cluster. The cutting and these rules are the CLI's too (`render --with-kubeconfigs`).

Values are read decrypted from the config once, processed in memory and only ever leave this
module wrapped in `Output.secret`; no message quotes a byte of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pulumi
import yaml

from components.settings import StackConfigError
from meshfleet.fleet.model import KubeconfigFromContext, KubeconfigFromStackSecret
from meshfleet.kube.kubeconfigs import KubeconfigUnavailable, read_context
from meshfleet.kube.kubecontext import ContextError, one_context
from meshfleet.kube.remote import remote_use_problems

CONFIG_KEY = "kubeconfigs"

Source = KubeconfigFromStackSecret | KubeconfigFromContext


class KubeconfigError(StackConfigError):
    """A cluster's kubeconfig cannot be found or used; the message holds no kubeconfig content."""


def _both_ways(cluster: str) -> str:
    return (
        "Provide it one of two ways:\n"
        f"  - as a stack secret (used whatever the fleet file says): "
        f"pulumi config set --secret --path '{CONFIG_KEY}.{cluster}' < {cluster}.kubeconfig\n"
        f"  - from a kubeconfig context: `kubeconfig: {{from: context, context: <name>}}` for {cluster} "
        "in the fleet file (read from `file:`, else $KUBECONFIG, else ~/.kube/config)"
    )


def placeholder(cluster_id: str) -> str:
    """A kubeconfig that reaches nothing (`.invalid` never resolves, RFC 6761), for a decommissioned
    cluster: its provider reports the cluster unreachable and, with delete-unreachable, drops its
    objects from the state without calling any API server (provider.go:992-997, 2574-2583)."""
    name = "decommissioned"
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": f"https://{cluster_id}.decommissioned.invalid"}}],
            "users": [{"name": name, "user": {}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        },
        sort_keys=False,
    )


class Kubeconfigs:
    """Resolves and caches kubeconfigs; only the clusters a stack touches are ever looked up."""

    def __init__(
        self,
        sources: Mapping[str, Source],
        config: pulumi.Config,
        fleet_dir: Path,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._sources = sources
        self._config = config
        self._fleet_dir = fleet_dir
        self._environ = os.environ if environ is None else environ
        self._stack_secrets = _stack_secrets(config)
        self._texts: dict[str, str] = {}
        self._outputs: dict[str, pulumi.Output[str]] = {}

    def get(self, cluster: str, needed_for: str, *, remote: bool = False) -> pulumi.Output[str]:
        """`cluster`'s kubeconfig as a secret; `remote`: it goes into an object a mesh's controller reads
        in another cluster (an FSM `Cluster`, an Istio remote secret)."""
        text = self.text(cluster, needed_for)
        if remote:
            problems = remote_use_problems(text)
            if problems:
                raise KubeconfigError(
                    f"cluster {cluster}'s kubeconfig goes into {needed_for}, where the mesh's controller reads it "
                    f"from inside that cluster: {'; '.join(problems)}. Give {cluster} a kubeconfig "
                    "with an API server address that cluster can reach and a token or client certificate "
                    f"inline (as the stack secret, which wins over the fleet's context: "
                    f"pulumi config set --secret --path '{CONFIG_KEY}.{cluster}' < file)"
                )
        if cluster not in self._outputs:
            self._outputs[cluster] = pulumi.Output.secret(text)
        return self._outputs[cluster]

    def text(self, cluster: str, needed_for: str) -> str:
        """The plain text, for checks before it is wrapped; never log or return it elsewhere."""
        if cluster not in self._texts:
            self._texts[cluster] = self._resolve(cluster, needed_for)
        return self._texts[cluster]

    def _resolve(self, cluster: str, needed_for: str) -> str:
        source = self._sources[cluster]
        wanted = source.context if isinstance(source, KubeconfigFromContext) else None
        if cluster in self._stack_secrets:
            # Cut to the fleet's context if the secret holds it, else to its only one.
            where = f"the stack secret {self._config.full_key(CONFIG_KEY)}.{cluster}"
            try:
                return one_context(self._stack_secrets[cluster], cluster=cluster, source=where, wanted=wanted)
            except ContextError as e:
                raise KubeconfigError(str(e)) from None
        if isinstance(source, KubeconfigFromContext):
            try:
                return read_context(source, self._fleet_dir, self._environ)
            except KubeconfigUnavailable as e:
                raise KubeconfigError(
                    f"cluster {cluster} has no usable kubeconfig (needed for {needed_for}): {e}, and no stack "
                    f"secret {self._config.full_key(CONFIG_KEY)}.{cluster} is set.\n{_both_ways(cluster)}"
                ) from None
        raise KubeconfigError(
            f"cluster {cluster} has no kubeconfig (needed for {needed_for}): the fleet file takes it from the "
            f"stack secret {self._config.full_key(CONFIG_KEY)}.{cluster}, which is not set.\n{_both_ways(cluster)}"
        )


def _stack_secrets(config: pulumi.Config) -> dict[str, str]:
    """The stack's kubeconfig texts by cluster, checked for shape (never quoted in a message).

    A key with secret leaves reaches the program decrypted and unmarked; these texts are only
    ever handed on wrapped in `Output.secret`.
    """
    full_key = config.full_key(CONFIG_KEY)
    try:
        raw = config.get_object(CONFIG_KEY)
    except pulumi.ConfigTypeError:  # not JSON; its message would quote the value, so it is dropped
        raw = "not JSON"
    if raw is None:
        return {}
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
    return {str(k): str(v) for k, v in raw.items()}
