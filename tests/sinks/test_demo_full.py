"""fleet/demo-full.yaml renders every object the seeds' FSM walkthroughs apply by hand, cluster by cluster,
valid, buildable, deterministic, with each ServiceExport applied after its Service.

The walkthroughs (../shared/seeds, the FSM multi-cluster discovery and access-control pages) are read as
the shell they are: loops over clusters, `kubectx`, `kubectl create namespace`, `fsm namespace add`,
`kubectl apply -n NS -f - <<EOF ... EOF`, `kubectl patch meshconfig` and the control plane's
`Cluster` objects. The list they yield is also committed below (WALKTHROUGH), so that the render is
checked where the seeds are not beside the repository.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from meshfleet.core.plan import Plan
from meshfleet.fleet.load import load_plan
from meshfleet.sinks import gitops
from meshfleet.sinks.render import render
from tests.golden import tree
from tests.support.fleets import shuffled

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "fleet" / "demo-full.yaml"
SEEDS = ROOT.parent / "shared" / "seeds"

Obj = tuple[str, str, str, str]
"""cluster, kind, namespace, name"""

WALKTHROUGH: frozenset[Obj] = frozenset(
    {
        *{("control-plane", "Cluster", "", f"cluster-{n}") for n in (1, 2, 3)},
        *{
            (c, kind, ns, name)
            for c in ("cluster-1", "cluster-3")
            for kind, ns, name in (
                ("Namespace", "", "httpbin"),
                ("ServiceAccount", "httpbin", "httpbin"),
                ("Deployment", "httpbin", "httpbin"),
                ("Service", "httpbin", "httpbin"),
                ("Service", "httpbin", f"httpbin-{c}"),
                ("ServiceExport", "httpbin", "httpbin"),
                ("ServiceExport", "httpbin", f"httpbin-{c}"),
            )
        },
        *{
            ("cluster-2", kind, ns, name)
            for kind, ns, name in (
                ("Namespace", "", "httpbin"),
                ("Deployment", "httpbin", "httpbin"),
                ("Service", "httpbin", "httpbin"),
                ("Service", "httpbin", "httpbin-cluster-2"),
                ("Namespace", "", "curl"),
                ("ServiceAccount", "curl", "curl"),
                ("Service", "curl", "curl"),
                ("Deployment", "curl", "curl"),
                ("GlobalTrafficPolicy", "httpbin", "httpbin"),
                ("MeshConfig", "fsm-system", "fsm-mesh-config"),
                ("HTTPRouteGroup", "httpbin", "httpbin-route"),
                ("TrafficTarget", "httpbin", "curl-to-httpbin"),
                ("TrafficTarget", "httpbin", "curl-to-ext-httpbin"),
            )
        },
    }
)
GRANTS = frozenset({("cluster-2", "httpbin", "default", "curl/curl"), ("cluster-2", "httpbin", "httpbin", "curl/curl")})
"""The walkthrough's TrafficTargets by what they grant: cluster, namespace, destination account, source."""
MESHED = frozenset(
    {("cluster-1", "httpbin"), ("cluster-2", "httpbin"), ("cluster-3", "httpbin"), ("cluster-2", "curl")}
)
"""The namespaces `fsm namespace add` puts in the mesh."""


# --- the walkthroughs, read as shell -----------------------------------------------------------------


@dataclass
class Walk:
    objects: set[Obj] = field(default_factory=set)
    grants: set[tuple[str, str, str, str]] = field(default_factory=set)
    meshed: set[tuple[str, str]] = field(default_factory=set)
    cluster: str = ""


def _expand(text: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), m.group(0)), text).strip('"')


_FOR = re.compile(r"for ([A-Za-z_]\w*) in ((?:[\w.-]+ ?)+?)(?:; do)?$")


