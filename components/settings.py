"""What one stack applies: the fleet file, safety switches and its shard of the fleet's clusters.

Why: big fleets split into several stacks (`<env>-<region>`) that all read the same fleet file, so
every stack plans the whole fleet (cross-cluster objects must agree) and applies only its shard.
A wrong shard is worse than an error: a selector that matches nothing would make `pulumi up`
delete everything the stack applied before. So every doubtful choice is refused here, before any
resource is registered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi

from meshfleet.core.plan import ClusterPlan, Plan
from meshfleet.fleet import names

DEFAULT_FLEET = "fleet/demo.yaml"


class StackConfigError(pulumi.RunError):
    """The stack's configuration is wrong; the message says which key and how to fix it.

    A `RunError` is reported by Pulumi as a plain message, without a Python traceback.
    """


@dataclass(frozen=True)
class Settings:
    fleet: str = DEFAULT_FLEET
    protect: bool = False
    clusters: tuple[str, ...] = ()
    cluster_selector: str = ""
    delete_unreachable: bool = False
    skip_update_unreachable: bool = False

    def fleet_path(self, project_dir: Path) -> Path:
        """The fleet file; a relative path is read from the project, wherever Pulumi was started."""
        path = Path(self.fleet).expanduser()
        return path if path.is_absolute() else project_dir / path


def read_settings(config: pulumi.Config) -> Settings:
    """The stack's settings; defaults mirror the typed keys declared in Pulumi.yaml."""
    clusters = _string_list(config, "clusters")
    return Settings(
        fleet=config.get("fleet") or DEFAULT_FLEET,
        protect=_bool(config, "protect"),
        clusters=tuple(clusters),
        cluster_selector=(config.get("clusterSelector") or "").strip(),
        delete_unreachable=_bool(config, "deleteUnreachable"),
        skip_update_unreachable=_bool(config, "skipUpdateUnreachable"),
    )


def _bool(config: pulumi.Config, key: str) -> bool:
    try:
        return bool(config.get_bool(key, False))
    except pulumi.ConfigTypeError:
        raise StackConfigError(
            f"{config.full_key(key)} must be true or false; set it with `pulumi config set {key} true`"
        ) from None


def _string_list(config: pulumi.Config, key: str) -> list[str]:
    try:
        value = config.get_object(key, [])
    except (json.JSONDecodeError, pulumi.ConfigTypeError):
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StackConfigError(
            f"{config.full_key(key)} must be a list of cluster names; "
            f"set it with `pulumi config set --path '{key}[0]' cluster-1`"
        )
    return list(value)


def parse_selector(text: str) -> list[tuple[str, str, str | None]]:
    """`region=eu,tier!=canary,gpu,!legacy` -> [(key, operator, value)], as kubectl reads it."""
    requirements: list[tuple[str, str, str | None]] = []
    for raw in text.split(","):
        term = raw.strip()
        if not term:
            raise StackConfigError(f"clusterSelector {text!r} has an empty term; write e.g. region=eu,tier=prod")
        for op in ("!=", "==", "="):
            if op in term:
                key, _, value = term.partition(op)
                key, value = key.strip(), value.strip()
                requirements.append((_label_key(key, text), "!=" if op == "!=" else "=", _label_value(value, text)))
                break
        else:
            if term.startswith("!"):
                requirements.append((_label_key(term[1:].strip(), text), "!", None))
            else:
                requirements.append((_label_key(term, text), "exists", None))
    return requirements


def _label_key(key: str, text: str) -> str:
    try:
        return names.label_key(key)
    except ValueError as e:
        raise StackConfigError(f"clusterSelector {text!r}: {e}") from None


def _label_value(value: str, text: str) -> str:
    try:
        return names.label_value(value)
    except ValueError as e:
        raise StackConfigError(f"clusterSelector {text!r}: {e}") from None


def _matches(labels: dict[str, str], requirements: list[tuple[str, str, str | None]]) -> bool:
    for key, op, value in requirements:
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!" and key in labels:
            return False
    return True


def select_clusters(plan: Plan, settings: Settings) -> list[ClusterPlan]:
    """The clusters this stack applies, in the plan's order."""
    known = [c.name for c in plan.clusters]
    if settings.clusters and settings.cluster_selector:
        raise StackConfigError(
            "meshfleet:clusters and meshfleet:clusterSelector are both set; a stack's shard is chosen "
            "one way: remove one of them (`pulumi config rm clusterSelector`)"
        )
    if settings.clusters:
        unknown = sorted(set(settings.clusters) - set(known))
        if unknown:
            raise StackConfigError(
                f"meshfleet:clusters names {', '.join(unknown)}, not in the fleet {settings.fleet} "
                f"(its clusters: {', '.join(known)})"
            )
        chosen = set(settings.clusters)
        return [c for c in plan.clusters if c.name in chosen]
    if settings.cluster_selector:
        requirements = parse_selector(settings.cluster_selector)
        picked = [c for c in plan.clusters if _matches(plan.labels.get(c.name, {}), requirements)]
        if not picked:
            raise StackConfigError(
                f"meshfleet:clusterSelector {settings.cluster_selector!r} matches no cluster of {settings.fleet}; "
                "a stack with an empty shard would delete everything it applied before. Check the labels "
                "under clusters.<name>.labels in the fleet file"
            )
        return picked
    return list(plan.clusters)
