"""`meshfleet render --gitops`: the Argo CD / Flux hand-off is valid against the upstream CRDs, points
each engine at every cluster directory it can apply and nowhere else, and changes the cluster
directories only where an object must hold a member's kubeconfig (FSM `Cluster`) or be applied the
engine's own way (its annotations): with Flux, a kubeconfig field holds a post-build variable filled
from a Secret, which a simulated substitution (the same steps as kustomize-controller, on `kubectl
kustomize` output) turns back into the kubeconfig."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from meshfleet.core.plan import PlannedObject
from meshfleet.fleet.load import load_plan
from meshfleet.sinks import gitops
from meshfleet.sinks.layout import file_name
from meshfleet.sinks.render import render as render_plan
from tests.conftest import ROOT, run_cli
from tests.golden import GOLDEN, compare_tree, tree
from tests.support import flux
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


HOLDERS = {"demo": ["control-plane"], "demo-standalone": [], "prod": ["hub"]}
"""The clusters whose directory holds FSM `Cluster` objects (the fleet's FSM control plane)."""


def cluster_dirs(out: Path) -> list[str]:
    return sorted(p.parent.name for p in out.glob("*/kustomization.yaml") if p.parent.name not in ("argocd", "flux"))


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomize_text(path: Path) -> str:
    """`kubectl kustomize` output: the same re-serialised YAML that kustomize-controller substitutes."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    return subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=True).stdout


def kustomize(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(kustomize_text(path)) if d]


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
    # Argo CD cannot fill a Cluster's kubeconfig: the control plane is left out, and the file says so.
    assert [e["cluster"] for e in elements] == [c for c in clusters if c not in HOLDERS[fleet]] and elements
    header = (out / "argocd/applicationset.yaml").read_text().split("apiVersion:")[0]
    assert all(h in header for h in HOLDERS[fleet]) and ("--gitops flux" in header) == bool(HOLDERS[fleet])
    for e in elements:
        # The path is where the cluster's directory sits in the repository (tmp_path stands for its root).
        assert e["path"] == f"{PREFIX}/{e['cluster']}"
        assert (tmp_path / e["path"] / "kustomization.yaml").is_file()
        app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **instantiate(spec["template"], e)}
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
        # Only the Kustomization of a cluster holding kubeconfig variables substitutes, from one Secret.
        secret = [{"kind": "Secret", "name": f"{repo['metadata']['name']}-kubeconfigs"}]
        assert k["spec"].get("postBuild") == ({"substituteFrom": secret} if c in HOLDERS[fleet] else None)


@pytest.mark.parametrize("engine", ["argocd", "flux"])
@pytest.mark.parametrize("fleet", ["demo", "prod"])
def test_cluster_directories_change_only_where_kubeconfigs_go_and_still_build(
    fleet: str, engine: str, tmp_path: Path
) -> None:
    plain = render(tmp_path / "plain", fleet, None)
    handed = render(tmp_path / "gitops", fleet, engine)
    with_gitops = tree(handed)
    assert {k for k in with_gitops if k.startswith(f"{engine}/")}, "no hand-off written"
    changed = {k for k, v in tree(plain).items() if with_gitops.get(k) != v}
    holding = {
        k for k in tree(plain) if k.partition("/")[0] in HOLDERS[fleet] and k.partition("/")[2].startswith("cluster._.")
    }
    # The objects the engine must apply its own way (patches, retained namespaces, objects that wait)
    # carry its annotations there, and only there (tests/sinks/test_gitops_annotations.py says which).
    told = {
        f"{c.name}/{file_name(o)}"
        for c in load_plan(ROOT / f"fleet/{fleet}.yaml").clusters
        for o in c.applied()
        if o.patch or o.retain or o.wave
    }
    assert told
    if engine == "argocd":
        # Argo CD cannot fill a kubeconfig: those objects leave the kustomization, a comment says why.
        assert changed == holding | told | {f"{c}/kustomization.yaml" for c in HOLDERS[fleet]}
        for k in holding:
            assert with_gitops[k].startswith("# not applied by the GitOps engine")
    else:
        assert changed == holding | told and holding
    assert {k for k in with_gitops if not k.startswith(f"{engine}/")} == set(tree(plain))
    for cluster in cluster_dirs(handed):
        built = kustomize(handed / cluster)
        listed = yaml.safe_load((handed / cluster / "kustomization.yaml").read_text())["resources"]
        left_empty = engine == "argocd" and cluster in HOLDERS[fleet]  # only Cluster objects there
        assert len(built) == len(listed) and (len(listed) == 0) == left_empty
        assert not {d["kind"] for d in built} & {"ApplicationSet", "GitRepository"}
    # The hand-off directory builds too (kubectl apply -k), to exactly its objects.
    files = [f for f in sorted((handed / engine).iterdir()) if f.name != "kustomization.yaml"]
    objects = [d for f in files for d in docs(f)]
    key = lambda o: json.dumps(o, sort_keys=True)  # noqa: E731
    assert sorted(map(key, kustomize(handed / engine))) == sorted(map(key, objects))


def fake_kubeconfig(context: str) -> str:
    """A kubeconfig cut to one context, with the characters a substitution could break."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": f"https://{context}.example:6443"}}],
        "users": [{"name": context, "user": {"token": f"tok-{context} $HOME ${{HOME}} $$ 'q' \"dq\" \\ é\u2028\x85"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
    }
    return yaml.safe_dump(doc, allow_unicode=True)


@pytest.mark.parametrize("fleet", ["demo", "prod"])
def test_flux_render_holds_variables_and_substitution_gives_back_each_kubeconfig(fleet: str, tmp_path: Path) -> None:
    out = render(tmp_path, fleet, "flux")
    [holder] = HOLDERS[fleet]
    name = f"meshfleet-{fleet}"
    (ks,) = docs(out / f"flux/{name}-{holder}.yaml")
    assert ks["spec"]["postBuild"]["substituteFrom"] == [{"kind": "Secret", "name": f"{name}-kubeconfigs"}]
    text = (out / holder).glob("cluster._.*.yaml")
    members = sorted(p.name.split(".")[2] for p in text)
    assert members
    # The Secret's keys are named in the Kustomization's file, for whoever creates it by hand.
    header = (out / f"flux/{name}-{holder}.yaml").read_text().split("apiVersion:")[0]
    assert all(gitops.variable(m) in header for m in members) and "kubeconfig-secret" in header

    built = kustomize(out / holder)
    clusters = [d for d in built if d["kind"] == "Cluster"]
    assert sorted(d["metadata"]["name"] for d in clusters) == members
    for d in clusters:
        assert d["spec"]["kubeconfig"] == "${" + gitops.variable(d["metadata"]["name"]) + "}"
        assert "meshfleet.io/kubeconfig-from" not in d["metadata"].get("annotations", {})
        assert validate_object(d) == []

    kubeconfigs = {m: fake_kubeconfig(f"ctx-{m}") for m in members}
    secret = gitops.substitution_secret(name, kubeconfigs)
    assert secret["metadata"] == {
        "name": f"{name}-kubeconfigs",
        "namespace": ks["metadata"]["namespace"],
        "labels": {"app.kubernetes.io/managed-by": "meshfleet"},
    }
    assert all("\n" not in v for v in secret["stringData"].values()), "Flux would remove the newlines"
    applied = flux.substitute(kustomize_text(out / holder), secret["stringData"])
    for d in applied:
        assert d["spec"]["kubeconfig"] == kubeconfigs[d["metadata"]["name"]]
        assert validate_object(d) == []


def test_substituted_objects_keep_their_other_dollars_and_others_opt_out(tmp_path: Path) -> None:
    plan = load_plan(ROOT / "fleet/demo.yaml")
    cp = plan.cluster("control-plane")
    first = cp.objects[0]
    assert first.kubeconfig_of is not None
    odd = {
        **first.body,
        "metadata": {
            **first.body["metadata"],
            "labels": {"note": "a$b"},
            "annotations": {"example.com/regex": "^/a$|${x}|$${y}|$$"},
        },
    }
    other = PlannedObject(
        role="applied",
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "dollars", "namespace": "default"},
            "data": {"pattern": "^/api/${version}$"},
        },
    )
    objects = (PlannedObject(role="applied", body=odd, kubeconfig_of=first.kubeconfig_of), other, *cp.objects[1:])
    plan = dataclasses.replace(
        plan,
        clusters=tuple(
            c if c.name != "control-plane" else dataclasses.replace(c, objects=objects) for c in plan.clusters
        ),
    )
    out = tmp_path / "out"
    render_plan(plan, out, rewrite=gitops.flux_rewrite(plan))
    kubeconfigs = {o.kubeconfig_of: f"kubeconfig of {o.kubeconfig_of}" for o in objects if o.kubeconfig_of}
    applied = {
        d["metadata"]["name"]: d
        for d in flux.substitute(
            kustomize_text(out / "control-plane"), gitops.substitution_secret("x", kubeconfigs)["stringData"]
        )
    }
    assert applied["dollars"]["data"] == other.body["data"]
    assert applied["dollars"]["metadata"]["annotations"] == {gitops.SUBSTITUTE_ANNOTATION: "disabled"}
    assert applied[first.name]["metadata"]["annotations"] == odd["metadata"]["annotations"]
    assert applied[first.name]["metadata"]["labels"] == {"note": "a$b"}
    assert applied[first.name]["spec"]["kubeconfig"] == kubeconfigs[first.kubeconfig_of]


