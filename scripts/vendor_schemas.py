#!/usr/bin/env python3
"""Keep a schema-only copy of the upstream CRD manifests inside the project.

Usage::

    python scripts/vendor_schemas.py [--crds ../shared/crds] [--out schemas/crds] [--check]

Every ``CustomResourceDefinition`` found in a ``*.yaml``/``*.yml`` file under the
manifests folder is read; for each version with ``served: true`` the file
``<out>/<set>/<group>/<kind>_<version>.json`` is written with the group, kind, version,
scope, provenance (parsed from the folder's ``SOURCE.md`` where possible) and the
``openAPIV3Schema`` with every schema ``description`` annotation removed.

Schema sets exist because two releases of one project may define the same
``apiVersion``/``kind`` differently (FSM v1.2's MeshConfig is not the current FSM's).
Set ``current`` holds every manifest folder except those named ``<project>-v<version>``
(for example ``flomesh-v1.2``): each of those is an older release and forms a set of its
own (``OLDER_RELEASES`` names it, ``fsm-v1.2``).  An older-release set holds only its own
files; the rest of its objects are checked against its base set (``current``), minus the
API groups the release does not serve and minus the kinds it defines itself.
``<out>/sets.json`` records that composition for the validator and ``<out>/SOURCES.md``
lists every generated file with its set, upstream release and origin.

Output is deterministic and each file is written atomically.  ``--check`` writes
nothing: it exits 1 and lists the differences when the copy under ``--out`` is stale.

Only PyYAML is needed besides the standard library.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CRDS = REPO_ROOT.parent / "shared" / "crds"
DEFAULT_OUT = REPO_ROOT / "schemas" / "crds"
SOURCES_FILE = "SOURCES.md"
SETS_FILE = "sets.json"
CURRENT_SET = "current"
# A generated file bigger than this (in its indented form) is written as compact JSON.
COMPACT_THRESHOLD = 1_000_000
MAX_DIFF_LINES = 20


@dataclass(frozen=True)
class OlderRelease:
    """How an older release's manifest folder becomes a schema set: its name and what it takes out of its base."""

    set_name: str
    # API groups of the base set that this release does not serve at all.
    hides_groups: tuple[str, ...] = ()


# Manifest folders named <project>-v<version> hold an older release. Listed ones get the set name
# and hidden groups given here; an unlisted one forms a set named after its folder, hiding nothing.
OLDER_RELEASES: dict[str, OlderRelease] = {
    # FSM v1.2.x serves the multicluster kinds in `flomesh.io`; `multicluster.flomesh.io` came with v1.3.0.
    "flomesh-v1.2": OlderRelease(set_name="fsm-v1.2", hides_groups=("multicluster.flomesh.io",)),
}
_OLDER_RELEASE_FOLDER = re.compile(r".+-v\d+(?:\.\d+)*")
_SET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")

# JSON-Schema / OpenAPI keywords whose value is a map of name -> schema.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"})
# Keywords whose value is a schema (or, for items, possibly a list of schemas).
_SCHEMA_SINGLE = frozenset(
    {
        "items",
        "additionalProperties",
        "additionalItems",
        "not",
        "contains",
        "if",
        "then",
        "else",
        "propertyNames",
        "unevaluatedProperties",
        "unevaluatedItems",
    }
)
# Keywords whose value is a list of schemas.
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})

_HEX40 = re.compile(r"\b[0-9a-f]{40}\b")
_URL = re.compile(r"https?://[^\s)`>|]+")
_BULLET = re.compile(r"^\s*(?:[-*]\s+)?(?P<key>[A-Za-z][A-Za-z /-]{0,40}?):\s*(?P<value>\S.*)$")
_BACKTICKED = re.compile(r"`([^`\s]+)`")
_TAG_PHRASE = re.compile(r"\btag `([^`\s]+)`")
_COMMIT_PHRASE = re.compile(r"\bcommit `?([0-9a-f]{40})\b")
_DESCRIBE_PHRASE = re.compile(r"`?git describe`?:\s*`?([^\s`);,]+)")


