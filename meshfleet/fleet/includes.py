"""Read the manifest files a fleet's resources name: beside the fleet file, or at a git revision.

Why: a resource's objects may live in manifest files (`manifests: manifests/httpbin.yaml`, or a
directory of them) rather than in the fleet file. They are read here, by the loader and nowhere else,
with the fleet file's own limits and positions: each file is parsed as the fleet file is (size,
nesting, aliases, tags, control characters), every document of it is placed so that a finding about
an object names `file:line:col` inside that file, and the files of one fleet together are bounded.

A fleet file is untrusted input (CI reads it on every pull request), so a manifest path must stay
inside the fleet file's directory: no absolute path, no `..`, no symbolic link leading out, and only
regular files; otherwise a fleet could render `/etc/shadow` into a pull-request comment.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal, Protocol

from meshfleet import codes
from meshfleet.errors import Code, Finding, FleetError, Loc
from meshfleet.fleet.document import MAX_BYTES, Budget, Document, parse_manifests_bytes
from meshfleet.fleet.model import Fleet
from meshfleet.fleet.resources import MANIFEST_SUFFIXES, IncludedObject, manifest_loc

if TYPE_CHECKING:
    import subprocess

MAX_FILES = 500
"""Manifest files one fleet may read: enough for a directory per team; a bound on work for a small fleet file."""
MAX_TOTAL_BYTES = 4 * 1024 * 1024
"""Bytes of manifest files one fleet may read together (each file is bounded like a fleet file, 1 MiB)."""

Kind = Literal["file", "dir", "missing", "other"]


class Files(Protocol):
    """Where a fleet's manifest files are read from, by paths relative to the fleet file's directory."""

    def kind(self, rel: str) -> Kind: ...

    def read(self, rel: str) -> bytes:
        """At most MAX_BYTES + 1 bytes of the file; raises OSError."""
        ...

    def listing(self, rel: str) -> list[str]:
        """The names of the files directly in a directory."""
        ...

    def display(self, rel: str) -> str:
        """How findings name the file."""
        ...


@dataclass(frozen=True)
class LocalFiles:
    """Manifests on disk, inside `root` (the fleet file's directory) and nowhere else."""

    root: Path
    shown_root: str
    """How the fleet file's directory is shown (`fleet`), so that findings name `fleet/manifests/x.yaml`."""

    def _inside(self, rel: str) -> Path | None:
        path = self.root / rel
        try:
            real = path.resolve(strict=True)
            root = self.root.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return real if real == root or root in real.parents else None

    def kind(self, rel: str) -> Kind:
        if not (self.root / rel).exists() and not (self.root / rel).is_symlink():
            return "missing"
        real = self._inside(rel)
        if real is None:
            return "other"
        mode = os.stat(real).st_mode
        return "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "other"

    def read(self, rel: str) -> bytes:
        real = self._inside(rel)
        if real is None:
            raise OSError("outside the fleet file's directory")
        with real.open("rb") as fh:
            return fh.read(MAX_BYTES + 1)

    def listing(self, rel: str) -> list[str]:
        real = self._inside(rel)
        return [] if real is None else sorted(p.name for p in real.iterdir())

    def display(self, rel: str) -> str:
        return str(PurePosixPath(self.shown_root) / rel) if self.shown_root not in ("", ".") else rel


def git_blob_head(where: Path, rev: str, rel: str, limit: int) -> bytes | None:
    """At most `limit` bytes of the file `rel` (relative to `where`) at revision `rev`, read with git
    in `where`; None when the revision holds no file there (no such path, or a directory). Raises
    OSError with git's words when git cannot read what is there (a corrupt object, an unreadable
    pack, no git at all): that is no reason to take the file for absent, which would show a whole
    fleet as added.

    Why: a file over the size limit is refused on its first bytes, as one in the work tree is; git
    hands the blob over a pipe, and reading it whole first would hold a file of any size in memory.
    """
    import subprocess  # only `diff --base` reads from git: the other commands never load it

    def git(*args: str) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                ["git", *args], cwd=where, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
            )
        except FileNotFoundError:
            raise OSError("git is not installed") from None

    # The tree's entry says whether a file is there, without reading the file's own object.
    with git("ls-tree", "-z", "--end-of-options", rev, "--", f"./{rel}") as probe:
        listed, said = probe.communicate()
    if probe.returncode != 0:
        raise OSError(f"git cannot read {rev}:./{rel}: {said.decode(errors='replace').strip()}")
    # "<mode> <type> <object>\t<path>": the path itself, a file (a directory lists what it holds).
    entries = [e.partition(b"\t") for e in listed.split(b"\0") if e]
    wanted = str(PurePosixPath(rel)).encode()
    if [(head.split(b" ")[1:2], path) for head, _, path in entries] != [([b"blob"], wanted)]:
        return None  # nothing there, or not a file
    with git("cat-file", "blob", f"{rev}:./{rel}") as proc:
        assert proc.stdout is not None and proc.stderr is not None
        data = proc.stdout.read(limit)
        if len(data) == limit:
            proc.kill()  # the rest is not wanted: `limit` bytes already say it is too large
            return data
        told = proc.stderr.read(4096).decode(errors="replace").strip()
    if proc.returncode != 0:
        raise OSError(f"git cannot read {rev}:./{rel}: {told or f'exit code {proc.returncode}'}")
    return data