def _blocks(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """Statements: (command, heredoc lines); a `for` loop as ("for ...", its body's lines)."""
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if _FOR.match(line):
            depth, j = 0, i + 1
            while j < len(lines):
                word = lines[j].strip()
                if "<<EOF" in word:
                    j = lines.index("EOF", j + 1)
                elif _FOR.match(word):
                    depth += 1
                elif word == "done":
                    if depth == 0:
                        break
                    depth -= 1
                j += 1
            yield line, [ln for ln in lines[i + 1 : j] if ln.strip() != "do"]
            i = j + 1
        elif "<<EOF" in line:
            end = lines.index("EOF", i + 1)
            yield line, lines[i + 1 : end]
            i = end + 1
        else:
            yield line, []
            i += 1


def _documents(body: list[str]) -> Iterator[list[str]]:
    doc: list[str] = []
    for line in [*body, "---"]:
        if line.strip() == "---":
            if doc:
                yield doc
            doc = []
        else:
            doc.append(line.strip())


def _field(lines: list[str], key: str) -> str | None:
    return next((ln.split(":", 1)[1].strip().strip('"') for ln in lines if ln.startswith(f"{key}:")), None)


def _run(lines: list[str], env: dict[str, str], walk: Walk) -> None:
    for line, body in _blocks(lines):
        loop = _FOR.match(line)
        if loop:
            var, values = loop.groups()
            for v in values.split():
                _run(body, {**env, var: v}, walk)
        elif m := re.match(r"export (\w+)=(\S+)$", line):
            env[m.group(1)] = _expand(m.group(2), env)
        elif m := re.match(r"kubectx k3d-(\S+)$", line):
            walk.cluster = _expand(m.group(1), env)
        elif m := re.match(r"kubectl create namespace (\S+)$", line):
            walk.objects.add((walk.cluster, "Namespace", "", _expand(m.group(1), env)))
        elif m := re.match(r"fsm namespace add (\S+)$", line):
            walk.meshed.add((walk.cluster, _expand(m.group(1), env)))
        elif m := re.match(r"kubectl patch meshconfig (\S+) -n (\S+)", line):
            walk.objects.add((walk.cluster, "MeshConfig", _expand(m.group(2), env), _expand(m.group(1), env)))
        elif body and (line.startswith("kubectl apply") or line.startswith("cat <<EOF")):
            given = re.search(r"-n (\S+)", line)
            for doc in _documents([_expand(b, env) for b in body]):
                kind = _field(doc, "kind")
                start = doc.index("metadata:")
                end = next((i for i in range(start, len(doc)) if doc[i] == "spec:"), len(doc))
                meta = doc[start + 1 : end]
                ns = _field(meta, "namespace") or (_expand(given.group(1), env) if given else "")
                assert kind is not None and _field(meta, "name") is not None, doc
                walk.objects.add(
                    (walk.cluster, kind, "" if kind in ("Cluster", "Namespace") else ns, str(_field(meta, "name")))
                )
                if kind == "TrafficTarget":
                    dest = doc[doc.index("destination:") + 1 :]
                    src = doc[doc.index("sources:") + 1 :]
                    walk.grants.add(
                        (
                            walk.cluster,
                            ns,
                            str(_field(dest, "name")),
                            f"{_field(src, 'namespace')}/{_field(src, 'name')}",
                        )
                    )


def walkthrough() -> Walk:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))] if SEEDS.is_dir() else []
    pages = [t for t in texts if "Multi-cluster services access control" in t and "kubectl apply" in t]
    if not pages:
        pytest.skip(f"the seeds' FSM walkthroughs are not beside the repository ({SEEDS})")
    walk = Walk()
    for page in pages:
        _run(page.splitlines(), {}, walk)
    return walk


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(FLEET)


def applied(plan: Plan) -> set[Obj]:
    return {(c.name, o.kind, o.namespace, o.name) for c in plan.clusters for o in c.applied()}


def test_the_walkthrough_applies_what_the_committed_list_says() -> None:
    walk = walkthrough()
    assert walk.objects == WALKTHROUGH
    assert walk.grants == GRANTS
    assert walk.meshed == MESHED


def test_demo_full_renders_every_object_the_walkthrough_applies_by_hand(plan: Plan) -> None:
    have = applied(plan)
    # Access objects are named after the fleet's rule (`<rule>`, `<rule>-<account>`), not the walkthrough's
    # hand-picked names: those are matched by what they grant.
    named = {o for o in WALKTHROUGH if o[1] not in ("HTTPRouteGroup", "TrafficTarget")}
    assert named - have == set()
    groups = {(c, ns) for c, kind, ns, _ in have if kind == "HTTPRouteGroup"}
    assert groups == {(c, ns) for c, kind, ns, _ in WALKTHROUGH if kind == "HTTPRouteGroup"}
    grants = {
        (c.name, o.namespace, o.body["spec"]["destination"]["name"], f"{s['namespace']}/{s['name']}")
        for c in plan.clusters
        for o in c.applied()
        if o.kind == "TrafficTarget"
        for s in o.body["spec"]["sources"]
    }
    assert grants == GRANTS
    # Beyond them: patches of what FSM's install made (MeshConfig settings the walkthroughs pass to
    # `fsm install`), nothing else.
    patches = {(c.name, o.kind, o.namespace, o.name) for c in plan.clusters for o in c.applied() if o.patch}
    extra = {o for o in have - named - patches if o[1] not in ("HTTPRouteGroup", "TrafficTarget")}
    assert extra == set(), "demo-full applies what the walkthroughs do and nothing else"


def test_namespaces_are_put_in_the_mesh_as_fsm_namespace_add_does(plan: Plan) -> None:
    for cluster, ns in MESHED:
        [obj] = [o for o in plan.cluster(cluster).applied() if o.kind == "Namespace" and o.name == ns]
        assert obj.body["metadata"]["labels"] == {"flomesh.io/monitored-by": "fsm"}
        assert obj.body["metadata"]["annotations"]["flomesh.io/sidecar-injection"] == "enabled"
        assert obj.retain


