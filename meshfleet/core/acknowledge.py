"""Acknowledged warnings: the fleet says, where it means it, that a warning is known and intended.

Why: a strict CI must stay green for warnings the team has decided to live with, without hiding new
ones. An `acknowledge: [code]` list on a cluster, a service or an access rule covers the warnings
reported under that entry; the fleet's top-level list covers every entry. An acknowledgement that
matches no warning any more is itself a warning, so the list cannot silently outlive its reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from meshfleet import codes
from meshfleet.core.meshes import all_codes
from meshfleet.errors import Finding, Loc, format_loc
from meshfleet.fleet.model import AccessRule, Cluster, Fleet, Service

_ENTRIES = ("clusters", "services", "access")
"""The top-level sections whose entries may acknowledge warnings reported under them."""


def _scopes(fleet: Fleet) -> dict[Loc, list[str]]:
    """Each entry's acknowledged codes, keyed by the entry's key path (`()` for the whole fleet)."""
    found: dict[Loc, list[str]] = {(): fleet.acknowledge}
    sections: dict[str, Mapping[str, Cluster | Service | AccessRule]] = {
        "clusters": fleet.clusters,
        "services": fleet.services,
        "access": fleet.access,
    }
    for section in _ENTRIES:
        for name, entry in sections[section].items():
            if entry.acknowledge:
                found[(section, name)] = entry.acknowledge
    return found


def acknowledge(fleet: Fleet, findings: Iterable[Finding], *, complete: bool) -> list[Finding]:
    """`findings` with the acknowledged warnings marked, plus what is wrong with the lists themselves.

    `complete`: every warning of the fleet is among `findings` (no error stopped the checks early),
    so an acknowledgement that matches none of them is stale.
    """
    known = {c.name: c for c in all_codes()}
    scopes = _scopes(fleet)
    used: set[tuple[Loc, str]] = set()
    out: list[Finding] = []
    for f in findings:
        if f.severity == "warning" and f.code != codes.STALE_ACKNOWLEDGEMENT:
            entry = tuple(f.loc[:2]) if f.loc[:1] and f.loc[0] in _ENTRIES else None
            for scope in (entry, ()):
                if scope is not None and f.code.name in scopes.get(scope, ()):
                    f = dataclasses.replace(f, acknowledged=True)
                    used.add((scope, f.code.name))
                    break
        out.append(f)
    for scope, names in scopes.items():
        for i, name in enumerate(names):
            loc: Loc = (*scope, "acknowledge", i)
            code = known.get(name)
            if code is None or code.severity != "warning" or code == codes.STALE_ACKNOWLEDGEMENT:
                warnings = sorted(
                    c.name for c in known.values() if c.severity == "warning" and c != codes.STALE_ACKNOWLEDGEMENT
                )
                what = (
                    "no code meshfleet reports"
                    if code is None
                    else "an error, which cannot be acknowledged"
                    if code.severity == "error"
                    else "not acknowledgeable"
                )
                out.append(
                    Finding(
                        loc,
                        f"{name!r} is {what}",
                        f"acknowledge one of: {', '.join(warnings)}",
                        code=codes.NOT_A_WARNING,
                    )
                )
            elif complete and (scope, name) not in used:
                where = "in the fleet" if not scope else f"under {format_loc(scope)}"
                out.append(
                    Finding(
                        loc,
                        f"no {name} warning is reported {where}; the acknowledgement is stale",
                        "remove it from acknowledge",
                        code=codes.STALE_ACKNOWLEDGEMENT,
                    )
                )
    return out
