"""Kubernetes naming rules, checked before anything is planned.

Why: a name that the API server would refuse (or that would escape the output directory when it
becomes a file name) must be caught with the line it is written on, not at `pulumi up`. Every
pattern must match the whole value (`fullmatch`): `$` alone also matches before a final line break,
and a name `"c1\n"` would pass.
"""

from __future__ import annotations

import re
import warnings

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def shown(value: str) -> str:
    """A name as a message may quote it: short, escaped, and its first odd character named."""
    text = repr(value) if len(value) <= 80 else repr(value[:77]) + "..."
    odd = next((c for c in value if not c.isascii() or not c.isprintable()), None)
    if odd is not None:
        kind = "non-ASCII" if not odd.isascii() else "control"
        text += f" (it contains the {kind} character U+{ord(odd):04X} at position {value.index(odd) + 1})"
    return text


def dns_label(value: str, what: str = "name") -> str:
    """RFC 1123 label: namespaces, cluster names, object names we derive file names from."""
    if len(value) > 63:
        raise ValueError(f"{what} {shown(value)} is {len(value)} characters long; Kubernetes allows 63")
    if not _LABEL.fullmatch(value):
        raise ValueError(
            f"{what} {shown(value)} is not a DNS-1123 label: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def dns1035_label(value: str, what: str = "name") -> str:
    """RFC 1035 label: Service names (they must start with a letter)."""
    dns_label(value, what)
    if not _DNS1035.fullmatch(value):
        raise ValueError(f"{what} {shown(value)} must start with a letter (a Service name is a DNS-1035 label)")
    return value


def dns_subdomain(value: str, what: str = "name") -> str:
    if len(value) > 253 or not _SUBDOMAIN.fullmatch(value):
        raise ValueError(
            f"{what} {shown(value)} is not a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', "
            "at most 253 characters"
        )
    return value


def qualified_name(value: str, what: str) -> str:
    """Kubernetes' qualified name: an optional DNS-subdomain prefix and `/`, then a name of at most
    63 letters, digits, `-`, `_` and `.` (label keys, a Service port's appProtocol)."""
    prefix, _, name = value.rpartition("/")
    if prefix:
        dns_subdomain(prefix, f"{what} prefix")
    if len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        raise ValueError(
            f"{what} {shown(value)} is not a valid Kubernetes {what}: at most 63 letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit, after an optional "
            "'prefix/'"
        )
    return value


def label_key(value: str) -> str:
    return qualified_name(value, "label key")


def label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise ValueError(f"label value {shown(value)} is not a valid Kubernetes label value")
    return value


_HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def http_header_name(value: str) -> str:
    """An HTTP header field name (RFC 9110 token), as an access rule's header match names it."""
    if not _HTTP_TOKEN.fullmatch(value):
        raise ValueError(
            f"header name {shown(value)} is not an HTTP header name (letters, digits and "
            "!#$%&'*+.^_`|~-, no spaces or ':')"
        )
    return value


# Ingress paths: Kubernetes refuses these in a Prefix or Exact path (networking/validation), and a
# path is made of RFC 3986 path characters; pipy's ingress matches the same text.
_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_PATH_SUFFIXES = ("/..", "/.")
_PATH_CHARS = re.compile(r"(?:[A-Za-z0-9/\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*")


def ingress_path(value: str, shown: str | None = None) -> str:
    """An Ingress path Kubernetes and FSM's pipy ingress accept; `shown` is what the user wrote."""
    text = repr(shown if shown is not None else value)
    for seq in _PATH_SEQUENCES:
        if seq in value:
            raise ValueError(f"path {text} contains {seq!r}, which Kubernetes refuses in an Ingress path")
    for suffix in _PATH_SUFFIXES:
        if value.endswith(suffix):
            raise ValueError(f"path {text} ends in {suffix!r}, which Kubernetes refuses in an Ingress path")
    if not _PATH_CHARS.fullmatch(value):
        odd = next((c for c in value if c in "{}" or not _PATH_CHARS.fullmatch(c)), "%")
        what = (
            "a brace left after the placeholders are filled in (write {cluster}, not {{cluster}})"
            if odd in "{}"
            else f"{odd!r}, which is not a URL path character (escape it as %{ord(odd):02X})"
            if odd != "%" and odd.isascii()
            else "a '%' that is not followed by two hexadecimal digits"
            if odd == "%"
            else f"the non-ASCII character U+{ord(odd):04X} (percent-encode it)"
        )
        raise ValueError(f"path {text} contains {what}")
    return value


REPEAT_MAX = 1000
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")
REGEX_MAX = 1024
"""Longest regular expression accepted; an access rule's pattern is a path or a header value."""
_LOOKAROUND = {
    "=": "a look-ahead",
    "!": "a negative look-ahead",
    "<=": "a look-behind",
    "<!": "a negative look-behind",
    ">": "an atomic group",
    "(": "a conditional group",
    "P": "a Python-style named group or backreference",
    "<": "a named group",
}


def regex(value: str, what: str) -> str:
    """A regular expression in the subset Python's re, Go's RE2 and JavaScript (pipy) all read alike.

    FSM hands access-rule patterns and rewrites to its proxies, which compile them in their own
    dialect; a pattern one of them refuses or reads differently fails at run time, far from its line.
    """
    if len(value) > REGEX_MAX:
        raise ValueError(f"{what} is {len(value):,} characters long; a pattern may have at most {REGEX_MAX:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            re.compile(value)
    except FutureWarning:
        raise ValueError(
            f"{what} {shown(value)} has a '[' or a set operator ('--', '&&', '~~', '||') inside "
            "brackets, which the dialects read differently; escape it"
        ) from None
    except re.error as e:
        raise ValueError(
            f"{what} {shown(value)} is not a valid regular expression: {e.msg} at position {(e.pos or 0) + 1}"
        ) from None
    for m in _REPEAT.finditer(value):
        if any(int(n) > REPEAT_MAX for n in m.groups() if n):
            raise ValueError(
                f"{what} {shown(value)} repeats {m.group()}; RE2 refuses repetition counts over {REPEAT_MAX:,}"
            )
    construct = _unportable(value)
    if construct is not None:
        raise ValueError(
            f"{what} {shown(value)} uses {construct}, which Go's RE2 or JavaScript (the mesh's "
            "proxies) do not read the way Python does; use plain groups, classes and repetition"
        )
    return value


def _unportable(pattern: str) -> str | None:
    """The first construct of `pattern` outside the common subset of Python, RE2 and JavaScript."""
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        nxt = pattern[i + 1] if i + 1 < n else ""
        if c == "\\":
            if nxt in "123456789" and not in_class:
                return "a backreference"
            if nxt in "AZzGgkpPNx" and nxt != "x":
                return f"the escape \\{nxt}"
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[" and nxt == ":":
                return "a POSIX class inside brackets"
            i += 1
            continue
        if c == "[":
            in_class = True
            i += 1
            if pattern[i : i + 1] == "^":
                i += 1
            if pattern[i : i + 1] == "]":
                i += 1  # a leading ']' is a literal
            continue
        if c == "(" and nxt == "?":
            rest = pattern[i + 2 : i + 4]
            if rest[:1] == ":":
                i += 3
                continue
            for start, name in _LOOKAROUND.items():
                if rest.startswith(start):
                    return name
            return "an inline flag group"
        if c in "*+?}" and nxt == "+":
            return "a possessive quantifier"
        i += 1
    return None
