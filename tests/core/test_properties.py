"""Properties of the plan over generated fleets: deterministic, order-blind, consistent across
clusters, and its views true to its objects; bent fleets plan (with those properties) or are refused.

Budgets come from the hypothesis profile (tests/conftest.py; `--hypothesis-profile=nightly`).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from meshfleet.core.meshes import MESHES
from meshfleet.core.plan import Plan, plan
from meshfleet.core.topology import cluster_key
from meshfleet.errors import FindingsError
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.model import Fleet
from tests.support.fleets import shuffled

shapes = st.builds(
    FleetShape,
    clusters=st.integers(1, 7),
    services=st.integers(1, 6),
    exporters=st.integers(1, 3),
    regions=st.integers(1, 3),
    zones=st.integers(1, 2),
    groups=st.integers(1, 2),
    control_plane=st.booleans(),
    selector_share=st.sampled_from([0.0, 0.5, 1.0]),
    access_share=st.sampled_from([0.0, 0.5, 1.0]),
    permissive_share=st.sampled_from([0.0, 1.0]),
    multi_port_share=st.sampled_from([0.0, 0.5]),
    mesh_share=st.sampled_from([0.0, 0.0, 0.5]),
)


def flat(p: Plan) -> list[tuple[str, str, bool, Any]]:
    return [(c, o.role, o.patch, o.body) for c, o in p.objects()]


def check_invariants(fleet: Fleet, doc: dict[str, Any], p: Plan, order_seed: int) -> None:
    """What holds of every plan, whatever the fleet."""
    # Every cluster of the fleet, once, and nothing else; no object twice in a cluster.
    assert [c.name for c in p.clusters] == sorted(fleet.clusters)
    for c in p.clusters:
        counts = Counter(o.id for o in c.objects)
        assert all(n == 1 for n in counts.values()), counts.most_common(1)
        # Apply order: each object after those it waits for and after its namespace, kind order otherwise.
        position = {o.id: i for i, o in enumerate(c.objects)}
        namespaces = {o.name: i for i, o in enumerate(c.objects) if o.kind == "Namespace"}
        for i, o in enumerate(c.objects):
            assert all(position[first] < i for first in o.after), f"{o.id} before one it waits for"
            assert namespaces.get(o.namespace, -1) < i, f"{o.id} before its namespace"
        free = [o for o in c.objects if not o.after]
        assert free == sorted(free, key=lambda o: o.sort_key()), "apply order"

    # The views are true to the objects: each links only objects of its own cluster (a grant enforced
    # at the destination also those of the clusters it names in enforced_at), and every object is
    # accounted for by a view, except the cluster-level ones (registrations carrying a member's
    # kubeconfig, patches of another manager's object, namespaces kept on delete).
    exported: dict[str, set[str]] = {}
    ids_of = {c.name: {o.id for o in c.objects} for c in p.clusters}
    enforced: dict[str, set[Any]] = {c.name: set() for c in p.clusters}
    for c in p.clusters:
        for g in c.grants:
            assert set(g.objects) <= ids_of[c.name].union(*(ids_of[d] for d in g.enforced_at or ()))
            for d in (c.name, *(g.enforced_at or ())):
                enforced[d].update(oid for oid in g.objects if oid in ids_of[d])
    for c in p.clusters:
        ids = ids_of[c.name]
        settings = c.settings.objects if c.settings is not None else ()
        linked = {oid for views in (c.imports, c.exports, c.policies) for v in views for oid in v.objects}
        assert linked | set(settings) <= ids
        linked |= enforced[c.name] | set(settings)
        unaccounted = {
            o.id for o in c.objects if o.id not in linked and not (o.kubeconfig_of is not None or o.patch or o.retain)
        }
        assert not unaccounted, f"{c.name}: no view links {sorted(map(str, unaccounted))}"
        for e in c.exports:
            exported.setdefault(e.service, set()).add(c.name)
    for c in p.clusters:
        caps = MESHES[c.mesh].capabilities if c.role == "member" else None
        imports = {i.service: i for i in c.imports}
        for imp in c.imports:
            sources = {e.cluster for e in imp.endpoints}
            assert sources and sources <= exported[imp.service]
            assert caps is not None and (c.name not in sources or caps.imports_own_export)
            assert all(p.cluster(s).mesh in caps.reaches for s in sources)
        for pol in c.policies:
            assert caps is not None and caps.traffic_policies
            reachable = {e.cluster for e in imports[pol.service].endpoints}
            assert {t.cluster for t in pol.targets or ()} <= reachable - {c.name}
        for g in c.grants:
            assert g.enforcement == MESHES[c.mesh].enforcement != "none"
            assert g.destination.split("/")[0] == g.service.split("/")[0], "an SMI grant lives in its namespace"

    # Deterministic and order-blind: the same fleet, keys in another order, plans equal.
    again = plan(Fleet.model_validate(shuffled(doc, random.Random(order_seed))))
    assert again == p
    assert flat(again) == flat(p), "the same objects in the same order"


@given(shape=shapes, seed=st.integers(0, 2**32 - 1), order_seed=st.integers(0, 1000))
def test_plan_is_deterministic_consistent_and_order_blind(shape: FleetShape, seed: int, order_seed: int) -> None:
    doc = generate(shape, seed)
    fleet = Fleet.model_validate(doc)
    p = plan(fleet)
    check_invariants(fleet, doc, p, order_seed)

    members = [n for n in fleet.clusters if n != fleet.controlPlane]
    keys = {n: cluster_key(n, fleet.clusters[n]) for n in members}
    by_cluster = {c.name: c for c in p.clusters}

    for c in p.clusters:
        ids = {(o.kind, o.namespace, o.name): o for o in c.objects}
        for o in c.objects:
            spec = o.body.get("spec", {})
            if o.kind == "TrafficTarget":
                assert o.namespace == spec["destination"]["namespace"]
                for rule in spec["rules"]:
                    assert (rule["kind"], o.namespace, rule["name"]) in ids, "TrafficTarget names a missing route"
            if o.kind == "GlobalTrafficPolicy":
                imp = ids.get(("ServiceImport", o.namespace, o.name))
                assert imp is not None, "a policy without an import"
                endpoint_keys = {ep["clusterKey"] for port in imp.body["spec"]["ports"] for ep in port["endpoints"]}
                assert {t["clusterKey"] for t in spec.get("targets", [])} <= endpoint_keys
                assert c.key not in {t["clusterKey"] for t in spec.get("targets", [])}

    # Every FSM import's endpoints are exactly the service's FSM exporters minus the importing
    # cluster; every Linkerd consumer mirrors each other Linkerd exporter; MCS imports are everywhere.
    mesh = {n: c.mesh for n, c in fleet.clusters.items()}
    exporters: dict[tuple[str, str], set[str]] = {}
    for cname, o in p.objects():
        if o.kind == "ServiceExport":
            exporters.setdefault((o.namespace, o.name), set()).add(cname)
    for cname, o in p.objects():
        labels = o.body["metadata"].get("labels", {})
        if o.kind == "Service" and "mirror.linkerd.io/cluster-name" in labels:  # a Linkerd mirror
            source = labels["mirror.linkerd.io/cluster-name"]
            assert mesh[cname] == mesh[source] == "linkerd" and source != cname
            service = o.name.removesuffix(f"-{source}")
            assert f"{o.namespace}/{service}" in fleet.services
    for cname, o in p.objects():
        if o.kind != "ServiceImport":
            continue
        if o.api_version.startswith("multicluster.x-k8s.io/"):
            assert o.role == "derived" and mesh[cname] == "mcs"
            continue
        fsm_exporters = {e for e in exporters[(o.namespace, o.name)] if mesh[e] == "fsm"}
        expected = sorted(keys[e] for e in fsm_exporters - {cname})
        for port in o.body["spec"]["ports"]:
            got = [ep["clusterKey"] for ep in port["endpoints"]]
            assert got == expected
        assert o.role == ("applied" if fleet.controlPlane is None else "derived")
    # Without a control plane every other FSM member imports; with one, FSM does the same.
    for (ns, name), exp in exporters.items():
        fsm_exp = {e for e in exp if mesh[e] == "fsm"}
        for m in members:
            if mesh[m] != "fsm":
                continue
            has = any(o.kind == "ServiceImport" and (o.namespace, o.name) == (ns, name) for o in by_cluster[m].objects)
            assert has == bool(fsm_exp - {m})


@given(shape=shapes, seed=st.integers(0, 2**32 - 1), data=st.data(), order_seed=st.integers(0, 1000))
def test_a_bent_fleet_plans_with_the_invariants_or_is_refused(
    shape: FleetShape, seed: int, data: st.DataObject, order_seed: int
) -> None:
    """Valid fleets bent at random (overrides, targets, importers, meshes): the checks must catch
    whatever the planner cannot build, so planning ends in a Plan that keeps every invariant, or in
    findings that include an error; never in anything else."""
    doc = generate(shape, seed)
    names = sorted(doc["clusters"])
    refs = sorted(doc["services"])
    for _ in range(data.draw(st.integers(1, 4))):
        ref = data.draw(st.sampled_from(refs))
        svc = doc["services"][ref]
        some = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        change = data.draw(
            st.sampled_from(
                ["export-ports", "targets", "import", "mesh", "policy-clusters", "override-ports", "local", "weights"]
            )
        )
        numbers = [p["port"] for p in svc["ports"]]
        if change == "export-ports":
            svc["overrides"] = [
                *svc.get("overrides", []),
                {
                    "clusters": some,
                    "export": {"ports": data.draw(st.lists(st.sampled_from(numbers), min_size=1, unique=True))},
                },
            ]
        elif change == "targets":
            svc["trafficPolicy"] = {
                "lbType": data.draw(st.sampled_from(["FailOver", "ActiveActive", "Locality"])),
                "targets": some,
            }
        elif change == "weights":
            svc["trafficPolicy"] = {
                "lbType": "ActiveActive",
                "targets": [{"cluster": c, "weight": data.draw(st.integers(-1, 100))} for c in some],
            }
        elif change == "import":
            svc["import"] = {"clusters": some}
        elif change == "mesh":
            cluster = doc["clusters"][some[0]]
            if some[0] != doc.get("controlPlane"):
                cluster["mesh"] = data.draw(st.sampled_from(sorted(MESHES)))
                cluster.pop("fsm", None)
        elif change == "policy-clusters" and "trafficPolicy" in svc:
            svc["trafficPolicy"]["clusters"] = some
        elif change == "override-ports":
            svc["overrides"] = [*svc.get("overrides", []), {"clusters": some, "ports": [{"port": 7000, "name": "x"}]}]
        elif change == "local":
            svc["localServiceAccounts"] = dict.fromkeys(some, "default")
    try:
        fleet = Fleet.model_validate(doc)
    except ValidationError:
        return
    try:
        p = plan(fleet)
    except FindingsError as e:
        assert any(f.severity == "error" for f in e.findings)
        assert all(f.code.name and f.message for f in e.findings)
        return
    assert all(w.severity == "warning" for w in p.warnings)
    check_invariants(fleet, doc, p, order_seed)
