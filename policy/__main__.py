"""The policy pack as the Pulumi CLI runs it (`--policy-pack policy`); this starts the analyzer server.

The CLI runs this directory as a program, so its own directory is first on sys.path; the tests
import the rules as `policy.rules` and never this module.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES  # type: ignore[import-not-found]

PolicyPack(name="meshfleet", enforcement_level=EnforcementLevel.MANDATORY, policies=list(POLICIES))
