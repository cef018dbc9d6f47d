"""`meshfleet render --gitops`: the Argo CD / Flux hand-off is valid against the upstream CRDs, points
each engine at every cluster directory and nowhere else, and leaves the cluster directories alone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, run_cli
from tests.golden import tree
from tests.support.schemas import validate_object

URL = "https://git.example.com/platform/fleet.git"
PREFIX = "deploy/demo"
FLEETS = ["demo", "demo-standalone", "prod"]


def render(tmp_path: Path, fleet: str, engine: str | None, *extra: str) -> Path:
    out = tmp_path / PREFIX
    args = ["render", str(ROOT / f"fleet/{fleet}.yaml"), "--out", str(out)]
    if engine is not None:
        args += ["--gitops", engine, "--repo-url", URL, "--path-prefix", PREFIX, *extra]
    result = run_cli(*args)
    assert result.code == 0, result
    return out


def cluster_dirs(out: Path) -> list[str]:
    return sorted(p.parent.name for p in out.glob("*/kustomization.yaml") if p.parent.name not in ("argocd", "flux"))


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomize(path: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    built = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(built) if d]


def instantiate(template: Any, params: dict[str, str]) -> Any:
    """What Argo CD's goTemplate does with `{{.key}}` for the values used here."""
    if isinstance(template, dict):
        return {k: instantiate(v, params) for k, v in template.items()}
    if isinstance(template, list):
        return [instantiate(v, params) for v in template]
    if isinstance(template, str):
        for k, v in params.items():
            template = template.replace(f"{{{{.{k}}}}}", v)
        assert "{{" not in template, f"unknown parameter in {template}"
    return template


@pytest.mark.parametrize("fleet", FLEETS)
def test_argocd_applicationset(fleet: str, tmp_path: Path) -> None:
    out = render(tmp_path, fleet, "argocd")
    (appset,) = docs(out / "argocd/applicationset.yaml")
    assert validate_object(appset) == []
    assert appset["apiVersion"] == "argoproj.io/v1alpha1" and appset["kind"] == "ApplicationSet"
    spec = appset["spec"]
    (generator,) = spec["generators"]
    elements = generator["list"]["elements"]
    clusters = cluster_dirs(out)
    assert [e["cluster"] for e in elements] == clusters and clusters
    for e in elements:
        # The path is where the cluster's directory sits in the repository (tmp_path stands for its root).
        assert e["path"] == f"{PREFIX}/{e['cluster']}"
        assert (tmp_path / e["path"] / "kustomization.yaml").is_file()
        app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               **instantiate(spec["template"], e)}
        app["metadata"]["namespace"] = "argocd"
        assert validate_object(app) == [], app
        assert app["spec"]["destination"] == {"name": e["cluster"]}
        assert app["spec"]["source"] == {"repoURL": URL, "targetRevision": "main", "path": e["path"]}
        options = app["spec"]["syncPolicy"]["syncOptions"]
        assert "ServerSideApply=true" in options and "CreateNamespace=false" in options
    names = [instantiate(spec["template"], e)["metadata"]["name"] for e in elements]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("fleet", FLEETS)
