"""Which stack applies which cluster: the committed stack files share a fleet's clusters out.

Why: when two stacks apply one cluster, each creates the same Kubernetes objects and the second
fails on objects that already exist (or, worse, one deletes what the other applies). A stack
cannot see another stack's state, but it can read the committed stack files beside its own: every
stack file that applies the same fleet file is read, its shard computed the same way, and a
cluster claimed twice stops the run. A cluster no stack claims is only a warning (it may be
new and on its way into a shard).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.settings import ALL, DEFAULT_FLEET, Settings, StackConfigError, select_names


@dataclass(frozen=True)
class StackFile:
    """A committed `Pulumi.<stack>.yaml` as this program reads it: the stack and its shard settings."""

    stack: str
    path: Path
    settings: Settings


def stack_files(project_dir: Path) -> list[StackFile]:
    """Every `Pulumi.<stack>.yaml` in the project's stackConfigDir, read for the shard keys only."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    name = str(project.get("name", "meshfleet"))
    directory = project_dir / str(project.get("stackConfigDir") or ".")
    found = []
    for path in sorted(directory.glob("Pulumi.*.yaml")):
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        config: dict[str, Any] = doc.get("config") or {}
        clusters = config.get(f"{name}:clusters", [ALL])
        settings = Settings(
            fleet=str(config.get(f"{name}:fleet") or DEFAULT_FLEET),
            clusters=tuple(str(c) for c in clusters) if isinstance(clusters, list) else (),
            cluster_selector=str(config.get(f"{name}:clusterSelector") or "").strip(),
        )
        found.append(StackFile(stack, path, settings))
    return found


def claims(
    project_dir: Path, fleet_path: Path, known: list[str], labels: dict[str, dict[str, str]]
) -> dict[str, list[str]]:
    """Stack -> the clusters it applies, for every committed stack file that applies `fleet_path`."""
    out: dict[str, list[str]] = {}
    for sf in stack_files(project_dir):
        if sf.settings.fleet_path(project_dir).resolve() != fleet_path.resolve():
            continue
        try:
            out[sf.stack] = select_names(known, labels, sf.settings)
        except StackConfigError as e:
            raise StackConfigError(f"the stack file {sf.path.name}: {e}") from None
    return out


def check(stack: str, shard: list[str], others: dict[str, list[str]], known: list[str]) -> list[str]:
    """Raise if another stack claims a cluster of `shard`; return the clusters of `known` no stack claims."""
    claimed: dict[str, list[str]] = {}
    for other, names in sorted(others.items()):
        if other == stack:
            continue
        for n in set(names) & set(shard):
            claimed.setdefault(n, []).append(other)
    if claimed:
        twice = "; ".join(f"{n} (also in {', '.join(s)})" for n, s in sorted(claimed.items()))
        raise StackConfigError(
            f"stack {stack} applies clusters that another committed stack applies too: {twice}. A cluster "
            "belongs to one stack; change meshfleet:clusters or meshfleet:clusterSelector of one of them "
            "(to move a cluster between stacks, see the README's shard-move runbook)"
        )
    everyone = set(shard).union(*others.values())
    return [n for n in known if n not in everyone]
