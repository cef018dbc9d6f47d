"""How pulumi-kubernetes is told to apply meshfleet's patches: one copy for the program and the policy pack.

Why: the Pulumi program (components/) sets these annotations on every `*Patch` and the policy pack
(policy/) refuses a patch without them. The pack runs in the project's virtualenv, where `meshfleet`
is installed but components/ is not on its path, so the values live here and both import them.
"""

from __future__ import annotations

FIELD_MANAGER = "meshfleet"
"""The field manager of every patch, so that each `up` manages the same fields (else each patch gets a random one)."""
PATCH_FIELD_MANAGER = "pulumi.com/patchFieldManager"
"""pulumi-kubernetes' annotation naming a patch's field manager."""
PATCH_FORCE = "pulumi.com/patchForce"
"""pulumi-kubernetes' annotation forcing a patch over fields another manager owns."""