def test_flux_objects(fleet: str, tmp_path: Path) -> None:
    out = render(tmp_path, fleet, "flux", "--revision", "release")
    files = sorted(p.name for p in (out / "flux").iterdir())
    objects = [d for f in files if f != "kustomization.yaml" for d in docs(out / "flux" / f)]
    for o in objects:
        assert validate_object(o) == [], o
    repos = [o for o in objects if o["kind"] == "GitRepository"]
    ks = [o for o in objects if o["kind"] == "Kustomization"]
    assert len(repos) == 1 and len(objects) == 1 + len(ks)
    (repo,) = repos
    assert repo["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert repo["spec"]["url"] == URL and repo["spec"]["ref"] == {"branch": "release"}
    clusters = cluster_dirs(out)
    by_path = {k["spec"]["path"]: k for k in ks}
    assert sorted(by_path) == [f"./{PREFIX}/{c}" for c in clusters]
    for c in clusters:
        k = by_path[f"./{PREFIX}/{c}"]
        assert k["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
        assert k["spec"]["prune"] is True
        assert k["spec"]["kubeConfig"] == {"secretRef": {"name": f"{c}-kubeconfig", "key": "value"}}
        assert k["spec"]["sourceRef"] == {"kind": "GitRepository", "name": repo["metadata"]["name"]}
        assert k["metadata"]["namespace"] == repo["metadata"]["namespace"] == "flux-system"
        assert (tmp_path / k["spec"]["path"] / "kustomization.yaml").is_file()


@pytest.mark.parametrize("engine", ["argocd", "flux"])
@pytest.mark.parametrize("fleet", ["demo", "prod"])
def test_cluster_directories_are_untouched_and_still_build(fleet: str, engine: str, tmp_path: Path) -> None:
    plain = render(tmp_path / "plain", fleet, None)
    handed = render(tmp_path / "gitops", fleet, engine)
    with_gitops = tree(handed)
    assert {k for k in with_gitops if k.startswith(f"{engine}/")}, "no hand-off written"
    assert {k: v for k, v in with_gitops.items() if not k.startswith(f"{engine}/")} == tree(plain)
    for cluster in cluster_dirs(handed):
        built = kustomize(handed / cluster)
        listed = yaml.safe_load((handed / cluster / "kustomization.yaml").read_text())["resources"]
        assert len(built) == len(listed) > 0
        assert not {d["kind"] for d in built} & {"ApplicationSet", "GitRepository"}
    # The hand-off directory builds too (kubectl apply -k), to exactly its objects.
    files = [f for f in sorted((handed / engine).iterdir()) if f.name != "kustomization.yaml"]
    objects = [d for f in files for d in docs(f)]
    key = lambda o: json.dumps(o, sort_keys=True)  # noqa: E731
    assert sorted(map(key, kustomize(handed / engine))) == sorted(map(key, objects))


def test_path_prefix_defaults_to_the_relative_out(tmp_path: Path) -> None:
    result = run_cli("render", str(ROOT / "fleet/demo.yaml"), "--out", "./deploy//demo/", "--gitops", "argocd",
                     "--repo-url", "git@github.com:platform/fleet.git", cwd=tmp_path)
    assert result.code == 0, result
    (appset,) = docs(tmp_path / "deploy/demo/argocd/applicationset.yaml")
    paths = [e["path"] for e in appset["spec"]["generators"][0]["list"]["elements"]]
    assert paths == [f"deploy/demo/{c}" for c in ("cluster-1", "cluster-2", "cluster-3", "control-plane")]
    assert appset["spec"]["template"]["spec"]["source"]["repoURL"] == "git@github.com:platform/fleet.git"


def test_rerender_without_gitops_drops_the_hand_off(tmp_path: Path) -> None:
    out = render(tmp_path, "demo", "flux")
    assert (out / "flux").is_dir()
    render(tmp_path, "demo", None)
    assert not (out / "flux").exists()


@pytest.mark.parametrize(("args", "says"), [
    (["--gitops", "argocd"], "--repo-url"),
    (["--gitops", "flux", "--repo-url", "git@github.com:platform/fleet.git"], "flux"),
    (["--gitops", "argocd", "--repo-url", "not a url"], "not a repository URL"),
    (["--repo-url", URL], "go with --gitops"),
    (["--path-prefix", "deploy"], "go with --gitops"),
    (["--gitops", "argocd", "--repo-url", URL, "--path-prefix", "../elsewhere"], "inside the repository"),
    (["--gitops", "argocd", "--repo-url", URL, "--path-prefix", "/abs"], "inside the repository"),
    (["--gitops", "argocd", "--repo-url", URL, "--revision", ""], "--revision"),
    (["--gitops", "helm", "--repo-url", URL], "invalid choice"),
])
def test_usage_errors(args: list[str], says: str, tmp_path: Path) -> None:
    result = run_cli("render", str(ROOT / "fleet/demo.yaml"), "--out", "out/demo", *args, cwd=tmp_path)
    assert result.code == 2, result
    assert says in result.err and "usage:" in result.err
    assert list(tmp_path.iterdir()) == []


def test_absolute_out_needs_a_path_prefix(tmp_path: Path) -> None:
    result = run_cli("render", str(ROOT / "fleet/demo.yaml"), "--out", str(tmp_path / "out"), "--gitops", "flux",
                     "--repo-url", URL)
    assert result.code == 2 and "--path-prefix" in result.err
    assert not (tmp_path / "out").exists()


def test_a_cluster_named_like_the_hand_off_directory_is_refused(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text((ROOT / "fleet/demo-standalone.yaml").read_text().replace("cluster-3", "argocd"))
    result = run_cli("render", str(fleet), "--out", str(tmp_path / "out"), "--gitops", "argocd", "--repo-url", URL,
                     "--path-prefix", "out")
    assert result.code == 1 and "named 'argocd'" in result.err
    assert not (tmp_path / "out").exists()
    # Flux's directory is another name: no clash.
    assert run_cli("render", str(fleet), "--out", str(tmp_path / "out"), "--gitops", "flux", "--repo-url", URL,
                   "--path-prefix", "out").code == 0
