"""The loader's entry points: a path in, a Plan or every problem at its line out."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshfleet import codes
from meshfleet.core.plan import Plan
from meshfleet.errors import MAX_SHOWN, Finding, FleetError, Position
from meshfleet.fleet.document import parse_text
from meshfleet.fleet.load import load_document, load_plan, locate, plan_document

ROOT = Path(__file__).resolve().parents[2]
FLEETS = sorted((ROOT / "fleet").glob("*.yaml"))

BASE = """\
clusters:
  c1:
    gateway: {host: 10.0.0.1}
  c2:
    gateway: {host: 10.0.0.2}
services:
  a/b:
    ports: [{port: 80}]
    export: {clusters: [c1, c2]}
"""


def problems(text: str) -> str:
    with pytest.raises(FleetError) as err:
        plan_document(parse_text(text, "f.yaml"))
    return err.value.render()


@pytest.mark.parametrize("fleet", FLEETS, ids=[p.name for p in FLEETS])
def test_every_committed_fleet_plans(fleet: Path) -> None:
    assert isinstance(load_plan(fleet), Plan)


def test_a_missing_file_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(
        FleetError,
        match=r"missing\.yaml:1:1: error\[unreadable-file\]: \(document\): "
        r"cannot read the file: No such file",
    ):
        load_plan(tmp_path / "missing.yaml")


def test_display_names_the_file_in_findings(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("clusters: {}\n")
    with pytest.raises(FleetError, match=r"fleet\.yaml@HEAD:1:\d+: error\[invalid-value\]: clusters"):
        load_plan(path, display="fleet.yaml@HEAD")


def test_locate_places_core_findings_at_their_lines() -> None:
    doc = parse_text(BASE, "f.yaml")
    err = locate(doc, [Finding(("services", "a/b", "export", "clusters", 1), "x", code=codes.UNKNOWN_CLUSTER)])
    assert err.problems[0].position == Position("f.yaml", 9, 29)


@pytest.mark.parametrize(
    ("edit", "at", "words"),
    [
        (("port: 80", "port: &p true"), "8:20", "expected integer, got boolean true"),
        (("port: 80", "port: !!str 80"), "8:20", "expected integer, got string '80'"),
        (("port: 80", "port: 80.0"), "8:20", "expected integer, got number 80.0"),
        (("host: 10.0.0.1", "host: '::ffff:127.0.0.1'"), "3:21", "the IPv4 address 127.0.0.1 written as IPv6"),
        (("host: 10.0.0.1", "host: '::1'"), "3:21", "is loopback or unspecified"),
        (("host: 10.0.0.1", "host: 239.1.1.1"), "3:21", "multicast address"),
        (("clusters: [c1, c2]", "clusters: []"), "9:24", "the export lists no cluster"),
        (("clusters: [c1, c2]", "clusters: [c1], path: '/{cluster}//x'"), "9:36", "contains '//'"),
        (("port: 80", "port: 80, appProtocol: 'http 2'"), "8:37", "'http 2' is not a valid Kubernetes appProtocol"),
    ],
)
def test_model_checks_are_strict_and_located(edit: tuple[str, str], at: str, words: str) -> None:
    message = problems(BASE.replace(*edit, 1))
    assert f"f.yaml:{at}:" in message
    assert words in message


def test_weights_fit_pipy_s_32_bit_balancer() -> None:
    policy = "    trafficPolicy:\n      lbType: ActiveActive\n      targets: [{cluster: c1, weight: %s}]\n"
    plan_document(parse_text(BASE + policy % 2147483647, "f.yaml"))
    assert "weight 2,147,483,648 is over 2,147,483,647" in problems(BASE + policy % 2147483648)
    assert "expected integer, got number 1e+20" in problems(BASE + policy % "1e20")


def test_access_rule_patterns_are_checked_at_validate_time() -> None:
    rule = "access:\n  r1:\n    from: [x/y]\n    to: a/b\n    http: [{name: m, pathRegex: '%s'}]\n"
    plan_document(parse_text(BASE + rule % "/api/.*", "f.yaml"))
    assert "uses a look-behind" in problems(BASE + rule % "(?<=/api)/x")


def test_a_derived_name_too_long_is_refused_before_planning() -> None:
    account = ".".join(["a" * 63] * 3) + "." + "b" * 61
    text = (
        BASE.replace("ports: [{port: 80}]", f"ports: [{{port: 80}}]\n    serviceAccount: {account}")
        + "access:\n  "
        + "r" * 63
        + ":\n    from: [x/y]\n    to: a/b\n"
    )
    assert "is 317 characters; Kubernetes allows 253" in problems(text)


SECRET = "s3cr3t-T0KEN-value"


@settings(max_examples=60, deadline=None)
@given(
    where=st.sampled_from(
        [
            "kubeconfig: '{s}'",
            "kubeconfig: {{from: '{s}'}}",
            "kubeconfig: ['{s}']",
            "kubeconfig: {{from: ['{s}']}}",
            "kubeconfig: {{from: context, context: prod, token: '{s}'}}",
            "kubeconfig: {{from: stack-secret, x: ['{s}']}}",
            "kubeconfig: {{from: context, context: ['{s}']}}",
            "kubeconfig: {{from: context, file: '{s}'}}",
        ]
    ),
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789._-", min_size=20, max_size=80),
)
def test_no_value_written_under_kubeconfig_is_ever_quoted(where: str, secret: str) -> None:
    text = BASE.replace("gateway: {host: 10.0.0.1}", "gateway: {host: 10.0.0.1}\n    " + where.format(s=secret))
    message = problems(text)
    assert "f.yaml:4:" in message
    assert secret not in message


def test_a_misspelt_kubeconfig_source_is_shown() -> None:
    text = BASE.replace("gateway: {host: 10.0.0.1}", "gateway: {host: 10.0.0.1}\n    kubeconfig: {from: stack-secrets}")
    assert "unknown kubeconfig source 'stack-secrets'" in problems(text)


def test_an_inline_kubeconfig_is_refused_without_quoting_it() -> None:
    text = BASE.replace(
        "gateway: {host: 10.0.0.1}",
        f"gateway: {{host: 10.0.0.1}}\n    kubeconfig: 'apiVersion: v1, users: [{{user: {{token: {SECRET}}}}}]'",
    )
    message = problems(text)
    assert "a kubeconfig cannot be written into the fleet file" in message and SECRET not in message


def test_load_document_refuses_a_plan_too_large_before_planning() -> None:
    clusters = "".join(f"  c{i:03d}: {{gateway: {{host: 10.0.1.{i + 1}}}}}\n" for i in range(120))
    services = "".join(f"  ns/s{i:03d}: {{ports: [{{port: 80}}], export: {{clusters: all}}}}\n" for i in range(80))
    with pytest.raises(FleetError, match=r"would plan 1,142,400 import endpoints"):
        load_document(parse_text(f"clusters:\n{clusters}services:\n{services}", "f.yaml"))


def fleet_error(count: int) -> FleetError:
    return FleetError(
        [
            Finding(("clusters", f"c{i}"), "bad", code=codes.INVALID_VALUE, position=Position("f.yaml", i + 1, 1))
            for i in range(count)
        ]
    )


def test_findings_printed_stop_at_the_limit_with_a_count() -> None:
    at = fleet_error(MAX_SHOWN).render().splitlines()
    assert at[0] == f"{MAX_SHOWN} problems in the fleet:" and len(at) == MAX_SHOWN + 1
    over = fleet_error(MAX_SHOWN + 1).render().splitlines()
    assert over[0] == f"{MAX_SHOWN + 1} problems in the fleet:" and len(over) == MAX_SHOWN + 2
    assert over[-1].startswith(f"... and 1 more, not shown: fix the first {MAX_SHOWN}")
    assert len(fleet_error(50_000).render().splitlines()) == MAX_SHOWN + 2
