"""The Cilium and Istio fleets rendered: every cluster directory builds with kustomize to exactly its
listed objects, each valid for its API server; Flux fills Istio's remote secrets from its Secret and
Argo CD applies everything of an Istio cluster but them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshfleet.fleet.load import load_plan
from meshfleet.sinks import gitops
from meshfleet.sinks.layout import LEFT_OUT_HEADER
from tests.conftest import ROOT, run_cli
from tests.sinks.test_gitops import URL, cluster_dirs, docs, kustomize, kustomize_text
from tests.support import flux
from tests.support.schemas import validate_object

PREFIX = "deploy/mesh"
ISTIO_CLUSTERS = ["eu-central-1", "eu-west-1", "us-east-1"]


def render(tmp_path: Path, fleet: str, *args: str) -> Path:
    out = tmp_path / PREFIX
    result = run_cli("render", str(ROOT / f"fleet/{fleet}.yaml"), "--out", str(out), *args)
    assert result.code == 0, result
    return out


def remote_secrets(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in objects if d["kind"] == "Secret"]


@pytest.mark.parametrize("fleet", ["cilium", "istio"])
def test_every_cluster_directory_builds_to_its_listed_objects_and_each_is_valid(fleet: str, tmp_path: Path) -> None:
    out = render(tmp_path, fleet)
    plan = load_plan(ROOT / f"fleet/{fleet}.yaml")
    assert cluster_dirs(out) == sorted(c.name for c in plan.clusters)
    for cluster in cluster_dirs(out):
        built = kustomize(out / cluster)
        listed = yaml.safe_load((out / cluster / "kustomization.yaml").read_text())["resources"]
        assert len(built) == len(listed) == len(plan.cluster(cluster).applied()) > 0
        patches = {(o.kind, o.namespace, o.name) for o in plan.cluster(cluster).objects if o.patch}
        for d in built:
            ident = (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
            assert validate_object(d, partial=ident in patches) == [], (cluster, ident)


def test_flux_fills_each_remote_secret_with_that_members_kubeconfig(tmp_path: Path) -> None:
    out = render(tmp_path, "istio", "--gitops", "flux", "--repo-url", URL, "--path-prefix", PREFIX)
    kubeconfigs = {c: f"apiVersion: v1\nkind: Config\n# the kubeconfig of {c} $HOME\n" for c in ISTIO_CLUSTERS}
    secret = gitops.substitution_secret("meshfleet-istio", kubeconfigs)
    for cluster in ISTIO_CLUSTERS:
        (ks,) = docs(out / f"flux/meshfleet-istio-{cluster}.yaml")
        assert ks["spec"]["postBuild"] == {
            "substituteFrom": [{"kind": "Secret", "name": "meshfleet-istio-kubeconfigs"}]
        }
        text = kustomize_text(out / cluster)
        for member in ISTIO_CLUSTERS:
            if member != cluster:
                assert f"{member}: ${{{gitops.variable(member)}}}" in text
        applied = flux.substitute(text, secret["stringData"])
        secrets = remote_secrets(applied)
        assert sorted(s["metadata"]["name"] for s in secrets) == sorted(
            f"istio-remote-secret-{m}" for m in ISTIO_CLUSTERS if m != cluster
        )
        for s in secrets:
            member = s["metadata"]["annotations"]["networking.istio.io/cluster"]
            assert s["stringData"] == {member: kubeconfigs[member]}
            assert validate_object(s) == []
        others = [d for d in applied if d["kind"] != "Secret"]
        assert others and all(d["metadata"]["annotations"][gitops.SUBSTITUTE_ANNOTATION] == "disabled" for d in others)


def test_argo_cd_applies_every_istio_object_but_the_remote_secrets(tmp_path: Path) -> None:
    out = render(tmp_path, "istio", "--gitops", "argocd", "--repo-url", URL, "--path-prefix", PREFIX)
    (appset,) = docs(out / "argocd/applicationset.yaml")
    elements = appset["spec"]["generators"][0]["list"]["elements"]
    assert [e["cluster"] for e in elements] == ISTIO_CLUSTERS
    header = (out / "argocd/applicationset.yaml").read_text()
    assert "not applied by Argo CD: the Secret objects of eu-central-1, eu-west-1, us-east-1" in header
    assert "having nothing else to apply" not in header
    for cluster in ISTIO_CLUSTERS:
        built = kustomize(out / cluster)
        assert not remote_secrets(built) and {"DestinationRule", "ConfigMap", "AuthorizationPolicy"} <= {
            d["kind"] for d in built
        }
        left_out = sorted(p.name for p in (out / cluster).glob("secret.*.yaml"))
        assert len(left_out) == 2
        for name in left_out:
            text = (out / cluster / name).read_text()
            assert text.startswith(LEFT_OUT_HEADER) and "stringData" not in text
            assert "meshfleet.io/kubeconfig-from" in text


def kubeconfig(cluster: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "x",
            "clusters": [{"name": "x", "cluster": {"server": f"https://{cluster}.example:6443"}}],
            "users": [{"name": "x", "user": {"token": f"tok-{cluster}"}}],
            "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
        }
    )


def test_with_kubeconfigs_each_remote_secret_gets_its_members_kubeconfig_only(tmp_path: Path) -> None:
    given = tmp_path / "kubeconfigs.yaml"
    given.write_text(yaml.safe_dump({c: kubeconfig(c) for c in ISTIO_CLUSTERS}))
    fleet = tmp_path / "istio.yaml"
    text = (ROOT / "fleet/istio.yaml").read_text()
    fleet.write_text(text.replace("{from: context, context: kind-", "{from: stack-secret}  # was kind-"))
    out = tmp_path / "out"
    result = run_cli("render", str(fleet), "--out", str(out), "--with-kubeconfigs", "--kubeconfigs-file", str(given))
    assert result.code == 0, result.err
    for cluster in ISTIO_CLUSTERS:
        paths = sorted((out / cluster).glob("secret.*.yaml"))
        assert len(paths) == 2
        for path in paths:
            secret = yaml.safe_load(path.read_text())
            (member,) = secret["stringData"]
            assert member != cluster and yaml.safe_load(secret["stringData"][member])["users"][0]["user"] == {
                "token": f"tok-{member}"
            }
            assert not [c for c in ISTIO_CLUSTERS if c != member and f"tok-{c}" in path.read_text()]