def test_a_secret_keyed_by_member_takes_the_same_substitution(tmp_path: Path) -> None:
    """The mechanism is per field, not per FSM kind: a Secret holding a member's kubeconfig under the
    member's name (the shape of a remote secret) is filled the same way."""
    plan = load_plan(ROOT / "fleet/demo.yaml")
    remote = PlannedObject(
        role="applied",
        kubeconfig_of="cluster-3",
        kubeconfig_field=("stringData", "cluster-3"),
        body={
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "remote-cluster-3", "namespace": "default"},
            "stringData": {"cluster-3": ""},
        },
    )
    plan = dataclasses.replace(
        plan,
        clusters=tuple(
            dataclasses.replace(c, objects=(*c.objects, remote)) if c.name == "cluster-1" else c for c in plan.clusters
        ),
    )
    out = tmp_path / "out"
    render_plan(plan, out, rewrite=gitops.flux_rewrite(plan))
    assert set(gitops.kubeconfig_holders(plan)) == {"control-plane", "cluster-1"}
    applied = flux.substitute(kustomize_text(out / "cluster-1"), {"MESHFLEET_KUBECONFIG_CLUSTER_3": json.dumps("kc\n")})
    by_kind = {d["kind"]: d for d in applied}
    assert by_kind["Secret"]["stringData"] == {"cluster-3": "kc\n"}
    assert by_kind["ServiceExport"]["metadata"]["annotations"] == {gitops.SUBSTITUTE_ANNOTATION: "disabled"}


