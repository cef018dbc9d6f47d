"""Parts of planned bodies shared between objects never show in what is written.

Why: an exporter's entry in a ServiceImport's endpoints is made once per plan and shared by every
consumer's import (a 100k fleet lists 415,000 entries from about 2,000). That is safe only while no
body is changed once planned and no writer turns a shared mapping into a YAML anchor and alias.
"""

from __future__ import annotations

import re
from pathlib import Path

from meshfleet.core.plan import plan
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.model import Fleet
from meshfleet.sinks.render import render

ALIAS = re.compile(r"(^|[\s:\-\[{,])[&*]id\d+", re.MULTILINE)


def _shared_fleet() -> Fleet:
    # Without an FSM control plane meshfleet writes the imports itself, so they are rendered.
    return Fleet.model_validate(
        generate(FleetShape(clusters=6, services=8, control_plane=False, multi_port_share=0.5), 3)
    )


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
