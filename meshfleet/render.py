"""Plan -> per-cluster manifest directories for kubectl, Argo CD or Flux.

Why: many teams apply with a GitOps engine rather than Pulumi, and the same plan must reach them
byte for byte. The renderer writes `DIR/<cluster>/`, one file per object and a kustomization listing
the applied ones. The whole output is built beside the target and swapped in at once, so a failed or
interrupted run leaves the previous output whole, and a directory meshfleet did not write is never
replaced.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import ctypes.util
import errno
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from meshfleet.errors import UsageError
from meshfleet.model import KubeconfigFromContext
from meshfleet.plan import ClusterPlan, Plan, PlannedObject

MARKER = ".meshfleet"
MARKER_TEXT = "This directory is written by `meshfleet render`; it is replaced whole on every render.\n"
KUBECONFIG_ANNOTATION = "meshfleet.io/kubeconfig-from"
_SAFE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")

try:
    _Dumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment,unused-ignore]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


def dump_yaml(obj: Any) -> str:
    """YAML text with keys in the order the plan built them (the plan is already canonical)."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 16,
                     allow_unicode=True)


def file_name(obj: PlannedObject) -> str:
    """A stable file name per object: `<kind>.<namespace>.<name>.yaml` (`_` for cluster scope)."""
    parts = [obj.kind.lower(), obj.namespace or "_", obj.name]
    for p in parts[1:]:
        if p != "_" and not _SAFE.match(p):
            raise ValueError(f"refusing to derive a file name from {p!r}")
    name = ".".join(parts) + ".yaml"
    return name if obj.role == "applied" else "predicted." + name


def kubeconfig_note(cluster: ClusterPlan) -> str:
    source = cluster.kubeconfig
    if isinstance(source, KubeconfigFromContext):
        return f"context {source.context} of the user's kubeconfig"
    return f"stack secret meshfleet:kubeconfigs.{cluster.name}"


@dataclass(frozen=True)
class RenderedFile:
    cluster: str
    name: str
    text: str


def render_cluster(plan: Plan, cluster: ClusterPlan,
                   kubeconfigs: Mapping[str, str] | None = None) -> Iterator[RenderedFile]:
    """The files of one cluster's directory, in a stable order (streamed: one cluster at a time)."""
    applied: list[str] = []
    for obj in cluster.objects:
        body = obj.body
        if obj.kubeconfig_of is not None:
            body = copy.deepcopy(body)
            member = plan.cluster(obj.kubeconfig_of)
            if kubeconfigs is not None:
                body["spec"]["kubeconfig"] = kubeconfigs[obj.kubeconfig_of]
            else:
                meta = body["metadata"]
                meta["annotations"] = {**meta.get("annotations", {}), KUBECONFIG_ANNOTATION: kubeconfig_note(member)}
        name = file_name(obj)
        header = "# applied by meshfleet\n" if obj.role == "applied" else \
            "# predicted: written by FSM's controllers, not applied; kept for review and diffs\n"
        yield RenderedFile(cluster.name, name, header + dump_yaml(body))
        if obj.role == "applied":
            applied.append(name)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": applied,
    }
    yield RenderedFile(cluster.name, "kustomization.yaml",
                       "# applied objects of cluster " + cluster.name + "; predicted.* files are not listed\n"
                       + dump_yaml(kustomization))


def render(plan: Plan, out: str | Path, *, kubeconfigs: Mapping[str, str] | None = None,
           extra: Callable[[Path], None] | None = None) -> list[str]:
    """Write the plan to `out` atomically; returns the cluster directories written.

    `extra` may add files (GitOps hand-off objects) to the staged tree before it is swapped in.
    """
    target = Path(out)
    try:
        return _render(plan, target, kubeconfigs, extra)
    except OSError as e:
        where = e.filename if isinstance(e.filename, str) else str(target)
        raise UsageError(f"cannot write {where}: {e.strerror or e}; the previous output is untouched") from None


def _render(plan: Plan, target: Path, kubeconfigs: Mapping[str, str] | None,
            extra: Callable[[Path], None] | None) -> list[str]:
    _check_target(target)
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    lock_path = parent / f".{target.name}.meshfleet-lock"
    with _locked(lock_path):
        _check_target(target)  # again, under the lock
        olds = sorted(parent.glob(f".{target.name}.meshfleet-old-*"))
        if not target.exists() and olds:
            os.rename(olds[-1], target)  # a swap without renameat2 was cut between its two renames
        for stale in parent.glob(f".{target.name}.meshfleet-*"):
            # Left by a render that was killed; no render is running now (we hold the lock).
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.meshfleet-", dir=parent))
        try:
            written = []
            for cluster in plan.clusters:
                if not cluster.objects:
                    continue
                d = stage / cluster.name
                d.mkdir()
                for f in render_cluster(plan, cluster, kubeconfigs):
                    _write(d / f.name, f.text)
                written.append(cluster.name)
            _write(stage / MARKER, MARKER_TEXT)
            if extra is not None:
                extra(stage)
            _fsync_dir(stage)
            _swap_in(stage, target)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    return written


def _check_target(target: Path) -> None:
    if target.is_symlink():
        raise UsageError(f"refusing to write to {target}: it is a symbolic link; give the real directory")
    if target.exists():
        if not target.is_dir():
            raise UsageError(f"refusing to replace {target}: it is not a directory")
        if not (target / MARKER).is_file() and any(target.iterdir()):
            raise UsageError(
                f"refusing to replace {target}: it holds files meshfleet did not write (no {MARKER} marker); "
                "choose a new or empty directory"
            )


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One render per output directory at a time; a second waits instead of interleaving."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(stage: Path, target: Path) -> None:
    if not target.exists():
        os.rename(stage, target)
        return
    if _exchange(stage, target):
        shutil.rmtree(stage)  # now holds the previous output
        return
    old = target.with_name(f".{target.name}.meshfleet-old-{os.getpid()}")
    os.rename(target, old)
    os.rename(stage, target)
    shutil.rmtree(old, ignore_errors=True)
