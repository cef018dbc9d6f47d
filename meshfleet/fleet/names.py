"""Kubernetes naming rules, checked before anything is planned.

Why: a name that the API server would refuse (or that would escape the output directory when it
becomes a file name) must be caught with the line it is written on, not at `pulumi up`.
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _shown(value: str) -> str:
    text = repr(value) if len(value) <= 80 else repr(value[:77]) + "..."
    odd = next((c for c in value if not c.isascii()), None)
    if odd is not None:
        text += f" (it contains the non-ASCII character U+{ord(odd):04X} at position {value.index(odd) + 1})"
    return text


def dns_label(value: str, what: str = "name") -> str:
    """RFC 1123 label: namespaces, cluster names, object names we derive file names from."""
    if len(value) > 63:
        raise ValueError(f"{what} {_shown(value)} is {len(value)} characters long; Kubernetes allows 63")
    if not _LABEL.match(value):
        raise ValueError(
            f"{what} {_shown(value)} is not a DNS-1123 label: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def dns1035_label(value: str, what: str = "name") -> str:
    """RFC 1035 label: Service names (they must start with a letter)."""
    dns_label(value, what)
    if not _DNS1035.match(value):
        raise ValueError(f"{what} {_shown(value)} must start with a letter (a Service name is a DNS-1035 label)")
    return value


def dns_subdomain(value: str, what: str = "name") -> str:
    if len(value) > 253 or not _SUBDOMAIN.match(value):
        raise ValueError(
            f"{what} {_shown(value)} is not a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', "
            "at most 253 characters"
        )
    return value


def label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if prefix:
        dns_subdomain(prefix, "label prefix")
    if len(name) > 63 or not _LABEL_KEY_NAME.match(name):
        raise ValueError(f"label key {_shown(value)} is not a valid Kubernetes label key")
    return value


def label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ValueError(f"label value {_shown(value)} is not a valid Kubernetes label value")
    return value
