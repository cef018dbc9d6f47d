"""Reading a cluster's kubeconfig from the user's files, for the sinks that must hand one on.

Why: two sinks need a member's kubeconfig: the Pulumi program (its provider, and the FSM `Cluster`
object) and `meshfleet render --with-kubeconfigs` (the `Cluster` object, only when asked). Both
must find the same files the same way (`file:` relative to the fleet file, else $KUBECONFIG merged
as kubectl merges it, else ~/.kube/config), cut them down to one context, and fail with a message
that names files and contexts but never quotes a byte of their content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePath

from meshfleet.fleet.model import KubeconfigFromContext
from meshfleet.kube.kubecontext import ContextError, KubeconfigFile, reduce_to_context


class KubeconfigUnavailable(Exception):
    """The context cannot be read; the message is safe to show (it holds no kubeconfig content)."""


def context_files(source: KubeconfigFromContext, fleet_dir: Path, environ: Mapping[str, str]) -> list[Path]:
    if source.file is not None:
        named = Path(source.file).expanduser()
        return [named if named.is_absolute() else fleet_dir / named]
    env = environ.get("KUBECONFIG", "")
    listed = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    if listed:
        return listed
    return [Path(environ.get("HOME", str(Path.home()))) / ".kube" / "config"]


def read_context(source: KubeconfigFromContext, fleet_dir: Path, environ: Mapping[str, str]) -> str:
    """The kubeconfig text holding only `source.context`, or KubeconfigUnavailable saying why."""
    paths = context_files(source, fleet_dir, environ)
    files: list[KubeconfigFile] = []
    for p in paths:
        try:
            files.append(KubeconfigFile(p, p.read_text(encoding="utf-8")))
        except FileNotFoundError:
            if source.file is not None:
                break  # named in the fleet file: reported below
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
            raise KubeconfigUnavailable(f"cannot read the kubeconfig file {p} ({reason})") from None
    if not files:
        where = ", ".join(str(p) for p in paths)
        raise KubeconfigUnavailable(
            f"the fleet file takes context {source.context!r}, but there is no kubeconfig file at {where}"
        )
    try:
        return reduce_to_context(files, source.context, _read_bytes)
    except ContextError as e:
        raise KubeconfigUnavailable(str(e)) from None


def _read_bytes(path: PurePath) -> bytes:
    return Path(path).read_bytes()
