"""The codes of findings that are not a mesh's own: reading the file, its types, and the cross-checks.

Why: a finding's code is a stable name users can search for, acknowledge (warnings) and match in CI.
Each mesh module declares the codes of its own checks beside them; the README lists all of them
(a test keeps that list true).
"""

from __future__ import annotations

from meshfleet.errors import Code

# --- reading the file ----------------------------------------------------------------------------
FILE_TOO_LARGE = Code("file-too-large", "error", "the file is larger than a fleet file may be")
UNREADABLE_FILE = Code("unreadable-file", "error", "the file cannot be read")
NOT_UTF8 = Code("not-utf8", "error", "the file is not UTF-8 text")
CONTROL_CHARACTER = Code("control-character", "error", "the file holds a control character")
EMPTY_FILE = Code("empty-file", "error", "the file holds no fleet")
TOO_DEEP = Code("too-deep", "error", "the document is nested deeper than a fleet needs")
TOO_MANY_VALUES = Code("too-many-values", "error", "aliases expand the document beyond its bound")
DUPLICATE_KEY = Code("duplicate-key", "error", "a key is set twice in one mapping")
YAML_SYNTAX = Code("yaml-syntax", "error", "the YAML does not parse")
NON_STRING_KEY = Code("non-string-key", "error", "a key is not a string")
NOT_A_MAPPING = Code("not-a-mapping", "error", "the top level is not a mapping")
RECURSIVE_ALIAS = Code("recursive-alias", "error", "an alias refers to a node that contains it")
UNSUPPORTED_TAG = Code("unsupported-tag", "error", "a YAML tag meshfleet does not read")
MALFORMED_VALUE = Code("malformed-value", "error", "a value that does not read as what it says (a number, a tag)")
BAD_MERGE = Code("bad-merge", "error", "a `<<` merge key that merges something other than mappings")

# --- types and values (the fleet model) ----------------------------------------------------------
UNKNOWN_KEY = Code("unknown-key", "error", "a key the fleet format does not know")
MISSING_KEY = Code("missing-key", "error", "a required key is missing")
WRONG_TYPE = Code("wrong-type", "error", "a value has the wrong type")
NOT_ALLOWED = Code("not-allowed", "error", "a value is not one of the allowed words")
INVALID_VALUE = Code("invalid-value", "error", "a value breaks a rule of its own (a name, path, port, address...)")
UNKNOWN_KUBECONFIG_SOURCE = Code("unknown-kubeconfig-source", "error", "a kubeconfig `from` meshfleet does not know")
MISSING_KUBECONFIG_SOURCE = Code("missing-kubeconfig-source", "error", "a kubeconfig without `from`")

FLEET_TOO_LARGE = Code("fleet-too-large", "error", "the fleet would plan more objects or endpoints than a fleet may")
DERIVED_NAME_INVALID = Code(
    "derived-name-invalid",
    "error",
    "a name meshfleet derives from the fleet's words is too long for Kubernetes or a file",
)