class VendorError(Exception):
    """The manifests cannot be turned into a consistent schema copy."""


# --------------------------------------------------------------------------- provenance

# How sure a stated upstream version is: a release tag beats `git describe`, which beats a branch name.
_BY_TAG, _BY_TAG_PHRASE, _BY_DESCRIBE, _BY_BRANCH = 4, 3, 2, 1


@dataclass
class Provenance:
    """Where one manifest came from, as far as its folder's SOURCE.md says."""

    repository: str | None = None
    commit: str | None = None
    path: str | None = None
    license: str | None = None
    version: str | None = None  # the upstream release (tag), else `git describe`, else "branch <name>"

    def merged_over(self, base: Provenance) -> Provenance:
        return Provenance(
            repository=self.repository or base.repository,
            commit=self.commit or base.commit,
            path=self.path or base.path,
            license=self.license or base.license,
            version=self.version or base.version,
        )


@dataclass
class SourceInfo:
    """What a folder's SOURCE.md says: folder-wide facts and per-file table rows."""

    folder: Provenance = field(default_factory=Provenance)
    files: dict[str, Provenance] = field(default_factory=dict)
    version_rank: int = 0

    def for_file(self, name: str) -> Provenance:
        return self.files.get(name, Provenance()).merged_over(self.folder)

    def offer_version(self, version: str | None, rank: int) -> None:
        if version and rank > self.version_rank:
            self.folder.version = version
            self.version_rank = rank


def _clean_cell(cell: str) -> str:
    return cell.replace("`", "").replace("*", "").strip()


def _first_url(text: str) -> str | None:
    match = _URL.search(text)
    return match.group(0).rstrip(".,;") if match else None


def _first_commit(text: str) -> str | None:
    match = _HEX40.search(text)
    return match.group(0) if match else None


def _first_token(text: str) -> str | None:
    match = _BACKTICKED.search(text)
    if match:
        return match.group(1)
    words = text.split()
    return words[0].rstrip(".,;") if words else None


def _license_name(text: str) -> str | None:
    text = text.replace("`", "").strip()
    text = re.split(r"\s\(|\.\s|;", text, maxsplit=1)[0].strip().rstrip(".")
    if not text:
        return None
    lowered = text.lower()
    if "apache" in lowered and "2.0" in lowered:
        return "Apache-2.0"
    if re.fullmatch(r"mit( license)?", lowered):
        return "MIT"
    return text


def _split_row(line: str) -> list[str]:
    inner = line.strip()
    inner = inner.removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in inner.split("|")]


def _parse_table(lines: Sequence[str], info: SourceInfo) -> None:
    if len(lines) < 3:
        return
    header = [_clean_cell(cell).lower() for cell in _split_row(lines[0])]

    def column(*needles: str, exclude: tuple[str, ...] = ()) -> int | None:
        for index, name in enumerate(header):
            if any(n in name for n in needles) and not any(x in name for x in exclude):
                return index
        return None

    file_col = column("file")
    if file_col is None:
        return
    path_col = column("path", exclude=("file",))
    repo_col = column("repo", exclude=("licen",))
    commit_col = column("commit")
    license_col = column("licen")
    tag_col = column("tag", "release")
    for line in lines[2:]:
        cells = _split_row(line)
        if len(cells) != len(header):
            continue
        name = Path(_clean_cell(cells[file_col])).name
        if not name:
            continue
        row = Provenance()
        if repo_col is not None:
            row.repository = _first_url(cells[repo_col])
        if commit_col is not None:
            row.commit = _first_commit(cells[commit_col])
        if path_col is not None:
            row.path = _clean_cell(cells[path_col]) or None
        if license_col is not None:
            row.license = _license_name(cells[license_col])
        if tag_col is not None:
            row.version = _first_token(cells[tag_col])
        info.files[name] = row


