"""Pulumi registration under mocks: the real program against bare resources for the same objects.

Why: without an engine, a CLI or clusters, Pulumi's mock monitor is the closest stand-in for what
`pulumi preview` costs the program itself: every resource is built, its inputs serialised and sent
over the same RPC interface. The floor registers one provider per cluster and one bare
`CustomResource` per applied object with the same bodies, so the ratio is what the program's
components, options and bookkeeping add on top of Pulumi's own cost. Each mode runs in a fresh
interpreter: Pulumi's runtime settings are process-global.
"""

from __future__ import annotations

import gc
import json
import runpy
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi.runtime import mocks

from bench.fleets import Size, fleet_doc
from bench.measure import ROOT
from meshfleet.fleet.load import load_plan

PROJECT = "meshfleet"
MAIN = ROOT / "__main__.py"
# One context: the program cuts a stack-secret kubeconfig to exactly one context.
KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://bench.invalid'}}]\n"
    "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
)


class CountingMocks(mocks.Mocks):
    """The least a mock can do: an id, no state; registrations counted by type."""

    def __init__(self) -> None:
        self.types: Counter[str] = Counter()
        self.reads = 0

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.resource_id:  # the program's CRD preflight reads (Resource.get): not registrations
            self.reads += 1
            served = ("v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4", "v1beta1", "v1")
            versions = [{"name": v, "served": True} for v in served]
            return args.resource_id, {"spec": {"versions": versions}}
        self.types[args.typ] += 1
        return f"{args.name}_id", {}

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        raise AssertionError(f"unexpected provider call {args.token}")


def _start(config: dict[str, str], secret_keys: list[str]) -> CountingMocks:
    m = CountingMocks()
    pulumi.runtime.settings.reset_options()
    pulumi.runtime.set_mocks(m, project=PROJECT, stack="bench", preview=False)
    pulumi.runtime.set_all_config(config, secret_keys=secret_keys)
    return m


def _run(body: Callable[[], object]) -> float:
    """Seconds to run `body` and every registration it starts. What `body` returns is dropped, as the
    language host drops what the program returns: `pulumi.runtime.test` lifts a returned value deeply
    into Outputs and awaits them, and for the program that value was `__main__`'s globals (the stack
    outputs, the builtins), thousands of Outputs that `pulumi up` never makes."""

    def program() -> None:
        body()

    start = time.perf_counter()
    pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
    return time.perf_counter() - start


def _fleet_file(size: Size, where: Path) -> tuple[Path, list[str]]:
    doc = fleet_doc(size)
    path = where / "fleet.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path, sorted(doc["clusters"])


def _counts(m: CountingMocks) -> dict[str, int]:
    return {
        "objects": sum(n for t, n in m.types.items() if t.startswith("kubernetes:")),
        "providers": m.types["pulumi:providers:kubernetes"],
        "components": sum(n for t, n in m.types.items() if not t.startswith(("kubernetes:", "pulumi:"))),
    }


def program(size: Size, work: Path) -> dict[str, Any]:
    """`__main__.py` as `pulumi up` runs it, every kubeconfig from the stack secret."""
    fleet, clusters = _fleet_file(size, work)
    key = f"{PROJECT}:kubeconfigs"
    m = _start({f"{PROJECT}:fleet": str(fleet), key: json.dumps(dict.fromkeys(clusters, KUBECONFIG))}, [key])
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import components

    load_times: list[float] = []
    original = components.load

    def timed_load(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            load_times.append(time.perf_counter() - start)

    components.load = timed_load
    try:
        seconds = _run(lambda: runpy.run_path(str(MAIN), run_name="__main__"))
    finally:
        components.load = original
    load_s = sum(load_times)
    return {"seconds": seconds, "load_plan_s": load_s, "registration_s": seconds - load_s, **_counts(m)}


def floor(size: Size, work: Path) -> dict[str, Any]:
    """The same plan's applied objects as bare CustomResources, bound to one provider per cluster."""
    fleet, _ = _fleet_file(size, work)
    p = load_plan(fleet)
    gc.freeze()  # as the program does once it has planned
    m = _start({}, [])

    def body() -> None:
        for cluster in p.clusters:
            provider = k8s.Provider(
                cluster.name, kubeconfig=pulumi.Output.secret(KUBECONFIG), enable_server_side_apply=True
            )
            opts = pulumi.ResourceOptions(provider=provider)
            for obj in cluster.applied():
                where = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
                k8s.apiextensions.CustomResource(
                    f"{cluster.name}:{obj.kind}:{where}",
                    api_version=obj.api_version,
                    kind=obj.kind,
                    metadata=obj.body["metadata"],
                    spec=obj.body.get("spec"),
                    opts=opts,
                )

    seconds = _run(body)
    return {"seconds": seconds, **_counts(m)}