@dataclass
class GitFiles:
    """Manifests as they were at a git revision (`meshfleet diff --base REV`), read with `git`."""

    where: Path
    """The fleet file's directory in the work tree (git runs there)."""
    rev: str
    shown_root: str
    label: str = ""
    """How findings name the revision (default: `rev`), e.g. the branch the user gave."""
    _cache: dict[str, Kind] = field(default_factory=dict)

    def _git(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        import subprocess  # only `diff --base` reads from git: the other commands never load it

        return subprocess.run(["git", *args], cwd=self.where, capture_output=True)

    def kind(self, rel: str) -> Kind:
        if rel not in self._cache:
            found = self._git("cat-file", "-t", f"{self.rev}:./{rel}")
            kind = found.stdout.decode().strip() if found.returncode == 0 else ""
            mode = self._git("ls-tree", self.rev, "--", f"./{rel}").stdout.decode().split(" ", 1)[0]
            self._cache[rel] = (
                "missing"
                if not kind
                else "dir"
                if kind == "tree"
                else "file"
                if kind == "blob" and mode in ("100644", "100755")
                else "other"
            )
        return self._cache[rel]

    def read(self, rel: str) -> bytes:
        shown = git_blob_head(self.where, self.rev, rel, MAX_BYTES + 1)
        if shown is None:
            raise OSError(f"not in revision {self.rev}")
        return shown

    def listing(self, rel: str) -> list[str]:
        found = self._git("ls-tree", "--name-only", f"{self.rev}:./{rel}")
        return sorted(found.stdout.decode().splitlines()) if found.returncode == 0 else []

    def display(self, rel: str) -> str:
        shown = str(PurePosixPath(self.shown_root) / rel) if self.shown_root not in ("", ".") else rel
        return f"{shown}@{self.label or self.rev}"


@dataclass(frozen=True)
class Included:
    """Every resource's objects read from its manifest files, and the documents that place findings."""

    objects: dict[str, tuple[IncludedObject, ...]]
    documents: dict[Loc, Document]
    """Keyed by `manifest_loc(resource, file, document)`."""


class _Reading:
    def __init__(self, files: Files) -> None:
        self.files = files
        self.findings: list[Finding] = []
        self.budget = Budget()
        self.bytes = 0
        self.count = 0
        self.parsed: dict[str, list[Document | None] | None] = {}

    def problem(self, loc: Loc, message: str, hint: str, code: Code) -> None:
        self.findings.append(Finding(loc, message, hint, code=code))

    def paths(self, loc: Loc, rel: str) -> list[str]:
        """The manifest files a path names: itself, or the manifest files of its directory."""
        kind = self.files.kind(rel)
        if kind == "missing":
            self.problem(
                loc,
                f"no file or directory {rel!r} beside the fleet file",
                "give the path relative to the fleet file's directory",
                codes.UNREADABLE_FILE,
            )
            return []
        if kind == "other":
            self.problem(
                loc,
                f"{rel!r} is not a regular file or directory inside the fleet file's directory (a "
                "symbolic link leading out of it, a device or a pipe)",
                "keep manifests as plain files beside or below the fleet file",
                codes.UNREADABLE_FILE,
            )
            return []
        if kind == "file":
            return [rel]
        found = []
        for name in self.files.listing(rel):
            path = f"{rel.rstrip('/')}/{name}"
            kind = self.files.kind(path) if name.endswith(MANIFEST_SUFFIXES) else "dir"
            if kind == "file":
                found.append(path)
            elif kind == "other":
                self.problem(
                    loc,
                    f"{path!r} is not a regular file inside the fleet file's directory (a symbolic "
                    "link leading out of it, a device or a pipe)",
                    "keep manifests as plain files beside or below the fleet file",
                    codes.UNREADABLE_FILE,
                )
        if not found:
            self.problem(
                loc,
                f"the directory {rel!r} holds no manifest file ({', '.join(MANIFEST_SUFFIXES)})",
                "put the objects' files in it, or name the files",
                codes.UNREADABLE_FILE,
            )
        return found

    def documents(self, loc: Loc, rel: str, resource: str) -> list[Document | None] | None:
        if rel in self.parsed:
            return self.parsed[rel]
        self.parsed[rel] = None
        self.count += 1
        if self.count > MAX_FILES:
            self.problem(
                loc,
                f"the fleet names more than {MAX_FILES} manifest files",
                "split the fleet into several fleet files",
                codes.FILE_TOO_LARGE,
            )
            return None
        try:
            raw = self.files.read(rel)
        except OSError as e:
            self.problem(loc, f"cannot read {rel!r}: {e.strerror or e}", "check the path", codes.UNREADABLE_FILE)
            return None
        self.bytes += len(raw)
        if self.bytes > MAX_TOTAL_BYTES:
            self.problem(
                loc,
                f"the fleet's manifest files hold more than {MAX_TOTAL_BYTES:,} bytes together "
                f"({MAX_TOTAL_BYTES // 1024 // 1024} MiB)",
                "split the fleet into several fleet files",
                codes.FILE_TOO_LARGE,
            )
            return None
        try:
            docs = parse_manifests_bytes(raw, self.files.display(rel), manifest_loc(resource, rel, 0)[:-1], self.budget)
        except FleetError as e:
            self.findings.extend(e.problems)
            return None
        self.parsed[rel] = docs
        return docs


def read_manifests(fleet: Fleet, files: Files) -> Included:
    """Read every resource's manifest files; a FleetError holds every problem (path problems without a
    position: the loader places them in the fleet file)."""
    reading = _Reading(files)
    objects: dict[str, tuple[IncludedObject, ...]] = {}
    documents: dict[Loc, Document] = {}
    for name, resource in sorted(fleet.resources.items()):
        entries: Iterable[tuple[Loc, str]] = (
            [(("resources", name, "manifests"), resource.manifests)]
            if isinstance(resource.manifests, str)
            else [(("resources", name, "manifests", i), p) for i, p in enumerate(resource.manifest_paths())]
        )
        found: list[IncludedObject] = []
        for loc, rel in entries:
            for path in reading.paths(loc, rel):
                docs = reading.documents(loc, path, name)
                for index, doc in enumerate(docs or ()):
                    if doc is not None:
                        where = manifest_loc(name, path, index)
                        documents[where] = doc
                        found.append(IncludedObject(doc.data, where))
        objects[name] = tuple(found)
        if resource.manifests is not None and not found and not reading.findings:
            reading.problem(
                ("resources", name, "manifests"),
                "the manifests hold no object",
                "write the objects in the files, or remove the resource",
                codes.EMPTY_FILE,
            )
    if reading.findings:
        raise FleetError(reading.findings)
    return Included(objects, documents)


__all__ = ["MAX_FILES", "MAX_TOTAL_BYTES", "Files", "GitFiles", "Included", "LocalFiles", "read_manifests"]
