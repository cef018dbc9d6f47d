"""The kubeconfigs that go into FSM `Cluster` objects and Istio remote secrets, only when the user asks.

Why: a rendered tree is usually committed to git, so by default it holds no kubeconfig; each
`Cluster` names where its kubeconfig must come from instead. `render --with-kubeconfigs` is the
explicit opt-in for a tree that goes somewhere safe (a sealed-secrets step, an encrypted bucket), and
`meshfleet kubeconfig-secret` prints the Secret Flux substitutes them from. Contexts are read from
the user's kubeconfig files, stack-secret clusters from a file the user names; every failure names
the cluster and the file, never a byte of content.

A kubeconfig in a `Cluster` is used from inside fsm-controller, on the control-plane cluster (in a
remote secret, from inside another cluster's istiod, which refuses the same things): an
`exec` credential plugin (or a legacy auth-provider) is not there to run, a file path is not there to
read, and a loopback or unspecified server address points at the control plane itself. Such a
kubeconfig is refused here rather than failing later, in FSM's log.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


_FILE_FIELDS = {"cluster": ("certificate-authority",),
                "user": ("client-certificate", "client-key", "tokenFile", "username-file")}


def _entry(doc: dict[str, Any], section: str, field: str, name: object) -> dict[str, Any]:
    for e in doc.get(section) or []:
        if isinstance(e, dict) and e.get("name") == name and isinstance(e.get(field), dict):
            return dict(e[field])
    return {}


def _loopback(server: str) -> bool:
    host = urlsplit(server).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return addr.is_loopback or addr.is_unspecified


def remote_use_problems(text: str) -> list[str]:
    """Why a kubeconfig cannot work from inside another cluster (fsm-controller, istiod); empty when it can.

    The reasons name fields, never their values.
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return ["it is not YAML"]
    if not isinstance(doc, dict):
        return ["it is not a kubeconfig (the top level is not a mapping)"]
    current = doc.get("current-context")
    context = _entry(doc, "contexts", "context", current)
    if not context:
        return ["its current-context names no context in it"]
    cluster = _entry(doc, "clusters", "cluster", context.get("cluster"))
    user = _entry(doc, "users", "user", context.get("user"))
    problems = []
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        problems.append("its cluster has no server")
    elif _loopback(server):
        problems.append("its server is a loopback or unspecified address (localhost, 127.0.0.1, 0.0.0.0, ::1), "
                        "which from the mesh's controller is its own cluster; use an address that "
                        "cluster reaches (for k3d: the server container's IP on the shared network)")
    if user.get("exec") is not None:
        problems.append("its user runs an exec credential plugin, which the mesh's controller cannot run; use a token "
                        "or a client certificate (for example a ServiceAccount token)")
    if user.get("auth-provider") is not None:
        problems.append("its user takes credentials from an auth-provider plugin, which the mesh's controller cannot "
                        "run; use a token or a client certificate")
    for field, keys in _FILE_FIELDS.items():
        entry = cluster if field == "cluster" else user
        for key in keys:
            if entry.get(key):
                problems.append(f"its {field} reads the file named in '{key}', which the mesh's controller does not "
                                "have; inline it (kubectl config view --flatten)")
    return problems


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
            out[member], where = given[member], f"--kubeconfigs-file {kubeconfigs_file}"
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
            raise InputError(f"cluster {member}: the kubeconfig from {where} cannot work from inside another "
                             "cluster (the mesh's controller: fsm-controller, istiod): " + "; ".join(problems))
    return out
