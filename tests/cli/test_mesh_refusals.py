"""Every refusal and warning of the Cilium and Istio adapters has a fleet in the corpora with its golden
message (tests/cases/broken, tests/cases/warnings), so each one's wording and line are pinned."""

from __future__ import annotations

import pytest

from meshfleet.core.meshes import MESHES
from meshfleet.errors import Code
from tests.golden import GOLDEN

ADAPTERS = [MESHES["cilium"], MESHES["istio"]]
CODES = sorted({c for m in ADAPTERS for c in (*m.codes, *(m.access.codes if m.access else ()))}, key=lambda c: c.name)


@pytest.mark.parametrize("code", CODES, ids=[c.name for c in CODES])
def test_each_code_has_a_case_with_a_golden_message(code: Code) -> None:
    name, severity = code.name, code.severity
    folder = "errors" if severity == "error" else "warnings"
    cases = [p.stem for p in sorted((GOLDEN / folder).glob("*.txt")) if f"{severity}[{name}]" in p.read_text()]
    assert cases, f"no case in tests/cases/{'broken' if folder == 'errors' else 'warnings'} reports {name}"
