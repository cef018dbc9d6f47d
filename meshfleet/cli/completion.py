"""Shell completion beyond argparse's own words: the cluster names of the fleet on the command line.

Why: `--cluster` takes a name from the fleet file, and a long fleet's names are easy to mistype.
Completion runs only when the shell asks (argcomplete sets _ARGCOMPLETE), never on a normal start.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

MAX_BYTES = 4 * 1024 * 1024


def cluster_names(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """The `clusters:` keys of the FLEET already typed, starting with `prefix`; none when it does not read."""
    import yaml

    fleet = getattr(parsed_args, "fleet", None)
    if not fleet or fleet == "-":
        return []
    try:
        path = Path(fleet)
        if path.stat().st_size > MAX_BYTES:
            return []
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    clusters = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(clusters, dict):
        return []
    return sorted(str(name) for name in clusters if str(name).startswith(prefix))


def attach(parser: argparse.ArgumentParser) -> None:
    """Give every `--cluster` option the cluster-name completer."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                attach(sub)
        elif "--cluster" in action.option_strings:
            action.completer = cluster_names  # type: ignore[attr-defined]  # argcomplete reads it