@pytest.mark.parametrize("engine", ["argocd", "flux"])
def test_gitops_render_of_demo_matches_golden(engine: str, tmp_path: Path, update_golden: bool) -> None:
    compare_tree(render(tmp_path, "demo", engine), GOLDEN / "gitops" / f"demo-{engine}", update_golden)


@pytest.mark.parametrize(
    ("engine", "says"),
    [
        (None, "the mesh cannot use a Cluster without one"),
        ("argocd", "Argo CD applies none of the Cluster objects in"),
        ("flux", "from Secret flux-system/meshfleet-demo-kubeconfigs"),
    ],
)
def test_render_says_how_the_control_plane_gets_its_kubeconfigs(engine: str | None, says: str, tmp_path: Path) -> None:
    args = ["--gitops", engine, "--repo-url", URL, "--path-prefix", PREFIX] if engine else []
    result = run_cli("render", str(ROOT / "fleet/demo.yaml"), "--out", str(tmp_path / "out"), *args)
    assert result.code == 0 and says in result.err, result.err
    standalone = run_cli("render", str(ROOT / "fleet/demo-standalone.yaml"), "--out", str(tmp_path / "o2"), *args)
    assert standalone.code == 0 and says not in standalone.err
    assert all("acknowledged" in line for line in standalone.err.splitlines()[1:]), "only the fleet's own warnings"


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
@settings(max_examples=300, deadline=None)
def test_any_text_survives_flux_substitution(text: str) -> None:
    built = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: ${V}\n"
    [doc] = flux.substitute(built, {"V": gitops.substitution_value(text)})
    assert doc["data"]["k"] == text


