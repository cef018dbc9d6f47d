"""Where FSM does something else than the fleet file reads as: refused (errors) or said (warnings).

Why: FSM validates none of this (it registers no webhook for GlobalTrafficPolicy or ServiceImport,
pkg/manager/reconciler/registers.go:243-245), so each of these reads fine in the file and fails
silently at run time. Each rule cites the FSM source it comes from (github.com/flomesh-io/fsm at
f1b55bd8; ../shared/reference/fsm-runtime-semantics.md gathers them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from ipaddress import IPv6Address, ip_address

from meshfleet.core.checks import Checks
from meshfleet.core.meshes.fsm.codes import (
    EXACT_EXPORT_PATH,
    IMPORT_WITHOUT_POLICY,
    IPV6_GATEWAY,
    LOAD_BALANCER_IGNORED,
    NOT_PLAIN_HTTP,
    PATH_PREFIX_KEPT,
    SHARED_GATEWAY,
    TLS_GATEWAY,
    WILDCARD_SERVICE_ACCOUNT,
)
from meshfleet.core.objects import split
from meshfleet.core.resolved import ServiceTopology, regex_literal
from meshfleet.errors import Loc
from meshfleet.fleet.model import Port

PLAIN_HTTP = "http"
FSM_PORT_PREFIXES = ("tcp-server-first", "http", "tcp", "grpc")
"""FSM reads a port's protocol from its appProtocol, else from these name prefixes (`tcp-...`), else
takes it as HTTP (pkg/providers/fsm/client.go:245-258; constants.SupportedProtocolsInMesh)."""
OTHER_PROTOCOL_WORDS = frozenset(
    {
        "https",
        "tls",
        "ssl",
        "grpc",
        "grpcs",
        "h2",
        "h2c",
        "tcp",
        "udp",
        "sctp",
        "wss",
        "mongo",
        "mongodb",
        "mysql",
        "postgres",
        "postgresql",
        "redis",
        "kafka",
        "amqp",
        "mqtt",
        "nats",
        "zookeeper",
        "cassandra",
    }
)
"""Port names that say the service speaks something else than plain HTTP, though FSM reads them as HTTP."""


def port_problem(port: Port) -> str | None:
    """Why `port` does not cross FSM clusters, or None when it is plain HTTP.

    Only plain HTTP crosses: the export path and the plain-HTTP hop to the gateway exist only on the
    sidecar's HTTP path (repo/codebase/modules/outbound-http-load-balancing.js:147-150); a TCP port
    goes through the TCP balancer with mesh mTLS to the gateway (connect-upstream.js:56-57), which the
    pipy ingress does not speak. gRPC is not known to work (HTTP/2 through the ingress, the method path
    behind the export's prefix).
    """
    if port.protocol != "TCP":
        return f"is {port.protocol}, and FSM's gateway (the pipy ingress) carries HTTP only"
    if port.appProtocol is not None:
        if port.appProtocol == PLAIN_HTTP:
            return None
        return (
            f"has appProtocol {port.appProtocol}, which FSM takes as its protocol; only plain HTTP crosses "
            "clusters through FSM's gateway"
        )
    name = port.name or ""
    for prefix in FSM_PORT_PREFIXES:
        if name.startswith(prefix + "-"):
            if prefix == PLAIN_HTTP:
                return None
            return (
                f"is named {name}, which FSM reads as {prefix} (the name's prefix); only plain HTTP crosses "
                "clusters through FSM's gateway"
            )
    word = name.split("-", 1)[0]
    if word in OTHER_PROTOCOL_WORDS:
        return (
            f"is named {name}, so it speaks {word}, but FSM reads it as plain HTTP (no appProtocol, no tcp-/"
            "grpc- prefix) and its sidecars send plain HTTP to it: the service does not answer them"
        )
    return None


def port_loc(svc: ServiceTopology, port: Port) -> Loc:
    """Where `port` is written: the service's ports, or the override that gave them."""
    base: Loc = ("services", svc.ref)
    for i, p in enumerate(svc.spec.ports):
        if p is port:
            return (*base, "ports", i)
    for j, o in enumerate(svc.spec.overrides):
        for i, p in enumerate(o.ports or ()):
            if p is port:
                return (*base, "overrides", j, "ports", i)
    return (*base, "ports")


def check_gateway(checks: Checks, name: str) -> None:
    """An FSM member's gateway: no TLS listener, no IPv6 address."""
    gw = checks.fleet.clusters[name].gateway
    if gw is None:
        return
    loc: Loc = ("clusters", name, "gateway")
    if gw.tls:
        # With an export path the sidecar skips TLS to the gateway (connect-upstream.js:56: `__isEgress`
        # is set where the path is added, outbound-http-load-balancing.js:147-149).
        checks.problem(
            (*loc, "tls"),
            f"the gateway of {name} is a TLS listener, and FSM's sidecars reach an "
            "export's gateway in plain HTTP: no call from another cluster gets through",
            "point gateway.port at the pipy ingress's plain-HTTP port (Helm fsm.fsmIngress.http.port, default 80)",
            TLS_GATEWAY,
        )
    for key, value in (("host", gw.host), ("ip", gw.ip)):
        addr = _ip(value)
        if isinstance(addr, IPv6Address):
            plain = addr.ipv4_mapped
            fix = f"write it as the IPv4 address {plain}" if plain is not None else "give the gateway an IPv4 address"
            # repo/policy.go:29,920-939: endpoints are keyed `address:port`, and an address that already
            # ends in `:<digits>` is taken as carrying its port.
            checks.problem(
                (*loc, key),
                f"gateway {key} {value} is IPv6: FSM's sidecars key a remote endpoint as "
                "address:port and misread an IPv6 address as one, so calls go to the wrong port",
                fix,
                IPV6_GATEWAY,
            )


def _ip(value: str | None) -> object:
    if value is None:
        return None
    try:
        return ip_address(value)
    except ValueError:
        return None


def check_export(checks: Checks, svc: ServiceTopology, exporter: str) -> None:
    """One FSM exporter's export: plain-HTTP ports, a path FSM can match, settings FSM applies."""
    settings = svc.exports[exporter]
    for rule in settings.rules:
        why = port_problem(rule.port)
        if why is not None:
            checks.problem(
                port_loc(svc, rule.port),
                f"port {rule.port.port} of {svc.ref} {why}",
                "export only plain-HTTP ports (export.ports); a port that serves plain HTTP takes "
                "appProtocol: http or a name starting with http",
                NOT_PLAIN_HTTP,
            )
    if any(r.path_type == "Exact" for r in settings.rules):
        # The consumer's sidecar puts the export path in front of the request path
        # (outbound-http-load-balancing.js:147-149): `/` becomes `<path>/`, never `<path>` exactly.
        checks.problem(
            settings.path_type_loc,
            f"{svc.ref} is exported with pathType Exact, but FSM's sidecars "
            "put the export path in front of the request's path, so no call from another cluster "
            "matches it",
            "use pathType: Prefix (the default)",
            EXACT_EXPORT_PATH,
        )
    if settings.load_balancer is not None:
        # The CRD's values (RoundRobinLoadBalancer...) are not what the pipy ingress reads (round-robin...):
        # pkg/apis/shared_types.go:31-40 vs pkg/ingress/providers/pipy/cache/ingress.go:457-470.
        checks.problem(
            settings.load_balancer_loc,
            f"FSM's pipy ingress does not read loadBalancer "
            f"{settings.load_balancer} (it expects round-robin, hashing or least-work) and balances "
            f"{svc.ref} round-robin",
            "remove loadBalancer; acknowledge load-balancer-ignored to keep it for a later FSM that reads it",
            LOAD_BALANCER_IGNORED,
        )
    rewrite = settings.path_rewrite
    if rewrite is not None:
        # The pipy ingress replaces the first match of `from` (plugins/router.js:30,53:
        # `path.replace(new RegExp(from), to)`); the fleet's regexes read alike in Python and JavaScript.
        missed = [r.path for r in settings.rules if re.search(rewrite.from_, r.path + "/") is None]
        if missed:
            checks.problem(
                settings.path_rewrite_loc,
                f"pathRewrite.from {rewrite.from_} does not match the export "
                f"path {missed[0]} of {svc.ref} in {exporter}: the backend receives every call from "
                "another cluster under that path",
                f'make pathRewrite.from match the path, e.g. "{strip_rewrite(missed[0])}"',
                PATH_PREFIX_KEPT,
            )
    elif settings.rules:
        # The sidecar puts the path in front (outbound-http-load-balancing.js:147-149) and the pipy
        # ingress forwards it as it is unless the export's rewrite annotations say otherwise.
        template = settings.path_template or settings.rules[0].path
        checks.problem(
            settings.path_loc,
            f"the backend of {svc.ref} receives every call from another cluster "
            f"under the export path ({template}/...): FSM strips it only with pathRewrite",
            f'add export.pathRewrite: {{from: "{strip_rewrite(template)}", to: /}}, or '
            "acknowledge path-prefix-kept where the backend serves under that path",
            PATH_PREFIX_KEPT,
        )


def strip_rewrite(template: str) -> str:
    """The pathRewrite.from that strips an export path (its placeholders kept for meshfleet to expand)."""
    out, i = "^", 0
    while i < len(template):
        end = template.find("}", i) if template[i] == "{" else -1
        if end > i:
            # {port} has no single value in a rewrite that serves every port: match any number.
            out += "[0-9]+" if template[i : end + 1] == "{port}" else template[i : end + 1]
            i = end + 1
        else:
            out += regex_literal(template[i])
            i += 1
    return out.rstrip("/") + "/?"


def check_shared_gateways(checks: Checks, svc: ServiceTopology, exporters: Sequence[str]) -> None:
    """Exporters of one service behind one gateway address and port collapse into one endpoint
    (pkg/multicluster/service_import.go:219-222; repo/policy.go:920-939 keys endpoints by address:port)."""
    seen: dict[tuple[str, int], str] = {}
    for e in exporters:
        gw = checks.fleet.clusters[e].gateway
        if gw is None:
            continue
        address = (gw.ip or gw.host, gw.port)
        other = seen.setdefault(address, e)
        if other != e:
            checks.problem(
                ("services", svc.ref, "export", "clusters"),
                f"{other} and {e} export {svc.ref} behind the same gateway {address[0]}:{address[1]}: "
                f"FSM's sidecars keep one endpoint per address, so one of them gets no calls",
                f"give {e} its own gateway address or port (clusters.{e}.gateway)",
                SHARED_GATEWAY,
            )


def check_idle_imports(checks: Checks, svc: ServiceTopology, consumers: Sequence[str]) -> None:
    """Consumers that import `svc`, have no copy of it, and no policy: their calls fail.

    Without a GlobalTrafficPolicy FSM applies Locality, which ignores imports entirely
    (pkg/multicluster/traffic_policy.go:19-25; service_import.go:21,90,185).
    """
    idle = [c for c in consumers if c not in svc.policies and not svc.runs_in(c)]
    if not idle:
        return
    where = ("services", svc.ref, "import") if svc.spec.import_ is not None else ("services", svc.ref, "export")
    who = ", ".join(idle)
    checks.problem(
        where,
        f"{who} import{'s' if len(idle) == 1 else ''} {svc.ref} but no trafficPolicy applies "
        f"there: FSM's default (Locality) routes nothing across clusters, and {who} "
        f"{'has' if len(idle) == 1 else 'have'} no copy of {svc.ref}, so calls to it fail",
        f"add trafficPolicy (FailOver or ActiveActive) for {who}, or acknowledge import-without-policy "
        "where nothing there calls it",
        IMPORT_WITHOUT_POLICY,
    )


def check_wildcard_accounts(checks: Checks, services: Mapping[str, ServiceTopology], fsm_clusters: set[str]) -> None:
    """An import whose service account is `*` matches any destination account of its namespace
    (pkg/providers/fsm/client.go:96-97,126-129): a grant written for another service opens it too."""
    for ref, svc in services.items():
        wildcard = any(s.service_account == "*" for s in svc.exports.values())
        importers = [c for c in svc.importers if c in fsm_clusters]
        if not wildcard or not importers:
            continue
        opened: dict[str, list[str]] = {}
        for rule_name, rule in sorted(checks.fleet.access.items()):
            other = services.get(rule.to)
            if other is None or rule.to == ref or split(rule.to)[0] != svc.namespace:
                continue
            where = (
                set(checks.select(rule.in_, ("access", rule_name, "in"), "hold access rules"))
                if rule.in_ is not None
                else set(other.exporters) | set(other.importers) | set(other.spec.localServiceAccounts)
            )
            for c in importers:
                if c in where:
                    opened.setdefault(c, []).append(rule_name)
        if not opened:
            continue
        places = "; ".join(f"in {c}: {', '.join(rules)}" for c, rules in sorted(opened.items()))
        checks.problem(
            ("services", ref, "serviceAccount"),
            f'{ref} is exported with service account "*", and FSM\'s import of it matches any '
            f"destination account of namespace {svc.namespace}: the grants of access rules meant for "
            f"other services ({places}) let their callers reach {ref} too",
            f"set services.{ref}.serviceAccount to the account its pods run as",
            WILDCARD_SERVICE_ACCOUNT,
        )
