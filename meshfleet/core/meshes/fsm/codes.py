"""The finding codes of FSM's checks: what FSM refuses, and where it does something else than the file reads as.

Why: a code is a stable name users search for, match in CI and acknowledge (warnings); each is listed
in the README. The rule behind each is cited where it is checked (fsm-runtime-semantics.md and FSM's
source, file:line).
"""

from __future__ import annotations

from meshfleet.errors import Code

# --- the fleet's pieces as FSM's control plane and webhooks read them -------------------------------
CONTROL_PLANE_MESH = Code("control-plane-mesh", "error", "the FSM control-plane cluster runs another mesh")
MEMBER_WITHOUT_GATEWAY = Code(
    "member-without-gateway", "error", "an FSM member of a fleet with a control plane has no gateway"
)
FSM_VERSIONS_DIFFER = Code(
    "fsm-versions-differ", "error", "with an FSM control plane, a cluster runs a release that serves another API group"
)
IMPORTERS_NOT_RESTRICTABLE = Code(
    "importers-not-restrictable", "error", "`import.clusters` narrows what FSM's control plane imports everywhere"
)
DUPLICATE_EXPORT_PATH = Code("duplicate-export-path", "error", "two exports use one path in one FSM cluster")

# --- traffic policies ---------------------------------------------------------------------------
TARGET_NOT_EXPORTER = Code("target-not-exporter", "error", "a traffic target is not an exporter FSM consumers reach")
NEGATIVE_WEIGHT = Code("negative-weight", "error", "a traffic target's weight is negative")
ZERO_WEIGHT = Code("zero-weight", "error", "a traffic target's weight is 0, which FSM reads as full weight (100)")
MISSING_WEIGHT = Code(
    "missing-weight", "error", "a target without a weight beside weighted ones: FSM gives it full weight (100)"
)
WEIGHT_WITHOUT_ACTIVE_ACTIVE = Code(
    "weight-without-active-active", "error", "a weight on a target of a policy that is not ActiveActive"
)
TARGET_LISTED_TWICE = Code("target-listed-twice", "error", "a traffic target is listed twice")
LOCALITY_TARGETS = Code("locality-targets", "error", "a Locality policy with more than one target")
FAILOVER_WITHOUT_TARGET = Code("failover-without-target", "error", "a FailOver policy with no target to fail over to")
FAILOVER_UNORDERED = Code(
    "failover-unordered", "warning", "FSM balances across FailOver targets round-robin, with no order"
)
LOCALITY_IGNORES_TARGETS = Code(
    "locality-ignores-targets", "warning", "FSM's Locality ignores its target: only the local copy answers"
)
IMPORT_WITHOUT_POLICY = Code(
    "import-without-policy",
    "warning",
    "an import no traffic policy activates: FSM's default (Locality) routes nothing across clusters",
)

# --- exports, gateways and protocols --------------------------------------------------------------
NOT_PLAIN_HTTP = Code("not-plain-http", "error", "a port that is not plain HTTP is exported across FSM clusters")
TLS_GATEWAY = Code("tls-gateway", "error", "an FSM member's gateway is a TLS listener; sidecars reach it in plain HTTP")
IPV6_GATEWAY = Code("ipv6-gateway", "error", "an FSM member's gateway address is IPv6, which FSM's sidecars misread")
SHARED_GATEWAY = Code(
    "shared-gateway",
    "error",
    "two exporters of one service behind one gateway address and port collapse into one endpoint",
)
EXACT_EXPORT_PATH = Code(
    "exact-export-path", "error", "an export with pathType Exact, which no request from another cluster matches"
)
PATH_PREFIX_KEPT = Code(
    "path-prefix-kept", "warning", "the backend receives the export's path prefix: no pathRewrite strips it"
)
LOAD_BALANCER_IGNORED = Code(
    "load-balancer-ignored",
    "warning",
    "an export's loadBalancer, which FSM's pipy ingress ignores (always round-robin)",
)

# --- access -------------------------------------------------------------------------------------
WILDCARD_SERVICE_ACCOUNT = Code(
    "wildcard-service-account",
    "warning",
    'a service exported with service account "*" where access rules grant its '
    "namespace: every grant there opens its import",
)

CODES: tuple[Code, ...] = tuple(v for v in globals().values() if isinstance(v, Code))
"""Every code of FSM's checks, in the order above."""
