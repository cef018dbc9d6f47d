"""The fleet file's small value types: names, references, paths, ports and weights, and the models' base.

Why: each value is checked where it is written, with a message naming the rule and the fix, and
carries the same rule as a JSON Schema pattern, so that an editor underlines what `validate` refuses.
`Strict` is the base of every model: no extra keys, no type coercion.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

from meshfleet.fleet import names


def _cluster_name(v: str) -> str:
    return names.dns_label(v, "cluster name")


def _namespace(v: str) -> str:
    return names.dns_label(v, "namespace")


def _object_name(v: str) -> str:
    return names.dns_label(v, "name")


def _service_ref(v: str) -> str:
    ns, sep, name = v.partition("/")
    if not sep:
        raise ValueError(f"{v!r} is not 'namespace/name'; write the service as e.g. 'httpbin/httpbin'")
    names.dns_label(ns, "namespace")
    names.dns1035_label(name, "service name")
    return v


def _service_account_ref(v: str) -> str:
    ns, sep, name = v.partition("/")
    if not sep:
        raise ValueError(f"{v!r} is not 'namespace/serviceaccount'; write it as e.g. 'curl/curl'")
    names.dns_label(ns, "namespace")
    names.dns_subdomain(name, "service account name")
    return v


def _service_account(v: str) -> str:
    if v == "*":
        return v
    return names.dns_subdomain(v, "service account name")


def _gateway_host(v: str) -> str:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return names.dns_subdomain(v, "gateway host")
    return _ip(v)


def _ip(v: str) -> str:
    try:
        addr = ipaddress.ip_address(v)
    except ValueError:
        raise ValueError(f"{v!r} is not an IP address") from None
    # An IPv4 address written as IPv6 (::ffff:127.0.0.1) is the IPv4 address to every stack that reaches it.
    plain = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped else addr
    if plain.is_loopback or plain.is_unspecified:
        mapped = f" (the IPv4 address {plain} written as IPv6)" if plain is not addr else ""
        raise ValueError(f"{v!r} is loopback or unspecified{mapped}; other clusters cannot reach it (FSM refuses it)")
    if plain.is_multicast:
        raise ValueError(f"{v!r} is a multicast address; a gateway needs the address of one host")
    return v


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PATH_PLACEHOLDERS = ("cluster", "namespace", "name", "port")


def _path_template(v: str) -> str:
    if not v.startswith("/"):
        raise ValueError(f"path {v!r} must start with '/' (Ingress paths are absolute)")
    for found in _PLACEHOLDER.findall(v):
        if found not in PATH_PLACEHOLDERS:
            allowed = ", ".join("{" + p + "}" for p in PATH_PLACEHOLDERS)
            raise ValueError(f"unknown placeholder {{{found}}} in path {v!r}; use {allowed}")
    # Placeholders become DNS labels and port numbers: check the path as Kubernetes will see it.
    names.ingress_path(_PLACEHOLDER.sub("x", v), shown=v)
    return v


def _weight(v: int) -> int:
    if v > WEIGHT_MAX:
        raise ValueError(
            f"weight {v:,} is over {WEIGHT_MAX:,}: FSM hands weights to pipy's balancer, which reads "
            "them as 32-bit integers"
        )
    return v


WEIGHT_MAX = 2**31 - 1


# The same rules for editors, as JSON Schema patterns (ECMA-262); the validators above stay the
# judges and give the messages. tests/fleet/test_schema.py holds the two to the same answers.
_JS_LABEL = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_JS_DNS1035 = "[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
_JS_SUBDOMAIN = "(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_JS_LABEL_NAME = "(?=.{1,63}$)([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_JS_LABEL_PREFIX = "(?=[^/]{1,253}/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"


def _schema(pattern: str, **extra: Any) -> Any:
    """Schema-only annotation: the pattern and examples an editor shows; validation is unchanged."""
    return Field(json_schema_extra={"pattern": pattern, **extra})


ClusterName = Annotated[str, AfterValidator(_cluster_name), _schema(f"^{_JS_LABEL}$", examples=["eu-west-1"])]
Namespace = Annotated[str, AfterValidator(_namespace), _schema(f"^{_JS_LABEL}$")]
ObjectName = Annotated[str, AfterValidator(_object_name), _schema(f"^{_JS_LABEL}$")]
ServiceRef = Annotated[
    str, AfterValidator(_service_ref), _schema(f"^{_JS_LABEL}/{_JS_DNS1035}$", examples=["httpbin/httpbin"])
]
ServiceAccountRef = Annotated[
    str, AfterValidator(_service_account_ref), _schema(f"^{_JS_LABEL}/{_JS_SUBDOMAIN}$", examples=["curl/curl"])
]
ServiceAccount = Annotated[str, AfterValidator(_service_account), _schema(f"^(\\*|{_JS_SUBDOMAIN})$")]
LabelKey = Annotated[
    str, AfterValidator(names.label_key), _schema(f"^(({_JS_LABEL_PREFIX})?/)?{_JS_LABEL_NAME}$", examples=["region"])
]
LabelValue = Annotated[
    str,
    AfterValidator(names.label_value),
    _schema("^((?=.{1,63}$)([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", examples=["eu"]),
]
PathTemplate = Annotated[
    str,
    AfterValidator(_path_template),
    _schema(
        "^(?![\\s\\S]*(//|/\\./|/\\.\\./|%2[fF]))(?![\\s\\S]*/\\.\\.?$)"
        "/([A-Za-z0-9/\\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2}|\\{(cluster|namespace|name|port)\\})*$",
        examples=["/{cluster}/{name}"],
    ),
]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
Locality = Annotated[str, AfterValidator(lambda v: names.dns_label(v, "region/zone/group")), _schema(f"^{_JS_LABEL}$")]
FindingCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", examples=["failover-unordered"])]
GatewayHost = Annotated[str, AfterValidator(_gateway_host)]
IPAddress = Annotated[str, AfterValidator(_ip)]
Weight = Annotated[int, AfterValidator(_weight)]


def acknowledge_field() -> Any:
    """The `acknowledge:` key of every model that findings are reported at, described once for the schema."""
    return Field(
        default_factory=list,
        description="Warning codes meant here: shown as acknowledged, "
        "they do not fail --strict. A code that matches no warning here is itself a warning.",
    )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)
