"""The Pulumi sink: one `MemberCluster` component per cluster of the stack's shard of the plan.

Only this package imports pulumi; it consumes the fleet file's plan (`meshfleet.core.plan`) and,
for what Pulumi alone needs (former names, decommissioned clusters), the fleet model.
"""

from components.settings import Settings, StackConfigError, read_settings
from components.stack import Loaded, deploy, load

__all__ = ["Loaded", "Settings", "StackConfigError", "deploy", "load", "read_settings"]
