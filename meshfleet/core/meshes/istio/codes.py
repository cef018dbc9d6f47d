"""The finding codes of Istio's checks: what Istio cannot express, and where it admits more than the file says.

Why: a code is a stable name users search for, match in CI and acknowledge (warnings); each is listed
in the README. The rule behind each is cited where it is checked.
"""

from __future__ import annotations

from meshfleet.errors import Code

ISTIO_NETWORK_MISSING = Code(
    "istio-network-missing", "error", "Istio clusters on several networks, and one of them names none"
)
ISTIO_UNEXPORTED_COPY = Code(
    "istio-unexported-copy",
    "error",
    "a service runs unexported in an Istio cluster while other Istio clusters import it",
)
ISTIO_PARTIAL_EXPORT = Code("istio-partial-export", "error", "an Istio export of some ports of a Service only")
ISTIO_TARGETS = Code("istio-targets", "error", "traffic targets an Istio consumer cannot choose")
ISTIO_FAILOVER_ORDER = Code(
    "istio-failover-order", "error", "FailOver targets in an order Istio's locality failover does not follow"
)
ISTIO_WEIGHTS = Code("istio-weights", "error", "weights Istio cannot distribute by locality")
ISTIO_ACCESS_SELECTOR = Code(
    "istio-access-selector", "error", "an access rule for a service without podLabels in an Istio cluster"
)
ISTIO_ACCESS_MATCH = Code("istio-access-match", "error", "an HTTP path or header match Istio cannot express")
ISTIO_GRANT_ANY_CLUSTER = Code(
    "istio-grant-any-cluster",
    "warning",
    "an Istio destination also admits the sources calling from clusters outside `in`",
)
