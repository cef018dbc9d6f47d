"""The Pulumi sink: one `MemberCluster` component per cluster of the stack's shard of the plan.

Only this package imports pulumi; it consumes a `meshfleet.core.plan.Plan` and nothing else.
"""

from components.settings import Settings, StackConfigError, read_settings
from components.stack import deploy, load

__all__ = ["Settings", "StackConfigError", "deploy", "load", "read_settings"]
