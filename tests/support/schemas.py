"""Offline schema validation of rendered Kubernetes objects, for tests.

``validate_object(obj, schema_set="current")`` returns every problem found in one object as a
readable string, ``"<kind> <namespace>/<name>: <field path>: <message>"``; an empty list means
the object is valid as far as can be told without an API server.

* Custom resources are checked against the schema-only CRD copy in ``schemas/crds``
  (made by ``scripts/vendor_schemas.py``), in one *schema set*: ``current`` (the release of
  each project that ``schemas/crds/SOURCES.md`` names) or an older release's set such as
  ``fsm-v1.2``, which has FSM v1.2.9's ``flomesh.io`` kinds and MeshConfig, takes every other
  kind from ``current`` and does not serve ``multicluster.flomesh.io``.  A cluster is validated
  in the set of the releases it runs: ``schema_set_for_fsm("v1.2.9") == "fsm-v1.2"``.
* The structural schema is translated to JSON Schema draft 2020-12:
  ``x-kubernetes-int-or-string`` becomes integer-or-string, ``nullable`` allows ``null``,
  ``x-kubernetes-preserve-unknown-fields`` allows extra fields, ``x-kubernetes-list-type:
  set/map`` entries must be unique, and every other object rejects fields its schema does not
  declare (the API server would silently prune them, which for a generator is a bug).
  ``oneOf``/``anyOf``/``allOf``/``not`` are value checks as in Kubernetes; their usual shape
  (one-of-these-fields) is reported as such.  Formats ``int32``, ``int64``, ``date-time``,
  ``duration``, ``cidr`` and ``byte`` are checked, other formats are not (the API server
  ignores ``idn-hostname``, ``double``...).  ``pattern`` uses Python's ``re``; the few Go RE2
  patterns it cannot read (``\\PC``) are checked by an equivalent function, and an unknown one
  makes translation fail rather than pass unchecked.
* CEL rules (``x-kubernetes-validations``) are NOT evaluated: Istio's "at most one of selector,
  targetRef, targetRefs" or "duration >= 1ms" and the like pass here.  ``cel_rules(...)`` lists
  the rules of a kind, so a test can name the ones it relies on the API server for.
* Built-in kinds (``v1``, ``networking.k8s.io/v1``, ``discovery.k8s.io/v1``, ...) are
  checked against the strict schemas bundled with ``kubernetes-validate`` for the
  requested Kubernetes minor version, collecting all errors, plus the enums for a few
  fields (Ingress ``pathType``, Service ``type``, port ``protocol``, ...) that the API
  server enforces but the bundled schemas do not carry.
* ``metadata`` is checked here for every kind: ``name`` present and a DNS-1123 subdomain
  (DNS-1123 label for Namespaces, DNS-1035 label for Services), ``namespace`` a DNS-1123
  label, present for namespaced kinds and absent for cluster-scoped ones, label and
  annotation keys and values well-formed.

``partial=True`` treats the object as a server-side-apply patch of an existing object:
schema ``required`` lists are ignored (except inside ``oneOf``/``anyOf``/``not``, where they
say which fields exclude each other), everything else (types, enums, unknown fields,
metadata name/namespace) is still checked.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import functools
import ipaddress
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_SCHEMA_DIR = REPO_ROOT / "schemas" / "crds"
DEFAULT_K8S_VERSION = "1.33"
DEFAULT_SCHEMA_SET = "current"
FSM_V1_2_SCHEMA_SET = "fsm-v1.2"

# ----------------------------------------------------------------------------- names

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")

_OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_ANNOTATIONS_MAX_BYTES = 256 * 1024

# Built-in kinds that are not namespaced (everything else built in is).
_CLUSTER_SCOPED_BUILTINS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersionMigration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)

_PROTOCOLS = ["TCP", "UDP", "SCTP"]
# Enums the API server's validation enforces but kubernetes-validate's schemas lack:
# definition name -> property -> allowed values.
_BUILTIN_ENUMS: dict[str, dict[str, list[str]]] = {
    "io.k8s.api.networking.v1.HTTPIngressPath": {"pathType": ["Exact", "Prefix", "ImplementationSpecific"]},
    "io.k8s.api.core.v1.ServiceSpec": {
        "type": ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
        "sessionAffinity": ["ClientIP", "None"],
        "externalTrafficPolicy": ["Cluster", "Local"],
        "internalTrafficPolicy": ["Cluster", "Local"],
        "ipFamilyPolicy": ["SingleStack", "PreferDualStack", "RequireDualStack"],
    },
    "io.k8s.api.core.v1.ServicePort": {"protocol": _PROTOCOLS},
    "io.k8s.api.core.v1.EndpointPort": {"protocol": _PROTOCOLS},
    "io.k8s.api.discovery.v1.EndpointPort": {"protocol": _PROTOCOLS},
    "io.k8s.api.discovery.v1.EndpointSlice": {"addressType": ["IPv4", "IPv6", "FQDN"]},
}

# ----------------------------------------------------------------------------- schema walking

_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"})
_SCHEMA_SINGLE = frozenset(
    {
        "items",
        "additionalProperties",
        "additionalItems",
        "contains",
        "if",
        "then",
        "else",
        "propertyNames",
        "unevaluatedProperties",
        "unevaluatedItems",
    }
)
# Sub-schemas under these keywords are value checks only (structural-schema junctors).
_SCHEMA_JUNCTORS = frozenset({"allOf", "anyOf", "oneOf", "not"})
_LIST_MAP_KEYS = "x-meshfleet-list-map-keys"
_GO_PATTERN = "x-meshfleet-go-pattern"

# Go's unicode.C ("Other") is Cc, Cf, Co and Cs; it does not include unassigned code points (Cn).
_GO_OTHER = frozenset({"Cc", "Cf", "Co", "Cs"})

# Patterns the vendored schemas use that Python's re cannot read (RE2 Unicode classes), as predicates.
_GO_ONLY_PATTERNS: dict[str, Callable[[str], bool]] = {
    r"^\PC*$": lambda text: not any(unicodedata.category(c) in _GO_OTHER for c in text),
}


def _python_can_read(pattern: str) -> bool:
    """Whether ``re`` compiles the pattern to what RE2 means by it (POSIX classes like [[:alpha:]] it misreads)."""
    if "[[:" in pattern:
        return False
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _map_subschemas(node: dict[str, Any], fn: Any, *, junctor_fn: Any = None) -> dict[str, Any]:
    """Copy a schema node, applying ``fn`` to every direct sub-schema.

    ``junctor_fn`` (default ``fn``) is used for sub-schemas under allOf/anyOf/oneOf/not.
    Keyword values that are not schemas (``enum``, ``default``, ...) are kept as they are.
    """
    inner = junctor_fn or fn
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: fn(sub) for name, sub in value.items()}
        elif key in _SCHEMA_SINGLE:
            out[key] = [fn(sub) for sub in value] if isinstance(value, list) else fn(value)
        elif key in _SCHEMA_JUNCTORS:
            out[key] = [inner(sub) for sub in value] if isinstance(value, list) else inner(value)
        elif key == "prefixItems" and isinstance(value, list):
            out[key] = [fn(sub) for sub in value]
        else:
            out[key] = value
    return out


def _is_int_or_string_anyof(value: Any) -> bool:
    if not isinstance(value, list):
        return False
    return sorted(json.dumps(v, sort_keys=True) for v in value) == [
        '{"type": "integer"}',
        '{"type": "string"}',
    ]


def _translate(node: Any, *, partial: bool, in_junctor: bool = False) -> Any:
    """Translate one Kubernetes structural-schema node (and its children) to draft 2020-12."""
    if not isinstance(node, dict):
        return node

    def child(sub: Any) -> Any:
        return _translate(sub, partial=partial, in_junctor=in_junctor)

    def junctor_child(sub: Any) -> Any:
        return _translate(sub, partial=partial, in_junctor=True)

    source = {k: v for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if partial and not in_junctor:
        source.pop("required", None)
    out = _map_subschemas(source, child, junctor_fn=junctor_child)
    pattern = out.get("pattern")
    if isinstance(pattern, str) and not _python_can_read(pattern):
        if pattern not in _GO_ONLY_PATTERNS:
            raise ValueError(
                f"schema pattern {pattern!r} uses Go regular-expression syntax that Python's re does not read "
                "the same way; add an equivalent check to _GO_ONLY_PATTERNS in tests/support/schemas.py"
            )
        out[_GO_PATTERN] = out.pop("pattern")

    if node.get("x-kubernetes-int-or-string"):
        if _is_int_or_string_anyof(out.get("anyOf")):
            del out["anyOf"]
        out["type"] = ["integer", "string"]
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    is_object = out.get("type") == "object" or ("properties" in out and "type" not in out)
    if is_object and not in_junctor and not preserve and "additionalProperties" not in out:
        # Anything not declared would be pruned by the API server.
        out["additionalProperties"] = False
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "set":
        out["uniqueItems"] = True
    elif list_type == "map" and node.get("x-kubernetes-list-map-keys"):
        out[_LIST_MAP_KEYS] = list(node["x-kubernetes-list-map-keys"])
    if node.get("nullable"):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def _drop_required(node: Any) -> Any:
    """Copy of a draft 2020-12 schema without any ``required`` keyword (for partial objects)."""
    if not isinstance(node, dict):
        return node
    return _map_subschemas({k: v for k, v in node.items() if k != "required"}, _drop_required)


# ----------------------------------------------------------------------------- formats

_GO_DURATION = re.compile(r"[-+]?(0|((\d+(\.\d*)?|\.\d+)\s*(ns|us|\u00b5s|\u03bcs|ms|s|m|h|d|w)\s*)+)")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")

FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


def _int_in_range(bits: int) -> Any:
    high: int = (1 << (bits - 1)) - 1
    low: int = -high - 1

    def check(instance: object) -> bool:
        if isinstance(instance, bool) or not isinstance(instance, int):
            return True
        return low <= instance <= high

    return check


FORMAT_CHECKER.checks("int32")(_int_in_range(32))
FORMAT_CHECKER.checks("int64")(_int_in_range(64))


@FORMAT_CHECKER.checks("date-time")
def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _RFC3339.fullmatch(instance):
        return False
    try:
        _dt.datetime.fromisoformat(instance.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("duration")
def _is_duration(instance: object) -> bool:
    return not isinstance(instance, str) or bool(_GO_DURATION.fullmatch(instance))


@FORMAT_CHECKER.checks("cidr")
def _is_cidr(instance: object) -> bool:
    """What Go's net.ParseCIDR accepts: an address, '/', a prefix length (host bits may be set)."""
    if not isinstance(instance, str):
        return True
    address, slash, prefix = instance.partition("/")
    if not slash or not prefix.isdigit() or "%" in address:
        return False
    try:
        ipaddress.ip_network(instance, strict=False)
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("byte")
def _is_base64(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        base64.b64decode(instance, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _list_map_keys(validator: Any, keys: list[str], instance: Any, schema: Any) -> Iterator[Any]:
    if not isinstance(instance, list):
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(instance):
        if not isinstance(item, dict):
            continue
        values = [item.get(key) for key in keys]
        marker = json.dumps(values, sort_keys=True, default=str)
        if marker in seen:
            shown = ", ".join(f"{k}={v!r}" for k, v in zip(keys, values, strict=True))
            yield jsonschema.ValidationError(
                f"duplicate entry ({shown}); already at index {seen[marker]}", path=[index]
            )
        else:
            seen[marker] = index


def _go_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if isinstance(instance, str) and not _GO_ONLY_PATTERNS[pattern](instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# The stubs leave extend() untyped; it returns a validator class, like the one it extends.
_Validator: type[jsonschema.protocols.Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {_LIST_MAP_KEYS: _list_map_keys, _GO_PATTERN: _go_pattern}
)

# ----------------------------------------------------------------------------- CRD schemas


@dataclass(frozen=True)
class CrdSchema:
    """One vendored CRD version: its identity, scope, structural schema and the file that holds it."""

    group: str
    kind: str
    version: str
    scope: str
    schema: dict[str, Any]
    schema_set: str  # the set whose folder holds the file (an older release's set reuses its base's files)
    file: str  # relative to CRD_SCHEMA_DIR

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


@functools.cache
def _set_layout() -> dict[str, dict[str, Any]]:
    layout: dict[str, dict[str, Any]] = json.loads((CRD_SCHEMA_DIR / "sets.json").read_text(encoding="utf-8"))
    return layout


def schema_sets() -> tuple[str, ...]:
    """Names of the vendored schema sets, ``current`` first."""
    names = sorted(_set_layout())
    return tuple(sorted(names, key=lambda name: name != DEFAULT_SCHEMA_SET))


def _check_set(schema_set: str) -> dict[str, Any]:
    layout = _set_layout()
    if schema_set not in layout:
        raise ValueError(f"unknown schema set {schema_set!r} (vendored: {', '.join(schema_sets())})")
    return layout[schema_set]


@functools.cache
def _own_schemas(schema_set: str) -> dict[tuple[str, str], CrdSchema]:
    index: dict[tuple[str, str], CrdSchema] = {}
    for path in sorted((CRD_SCHEMA_DIR / schema_set).glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        crd = CrdSchema(
            group=data["group"],
            kind=data["kind"],
            version=data["version"],
            scope=data["scope"],
            schema=data["schema"],
            schema_set=schema_set,
            file=path.relative_to(CRD_SCHEMA_DIR).as_posix(),
        )
        index[(crd.api_version, crd.kind)] = crd
    return index


@functools.cache
def crd_schemas(schema_set: str = DEFAULT_SCHEMA_SET) -> dict[tuple[str, str], CrdSchema]:
    """Every CRD schema of a set, keyed by (apiVersion, kind). Loaded once.

    An older release's set is its own files plus its base set's, without the groups it hides
    and without every version of a (group, kind) it defines itself.
    """
    layout = _check_set(schema_set)
    own = _own_schemas(schema_set)
    index: dict[tuple[str, str], CrdSchema] = {}
    if layout.get("base"):
        hidden = set(layout.get("hides_groups") or [])
        replaced = {(crd.group, crd.kind) for crd in own.values()}
        for key, crd in crd_schemas(layout["base"]).items():
            if crd.group not in hidden and (crd.group, crd.kind) not in replaced:
                index[key] = crd
    index.update(own)
    return dict(sorted(index.items()))


def _crd(api_version: str, kind: str, schema_set: str) -> CrdSchema:
    return crd_schemas(schema_set)[(api_version, kind)]


@functools.cache
def _translated_file(file: str, partial: bool) -> dict[str, Any]:
    data = json.loads((CRD_SCHEMA_DIR / file).read_text(encoding="utf-8"))
    schema: dict[str, Any] = _translate(data["schema"], partial=partial)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = {}  # checked by _metadata_problems
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def translated_crd_schema(
    api_version: str, kind: str, partial: bool = False, schema_set: str = DEFAULT_SCHEMA_SET
) -> dict[str, Any]:
    """The draft 2020-12 schema used for a vendored CRD kind (KeyError if the set has none)."""
    return _translated_file(_crd(api_version, kind, schema_set).file, partial)


@functools.cache
def _file_validator(file: str, partial: bool) -> Any:
    return _Validator(_translated_file(file, partial), format_checker=FORMAT_CHECKER)


def cel_rules(api_version: str, kind: str, schema_set: str = DEFAULT_SCHEMA_SET) -> list[tuple[str, str]]:
    """The CEL rules (``x-kubernetes-validations``) of a kind, as (field path, rule); none is evaluated here.

    ``[*]`` in a path stands for every list item or map value.
    """
    found: list[tuple[str, str]] = []

    def walk(node: Any, path: list[str]) -> None:
        if not isinstance(node, dict):
            return
        for rule in node.get("x-kubernetes-validations") or []:
            found.append((".".join(path).replace(".[*]", "[*]") or "(root)", str(rule.get("rule", ""))))
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, [*path, name])
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                walk(node[key], [*path, "[*]"])

    walk(_crd(api_version, kind, schema_set).schema, [])
    return found


_FSM_RELEASE = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?")


def schema_set_for_fsm(version: str | None) -> str:
    """The schema set for a cluster that runs FSM ``version`` ("v1.2.9", "1.2", None for the newest).

    v1.2.x is ``fsm-v1.2`` (group ``flomesh.io``); v1.3.0 and later are ``current`` (group
    ``multicluster.flomesh.io``, whose schemas have not changed since v1.3.0; ``current``'s
    MeshConfig is the newest release's). Older releases have no vendored schemas: ValueError.
    """
    if version is None:
        return DEFAULT_SCHEMA_SET
    match = _FSM_RELEASE.fullmatch(version.strip())
    if not match:
        raise ValueError(f"FSM version must look like 'v1.2.9' or '1.3', not {version!r}")
    release = (int(match.group(1)), int(match.group(2)))
    if release == (1, 2):
        return FSM_V1_2_SCHEMA_SET
    if release >= (1, 3):
        return DEFAULT_SCHEMA_SET
    raise ValueError(f"no vendored schemas for FSM {version}: v1.2.x ({FSM_V1_2_SCHEMA_SET}) and v1.3+ are covered")


# ----------------------------------------------------------------------------- built-in schemas

_KV_VERSION_DIR = re.compile(r"v(\d+)\.(\d+)\.0-local-strict")


def _kv_schema_root() -> Any:
    return resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")


@functools.cache
def builtin_versions() -> tuple[tuple[int, int], ...]:
    """Kubernetes minor versions whose strict schemas kubernetes-validate bundles, ascending."""
    found = []
    for entry in _kv_schema_root().iterdir():
        match = _KV_VERSION_DIR.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2))))
    return tuple(sorted(found))