@given(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True),
)
def test_variable_names_are_valid_for_flux_and_distinct(a: str, b: str) -> None:
    assert re.match(r"^[_A-Za-z][_A-Za-z0-9]*$", gitops.variable(a))
    assert (gitops.variable(a) == gitops.variable(b)) == (a == b)


def test_path_prefix_defaults_to_the_relative_out(tmp_path: Path) -> None:
    result = run_cli(
        "render",
        str(ROOT / "fleet/demo.yaml"),
        "--out",
        "./deploy//demo/",
        "--gitops",
        "argocd",
        "--repo-url",
        "git@github.com:platform/fleet.git",
        cwd=tmp_path,
    )
    assert result.code == 0, result
    (appset,) = docs(tmp_path / "deploy/demo/argocd/applicationset.yaml")
    paths = [e["path"] for e in appset["spec"]["generators"][0]["list"]["elements"]]
    assert paths == [f"deploy/demo/{c}" for c in ("cluster-1", "cluster-2", "cluster-3")]  # not the control plane
    assert appset["spec"]["template"]["spec"]["source"]["repoURL"] == "git@github.com:platform/fleet.git"


def test_rerender_without_gitops_drops_the_hand_off(tmp_path: Path) -> None:
    out = render(tmp_path, "demo", "flux")
    assert (out / "flux").is_dir()
    render(tmp_path, "demo", None)
    assert not (out / "flux").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--gitops", "argocd"], "--repo-url"),
        (["--gitops", "flux", "--repo-url", "git@github.com:platform/fleet.git"], "flux"),
        (["--gitops", "argocd", "--repo-url", "not a url"], "not a repository URL"),
        (["--repo-url", URL], "go with --gitops"),
        (["--path-prefix", "deploy"], "go with --gitops"),
        (["--gitops", "argocd", "--repo-url", URL, "--path-prefix", "../elsewhere"], "inside the repository"),
        (["--gitops", "argocd", "--repo-url", URL, "--path-prefix", "/abs"], "inside the repository"),
        (["--gitops", "argocd", "--repo-url", URL, "--revision", ""], "--revision"),
        (["--gitops", "helm", "--repo-url", URL], "invalid choice"),
        (["--gitops", "flux", "--repo-url", URL, "--with-kubeconfigs"], "hands to git"),
        (["--gitops", "argocd", "--repo-url", URL, "--with-kubeconfigs"], "hands to git"),
    ],
)
def test_usage_errors(args: list[str], says: str, tmp_path: Path) -> None:
    result = run_cli("render", str(ROOT / "fleet/demo.yaml"), "--out", "out/demo", *args, cwd=tmp_path)
    assert result.code == 2, result
    assert says in result.err and "usage:" in result.err
    assert list(tmp_path.iterdir()) == []


def test_absolute_out_needs_a_path_prefix(tmp_path: Path) -> None:
    result = run_cli(
        "render", str(ROOT / "fleet/demo.yaml"), "--out", str(tmp_path / "out"), "--gitops", "flux", "--repo-url", URL
    )
    assert result.code == 2 and "--path-prefix" in result.err
    assert not (tmp_path / "out").exists()


def test_a_cluster_named_like_the_hand_off_directory_is_refused(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text((ROOT / "fleet/demo-standalone.yaml").read_text().replace("cluster-3", "argocd"))
    result = run_cli(
        "render",
        str(fleet),
        "--out",
        str(tmp_path / "out"),
        "--gitops",
        "argocd",
        "--repo-url",
        URL,
        "--path-prefix",
        "out",
    )
    assert result.code == 1 and "named 'argocd'" in result.err
    assert not (tmp_path / "out").exists()
    # Flux's directory is another name: no clash.
    assert (
        run_cli(
            "render",
            str(fleet),
            "--out",
            str(tmp_path / "out"),
            "--gitops",
            "flux",
            "--repo-url",
            URL,
            "--path-prefix",
            "out",
        ).code
        == 0
    )