def parse_source_md(text: str) -> SourceInfo:
    """Read repository, commit, upstream version, license and per-file upstream paths from a SOURCE.md.

    The files are hand-written, so this is deliberately forgiving: markdown tables with a
    "file" column give per-file rows (columns whose header mentions path, repository,
    commit, tag or license are used); "Repository:", "...commit...:" and "...license...:"
    lines, or the first line of a "License" section, give folder-wide values.  The first
    value found wins.  The upstream version is the value of a "Tag:" or "Release:" line;
    failing that a "tag `X`" or "git describe: X" mention in a commit line; failing that
    the branch of a "Branch...:" line.
    """
    info = SourceInfo()
    table: list[str] = []
    heading = ""
    in_license_section = False
    for raw in [*text.splitlines(), ""]:
        line = raw.rstrip()
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        if table:
            _parse_table(table, info)
            table = []
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            in_license_section = "licen" in heading
            continue
        if not line.strip():
            continue
        match = _BULLET.match(line)
        key = match.group("key").strip().lower() if match else ""
        value = match.group("value") if match else line
        if "licen" in key:
            if info.folder.license is None:
                info.folder.license = _license_name(value)
        elif key == "repository":
            if info.folder.repository is None:
                info.folder.repository = _first_url(value)
        elif key in ("tag", "release"):
            info.offer_version(_first_token(value), _BY_TAG)
            commit = _COMMIT_PHRASE.search(value)
            if commit and info.folder.commit is None:
                info.folder.commit = commit.group(1)
        elif "commit" in key:
            if info.folder.commit is None:
                info.folder.commit = _first_commit(value)
            tag = _TAG_PHRASE.search(value)
            info.offer_version(tag.group(1) if tag else None, _BY_TAG_PHRASE)
            describe = _DESCRIBE_PHRASE.search(value)
            info.offer_version(describe.group(1) if describe else None, _BY_DESCRIBE)
            if "branch" in key:
                branch = _first_token(value)
                info.offer_version(f"branch {branch}" if branch else None, _BY_BRANCH)
        elif in_license_section and info.folder.license is None:
            info.folder.license = _license_name(value)
            in_license_section = False
    return info


# --------------------------------------------------------------------------- schemas


def strip_descriptions(node: Any) -> Any:
    """Return a copy of a schema node without its (and its sub-schemas') ``description``.

    Only schema nodes are visited: the *names* in a ``properties`` map are kept even when
    a property is called ``description``, and values such as ``default``, ``enum`` or
    ``example`` are copied verbatim.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description":
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strip_descriptions(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strip_descriptions(sub) for sub in value]
        elif key in _SCHEMA_SINGLE:
            if isinstance(value, list):
                out[key] = [strip_descriptions(sub) for sub in value]
            else:
                out[key] = strip_descriptions(value)
        else:
            out[key] = value
    return out


@dataclass
class Entry:
    """One served CRD version as it will be written: its set, identity, schema and origin."""

    schema_set: str
    group: str
    kind: str
    version: str
    scope: str
    schema: dict[str, Any]
    file: str
    provenance: Provenance
    also_in: list[str] = field(default_factory=list)

    @property
    def relpath(self) -> str:
        return f"{self.schema_set}/{self.group}/{self.kind}_{self.version}.json"

    def source_dict(self) -> dict[str, str]:
        source = {"file": self.file}
        if self.provenance.repository:
            source["repository"] = self.provenance.repository
        if self.provenance.version:
            source["release"] = self.provenance.version
        if self.provenance.commit:
            source["commit"] = self.provenance.commit
        if self.provenance.path:
            source["path"] = self.provenance.path
        return source

    def render(self) -> str:
        payload = {
            "set": self.schema_set,
            "group": self.group,
            "kind": self.kind,
            "version": self.version,
            "scope": self.scope,
            "source": self.source_dict(),
            "schema": self.schema,
        }
        text = json.dumps(payload, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        if len(text.encode("utf-8")) > COMPACT_THRESHOLD:
            text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
        return text


@dataclass
class SchemaSet:
    """A named group of schemas; an older release's set also says what it takes from its base."""

    name: str
    base: str | None = None
    folders: list[str] = field(default_factory=list)
    hides_groups: tuple[str, ...] = ()
    entries: dict[str, Entry] = field(default_factory=dict)

    def own_kinds(self) -> list[tuple[str, str]]:
        return sorted({(e.group, e.kind) for e in self.entries.values()})

    def description(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "folders": sorted(self.folders),
            "hides_groups": sorted(self.hides_groups),
        }


