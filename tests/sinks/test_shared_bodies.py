"""Parts of planned bodies shared between objects never show in what is written.

Why: an exporter's entry in a ServiceImport's endpoints is made once and shared by every consumer's
import, and by every plan the process makes (a 100k fleet lists 415,000 entries from about 2,000).
That is safe only while no body is changed once planned and no writer turns a shared mapping into a
YAML anchor and alias.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import yaml

from meshfleet.cli import common
from meshfleet.cli.main import main
from meshfleet.core.objects import PlannedObject, release_shared
from meshfleet.core.plan import Plan, plan
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.model import Fleet
from meshfleet.sinks.render import render
from meshfleet.sinks.yaml_text import dump_yaml

ALIAS = re.compile(r"(^|[\s:\-\[{,])[&*]id\d+", re.MULTILINE)


SHAPE = FleetShape(clusters=6, services=8, control_plane=False, multi_port_share=0.5)
"""Without an FSM control plane meshfleet writes the imports itself, so they are rendered."""


def _shared_fleet() -> Fleet:
    return Fleet.model_validate(generate(SHAPE, 3))


def test_consumers_share_each_exporters_entry() -> None:
    p = plan(_shared_fleet())
    seen: dict[tuple[str, str, int, str], list[int]] = {}
    for c in p.clusters:
        for o in c.objects:
            if o.kind != "ServiceImport":
                continue
            for port in o.body["spec"]["ports"]:
                for entry in port["endpoints"]:
                    seen.setdefault((o.namespace, o.name, port["port"], entry["clusterKey"]), []).append(id(entry))
    listed_twice = [ids for ids in seen.values() if len(ids) > 1]
    assert listed_twice, "the fleet should have a service imported by several consumers"
    assert all(len(set(ids)) == 1 for ids in listed_twice)


def test_no_rendered_file_aliases_a_shared_part(tmp_path: Path) -> None:
    render(plan(_shared_fleet()), tmp_path / "out")
    files = sorted((tmp_path / "out").rglob("*.yaml"))
    assert any("ServiceImport" in f.read_text() for f in files)
    aliased = [f.name for f in files if ALIAS.search(f.read_text())]
    assert aliased == []


def test_the_alias_pattern_finds_what_pyyaml_writes() -> None:
    import yaml

    shared = {"clusterKey": "c1"}
    text = yaml.safe_dump({"a": [shared], "b": [shared]})
    assert ALIAS.search(text)


def test_two_plans_of_one_process_share_their_equal_parts() -> None:
    """`diff` plans two fleets: equal endpoints are one object, compared by identity."""
    first, second = plan(_shared_fleet()), plan(_shared_fleet())

    def imports(p: Plan) -> dict[tuple[str, str, str], PlannedObject]:
        return {(c.name, o.namespace, o.name): o for c in p.clusters for o in c.objects if o.kind == "ServiceImport"}

    old, new = imports(first), imports(second)
    assert old and old.keys() == new.keys()
    for key, o in old.items():
        assert o.body is not new[key].body  # each plan's own body...
        for a, b in zip(o.body["spec"]["ports"], new[key].body["spec"]["ports"], strict=True):
            assert all(x is y for x, y in zip(a["endpoints"], b["endpoints"], strict=True))  # ...its parts shared
    views = [(c.name, i.service, i.endpoints) for c in first.clusters for i in c.imports]
    again = [(c.name, i.service, i.endpoints) for c in second.clusters for i in c.imports]
    assert views and all(
        x is y for (_, _, a), (_, _, b) in zip(views, again, strict=True) for x, y in zip(a, b, strict=True)
    )


def test_the_writer_never_writes_an_alias() -> None:
    shared = {"clusterKey": "c1", "target": {"host": "10.0.0.1"}}
    assert not ALIAS.search(dump_yaml({"a": [shared, shared], "b": shared}))


@pytest.mark.parametrize(
    "command",
    [
        ["render", "--out", "{out}"],
        [
            "render",
            "--out",
            "{out}",
            "--gitops",
            "argocd",
            "--repo-url",
            "https://git.example/f.git",
            "--path-prefix",
            "f",
        ],
        [
            "render",
            "--out",
            "{out}",
            "--gitops",
            "flux",
            "--repo-url",
            "https://git.example/f.git",
            "--path-prefix",
            "f",
        ],
        ["plan", "--format", "json"],
        ["plan"],
        ["routes", "--format", "json"],
        ["diff", "{fleet}", "--format", "markdown"],
    ],
    ids=["render", "argocd", "flux", "plan-json", "plan", "routes", "diff"],
)
def test_no_command_changes_a_planned_body(command: list[str], tmp_path: Path) -> None:
    """What every consumer shares must come out of each command as it went in."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(generate(SHAPE, 3), sort_keys=False), encoding="utf-8")
    args = [a.format(out=tmp_path / "out", fleet=fleet) for a in command]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main([args[0], str(fleet), *args[1:]]) == 0
    (used, *_) = [k for k in common._KEPT if isinstance(k, Plan)]
    release_shared()  # a fresh plan, sharing nothing with the command's
    fresh = plan(Fleet.model_validate(generate(SHAPE, 3)))
    assert [[o.body for o in c.objects] for c in used.clusters] == [[o.body for o in c.objects] for c in fresh.clusters]
