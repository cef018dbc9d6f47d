"""Load a fleet file: parse it, read its manifests, validate, resolve and plan, every finding at its line.

Why: the CLI and the Pulumi program need one entry point that turns a path into a Plan (whose
warnings name their `file:line:col`) or into a FleetError naming `file:line:col`, the key and the fix
for every problem at once. A finding about an object read from a manifest file is placed in that file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from meshfleet.core.plan import Plan, plan
from meshfleet.errors import Finding, FindingsError, FleetError, Loc, Position
from meshfleet.fleet.document import Document, parse
from meshfleet.fleet.includes import Files, Included, LocalFiles, read_manifests
from meshfleet.fleet.limits import derived_name_findings, size_findings
from meshfleet.fleet.model import Fleet
from meshfleet.fleet.resources import IncludedObject
from meshfleet.fleet.validation import validation_findings


@dataclass(frozen=True)
class Sources:
    """The fleet file's document and the manifest documents it includes: where a key path stands."""

    fleet: Document
    included: Mapping[Loc, Document] = field(default_factory=dict)

    def position(self, loc: Loc, *, prefer_key: bool = False) -> Position:
        # ("resources", <name>, "manifests", <file>, <document>, ...) is inside that manifest document.
        if len(loc) >= 5 and loc[0] == "resources" and loc[2] == "manifests" and isinstance(loc[3], str):
            doc = self.included.get(loc[:5])
            if doc is not None:
                if len(loc) == 5 and doc.root is not None:  # the object itself: where its document starts
                    mark = doc.root.start_mark
                    return Position(doc.file, mark.line + 1, mark.column + 1)
                return doc.position(loc[5:], prefer_key=prefer_key)
        return self.fleet.position(loc, prefer_key=prefer_key)


def place(doc: Document | Sources, findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """The pure core's findings, each placed at its line (in the fleet file or a manifest it includes)."""
    return tuple(dataclasses.replace(f, position=doc.position(f.loc)) for f in findings)


def locate(doc: Document | Sources, findings: Iterable[Finding]) -> FleetError:
    """The pure core's findings as one FleetError, each at its line."""
    return FleetError(place(doc, findings))


@dataclass(frozen=True)
class Loaded:
    """A validated fleet, the objects its manifest files hold, and where each key path stands."""

    fleet: Fleet
    included: Mapping[str, tuple[IncludedObject, ...]]
    sources: Sources

    def plan(self) -> Plan:
        """The plan (decommissioned clusters left out), or a FleetError with every problem at its line."""
        try:
            planned = plan(self.fleet.active(), self.included)
        except FindingsError as e:
            raise locate(self.sources, e.findings) from None
        return dataclasses.replace(planned, warnings=place(self.sources, planned.warnings))


def _model(doc: Document) -> Fleet:
    try:
        return Fleet.model_validate(doc.data)
    except ValidationError as err:
        raise FleetError(validation_findings(doc, err)) from None


def load_document(doc: Document) -> Fleet:
    """The fleet in a parsed document, or a FleetError with every type and key problem at its line,
    every name it would derive that Kubernetes refuses, and a plan too large to make (manifest files
    are not read: `load_fleet` reads them)."""
    fleet = _model(doc)
    problems = size_findings(fleet.active()) + derived_name_findings(fleet)
    if problems:
        raise locate(doc, problems)
    return fleet


def load_fleet(doc: Document, files: Files | None = None) -> Loaded:
    """The fleet in a parsed document with its manifests read from `files` (default: beside the file),
    or a FleetError with every problem at its line, every name it would derive that Kubernetes refuses,
    and a plan too large to make."""
    fleet = _model(doc)
    if files is None:
        where = Path(doc.file).parent
        files = LocalFiles(where, str(where))
    try:
        included = read_manifests(fleet, files) if fleet.resources else Included({}, {})
    except FleetError as e:
        raise FleetError(
            [f if f.position is not None else dataclasses.replace(f, position=doc.position(f.loc)) for f in e.problems]
        ) from None
    sources = Sources(doc, included.documents)
    problems = size_findings(fleet.active(), included.objects) + derived_name_findings(fleet)
    if problems:
        raise locate(sources, problems)
    return Loaded(fleet, included.objects, sources)


def plan_document(doc: Document, files: Files | None = None) -> Plan:
    """Validate and plan a parsed document: a Plan whose warnings carry their positions, or a
    FleetError with every problem (and the warnings beside them) at its line."""
    return load_fleet(doc, files).plan()


def load_plan(path: str | Path, *, display: str | None = None, files: Files | None = None) -> Plan:
    """Parse, validate and plan a fleet file: a Plan whose warnings carry their positions, or a
    FleetError with every problem (and the warnings beside them) at its line. Manifest files are read
    beside `path` (shown beside `display`) unless `files` says otherwise."""
    if files is None:
        where = Path(path).parent
        files = LocalFiles(where, str(Path(display).parent) if display is not None else str(where))
    return plan_document(parse(path, display=display), files)


__all__ = [
    "Document",
    "Loaded",
    "Sources",
    "load_document",
    "load_fleet",
    "load_plan",
    "locate",
    "parse",
    "place",
    "plan_document",
]