def set_of_folder(folder: str) -> tuple[str, tuple[str, ...]]:
    """The schema set a top-level manifest folder belongs to, and the base groups that set hides."""
    if folder in OLDER_RELEASES:
        release = OLDER_RELEASES[folder]
        return release.set_name, release.hides_groups
    if _OLDER_RELEASE_FOLDER.fullmatch(folder):
        return folder.lower(), ()
    return CURRENT_SET, ()


def _manifest_files(crds: Path) -> list[Path]:
    found = [p for p in crds.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")]
    return sorted(found, key=lambda p: p.relative_to(crds).as_posix())


def _version_schema(crd: dict[str, Any], version: dict[str, Any]) -> Any:
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    if schema is None:  # apiextensions.k8s.io/v1beta1 kept one schema for all versions
        schema = ((crd.get("spec") or {}).get("validation") or {}).get("openAPIV3Schema")
    return schema


def _add_entry(schema_set: SchemaSet, entry: Entry) -> None:
    previous = schema_set.entries.get(entry.relpath)
    if previous is None:
        schema_set.entries[entry.relpath] = entry
    elif previous.schema == entry.schema and previous.scope == entry.scope:
        previous.also_in.append(entry.file)
    else:
        raise VendorError(
            f"{entry.group}/{entry.version} {entry.kind} is defined differently in {previous.file} and "
            f"{entry.file} (both in schema set {schema_set.name!r}); remove one of the manifests, or, if one "
            "is an older release, put it in a folder named <project>-v<version> so that it forms a set of its own"
        )


def collect(crds: Path) -> dict[str, SchemaSet]:
    """Read every CRD under ``crds`` and return the schema sets to write, ``current`` first."""
    if not crds.is_dir():
        raise VendorError(f"manifest folder not found: {crds}")
    sources: dict[Path, SourceInfo] = {}
    sets: dict[str, SchemaSet] = {CURRENT_SET: SchemaSet(CURRENT_SET)}
    for manifest in _manifest_files(crds):
        rel = manifest.relative_to(crds).as_posix()
        top = rel.split("/", 1)[0] if "/" in rel else ""
        set_name, hides = set_of_folder(top) if top else (CURRENT_SET, ())
        if not _SET_NAME.fullmatch(set_name):
            raise VendorError(f"{rel}: folder {top!r} gives the schema set name {set_name!r}; rename the folder")
        schema_set = sets.setdefault(
            set_name, SchemaSet(set_name, base=None if set_name == CURRENT_SET else CURRENT_SET, hides_groups=hides)
        )
        if top and top not in schema_set.folders:
            schema_set.folders.append(top)
        folder = manifest.parent
        if folder not in sources:
            source_md = folder / "SOURCE.md"
            sources[folder] = (
                parse_source_md(source_md.read_text(encoding="utf-8")) if source_md.is_file() else SourceInfo()
            )
        provenance = sources[folder].for_file(manifest.name)
        try:
            documents = list(yaml.safe_load_all(manifest.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise VendorError(f"{rel}: cannot parse YAML: {exc}") from exc
        for doc in documents:
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc.get("spec") or {}
            group = spec.get("group")
            kind = (spec.get("names") or {}).get("kind")
            scope = spec.get("scope", "Namespaced")
            if not isinstance(group, str) or not isinstance(kind, str):
                raise VendorError(f"{rel}: CRD without spec.group or spec.names.kind")
            for version in spec.get("versions") or []:
                if not version.get("served"):
                    continue
                name = version.get("name")
                schema = _version_schema(doc, version)
                if not isinstance(name, str) or not isinstance(schema, dict):
                    raise VendorError(f"{rel}: {group}/{name} {kind} has no openAPIV3Schema")
                _add_entry(
                    schema_set,
                    Entry(
                        schema_set=set_name,
                        group=group,
                        kind=kind,
                        version=name,
                        scope=scope,
                        schema=strip_descriptions(schema),
                        file=rel,
                        provenance=provenance,
                    ),
                )
    if not any(s.entries for s in sets.values()):
        raise VendorError(f"no served CustomResourceDefinition versions found under {crds}")
    current_groups = {e.group for e in sets[CURRENT_SET].entries.values()}
    for schema_set in sets.values():
        if not schema_set.entries:
            raise VendorError(f"schema set {schema_set.name!r} ({', '.join(schema_set.folders)}) has no served CRD")
        unknown = sorted(set(schema_set.hides_groups) - current_groups)
        if unknown:
            raise VendorError(
                f"schema set {schema_set.name!r} hides API group(s) {', '.join(unknown)}, which the "
                f"{CURRENT_SET!r} set does not have; fix OLDER_RELEASES in {Path(__file__).name}"
            )
        schema_set.entries = dict(sorted(schema_set.entries.items()))
    return {name: sets[name] for name in [CURRENT_SET, *sorted(n for n in sets if n != CURRENT_SET)]}


def _md(text: str | None) -> str:
    if not text:
        return "-"
    return text.replace("|", "\\|")


def _code(text: str | None) -> str:
    return f"`{text}`" if text else "-"


def render_sources(sets: dict[str, SchemaSet]) -> str:
    lines = [
        "# Vendored CRD schemas",
        "",
        "Produced by `scripts/vendor_schemas.py` from the upstream CustomResourceDefinition manifests "
        "(`shared/crds/` beside the repository; the *manifest* column is relative to that folder), "
        "keeping every served version's `openAPIV3Schema` with all schema `description` annotations "
        "dropped. Nothing else is changed. Do not edit these files by hand: rerun the script, and "
        "`python scripts/vendor_schemas.py --check` to see whether the copy is current.",
        "",
        "## Schema sets",
        "",
        f"Files live in `<set>/<group>/<Kind>_<version>.json`. An object is checked against one set. "
        f"`{CURRENT_SET}` holds the release of each project named in its manifest folder's SOURCE.md. "
        "A manifest folder named `<project>-v<version>` holds an older release whose schemas differ from "
        "the current ones under the same apiVersion and kind; it forms a set of its own that holds only its "
        "own files and takes every other kind from its base set, except the API groups it hides and the "
        "kinds it defines itself. `sets.json` records this for the validator.",
        "",
        "| set | base | manifest folders | API groups of the base it hides | kinds it replaces | files |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for schema_set in sets.values():
        replaced = ", ".join(f"{group} {kind}" for group, kind in schema_set.own_kinds()) if schema_set.base else "-"
        lines.append(
            f"| `{schema_set.name}` | {_code(schema_set.base)} | "
            f"{', '.join(_code(f) for f in sorted(schema_set.folders)) or '-'} | "
            f"{', '.join(_code(g) for g in sorted(schema_set.hides_groups)) or '-'} | {replaced} | "
            f"{len(schema_set.entries)} |"
        )
    lines += [
        "",
        "## Files",
        "",
        "*release* is the upstream release tag (or `git describe`, or the branch) that the manifest folder's "
        "SOURCE.md names. A dash means that SOURCE.md does not state the value in a form the script reads; "
        "it (next to the manifest) has the full provenance.",
        "",
        "| generated file | kind | API version | scope | manifest | repository | release | commit | upstream path "
        "| license |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for schema_set in sets.values():
        for relpath, entry in schema_set.entries.items():
            manifest = _code(entry.file)
            if entry.also_in:
                manifest += " (same schema also in " + ", ".join(_code(f) for f in entry.also_in) + ")"
            prov = entry.provenance
            lines.append(
                f"| `{relpath}` | {entry.kind} | {entry.version} | {entry.scope} | {manifest} | "
                f"{_md(prov.repository)} | {_code(prov.version)} | {_code(prov.commit)} | {_code(prov.path)} | "
                f"{_md(prov.license)} |"
            )
    return "\n".join(lines) + "\n"


def render_sets(sets: dict[str, SchemaSet]) -> str:
    payload = {name: schema_set.description() for name, schema_set in sets.items()}
    return json.dumps(payload, indent=1, sort_keys=True) + "\n"


def render_all(crds: Path) -> dict[str, str]:
    """Every file the output folder should hold, keyed by its path relative to that folder."""
    sets = collect(crds)
    files = {relpath: entry.render() for s in sets.values() for relpath, entry in s.entries.items()}
    files[SOURCES_FILE] = render_sources(sets)
    files[SETS_FILE] = render_sets(sets)
    return dict(sorted(files.items()))


# --------------------------------------------------------------------------- output


def existing_files(out: Path) -> set[str]:
    """Files in ``out`` that this script owns: ``SOURCES.md``, ``sets.json`` and the generated JSON.

    ``<group>/*.json`` (the layout before schema sets) counts too, so that a rerun removes it.
    """
    if not out.is_dir():
        return set()
    owned = {p.relative_to(out).as_posix() for p in [*out.glob("*/*.json"), *out.glob("*/*/*.json")] if p.is_file()}
    for name in (SOURCES_FILE, SETS_FILE):
        if (out / name).is_file():
            owned.add(name)
    return owned


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def differences(expected: dict[str, str], out: Path) -> list[str]:
    problems: list[str] = []
    for relpath, text in expected.items():
        target = out / relpath
        if not target.is_file():
            problems.append(f"missing: {relpath}")
            continue
        current = target.read_text(encoding="utf-8")
        if current != text:
            problems.append(f"stale: {relpath}")
            diff = list(
                difflib.unified_diff(
                    current.splitlines(),
                    text.splitlines(),
                    f"committed/{relpath}",
                    f"regenerated/{relpath}",
                    lineterm="",
                    n=1,
                )
            )
            problems.extend("    " + line for line in diff[:MAX_DIFF_LINES])
            if len(diff) > MAX_DIFF_LINES:
                problems.append(f"    ... {len(diff) - MAX_DIFF_LINES} more diff lines")
    for relpath in sorted(existing_files(out) - expected.keys()):
        problems.append(f"unexpected: {relpath} (no served CRD version produces it)")
    return problems


def write_all(expected: dict[str, str], out: Path) -> tuple[list[str], list[str]]:
    written: list[str] = []
    for relpath, text in expected.items():
        target = out / relpath
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        write_atomic(target, text)
        written.append(relpath)
    removed = sorted(existing_files(out) - expected.keys())
    for relpath in removed:
        (out / relpath).unlink()
    emptied = {parent for r in removed for parent in (out / r).parents if out in parent.parents}
    for folder in sorted(emptied, key=lambda f: len(f.parts), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return written, removed


def total_size(out: Path, relpaths: Iterable[str]) -> int:
    return sum((out / r).stat().st_size for r in relpaths if (out / r).is_file())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--crds", type=Path, default=DEFAULT_CRDS, help=f"manifest folder (default {DEFAULT_CRDS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the output is stale")
    args = parser.parse_args(argv)
    crds: Path = args.crds
    out: Path = args.out
    try:
        expected = render_all(crds)
    except VendorError as exc:
        print(f"vendor_schemas: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        problems = differences(expected, out)
        if problems:
            print(f"vendor_schemas: {out} is not current with {crds}:", file=sys.stderr)
            for line in problems:
                print(line, file=sys.stderr)
            print("rerun: python scripts/vendor_schemas.py", file=sys.stderr)
            return 1
        print(f"vendor_schemas: {out} is current ({len(expected)} files)")
        return 0
    written, removed = write_all(expected, out)
    for relpath in written:
        print(f"wrote {relpath}")
    for relpath in removed:
        print(f"removed {relpath}")
    size = total_size(out, expected)
    print(f"vendor_schemas: {len(expected)} files, {size} bytes in {out} ({len(written)} written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
