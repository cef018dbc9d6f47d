"""Start-up stays cheap: each command imports only the part of the pipeline it uses.

How long start-up takes is measured by `make bench`; here only what is imported is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROBE = """
import json, sys
from meshfleet.cli.main import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def modules_after(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    data = json.loads(proc.stdout.rstrip().rsplit("\n", 1)[-1])
    assert data["code"] == 0, proc.stderr
    return set(data["modules"])


def under(modules: set[str], *prefixes: str) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


def test_help_imports_no_pipeline() -> None:
    loaded = modules_after()  # `meshfleet` alone prints the help
    assert "argparse" in loaded
    assert not under(loaded, "pydantic", "yaml", "ruamel", "meshfleet.fleet", "meshfleet.core", "argcomplete")


@pytest.mark.parametrize("args", [["validate", "fleet/demo.yaml"], ["plan", "fleet/demo.yaml", "--summary"]])
def test_validate_and_plan_leave_the_diff_renderer_and_kubeconfigs_alone(args: list[str]) -> None:
    loaded = modules_after(*args)
    assert "meshfleet.fleet.load" in loaded
    assert not under(
        loaded,
        "meshfleet.diff",
        "meshfleet.sinks.render",
        "meshfleet.sinks.output",
        "meshfleet.sinks.gitops",
        "meshfleet.kube",
        "meshfleet.fleet.schema",
        "argcomplete",
        "pulumi",
        "pulumi_kubernetes",
        "components",
        "subprocess",
        "jsonschema",
    )
