"""A fleet's life under Pulumi: renames, an id added, shard moves, decommissioning, missing CRDs.

Each change runs the program twice under mocks (before and after) and compares what the engine
would match: resource addresses (URNs without the stack, which `pulumi state move` rewrites) and
the aliases that carry an old address to a new name. The engine computes an alias's URN from the
resource's own type chain and the alias name (pulumi's step_generator.go:545-585); `aliased`
does the same here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import StackConfigError
from components.objects import crd_name
from meshfleet.core.plan import PlannedObject
from meshfleet.fleet.load import load_plan
from tests.components.conftest import (
    CRD_TYPE,
    DEMO_CLUSTERS,
    MEMBER_TYPE,
    PROVIDER_TYPE,
    ROOT,
    EchoMocks,
    Registration,
    Run,
    StackRunner,
    address,
    demo_text,
    edit,
    fake_kubeconfig,
    standalone,
    unwrap,
    with_namespaces_and_ingress,
)

Stack = StackRunner


def aliased(reg: Registration) -> set[str]:
    """The addresses `reg` claims through its aliases (same type chain, the alias's name)."""
    chain = address(reg.urn).rpartition("::")[0]
    return {f"{chain}::{name}" for name in reg.aliases}


def covered(run: Run) -> dict[str, Registration]:
    """Every address the run claims, by its URN or an alias, with the registration that claims it."""
    out: dict[str, Registration] = {}
    for reg in run.registrations:
        for addr in {address(reg.urn)} | aliased(reg):
            assert addr not in out, f"two resources claim {addr}: the engine refuses duplicate aliases"
            out[addr] = reg
    return out


def renamed(text: str) -> str:
    """cluster-3 renamed us-3: its id pinned to the old name, which it lists as a former name."""
    text = edit(
        text, "  cluster-3:\n    gateway:", "  us-3:\n    id: cluster-3\n    formerNames: [cluster-3]\n    gateway:"
    )
    text = edit(text, "clusters: [cluster-1, cluster-3]", "clusters: [cluster-1, us-3]")
    text = edit(text, "targets: [cluster-1, cluster-3]", "targets: [cluster-1, us-3]")
    return edit(text, "      clusters: [cluster-3]\n", "      clusters: [us-3]\n")


def kubeconfigs_for(*clusters: str) -> dict[str, str]:
    return {c: fake_kubeconfig(c) for c in clusters}


AFTER_RENAME = kubeconfigs_for("control-plane", "cluster-1", "cluster-2", "us-3")


@pytest.mark.parametrize("variant", ["demo", "standalone"])
def test_a_rename_with_former_names_keeps_every_address_of_the_cluster(stack: Stack, variant: str) -> None:
    text = demo_text() if variant == "demo" else with_namespaces_and_ingress(standalone(demo_text()))
    members = [c for c in DEMO_CLUSTERS if variant == "demo" or c != "control-plane"]
    before = stack(text, kubeconfigs=kubeconfigs_for(*members))
    after = stack(renamed(text), kubeconfigs={k: v for k, v in AFTER_RENAME.items() if k in members or k == "us-3"})
    claims = covered(after)

    old = {address(r.urn): r for r in before.registrations}
    lost = {a: r for a, r in old.items() if a not in claims}
    # Only objects whose Kubernetes name is the cluster's name are new objects (the FSM Cluster
    # registration on the control plane): no alias can make them the same object.
    assert {(r.type, r.inputs["metadata"]["name"]) for r in lost.values()} == (
        {("kubernetes:multicluster.flomesh.io/v1alpha1:Cluster", "cluster-3")} if variant == "demo" else set()
    )

    moved = [a for a in old if a in claims and address(claims[a].urn) != a]
    kinds = {claims[a].type for a in moved}
    assert MEMBER_TYPE in kinds and PROVIDER_TYPE in kinds and len(moved) >= 4
    for a in moved:
        new = claims[a]
        assert old[a].type == new.type
        cluster = new.name if new.type == MEMBER_TYPE else after.cluster_of(new)
        assert cluster == "us-3", f"only the renamed cluster's resources use aliases: {new.name}"
        assert new.name.replace("us-3", "cluster-3", 1) == old[a].name
    # Every resource of the renamed cluster carries the alias (the component, provider and objects).
    mine = [r for r in after.registrations if (r.name if r.type == MEMBER_TYPE else after.cluster_of(r)) == "us-3"]
    assert mine and all(len(r.aliases) == 1 for r in mine)
    assert not [r for r in after.registrations if r.aliases and r not in mine]

    # The provider keeps its cluster_identifier: an update, never a replacement of everything on it.
    assert after.providers()["us-3"].inputs["clusterIdentifier"] == "cluster-3"
    assert before.providers()["cluster-3"].inputs["clusterIdentifier"] == "cluster-3"


@pytest.mark.parametrize(("name", "change"), [("renamed", renamed), ("decommissioned", lambda t: without_cluster_3(t))])
def test_the_readmes_example_fleets_are_these_changes(name: str, change: Any) -> None:
    committed = (ROOT / "tests" / "cases" / "pulumi" / f"{name}.yaml").read_text(encoding="utf-8")
    body = committed.split("controlPlane:", 1)[1]
    assert body == change(demo_text()).split("controlPlane:", 1)[1]


def test_adding_an_id_equal_to_the_name_changes_nothing(stack: Stack) -> None:
    text = with_namespaces_and_ingress(standalone(demo_text()))
    before = stack(text)
    after = stack(edit(text, "  cluster-1:\n", "  cluster-1:\n    id: cluster-1\n"))

    def shape(run: Run) -> list[tuple[Any, ...]]:
        return sorted(
            (
                r.urn,
                r.type,
                r.parent,
                r.provider,
                r.protect,
                r.retain_on_delete,
                tuple(r.aliases),
                tuple(sorted(r.dependencies)),
                repr(r.inputs),
            )
            for r in run.registrations
        )

    assert shape(after) == shape(before)
    assert after.providers()["cluster-1"].inputs["clusterIdentifier"] == "cluster-1"


def test_moving_a_cluster_between_shards_keeps_its_addresses(stack: Stack) -> None:
    """What `pulumi state move` relies on: a cluster's addresses do not depend on the stack."""
    text = demo_text()
    whole = stack(text, config={"clusters": '["*"]'}, stack="alpha")
    rest = stack(text, config={"clusters": '["control-plane", "cluster-1", "cluster-2"]'}, stack="alpha")
    moved = stack(text, config={"clusters": '["cluster-3"]'}, stack="beta")
    assert {r.urn.split("::")[0] for r in moved.registrations} == {"urn:pulumi:beta"}
    assert set(whole.addresses()) == set(rest.addresses()) | set(moved.addresses())
    assert not set(rest.addresses()) & set(moved.addresses())
    for addr, reg in moved.addresses().items():
        assert whole.addresses()[addr].inputs == reg.inputs


def test_former_names_need_a_pinned_id_and_belong_to_one_cluster(stack: Stack) -> None:
    text = edit(demo_text(), "  cluster-3:\n    gateway:", "  cluster-3:\n    formerNames: [old-3]\n    gateway:")
    with pytest.raises(StackConfigError, match=r"formerNames needs id: set `id: old-3`"):
        stack(text)
    text = edit(
        demo_text(),
        "  cluster-3:\n    gateway:",
        "  cluster-3:\n    id: c3\n    formerNames: [cluster-1]\n    gateway:",
    )
    with pytest.raises(StackConfigError, match=r"former name 'cluster-1' is the name of cluster cluster-1"):
        stack(text)
    assert stack.last is not None and stack.last.registrations == []


# --- decommissioning ---------------------------------------------------------------------------


def without_cluster_3(text: str) -> str:
    """The demo with cluster-3 marked decommissioned and named nowhere else."""
    text = edit(text, "  cluster-3:\n    gateway:", "  cluster-3:\n    decommissioned: true\n    gateway:")
    text = edit(text, "clusters: [cluster-1, cluster-3]", "clusters: [cluster-1]")
    text = edit(text, "targets: [cluster-1, cluster-3]", "targets: [cluster-1]")
    return re.sub(r"\n  httpbin/httpbin-cluster-3:\n(    .*\n)*", "\n", text, count=1)


def test_decommissioning_sets_delete_unreachable_on_that_clusters_provider_only(stack: Stack) -> None:
    before = stack(demo_text())
    # No kubeconfig for the dead cluster: it is never contacted.
    after = stack(
        without_cluster_3(demo_text()), kubeconfigs=kubeconfigs_for("control-plane", "cluster-1", "cluster-2")
    )
    providers = after.providers()
    gone = providers["cluster-3"]
    assert gone.inputs["deleteUnreachable"] == "true"
    assert gone.inputs["clusterIdentifier"] == "cluster-3"  # unchanged: an update, not a replacement
    assert "skipUpdateUnreachable" not in gone.inputs
    placeholder = yaml.safe_load(unwrap(gone.inputs["kubeconfig"]))
    assert [c["cluster"]["server"] for c in placeholder["clusters"]] == ["https://cluster-3.decommissioned.invalid"]
    for name, p in providers.items():
        if name != "cluster-3":
            assert "deleteUnreachable" not in p.inputs and "skipUpdateUnreachable" not in p.inputs, name

    # Its component and provider keep their addresses; it has no objects and reads no CRD any more.
    assert address(gone.urn) in before.addresses()
    assert not [r for r in after.k8s_objects() if after.cluster_of(r) == "cluster-3"]
    assert not [r for r in after.reads if after.cluster_of(r) == "cluster-3"]
    assert [r for r in before.k8s_objects() if before.cluster_of(r) == "cluster-3"]
    # The control plane stops registering it with FSM.
    names = {r.inputs["metadata"]["name"] for r in after.of_type("kubernetes:multicluster.flomesh.io/v1alpha1:Cluster")}
    assert names == {"cluster-1", "cluster-2"}
    assert after.outputs["clusters"]["cluster-3"] == {"decommissioned": True}


def test_a_decommissioned_cluster_still_named_elsewhere_is_refused(stack: Stack) -> None:
    text = edit(demo_text(), "  cluster-3:\n    gateway:", "  cluster-3:\n    decommissioned: true\n    gateway:")
    with pytest.raises(StackConfigError, match=r"decommissioned cluster\(s\) cluster-3 still named elsewhere"):
        stack(text)


# --- CRD preflight -----------------------------------------------------------------------------


def test_each_cluster_reads_the_crds_its_objects_need_through_its_own_provider(stack: Stack) -> None:
    run = stack(demo_text())
    plan = load_plan(run.outputs["fleet"])
    providers = {p.urn: name for name, p in run.providers().items()}
    for cluster in plan.clusters:
        needed = {crd_name(o) for o in cluster.applied()} - {None}
        reads = [r for r in run.reads if run.cluster_of(r) == cluster.name]
        assert {r.id for r in reads} == needed, cluster.name
        for r in reads:
            assert r.type == CRD_TYPE
            assert r.name == f"{cluster.name}:crd:{r.id}"
            assert providers[r.provider.rpartition("::")[0]] == cluster.name
    read_urns = {(run.cluster_of(r), r.id): r.urn for r in run.reads}
    for obj in run.k8s_objects():
        body = obj.inputs
        probe = PlannedObject(
            "applied", {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": {"name": "x"}}
        )
        crd = crd_name(probe)
        if crd is not None:
            assert read_urns[(run.cluster_of(obj), crd)] in obj.dependencies, obj.name


def test_a_missing_crd_fails_with_the_cluster_and_the_crd_named(stack: Stack) -> None:
    missing = "serviceexports.multicluster.flomesh.io"
    with pytest.raises(Exception, match=re.escape(f"resource '{missing}' does not exist")):
        stack(demo_text(), mocks_=EchoMocks(missing=frozenset({missing})))
    assert stack.last is not None
    failed = [r for r in stack.last.reads if r.id == missing]
    # The read that failed names its cluster (an exporter of httpbin) and the CRD.
    assert failed and {r.name for r in failed} <= {f"cluster-1:crd:{missing}", f"cluster-3:crd:{missing}"}
    # Nothing of a kind the failed CRD serves was registered.
    assert not stack.last.of_type("kubernetes:multicluster.flomesh.io/v1alpha1:ServiceExport")


def test_a_crd_without_the_version_fails_with_the_cluster_the_crd_and_the_version(stack: Stack) -> None:
    crd = "meshconfigs.config.flomesh.io"
    # Every member holds a MeshConfig patch (cluster-2 its permissive mode, the exporters ingress mode).
    with pytest.raises(
        StackConfigError,
        match=r"cluster cluster-[123]: the CRD meshconfigs.config.flomesh.io does "
        r"not serve v1alpha3 \(it serves v1alpha1, v1alpha2\)",
    ):
        stack(demo_text(), mocks_=EchoMocks(served={crd: ["v1alpha1", "v1alpha2"]}))


SHARED_CRDS = ROOT.parent / "shared" / "crds"


def test_crd_names_agree_with_the_upstream_manifests() -> None:
    if not SHARED_CRDS.is_dir():
        pytest.skip(f"the upstream CRDs are not beside the repository ({SHARED_CRDS})")
    seen = 0
    for path in sorted(SHARED_CRDS.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                probe = PlannedObject(
                    "applied",
                    {
                        "apiVersion": f"{spec['group']}/{version['name']}",
                        "kind": spec["names"]["kind"],
                        "metadata": {"name": "x"},
                    },
                )
                assert crd_name(probe) == doc["metadata"]["name"], path
                seen += 1
    assert seen > 20


def test_built_in_kinds_need_no_crd() -> None:
    for api_version, kind in [
        ("v1", "Namespace"),
        ("v1", "Service"),
        ("networking.k8s.io/v1", "Ingress"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
    ]:
        assert (
            crd_name(PlannedObject("applied", {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}))
            is None
        )


def test_vendored_schemas_list_each_served_version(tmp_path: Path) -> None:
    """The mock's CRDs serve what the vendored schemas hold: one file per served version."""
    from tests.components.conftest import served_versions

    assert served_versions("meshconfigs.config.flomesh.io") == ["v1alpha1", "v1alpha2", "v1alpha3"]
    assert served_versions("serviceexports.multicluster.x-k8s.io") == ["v1alpha1", "v1beta1"]