def _parse_version(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if not match:
        raise ValueError(f"k8s_version must look like '1.33', not {text!r}")
    return int(match.group(1)), int(match.group(2))


def _schema_version_for(k8s_version: str) -> tuple[int, int]:
    wanted = _parse_version(k8s_version)
    usable = [v for v in builtin_versions() if v <= wanted]
    if not usable or wanted[0] != usable[-1][0] or wanted > builtin_versions()[-1]:
        known = ", ".join(f"{a}.{b}" for a, b in builtin_versions())
        raise ValueError(f"no bundled built-in schemas for Kubernetes {k8s_version} (bundled: {known})")
    return usable[-1]


def _read_kv_json(version: tuple[int, int], filename: str) -> dict[str, Any] | None:
    entry = _kv_schema_root().joinpath(f"v{version[0]}.{version[1]}.0-local-strict", filename)
    if not entry.is_file():
        return None
    data: dict[str, Any] = json.loads(entry.read_text(encoding="utf-8"))
    return data


def _apply_enums(props: dict[str, Any], fields: Mapping[str, list[str]]) -> None:
    for prop, values in fields.items():
        if prop not in props:
            continue
        kind = props[prop].get("type")
        nullable = kind == "null" or (isinstance(kind, list) and "null" in kind)
        props[prop]["enum"] = [*values, None] if nullable else list(values)


@functools.cache
def _builtin_definitions(version: tuple[int, int]) -> dict[str, Any]:
    definitions = _read_kv_json(version, "_definitions.json")
    if definitions is None:
        raise FileNotFoundError(f"kubernetes-validate has no _definitions.json for {version}")
    for def_name, fields in _BUILTIN_ENUMS.items():
        _apply_enums(definitions["$defs"].get(def_name, {}).get("properties", {}), fields)
    return definitions


def _definition_name(version: tuple[int, int], group: str, api: str, kind: str) -> str | None:
    """Name of the definition for a top-level kind (kind files inline it instead of a $ref)."""
    for name, definition in _builtin_definitions(version)["$defs"].items():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            if (gvk.get("group"), gvk.get("version"), gvk.get("kind")) == (group, api, kind):
                return str(name)
    return None


@functools.cache
def _builtin_registry(version: tuple[int, int], partial: bool) -> Any:
    definitions = _builtin_definitions(version)
    if partial:
        definitions = _drop_required(definitions)
    resource = Resource.from_contents(definitions, default_specification=DRAFT202012)
    return Registry().with_resource(definitions["$id"], resource)


def _builtin_filename(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    short_group = group.split(".", 1)[0]
    return f"{kind.lower()}-{short_group}-{version}.json" if group else f"{kind.lower()}-{version}.json"


@functools.cache
def _builtin_validator(version: tuple[int, int], api_version: str, kind: str, partial: bool) -> Any | None:
    schema = _read_kv_json(version, _builtin_filename(api_version, kind))
    if schema is None:
        return None
    group, _, ver = api_version.rpartition("/")
    declared = schema.get("x-kubernetes-group-version-kind") or []
    if not any(g.get("group") == group and g.get("version") == ver and g.get("kind") == kind for g in declared):
        return None  # e.g. networking.example.com/v1 Ingress would otherwise map to networking.k8s.io
    def_name = _definition_name(version, group, ver, kind)
    if def_name in _BUILTIN_ENUMS:
        _apply_enums(schema.get("properties", {}), _BUILTIN_ENUMS[def_name])
    if partial:
        schema = _drop_required(schema)
    return _Validator(schema, registry=_builtin_registry(version, partial), format_checker=FORMAT_CHECKER)


# ----------------------------------------------------------------------------- problems


def _format_path(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text or "(root)"


def _shorten(message: str, limit: int = 240) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _field_choice(branch: Any) -> list[str] | None:
    """The field names a junctor branch of the form ``{required: [...], properties: {name: {}}}`` asks for."""
    if not isinstance(branch, dict) or not branch.get("required") or not set(branch) <= {"required", "properties"}:
        return None
    if any(sub != {} for sub in (branch.get("properties") or {}).values()):
        return None
    return [str(name) for name in branch["required"]]


def _none_of(branch: Any) -> list[str] | None:
    """The field names of a ``{not: {anyOf: [{required: [a]}, ...]}}`` branch ("none of these is set")."""
    if not isinstance(branch, dict) or set(branch) != {"not"} or not isinstance(branch["not"], dict):
        return None
    inner = branch["not"]
    if set(inner) != {"anyOf"} or not isinstance(inner["anyOf"], list):
        return None
    names: list[str] = []
    for sub in inner["anyOf"]:
        choice = _field_choice(sub)
        if choice is None:
            return None
        names += choice
    return names


def _junctor_message(error: Any) -> str | None:
    """A plain sentence for the usual oneOf/anyOf shapes (which fields exclude or need each other)."""
    if error.validator not in ("oneOf", "anyOf") or not isinstance(error.instance, dict):
        return None
    choices: list[list[str]] = []
    may_be_empty = False
    for branch in error.validator_value:
        choice = _field_choice(branch)
        if choice is not None:
            choices.append(choice)
        elif error.validator == "oneOf" and _none_of(branch) is not None:
            may_be_empty = True
        else:
            return None
    if not choices:
        return None
    names = [" and ".join(choice) for choice in choices]
    present = [name for choice in choices for name in choice if name in error.instance]
    found = f"found {', '.join(present)}" if present else "found none"
    if error.validator == "anyOf":
        return f"at least one of {', '.join(names)} must be set ({found})"
    if may_be_empty:
        return f"at most one of {', '.join(names)} may be set ({found})"
    return f"exactly one of {', '.join(names)} must be set ({found})"


def _schema_problems(validator: Any, obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for error in validator.iter_errors(obj):
        path = list(error.absolute_path)
        instance = error.instance
        if error.validator == "required" and isinstance(instance, dict):
            for name in error.validator_value:
                if name not in instance:
                    found.append((_format_path([*path, name]), "required field is missing"))
        elif (
            error.validator == "additionalProperties" and error.validator_value is False and isinstance(instance, dict)
        ):
            declared = error.schema.get("properties", {})
            patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
            for name in instance:
                if name in declared or any(p.search(name) for p in patterns):
                    continue
                found.append(
                    (
                        _format_path([*path, name]),
                        "unknown field (not in the schema; the API server would drop or reject it)",
                    )
                )
        else:
            found.append((_format_path(path), _junctor_message(error) or _shorten(error.message)))
    return found


def _check_name(value: Any, rule: str) -> str | None:
    if not isinstance(value, str):
        return f"{value!r} is not a string"
    if rule == "dns1123-label":
        ok = len(value) <= 63 and bool(_DNS1123_LABEL.fullmatch(value))
        what = "a DNS-1123 label (lower-case alphanumerics and '-', at most 63 characters)"
    elif rule == "dns1035-label":
        ok = len(value) <= 63 and bool(_DNS1035_LABEL.fullmatch(value))
        what = "a DNS-1035 label (lower-case alphanumerics and '-', starting with a letter, at most 63)"
    else:
        ok = len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.fullmatch(value))
        what = "a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', at most 253 characters)"
    return None if ok else f"{value!r} is not {what}"


def _check_qualified_key(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return f"key {key!r}: prefix {prefix!r} is not a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        return (
            f"key {key!r}: name part must be 1-63 alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )
    return None


def _metadata_problems(
    obj: Mapping[str, Any], *, namespaced: bool, name_rule: str, structural: bool
) -> list[tuple[str, str]]:
    """Our own ObjectMeta checks. ``structural`` also checks shapes the schema does not."""
    meta = obj.get("metadata")
    if meta is None:
        return [("metadata", "required field is missing")]
    if not isinstance(meta, dict):
        return [("metadata", f"{meta!r} is not an object")] if structural else []
    found: list[tuple[str, str]] = []
    if structural:
        for key in meta:
            if key not in _OBJECT_META_FIELDS:
                found.append((_format_path(["metadata", key]), "unknown field (not an ObjectMeta field)"))
    if "name" not in meta:
        found.append(("metadata.name", "required field is missing"))
    else:
        problem = _check_name(meta["name"], name_rule)
        if problem:
            found.append(("metadata.name", problem))
    if namespaced:
        if "namespace" not in meta:
            found.append(("metadata.namespace", "required field is missing (the kind is namespaced)"))
        else:
            problem = _check_name(meta["namespace"], "dns1123-label")
            if problem:
                found.append(("metadata.namespace", problem))
    elif "namespace" in meta:
        found.append(("metadata.namespace", "must not be set: the kind is cluster-scoped"))
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is None:
            continue
        if not isinstance(values, dict):
            if structural:
                found.append((f"metadata.{field}", f"{values!r} is not a map of strings"))
            continue
        for key, value in values.items():
            where = _format_path(["metadata", field, str(key)])
            if not isinstance(key, str):
                found.append((where, f"key {key!r} is not a string"))
                continue
            problem = _check_qualified_key(key)
            if problem:
                found.append((where, problem))
            if not isinstance(value, str):
                if structural or value is not None:
                    found.append((where, f"value {value!r} is not a string"))
                continue
            if field == "labels" and value and (len(value) > 63 or not _QUALIFIED_NAME.fullmatch(value)):
                found.append(
                    (
                        where,
                        f"value {value!r} must be at most 63 alphanumerics, '-', '_' or '.', "
                        "starting and ending with an alphanumeric",
                    )
                )
        if field == "annotations":
            size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in values.items())
            if size > _ANNOTATIONS_MAX_BYTES:
                found.append(("metadata.annotations", f"total size {size} bytes exceeds 256 KiB"))
    finalizers = meta.get("finalizers")
    if (
        structural
        and finalizers is not None
        and (not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers))
    ):
        found.append(("metadata.finalizers", "must be a list of strings"))
    return found


def _describe(obj: Mapping[str, Any]) -> str:
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) and obj.get("kind") else "<no kind>"
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    name = meta.get("name") if meta.get("name") not in (None, "") else "<no name>"
    namespace = meta.get("namespace")
    return f"{kind} {namespace}/{name}" if namespace not in (None, "") else f"{kind} {name}"


def validate_object(
    obj: Mapping[str, Any],
    *,
    partial: bool = False,
    k8s_version: str = DEFAULT_K8S_VERSION,
    schema_set: str = DEFAULT_SCHEMA_SET,
) -> list[str]:
    """Every problem found in one Kubernetes object, as ``"<kind> <ns>/<name>: <path>: <message>"``.

    ``partial``: the object is a server-side-apply patch (``required`` is not enforced).
    ``k8s_version``: Kubernetes minor version whose built-in schemas are used ("1.33");
    a version kubernetes-validate does not bundle raises ``ValueError``.
    ``schema_set``: the vendored CRD schema set of the cluster the object is for ("current",
    "fsm-v1.2"; see ``schema_sets()`` and ``schema_set_for_fsm``); an unknown one raises ``ValueError``.
    An empty list means no problem was found.
    """
    _check_set(schema_set)
    if not isinstance(obj, Mapping):
        return [f"<object>: (root): {obj!r} is not a mapping"]
    label = _describe(obj)
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    found: list[tuple[str, str]] = []
    for field, value in (("apiVersion", api_version), ("kind", kind)):
        if not isinstance(value, str) or not value:
            found.append((field, "required field is missing" if value is None else f"{value!r} is not a string"))
    if found:
        return [f"{label}: {path}: {message}" for path, message in found]
    assert isinstance(api_version, str) and isinstance(kind, str)

    crd = crd_schemas(schema_set).get((api_version, kind))
    if crd is not None:
        found += _metadata_problems(
            obj, namespaced=crd.scope == "Namespaced", name_rule="dns1123-subdomain", structural=True
        )
        found += _schema_problems(_file_validator(crd.file, partial), obj)
    else:
        schema_version = _schema_version_for(k8s_version)
        validator = _builtin_validator(schema_version, api_version, kind, partial)
        if validator is None:
            return [f"{label}: (root): {_unknown_kind_message(api_version, kind, k8s_version, schema_set)}"]
        name_rule = {"Namespace": "dns1123-label", "Service": "dns1035-label"}.get(kind, "dns1123-subdomain")
        found += _metadata_problems(
            obj, namespaced=kind not in _CLUSTER_SCOPED_BUILTINS, name_rule=name_rule, structural=False
        )
        found += _schema_problems(validator, obj)
    return [f"{label}: {path}: {message}" for path, message in sorted(set(found))]


def _unknown_kind_message(api_version: str, kind: str, k8s_version: str, schema_set: str) -> str:
    group = api_version.rpartition("/")[0]
    schemas = crd_schemas(schema_set)
    where = f"unknown apiVersion/kind {api_version} {kind} in schema set {schema_set}"
    elsewhere = [name for name in schema_sets() if name != schema_set and (api_version, kind) in crd_schemas(name)]
    hint = f" (schema set {', '.join(elsewhere)} has it)" if elsewhere else ""
    served = sorted(crd.api_version for crd in schemas.values() if crd.kind == kind and crd.group == group)
    if served:
        return f"{where}: served versions are {', '.join(served)}{hint}"
    kinds = sorted({crd.kind for crd in schemas.values() if crd.group == group})
    if kinds:
        return f"{where}: group {group} has kinds {', '.join(kinds)}{hint}"
    if group in (_set_layout()[schema_set].get("hides_groups") or []):
        return f"{where}: that release does not serve API group {group}{hint}"
    return f"{where}: no vendored CRD schema and no built-in schema for Kubernetes {k8s_version}{hint}"


def validate_documents(
    paths: Iterable[str | Path],
    *,
    partial: bool = False,
    k8s_version: str = DEFAULT_K8S_VERSION,
    schema_set: str = DEFAULT_SCHEMA_SET,
) -> list[str]:
    """Validate every object in (multi-document) YAML files; ``kind: List`` items count too.

    Problems are prefixed with ``"<file>#<document number, from 1>: "``.
    """
    found: list[str] = []
    for path in paths:
        try:
            documents = list(yaml.safe_load_all(Path(path).read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError) as exc:
            found.append(f"{path}: cannot read YAML: {exc}")
            continue
        for number, doc in enumerate(documents, start=1):
            if doc is None:
                continue
            where = f"{path}#{number}"
            objects = _list_items(doc)
            if objects is None:
                found.append(f"{where}: <object>: (root): {_shorten(repr(doc))} is not a mapping")
                continue
            for obj in objects:
                problems = validate_object(obj, partial=partial, k8s_version=k8s_version, schema_set=schema_set)
                found.extend(f"{where}: {problem}" for problem in problems)
    return found


def _list_items(doc: Any) -> list[Any] | None:
    if not isinstance(doc, dict):
        return None
    if doc.get("kind") == "List" and doc.get("apiVersion") == "v1" and isinstance(doc.get("items"), list):
        return list(doc["items"])
    return [doc]
