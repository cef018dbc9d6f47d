"""The README's Pulumi runbooks name real things: no Pulumi CLI runs here, so each command is
checked against the commands and flags of the pinned CLI (read from pulumi's source) and against
the stacks, names and files of this repository."""

from __future__ import annotations

import re
import shlex

from components.objects import logical_name
from meshfleet.fleet.load import load_plan
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
SECTION = README.split("## Applying with Pulumi", 1)[1].split("\n## ", 1)[0]
# Subcommand -> the flags it takes (pulumi: pkg/cmd/pulumi/state/state_move.go, state_unprotect.go,
# operations/import.go, config/config.go, operations/preview.go, up.go).
FLAGS = {
    ("stack", "init"): set(),
    ("config", "set"): {"--secret", "--path"},
    ("preview",): {"--diff", "--policy-pack", "--refresh", "--expect-no-changes"},
    ("up",): {"--policy-pack"},
    ("import",): {"--parent", "--provider", "--generate-code"},
    ("state", "move"): {"--source", "--dest"},
    ("state", "unprotect"): {"--all"},
    ("login",): set(),
}


def commands() -> list[list[str]]:
    found = []
    for block in re.findall(r"```shell\n(.*?)```", SECTION, re.S):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("pulumi "):
                command = re.sub(r" < \S+$", "", line.split(" #")[0].strip())
                found.append(shlex.split(command)[1:])
    return found


def test_each_runbook_command_uses_real_subcommands_and_flags() -> None:
    seen = set()
    for args in commands():
        sub = next(k for k in FLAGS if tuple(args[: len(k)]) == k)
        seen.add(sub)
        flags = {a.split("=")[0] for a in args if a.startswith("--")}
        assert flags <= FLAGS[sub], (args, flags - FLAGS[sub])
    assert {("state", "move"), ("import",), ("config", "set")} <= seen


def test_the_state_move_example_moves_a_cluster_between_real_shards() -> None:
    (args,) = [a for a in commands() if a[:2] == ["state", "move"]]
    source, dest = args[args.index("--source") + 1], args[args.index("--dest") + 1]
    for stack in (source, dest):
        assert (ROOT / "stacks" / f"Pulumi.{stack}.yaml").is_file()
    urn = args[-1]
    found = re.fullmatch(r"urn:pulumi:([^:]+)::([^:]+)::([^:]+:[^:]+:[^:]+)::(.+)", urn)
    assert found is not None, urn
    stack, project, kind, cluster = found.groups()
    assert (stack, project, kind) == (source, "meshfleet", "meshfleet:index:MemberCluster")
    shard = (ROOT / "stacks" / f"Pulumi.{source}.yaml").read_text()
    assert cluster in shard, "the moved cluster is in the source stack's shard"


def test_the_import_example_names_a_real_object() -> None:
    (args,) = [a for a in commands() if a[0] == "import"]
    resource_type, name, object_id = args[1:4]
    plan = load_plan(ROOT / "fleet" / "demo.yaml")
    cluster = name.split(":", 1)[0]
    (obj,) = [o for o in plan.cluster(cluster).applied() if logical_name(cluster, o) == name]
    assert resource_type == f"kubernetes:{obj.api_version}:{obj.kind}"
    assert object_id == f"{obj.namespace}/{obj.name}"


def test_the_section_tells_each_lifecycle_step() -> None:
    for heading in (
        "### Renaming a cluster",
        "### Moving a cluster between shards",
        "### Decommissioning a dead cluster",
        "### Destroy",
        "### The first `up`",
    ):
        assert heading in SECTION
