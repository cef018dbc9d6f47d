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
import functools
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


class _Unusual(Exception):
    """A value the block writer leaves to PyYAML (multi-line or very long text, nested lists...)."""


# Strings PyYAML writes plain: a letter or `/` first, then letters, digits and `_./-`; and none of
# the words YAML 1.1 reads as booleans or null.
_PLAIN = re.compile(r"[A-Za-z/][A-Za-z0-9_./-]*\Z")
_RESOLVED_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n"})


class BlockWriter:
    """Writes plan bodies as the same bytes as `dump_yaml`, an order of magnitude faster.

    Why: rendering 100k objects spent most of its time in PyYAML's Python representer, resolving
    the same few thousand scalars again and again. Plan bodies hold only mappings with string keys,
    lists, strings, numbers and booleans, in block style. The writer lays out that structure itself
    and asks PyYAML once for the text of each distinct key and scalar (so quoting is PyYAML's own),
    and hands anything unusual back to `dump_yaml`. A property test holds it to `dump_yaml` byte for
    byte.
    """

    def __init__(self) -> None:
        self._scalars: dict[tuple[type, Any], str] = {}
        self._keys: dict[str, str] = {}

    def dump(self, obj: Any) -> str:
        if not isinstance(obj, dict) or not obj:
            return dump_yaml(obj)
        out: list[str] = []
        try:
            self._mapping(obj, "", out)
        except _Unusual:
            return dump_yaml(obj)
        return "".join(out)

    def _scalar(self, value: Any) -> str:
        if type(value) is str and _PLAIN.match(value) and value.lower() not in _RESOLVED_WORDS:
            return value  # PyYAML writes such a string as it is (the property test holds this)
        if type(value) is int:
            return str(value)
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise _Unusual
        key = (type(value), value)
        text = self._scalars.get(key)
        if text is None:
            if isinstance(value, str) and len(value) > 512:
                raise _Unusual
            dumped = dump_yaml({"k": value})
            if not dumped.startswith("k: ") or dumped.count("\n") != 1:
                raise _Unusual
            text = dumped[3:-1]
            self._scalars[key] = text
        return text

    def _key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise _Unusual
        text = self._keys.get(key)
        if text is None:
            dumped = dump_yaml({key: 0})
            if not dumped.endswith(": 0\n") or dumped.count("\n") != 1 or dumped.startswith("?"):
                raise _Unusual
            text = dumped[:-4]
            self._keys[key] = text
        return text

    def _mapping(self, obj: dict[Any, Any], indent: str, out: list[str], first: str | None = None) -> None:
        """A block mapping at `indent`; `first` replaces the indent of its first line (`- ` items)."""
        lead = indent if first is None else first
        for k, v in obj.items():
            head = lead + self._key(k) + ":"
            lead = indent
            if isinstance(v, dict):
                if v:
                    out.append(head + "\n")
                    self._mapping(v, indent + "  ", out)
                else:
                    out.append(head + " {}\n")
            elif isinstance(v, list):
                if v:
                    out.append(head + "\n")
                    self._sequence(v, indent, out)
                else:
                    out.append(head + " []\n")
            else:
                out.append(head + " " + self._scalar(v) + "\n")

    def _sequence(self, items: list[Any], indent: str, out: list[str]) -> None:
        """A block sequence at `indent` (PyYAML does not indent a sequence inside a mapping)."""
        for item in items:
            if isinstance(item, dict):
                if item:
                    self._mapping(item, indent + "  ", out, first=indent + "- ")
                else:
                    out.append(indent + "- {}\n")
            elif isinstance(item, list):
                raise _Unusual
            else:
                out.append(indent + "- " + self._scalar(item) + "\n")


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


def render_cluster(plan: Plan, cluster: ClusterPlan, kubeconfigs: Mapping[str, str] | None = None,
                   writer: BlockWriter | None = None) -> Iterator[RenderedFile]:
    """The files of one cluster's directory, in a stable order (streamed: one cluster at a time)."""
    dump = (writer or BlockWriter()).dump
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
        yield RenderedFile(cluster.name, name, header + dump(body))
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
                # One writer (and scalar cache) per cluster: memory stays bounded by one cluster.
                for f in render_cluster(plan, cluster, kubeconfigs, BlockWriter()):
                    _write(d / f.name, f.text)
                written.append(cluster.name)
            _write(stage / MARKER, MARKER_TEXT)
            if extra is not None:
                extra(stage)
            _sync_tree(stage)  # everything staged is on disk before it replaces the old output
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


@functools.cache
def _libc_function(name: str) -> Any | None:
    """A libc function the os module does not offer (syncfs, renameat2), or None where absent."""
    libc_name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(libc_name, use_errno=True), name, None) if libc_name else None


def _sync_tree(path: Path) -> None:
    """Make the staged tree durable with one syncfs of its filesystem (one fsync per file cost
    more than writing the files); where syncfs is missing, sync everything."""
    fd = os.open(path, os.O_RDONLY)
    try:
        syncfs = _libc_function("syncfs")
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
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
    fn = _libc_function("renameat2")
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
