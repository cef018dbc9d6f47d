"""Load a fleet file: parse it, validate it, resolve and plan it, with every finding at its line.

Why: the CLI and the Pulumi program need one entry point that turns a path into a Plan (whose
warnings name their `file:line:col`) or into a FleetError naming `file:line:col`, the key and the fix
for every problem at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from meshfleet.core.plan import Plan, plan
from meshfleet.errors import Finding, FindingsError, FleetError
from meshfleet.fleet.document import Document, parse
from meshfleet.fleet.limits import derived_name_findings, size_findings
from meshfleet.fleet.model import Fleet
from meshfleet.fleet.validation import validation_findings


def place(doc: Document, findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """The pure core's findings, each placed at its line in the document."""
    return tuple(dataclasses.replace(f, position=doc.position(f.loc)) for f in findings)


def locate(doc: Document, findings: Iterable[Finding]) -> FleetError:
    """The pure core's findings as one FleetError, each at its line in the document."""
    return FleetError(place(doc, findings))


def load_document(doc: Document) -> Fleet:
    """The fleet in a parsed document, or a FleetError with every type and key problem at its line,
    every name it would derive that Kubernetes refuses, and a plan too large to make."""
    try:
        fleet = Fleet.model_validate(doc.data)
    except ValidationError as err:
        raise FleetError(validation_findings(doc, err)) from None
    problems = size_findings(fleet.active()) + derived_name_findings(fleet)
    if problems:
        raise locate(doc, problems)
    return fleet


def plan_document(doc: Document) -> Plan:
    """Validate and plan a parsed document: a Plan whose warnings carry their positions, or a
    FleetError with every problem (and the warnings beside them) at its line."""
    fleet = load_document(doc)
    try:
        planned = plan(fleet.active())  # decommissioned clusters are gone: nothing is planned for them
    except FindingsError as e:
        raise locate(doc, e.findings) from None
    return dataclasses.replace(planned, warnings=place(doc, planned.warnings))


def load_plan(path: str | Path, *, display: str | None = None) -> Plan:
    """Parse, validate and plan a fleet file: a Plan whose warnings carry their positions, or a
    FleetError with every problem (and the warnings beside them) at its line."""
    return plan_document(parse(path, display=display))


__all__ = ["Document", "load_document", "load_plan", "locate", "parse", "place", "plan_document"]