def test_each_copy_of_httpbin_answers_with_its_clusters_name(plan: Plan) -> None:
    for n in (1, 2, 3):
        [d] = [o for o in plan.cluster(f"cluster-{n}").applied() if o.kind == "Deployment" and o.name == "httpbin"]
        pod = d.body["spec"]["template"]["spec"]
        assert f"Hi, I am from cluster-{n} and controlled by mesh!" in pod["containers"][0]["command"][2]
        assert pod.get("serviceAccountName") == (None if n == 2 else "httpbin")
        assert d.body["spec"]["replicas"] == 1


def test_every_service_export_waits_for_its_service(plan: Plan) -> None:
    exports = [(c, o) for c in plan.clusters for o in c.applied() if o.kind == "ServiceExport"]
    assert len(exports) == 4
    for c, o in exports:
        ids = {x.id for x in c.applied()}
        assert o.after and all(a in ids for a in o.after)
        assert any(a.kind == "Service" and (a.namespace, a.name) == (o.namespace, o.name) for a in o.after)
        assert o.wave == 1


def test_each_cluster_builds_with_kustomize_services_before_their_exports(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    written = render(load_plan(FLEET), tmp_path)
    assert written == ["cluster-1", "cluster-2", "cluster-3", "control-plane"]
    for cluster in written:
        built = subprocess.run(
            [kubectl, "kustomize", str(tmp_path / cluster)], capture_output=True, text=True, check=True
        ).stdout
        docs = [d for d in yaml.safe_load_all(built) if d]
        listed = yaml.safe_load((tmp_path / cluster / "kustomization.yaml").read_text())["resources"]
        assert len(docs) == len(listed)
        order = [(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs]
        for kind, ns, name in order:
            if kind == "ServiceExport":  # `kubectl apply -k` applies in this order
                assert (
                    order.index(("Namespace", "", ns))
                    < order.index(("Service", ns, name))
                    < order.index((kind, ns, name))
                )
                assert order.index(("ServiceAccount", ns, "httpbin")) < order.index((kind, ns, name))


def test_flux_applies_the_exports_in_a_kustomization_that_waits_for_the_rest(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    p = load_plan(FLEET)
    out = tmp_path / "deploy"
    render(
        p,
        out,
        extra=gitops.files(
            p, "flux", gitops.Source("https://example.com/f.git", "main", "deploy"), "meshfleet-demo-full"
        ),
        rewrite=gitops.flux_rewrite(p),  # as `render --gitops flux` writes the cluster directories
    )
    by_name = {
        ks["metadata"]["name"]: ks
        for ks in gitops.flux_objects(
            p, gitops.Source("https://example.com/f.git", "main", "deploy"), "meshfleet-demo-full"
        )[1:]
    }
    assert sorted(by_name) == [
        "meshfleet-demo-full-cluster-1",
        "meshfleet-demo-full-cluster-1-wave-1",
        "meshfleet-demo-full-cluster-2",
        "meshfleet-demo-full-cluster-3",
        "meshfleet-demo-full-cluster-3-wave-1",
        "meshfleet-demo-full-control-plane",
    ]
    for n in (1, 3):
        first, then = by_name[f"meshfleet-demo-full-cluster-{n}"], by_name[f"meshfleet-demo-full-cluster-{n}-wave-1"]
        assert first["spec"]["wait"] is True and then["spec"]["dependsOn"] == [{"name": first["metadata"]["name"]}]
        kinds = {}
        for ks in (first, then):
            # What kustomize-controller builds: the directory with the Kustomization's patches on top.
            work = tmp_path / ks["metadata"]["name"]
            work.mkdir()
            (work / "kustomization.yaml").write_text(
                yaml.safe_dump({"resources": [f"../deploy/cluster-{n}"], "patches": ks["spec"]["patches"]})
            )
            built = subprocess.run([kubectl, "kustomize", str(work)], capture_output=True, text=True, check=True).stdout
            kinds[ks["metadata"]["name"]] = sorted(d["kind"] for d in yaml.safe_load_all(built) if d)
        assert kinds[then["metadata"]["name"]] == ["ServiceExport", "ServiceExport"]
        assert "ServiceExport" not in kinds[first["metadata"]["name"]]
        assert {"Service", "ServiceAccount", "Deployment", "Namespace"} <= set(kinds[first["metadata"]["name"]])
    assert "wait" not in by_name["meshfleet-demo-full-cluster-2"]["spec"], "no export in cluster-2: one apply"


@pytest.mark.parametrize("seed", [1, 2])
def test_the_render_is_deterministic(seed: int, tmp_path: Path) -> None:
    source = yaml.safe_load(FLEET.read_text())
    shutil.copytree(ROOT / "fleet" / "demo-full", tmp_path / "demo-full")
    reordered = tmp_path / "reordered.yaml"
    reordered.write_text(yaml.safe_dump(shuffled(source, random.Random(seed)), sort_keys=False))
    render(load_plan(FLEET), tmp_path / "a")
    render(load_plan(reordered), tmp_path / "b")
    render(load_plan(FLEET), tmp_path / "c")
    assert tree(tmp_path / "a") == tree(tmp_path / "b") == tree(tmp_path / "c")
