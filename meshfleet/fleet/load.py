"""Load a fleet file: parse it, validate it, resolve and plan it, with every problem at its line.

Why: the CLI and the Pulumi program need one entry point that turns a path into a Plan or into a
FleetError naming `file:line:col`, the key and the fix for every problem at once.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from meshfleet.core.plan import Plan, plan
from meshfleet.errors import Finding, FindingsError, FleetError, LocatedFinding
from meshfleet.fleet.document import Document, parse
from meshfleet.fleet.limits import derived_name_findings, size_findings
from meshfleet.fleet.model import Fleet
from meshfleet.fleet.validation import validation_findings


def locate(doc: Document, findings: list[Finding] | tuple[Finding, ...]) -> FleetError:
    """The pure core's findings, placed at their lines in the document."""
    return FleetError([LocatedFinding(f, doc.position(f.loc)) for f in findings])


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
    """Validate and plan a parsed document: a Plan, or a FleetError with every problem at its line."""
    fleet = load_document(doc)
    try:
        return plan(fleet.active())  # decommissioned clusters are gone: nothing is planned for them
    except FindingsError as e:
        raise locate(doc, list(e.findings)) from None


def load_plan(path: str | Path, *, display: str | None = None) -> Plan:
    """Parse, validate and plan a fleet file: a Plan, or a FleetError with every problem at its line."""
    return plan_document(parse(path, display=display))


__all__ = ["Document", "load_document", "load_plan", "locate", "parse", "plan_document"]
