"""Whether a mesh's controller in another cluster can use a kubeconfig: one set of rules for every sink.

Why: a member's kubeconfig that goes into an FSM `Cluster` object (or an Istio remote secret) is used
from inside another cluster, by fsm-controller (or istiod), not on the machine that wrote it. There an
`exec` credential plugin or a legacy auth-provider is not there to run, a file named in the kubeconfig
is not there to read, and a loopback or unspecified server address (localhost, 127.0.0.0/8, ::1,
0.0.0.0, ::, and their IPv4-mapped IPv6 forms) is that other cluster itself. The Pulumi program and
`render --with-kubeconfigs` / `kubeconfig-secret` refuse such a kubeconfig with these reasons rather
than let it fail later in the controller's log.

Pure: it reads the text it is given. The reasons name the context, the kubeconfig's cluster and user
entries (only when they are plain names) and fields, never a value: not the server, not a path.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import yaml

from meshfleet.kube.kubecontext import shown_name

FILE_FIELDS = {"cluster": ("certificate-authority",), "user": ("client-certificate", "client-key", "tokenFile")}
"""Fields that name a file on the machine that wrote the kubeconfig (kubectl's --flatten inlines the first three)."""
PLUGIN_FIELDS = {"exec": "an exec credential plugin", "auth-provider": "an auth-provider plugin"}
"""User fields that run a program or a plugin of the machine that wrote the kubeconfig."""


def _entry(doc: dict[str, Any], section: str, field: str, name: object) -> dict[str, Any] | None:
    entries = doc.get(section)
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, dict) and e.get("name") == name and isinstance(e.get(field), dict):
            return dict(e[field])
    return None


def is_local_host(host: str) -> bool:
    """`host` (a URL's host, brackets removed) names the machine it is resolved on, or no machine."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def remote_use_problems(text: str) -> list[str]:
    """Why a controller in another cluster could not use this kubeconfig's current context; empty when it can."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return ["it is not YAML"]
    if not isinstance(doc, dict):
        return ["it is not a kubeconfig (the top level is not a mapping)"]
    current = doc.get("current-context")
    context = _entry(doc, "contexts", "context", current)
    if context is None:
        return ["its current-context names no context in it"]
    where = f"context {shown_name(current)}"
    cluster_name, user_name = context.get("cluster"), context.get("user")
    cluster = _entry(doc, "clusters", "cluster", cluster_name)
    if cluster is None:
        return [f"{where} names no cluster entry in it"]
    user = _entry(doc, "users", "user", user_name) or {}
    on_cluster = f"{where}, cluster {shown_name(cluster_name)}"
    on_user = f"{where}, user {shown_name(user_name)}"

    problems = []
    server = cluster.get("server")
    host: str | None = None
    if isinstance(server, str) and server:
        try:
            host = urlsplit(server).hostname
        except ValueError:
            host = None
    if not isinstance(server, str) or not server:
        problems.append(f"{on_cluster}: 'server' is not set")
    elif host is None:
        problems.append(f"{on_cluster}: 'server' is not a URL with a host")
    elif is_local_host(host):
        problems.append(
            f"{on_cluster}: 'server' is a loopback or unspecified address (localhost, 127.0.0.0/8, ::1, "
            "0.0.0.0, ::, or one of these IPv4-mapped), which from the mesh's controller is its own "
            "cluster; use an address that cluster reaches (for k3d: the server container's IP on the "
            "shared network)"
        )
    for key, what in PLUGIN_FIELDS.items():
        if user.get(key) is not None:
            problems.append(
                f"{on_user}: '{key}' runs {what}, which the mesh's controller cannot run; use a token "
                "or a client certificate (for example a ServiceAccount token)"
            )
    for section, keys in FILE_FIELDS.items():
        entry, on = (cluster, on_cluster) if section == "cluster" else (user, on_user)
        for key in keys:
            if entry.get(key):
                what, fix = (
                    ("reads its token from the file", "put the token itself in 'token'")
                    if key == "tokenFile"
                    else ("reads the file", f"inline it as '{key}-data' (kubectl config view --flatten)")
                )
                problems.append(f"{on}: {what} named in '{key}', which the mesh's controller does not have; {fix}")
    return problems
