"""The README's "Before the first run": the Helm values it names are the three the prerequisites need,
and each field its checks read exists in the schemas of every FSM release meshfleet writes for and is
the field meshfleet's MeshConfig patch sets. No cluster runs here, so the commands are checked against
the schemas and the plan rather than run."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from meshfleet.core.plan import plan
from meshfleet.fleet.model import Fleet, FsmSettings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
SCHEMAS = ROOT / "schemas" / "crds"
PREREQUISITES = {"fsm.enableMultiClusters", "fsm.fsmIngress.enabled", "fsm.localDNSProxy.enable"}


def block(tag: str) -> list[list[str]]:
    m = re.search(rf"<!-- first run: {tag} -->\n```console\n(.*?)```", README, re.S)
    assert m is not None, tag
    return [shlex.split(line[2:]) for line in m.group(1).splitlines() if line.startswith("$ ")]


def schema_has(schema: dict[str, Any], path: list[str]) -> bool:
    node = schema
    for part in path:
        name = part.removesuffix("[]")
        if name not in node.get("properties", {}):
            return False
        node = node["properties"][name]
        if part.endswith("[]"):
            node = node["items"]
    return True


def jsonpath_fields(expression: str) -> list[list[str]]:
    """`{.spec.a.b} {.status.c[?(@.type=="X")].status}` -> [["spec", "a", "b"], ["status", "c[]", "status"]]."""
    found = []
    for inner in re.findall(r"\{(\.[^{}]*?)\}", expression):
        inner = re.sub(r"\[\?\(.*?\)\]", "[]", inner)
        found.append([p for p in inner.strip(".").split(".") if p])
    return found


def test_the_helm_values_are_the_three_prerequisites_and_the_dns_upstream() -> None:
    (command,) = block("helm")
    keys = {arg.split("=", 1)[0] for arg in command if "=" in arg}
    assert keys == PREREQUISITES | {"fsm.localDNSProxy.primaryUpstreamDNSServerIPAddr"}
    table = README.split("| Helm value | where FSM reads it | without it |", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"^\| `([^`]+)`", table, re.M)) == PREREQUISITES


def test_each_meshconfig_field_checked_is_in_every_release_and_is_what_meshfleet_sets() -> None:
    commands = block("checks")
    meshconfig = next(c for c in commands if c[:3] == ["kubectl", "get", "meshconfig"])
    assert (
        meshconfig[3] == FsmSettings().meshConfig and meshconfig[meshconfig.index("-n") + 1] == FsmSettings().namespace
    )
    fields = jsonpath_fields(meshconfig[meshconfig.index("-o") + 1])
    for schema_set in ("current", "fsm-v1.2"):
        schema = json.loads((SCHEMAS / schema_set / "config.flomesh.io" / "MeshConfig_v1alpha3.json").read_text())
        assert all(schema_has(schema["schema"], f) for f in fields), schema_set
    # A member that exports, with the DNS proxy: meshfleet's patch sets exactly the fields checked.
    doc = {
        "clusters": {
            "c1": {"gateway": {"host": "10.0.0.1"}, "fsm": {"localDNSProxy": {"primaryUpstream": "10.43.0.10"}}},
            "c2": {"gateway": {"host": "10.0.0.2"}},
        },
        "services": {"a/web": {"ports": [{"port": 80}], "export": {"clusters": ["c1"]}}},
    }
    patch = next(o for o in plan(Fleet.model_validate(doc)).cluster("c1").objects if o.kind == "MeshConfig")

    def leaves(node: Any, path: list[str]) -> list[list[str]]:
        if isinstance(node, dict):
            return [leaf for k, v in node.items() for leaf in leaves(v, [*path, k])]
        return [path]

    set_fields = [f for f in leaves(patch.body["spec"], ["spec"]) if f[1] != "clusterSet"]
    assert sorted(set_fields) == sorted(fields)


def test_the_export_check_reads_a_condition_every_release_reports() -> None:
    export = next(c for c in block("checks") if c[:3] == ["kubectl", "get", "serviceexport"])
    (field,) = jsonpath_fields(export[export.index("-o") + 1])
    assert field == ["status", "conditions[]", "status"]
    for path in (
        SCHEMAS / "current" / "multicluster.flomesh.io" / "ServiceExport_v1alpha1.json",
        SCHEMAS / "fsm-v1.2" / "flomesh.io" / "ServiceExport_v1alpha1.json",
    ):
        assert schema_has(json.loads(path.read_text())["schema"], field), path