# --- the fleet's pieces agree (topology) ---------------------------------------------------------
UNKNOWN_CONTROL_PLANE = Code("unknown-control-plane", "error", "`controlPlane` names no cluster of the fleet")
NO_MEMBERS = Code("no-members", "error", "the fleet has no member cluster")
SETTINGS_OF_ANOTHER_MESH = Code("settings-of-another-mesh", "error", "a cluster sets another mesh's settings")
UNKNOWN_CLUSTER = Code("unknown-cluster", "error", "a cluster name the fleet does not have")
CONTROL_PLANE_CHOSEN = Code(
    "control-plane-chosen", "error", "the control-plane cluster is chosen where a member must be"
)
CLUSTER_LISTED_TWICE = Code("cluster-listed-twice", "error", "a cluster is listed twice")
DUPLICATE_PORT = Code("duplicate-port", "error", "a port number or port name is used twice")
UNNAMED_PORTS = Code("unnamed-ports", "error", "a Service with several ports leaves one unnamed")
UNKNOWN_PORT = Code("unknown-port", "error", "an export names a port the service does not have")
EXPORT_SELECTS_NOTHING = Code("export-selects-nothing", "error", "an export's selector matches no member")
EXPORTER_WITHOUT_GATEWAY = Code("exporter-without-gateway", "error", "an exporter whose mesh needs a gateway has none")
EXPORTERS_DISAGREE = Code("exporters-disagree", "error", "exporters of one service differ in ports or identity")
NO_EXPORT = Code("no-export", "error", "a service is imported or has a traffic policy, but is exported nowhere")
CANNOT_IMPORT = Code("cannot-import", "error", "a cluster is chosen to import what its mesh cannot reach")
NO_TRAFFIC_POLICIES = Code("no-traffic-policies", "error", "a traffic policy for a cluster whose mesh applies none")
POLICY_WITHOUT_IMPORT = Code("policy-without-import", "error", "a traffic policy for a cluster that imports nothing")
UNKNOWN_SERVICE = Code("unknown-service", "error", "an access rule names a service the fleet does not have")
ACCESS_NOT_ENFORCED = Code("access-not-enforced", "error", "an access rule in a cluster whose mesh enforces none")
SERVICE_NOT_THERE = Code("service-not-there", "error", "an access rule in a cluster where the service is absent")
DUPLICATE_MATCH_NAME = Code("duplicate-match-name", "error", "two HTTP matches of one rule share a name")
DUPLICATE_OBJECT = Code("duplicate-object", "error", "two parts of the fleet would write the same object")

# --- resources: objects placed on members (core/resources.py, templates.py), checked against services
BAD_OBJECT = Code("bad-object", "error", "a template holds something that is not an object meshfleet can place")
SECRET_IN_TEMPLATE = Code(
    "secret-in-template", "error", "a template holds a Secret, whose data would be written in plain text"
)
OBJECT_NAMESPACE = Code("object-namespace", "error", "an object's namespace does not fit its kind or its resource")
PLACEMENT_SELECTS_NOTHING = Code("placement-selects-nothing", "error", "a resource is placed in no cluster")
NOT_PLACED = Code(
    "not-placed", "error", "an override or replica preference for a cluster the resource is not placed in"
)
UNKNOWN_OBJECT = Code(
    "unknown-object", "error", "an override or replica scheduling names an object the resource does not hold"
)
PATCH_PATH_MISSING = Code("patch-path-missing", "error", "a JSON-patch path that does not exist in the object")
MERGE_UNSUPPORTED = Code("merge-unsupported", "error", "a strategic-merge patch meshfleet does not apply")
REPLICAS_INFEASIBLE = Code("replicas-infeasible", "error", "replica scheduling cannot meet its bounds")
REPLICAS_OVERRIDDEN = Code("replicas-overridden", "error", "an override sets the replicas that replica scheduling sets")
SERVICE_MISSING = Code("service-missing", "error", "an exporting cluster lacks the Service the fleet places elsewhere")
SERVICE_PORTS_DIFFER = Code(
    "service-ports-differ", "error", "a placed Service's ports or type differ from the service's, or between clusters"
)
SERVICE_SELECTS_NOTHING = Code(
    "service-selects-nothing", "error", "a placed Service selects no workload the fleet places beside it"
)
IDENTITY_MISMATCH = Code(
    "identity-mismatch", "error", "a service's pods run under another service account than the fleet says"
)
IDENTITY_MISSING = Code(
    "identity-missing", "error", "a service account the fleet relies on is not placed where it is needed"
)

# --- acknowledgements ----------------------------------------------------------------------------
NOT_A_WARNING = Code("not-a-warning", "error", "`acknowledge` names a code that is no warning")
STALE_ACKNOWLEDGEMENT = Code(
    "stale-acknowledgement", "warning", "`acknowledge` names a warning that the fleet no longer has there"
)

CODES: tuple[Code, ...] = tuple(v for v in globals().values() if isinstance(v, Code))
"""Every code of this module, in the order above."""
