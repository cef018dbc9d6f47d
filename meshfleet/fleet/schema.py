"""The fleet file's JSON Schema, as editors and SchemaStore-style catalogs use it (fleet/schema.json).

Why: in an editor the schema is the fleet format's documentation: hover text for every key, the
values an enum takes, examples, and the naming rules `validate` applies, so that `Cluster_1` is
underlined as it is typed. It is generated from the model; a test keeps the committed copy current.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from meshfleet.fleet.model import Fleet

SCHEMA_ID = "urn:meshfleet:fleet-file"
"""The schema's identity. A URN: the schema is published with meshfleet (`meshfleet schema`, fleet/schema.json),
not at an address of its own."""
DIALECT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "meshfleet fleet file"

# Hover titles that a split of the key's name would get wrong.
FIELD_TITLES = {
    "lbType": "Load-balancing type",
    "id": "Provider identity",
    "ip": "IP address",
    "apiVersion": "API version",
    "appProtocol": "Application protocol",
    "pathRegex": "Path regular expression",
    "controlPlane": "FSM control plane",
    "in": "In clusters",
    "from": "From",
    "to": "To",
    "http": "HTTP matches",
    "matchLabels": "Match labels",
    "matchExpressions": "Match expressions",
    "gatewayIdentity": "Gateway TLS identity",
    "clusterDomain": "Cluster DNS domain",
    "kubeconfig": "Kubeconfig source",
    "import": "Import",
    "meshConfig": "MeshConfig name",
    "sessionSticky": "Sticky sessions",
    "tls": "TLS listener",
    "localDNSProxy": "Local DNS proxy",
}
MODEL_TITLES = {
    "FsmSettings": "FSM settings",
    "McsSettings": "MCS API settings",
    "LinkerdSettings": "Linkerd settings",
    "KubeconfigFromStackSecret": "Kubeconfig from the stack secret",
    "KubeconfigFromContext": "Kubeconfig from a context",
    "HttpMatch": "HTTP match",
    "AccessRule": "Access rule",
    "LabelSelector": "Label selector",
    "LabelRequirement": "Label requirement",
    "PathRewrite": "Path rewrite",
    "TrafficPolicy": "Traffic policy",
    "TrafficPolicyOverride": "Traffic policy override",
    "ExportOverride": "Export override",
    "Port": "Service port",
    "Target": "Traffic target",
    "FleetFsm": "FSM settings of every cluster",
    "LocalDnsProxy": "Local DNS proxy",
}

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def title_of(name: str) -> str:
    """`ingressClass` -> "Ingress class"; the table above for the names a split reads badly."""
    if name in FIELD_TITLES:
        return FIELD_TITLES[name]
    words = _WORD.findall(name.strip("_"))
    if not words:
        return name
    return " ".join([words[0].capitalize(), *(w.lower() for w in words[1:])])


class _FleetSchema(GenerateJsonSchema):
    """Pydantic's generator with readable titles and dictionary keys held to their name pattern."""

    def get_title_from_name(self, name: str) -> str:
        return title_of(name)

    def field_title_should_be_set(self, schema: Any) -> bool:
        # Pydantic leaves out the title of a key that holds a model; editors show a key's own title.
        return True

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        # Pydantic puts a key pattern in patternProperties, which lets keys that do not match through;
        # propertyNames refuses them, as `validate` does.
        json_schema = super().dict_schema(schema)
        patterns = json_schema.pop("patternProperties", None)
        if patterns:
            [(pattern, values)] = patterns.items()
            names = json_schema.setdefault("propertyNames", {})
            names.pop("type", None)
            names["pattern"] = pattern
            json_schema["additionalProperties"] = values
        return json_schema


def fleet_json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to check fleet files (committed as fleet/schema.json)."""
    schema = Fleet.model_json_schema(by_alias=True, mode="validation", schema_generator=_FleetSchema)
    for name, definition in schema.get("$defs", {}).items():
        definition["title"] = MODEL_TITLES.get(name, title_of(name))
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": TITLE,
        "$comment": "Generated from meshfleet's model by `meshfleet schema` (make schema); do not edit.",
        **{k: v for k, v in schema.items() if k != "title"},
    }
