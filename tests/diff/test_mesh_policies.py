"""The diff says in service terms where a mesh's changed policy sends the calls (Istio's locality tiers)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, run_cli


def test_a_weight_and_an_order_change_read_as_where_the_calls_go(tmp_path: Path) -> None:
    text = (ROOT / "fleet/istio.yaml").read_text()
    changed = (
        text.replace("weight: 80", "weight: 70")
        .replace("weight: 20}", "weight: 30}")
        .replace("targets: [eu-central-1, eu-west-1, us-east-1]", "targets: [eu-west-1, eu-central-1, us-east-1]")
    )
    assert changed.count("weight: 70") == 1 and "[eu-west-1, eu-central-1, us-east-1]" in changed
    after = tmp_path / "istio.yaml"
    after.write_text(changed)
    result = run_cli("diff", str(ROOT / "fleet/istio.yaml"), str(after))
    assert result.code == 0, result.err
    assert (
        "eu-west-1: traffic policy: targets eu-central-1 weight 80, us-east-1 weight 20 -> eu-central-1 weight "
        "70, us-east-1 weight 30; sends to eu-central-1 80%, us-east-1 20% -> eu-central-1 70%, us-east-1 30%"
    ) in result.out
    assert (
        "us-east-1: traffic policy: targets eu-central-1, eu-west-1 -> eu-west-1, eu-central-1; sends to "
        "us-east-1; then eu-central-1; then eu-west-1 -> us-east-1; then eu-west-1; then eu-central-1"
    ) in result.out
    assert 'failover[0].to: "eu-central" -> "eu-west"' in result.out
