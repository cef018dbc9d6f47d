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

from meshfleet.fleet import names

DEFAULT_FLEET = "fleet/demo.yaml"
ALL = "*"
# Stack-wide switches that older versions sent to every provider as an explicit value (even
# `false`), which overrode the provider's PULUMI_K8S_* environment variables and was stored in the
# state. They are gone: a dead cluster is marked `decommissioned: true` in the fleet instead.
RETIRED_KEYS = {
    "deleteUnreachable": "mark the dead cluster `decommissioned: true` in the fleet file (that cluster only), "
    "or run once with PULUMI_K8S_DELETE_UNREACHABLE=true",
    "skipUpdateUnreachable": "run with PULUMI_K8S_SKIP_UPDATE_UNREACHABLE=true when a cluster is down for a while",
}


class StackConfigError(pulumi.RunError):
    """The stack's configuration is wrong; the message says which key and how to fix it.

    A `RunError` is reported by Pulumi as a plain message, without a Python traceback.
    """


@dataclass(frozen=True)
class Settings:
    """One stack's choices: its fleet file, protection and shard (`("*",)`: every cluster)."""

    fleet: str = DEFAULT_FLEET
    protect: bool = False
    clusters: tuple[str, ...] = (ALL,)
    cluster_selector: str = ""

    def fleet_path(self, project_dir: Path) -> Path:
        """The fleet file; a relative path is read from the project, wherever Pulumi was started."""
        path = Path(self.fleet).expanduser()
        return path if path.is_absolute() else project_dir / path


def read_settings(config: pulumi.Config) -> Settings:
    """The stack's settings; defaults mirror the typed keys declared in Pulumi.yaml."""
    for key, instead in RETIRED_KEYS.items():
        if config.get(key) is not None:
            raise StackConfigError(
                f"{config.full_key(key)} is no longer read: a stack-wide value overrode the provider's own "
                f"environment variable and stayed in the state. Remove it (`pulumi config rm {key}`) and {instead}"
            )
    clusters = _string_list(config, "clusters")
    if not clusters:
        raise StackConfigError(
            f"{config.full_key('clusters')} is empty; an empty shard would delete everything the stack applied. "
            f'Name the clusters, or write ["{ALL}"] (or remove the key) for every cluster of the fleet'
        )
    if ALL in clusters and clusters != [ALL]:
        raise StackConfigError(
            f'{config.full_key("clusters")} mixes "{ALL}" with names; write either ["{ALL}"] or only names'
        )
    return Settings(
        fleet=config.get("fleet") or DEFAULT_FLEET,
        protect=_bool(config, "protect"),
        clusters=tuple(clusters),
        cluster_selector=(config.get("clusterSelector") or "").strip(),
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
        value = config.get_object(key, [ALL])
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


def select_names(known: list[str], labels: dict[str, dict[str, str]], settings: Settings) -> list[str]:
    """The names of the clusters a stack with `settings` applies, in `known`'s order.

    `known` are every cluster of the fleet file, decommissioned ones too (their providers live in
    the stack that applied them); `labels` are their labels.
    """
    by_name = settings.clusters != (ALL,)
    if by_name and settings.cluster_selector:
        raise StackConfigError(
            "meshfleet:clusters and meshfleet:clusterSelector are both set; a stack's shard is chosen "
            "one way: remove one of them (`pulumi config rm clusterSelector`)"
        )
    if by_name:
        unknown = sorted(set(settings.clusters) - set(known))
        if unknown:
            raise StackConfigError(
                f"meshfleet:clusters names {', '.join(unknown)}, not in the fleet {settings.fleet} "
                f"(its clusters: {', '.join(known)})"
            )
        return [name for name in known if name in settings.clusters]
    if settings.cluster_selector:
        requirements = parse_selector(settings.cluster_selector)
        picked = [name for name in known if _matches(labels.get(name, {}), requirements)]
        if not picked:
            raise StackConfigError(
                f"meshfleet:clusterSelector {settings.cluster_selector!r} matches no cluster of {settings.fleet}; "
                "a stack with an empty shard would delete everything it applied before. Check the labels "
                "under clusters.<name>.labels in the fleet file"
            )
        return picked
    return list(known)
