"""Run the Pulumi program under Pulumi's mocks and record every registration as it crossed the wire.

Why: there is no CLI, plugin or cluster here. The mock monitor sees exactly what the engine would:
type, name, parent, provider, options and the serialised inputs, with secrets still wrapped. The
program is run through `__main__.py` itself (runpy), so the entry point is what is tested.
"""

from __future__ import annotations

import asyncio
import json
import re
import runpy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc

from meshfleet.core.plan import Plan
from meshfleet.fleet.model import KubeconfigFromContext

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "__main__.py"
DEMO = ROOT / "fleet" / "demo.yaml"
PROJECT = "meshfleet"
DEMO_CLUSTERS = ("cluster-1", "cluster-2", "cluster-3", "control-plane")
MARKER = "MARKER-SECRET-"
OTHER_MARKER = "MARKER-OTHER-CONTEXT"
PROVIDER_TYPE = "pulumi:providers:kubernetes"
MEMBER_TYPE = "meshfleet:index:MemberCluster"


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    provider: str
    custom: bool
    dependencies: list[str]
    protect: bool | None
    retain_on_delete: bool | None
    ignore_changes: list[str]
    inputs: dict[str, Any]
    """Wire form: secrets stay `{<sig>: <secret sig>, value: ...}`, numbers are floats."""
    aliases: list[str] = field(default_factory=list)
    """The names of the resource's alias specs (the only field meshfleet's aliases set)."""

    @property
    def provider_urn(self) -> str:
        return self.provider.rpartition("::")[0] if self.provider else ""


@dataclass
class Read:
    """A `Resource.get` as the engine sees it: a read of an existing object through a provider."""

    type: str
    name: str
    id: str
    urn: str
    parent: str
    provider: str


def alias_names(request: Any) -> list[str]:
    """The names meshfleet's aliases give; pulumi-kubernetes' own type aliases (an old type token,
    e.g. Ingress from extensions/v1beta1, and no name) are left out."""
    names = []
    for alias in request.aliases:
        assert alias.WhichOneof("alias") == "spec", "aliases are specs, not URNs"
        spec = alias.spec
        if spec.type and not spec.name:
            continue
        assert not (spec.type or spec.stack or spec.project or spec.parentUrn or spec.noParent), spec
        names.append(spec.name)
    return names


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, m: mocks.Mocks) -> None:
        super().__init__(m)
        self.registrations: list[Registration] = []
        self.reads: list[Read] = []

    def ReadResource(self, request: Any) -> Any:
        # Recorded before the mock answers: a read that fails is a read all the same.
        urn = self.make_urn(request.parent, request.type, request.name)
        self.reads.append(Read(request.type, request.name, request.id, urn, request.parent, request.provider))
        return super().ReadResource(request)  # type: ignore[no-untyped-call]  # pulumi leaves MockMonitor unannotated

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # as ReadResource above
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    provider=request.provider,
                    custom=request.custom,
                    dependencies=list(request.dependencies),
                    protect=request.protect if request.HasField("protect") else None,
                    retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else None,
                    ignore_changes=list(request.ignoreChanges),
                    inputs=json_format.MessageToDict(request.object),
                    aliases=alias_names(request),
                )
            )
        return response


CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
VENDORED = ROOT / "schemas" / "crds" / "current"
OLDER_RELEASES = (ROOT / "schemas" / "crds" / "fsm-v1.2",)
"""Schema sets of older releases, for groups `current` does not have (FSM v1.2's flomesh.io)."""


def served_versions(crd: str) -> list[str]:
    """What a cluster with the upstream CRDs serves for `crd` (the vendored schemas: one file per
    served version, `<group>/<Kind>_<version>.json`; a group only an older release has, from its set)."""
    group = crd.partition(".")[2]
    from components.objects import crd_name
    from meshfleet.core.plan import PlannedObject

    folder = next((d / group for d in (VENDORED, *OLDER_RELEASES) if (d / group).is_dir()), VENDORED / group)
    versions = []
    for path in sorted(folder.glob("*_*.json")):
        kind, _, version = path.stem.partition("_")
        probe = PlannedObject("applied", {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": "x"}})
        if crd_name(probe) == crd:
            versions.append(version)
    return versions


class EchoMocks(mocks.Mocks):
    """Resources echo their inputs; a read of a CRD finds it as the upstream manifests define it,
    unless the test says it is `missing` or serves other versions (`served`)."""

    def __init__(self, missing: frozenset[str] = frozenset(), served: dict[str, list[str]] | None = None) -> None:
        self.missing = missing
        self.served = served or {}

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.resource_id:  # a read: Resource.get
            assert args.typ == CRD_TYPE, f"unexpected read of {args.typ}"
            crd = args.resource_id
            if crd in self.missing:
                # What the engine reports when the provider finds nothing (pulumi step.go:1366-1368).
                raise RuntimeError(f"resource '{crd}' does not exist")
            versions = self.served.get(crd, served_versions(crd))
            return crd, {
                "metadata": {"name": crd},
                "spec": {"versions": [{"name": v, "served": True, "storage": False} for v in versions]},
            }
        return f"{args.name}_id", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise AssertionError(f"unexpected provider call {args.token}")


@dataclass
class Run:
    registrations: list[Registration]
    reads: list[Read] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, prefix: str) -> list[Registration]:
        return [r for r in self.registrations if r.type.startswith(prefix)]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)

    def k8s_objects(self) -> list[Registration]:
        return [r for r in self.registrations if r.type.startswith("kubernetes:")]

    def providers(self) -> dict[str, Registration]:
        return {r.name: r for r in self.registrations if r.type == PROVIDER_TYPE}

    def addresses(self) -> dict[str, Registration]:
        """URN without the stack -> registration: what `pulumi state move` keeps across stacks."""
        return {address(r.urn): r for r in self.registrations}

    def cluster_of(self, reg: Registration | Read) -> str:
        parent = self.by_urn(reg.parent)
        assert parent.type == MEMBER_TYPE, f"{reg.name} is not a child of a MemberCluster"
        return parent.name


def address(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<types>::<name>` without its stack."""
    prefix, _, rest = urn.partition("::")
    assert prefix.startswith("urn:pulumi:"), urn
    return rest


def run_program(
    config: dict[str, str],
    secret_keys: tuple[str, ...] = (),
    body: Callable[[], None] | None = None,
    started: Callable[[Run], None] | None = None,
    stack: str = "dev",
    mocks_: EchoMocks | None = None,
) -> Run:
    """Run `__main__.py` (or `body`) as `stack` with fresh mocks; return what it registered.

    `started` receives the Run before the program runs, so a test can see what was registered
    before the program failed.
    """
    monitor = RecordingMonitor(mocks_ or EchoMocks())
    pulumi.runtime.settings.reset_options()  # drops the previous test's root stack and its outputs
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config, secret_keys=list(secret_keys))
    run = Run(monitor.registrations, monitor.reads)
    if started is not None:
        started(run)

    async def collect(outputs: dict[str, Any]) -> None:
        for key, value in outputs.items():
            out = pulumi.Output.from_input(value)
            run.outputs[key] = await out.future()
            if await out.is_secret():
                run.secret_outputs.add(key)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]  # pulumi leaves its test decorator unannotated
    def program() -> Any:
        if body is not None:
            body()
            return None
        runpy.run_path(str(MAIN), run_name="__main__")
        root = pulumi.runtime.settings.get_root_resource()
        assert isinstance(root, pulumi.runtime.stack.Stack)
        return asyncio.ensure_future(collect(dict(root.outputs)))

    try:
        program()
    finally:
        pulumi.runtime.set_all_config({}, secret_keys=[])
    return run


# --- secrets on the wire -----------------------------------------------------------------------


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def unwrap(value: Any) -> Any:
    assert is_secret(value), f"not a secret: {value!r}"[:200]
    return rpc.unwrap_rpc_secret(value)


def plain_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string outside a secret, with its path: what a preview or the state shows in clear."""
    if is_secret(value):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", str(k)
            yield from plain_strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from plain_strings(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def unwrapped(value: Any) -> Any:
    """The value with every secret unwrapped and integral floats back to ints (protobuf numbers)."""
    if is_secret(value):
        return unwrapped(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrapped(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def without_sink_annotations(inputs: dict[str, Any]) -> dict[str, Any]:
    """Registered inputs as a plan body: unwrapped, minus the `pulumi.com/*` annotations the sink adds."""
    body: dict[str, Any] = unwrapped(inputs)
    meta = body["metadata"]
    kept = {k: v for k, v in (meta.pop("annotations", None) or {}).items() if not k.startswith("pulumi.com/")}
    if kept:
        meta["annotations"] = kept
    return body


# --- fake kubeconfigs and fleet variants --------------------------------------------------------


def fake_kubeconfig(cluster: str, context: str | None = None) -> str:
    """A kubeconfig whose every credential byte carries the cluster's marker."""
    ctx = context or cluster
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": f"{ctx}-cluster",
                    "cluster": {
                        "server": f"https://{cluster}.example:6443",
                        "certificate-authority-data": f"{MARKER}{cluster}-ca",
                    },
                }
            ],
            "users": [{"name": f"{ctx}-admin", "user": {"token": f"{MARKER}{cluster}-token"}}],
            "contexts": [{"name": ctx, "context": {"cluster": f"{ctx}-cluster", "user": f"{ctx}-admin"}}],
            "current-context": ctx,
        },
        sort_keys=False,
    )


def merged_kubeconfig(contexts: dict[str, str], extra_other: bool = True) -> str:
    """One kubeconfig file holding several contexts ({context: cluster}), plus a foreign one."""
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    items = dict(contexts)
    if extra_other:
        items["someone-elses"] = OTHER_MARKER
    for ctx, cluster in items.items():
        one = yaml.safe_load(fake_kubeconfig(cluster, ctx))
        for section in ("clusters", "users", "contexts"):
            doc[section].extend(one[section])
    doc["current-context"] = next(iter(items))
    return yaml.safe_dump(doc, sort_keys=False)


def edit(text: str, old: str, new: str) -> str:
    """Replace exactly one occurrence: a fleet variant that silently stops applying is a bug."""
    assert text.count(old) == 1, f"expected one {old!r} in the demo fleet"
    return text.replace(old, new)


def demo_text() -> str:
    return DEMO.read_text(encoding="utf-8")


def without_contexts(text: str) -> str:
    """The demo with every kubeconfig from the stack secret (the default source)."""
    out, n = re.subn(r"kubeconfig: \{from: context, context: [a-z0-9-]+\}", "kubeconfig: {from: stack-secret}", text)
    assert n > 0 and "from: context" not in out
    return out


def standalone(text: str) -> str:
    """The demo without FSM's control plane: meshfleet applies what the control plane would."""
    standalone_file = ROOT / "fleet" / "demo-standalone.yaml"
    if standalone_file.exists() and text == demo_text():
        return standalone_file.read_text(encoding="utf-8")
    text = edit(text, "controlPlane: control-plane\n", "")
    return re.sub(r"\n  control-plane:\n(    .*\n)*", "\n", text, count=1)


def with_namespaces_and_ingress(text: str) -> str:
    """createNamespace for httpbin and a non-pipy gateway on cluster-3 (meshfleet applies its Ingress)."""
    text = edit(text, "  httpbin/httpbin:\n    ports:", "  httpbin/httpbin:\n    createNamespace: true\n    ports:")
    return edit(text, "{host: 192.168.1.110, port: 83}", "{host: 192.168.1.110, port: 83, ingressClass: nginx}")


def with_labels(text: str) -> str:
    text = edit(text, "  cluster-2:\n", "  cluster-2:\n    labels: {region: eu, tier: prod}\n")
    return edit(text, "  cluster-3:\n", "  cluster-3:\n    labels: {region: us, tier: prod}\n")


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real kubeconfig can leak into a test: HOME is empty and $KUBECONFIG unset."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return home


def fleet_config(
    plan: Plan, fleet: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Stack config for a committed fleet: a fake kubeconfig for every cluster, from its own source."""
    secrets, contexts = {}, {}
    for c in plan.clusters:
        if isinstance(c.kubeconfig, KubeconfigFromContext):
            assert c.kubeconfig.file is None, "a committed fleet cannot name a file on someone's disk"
            contexts[c.kubeconfig.context] = c.name
        else:
            secrets[c.name] = fake_kubeconfig(c.name)
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(merged_kubeconfig(contexts), encoding="utf-8")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    config = {f"{PROJECT}:fleet": str(fleet)}
    if not secrets:
        return config, ()
    more, keys = secret_config(secrets)
    return {**config, **more}, keys


def secret_config(kubeconfigs: dict[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    return {f"{PROJECT}:kubeconfigs": json.dumps(kubeconfigs)}, (f"{PROJECT}:kubeconfigs",)


Source = str  # "stack-secret" or "context": where the demo's kubeconfigs come from


class StackRunner:
    """Runs the program on a fleet text, with fake kubeconfigs from the stack secret or a context.

    "context" keeps the demo's `kubeconfig: {from: context, context: k3d-<cluster>}` entries and
    points $KUBECONFIG at one file holding all those contexts and a foreign one. `last` is the
    latest run, also when it raised.
    """

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.last: Run | None = None

    def _started(self, run: Run) -> None:
        self.last = run

    def __call__(
        self,
        text: str,
        source: Source = "stack-secret",
        config: dict[str, str] | None = None,
        kubeconfigs: dict[str, str] | None = None,
        context_file: str | None = None,
        stack: str = "dev",
        mocks_: EchoMocks | None = None,
    ) -> Run:
        """`kubeconfigs` replaces the stack secret (with "context": adds one), `context_file` the
        $KUBECONFIG file's text."""
        tmp_path, monkeypatch = self.tmp_path, self.monkeypatch
        fleet = tmp_path / "fleet.yaml"
        cfg = {f"{PROJECT}:fleet": str(fleet)}
        keys: tuple[str, ...] = ()
        if source == "stack-secret":
            text = without_contexts(text)
            if kubeconfigs is None:
                kubeconfigs = {c: fake_kubeconfig(c) for c in DEMO_CLUSTERS}
            secrets, keys = secret_config(kubeconfigs)
            cfg.update(secrets)
        else:
            assert source == "context"
            if kubeconfigs is not None:
                secrets, keys = secret_config(kubeconfigs)
                cfg.update(secrets)
            kubeconfig = tmp_path / "kubeconfig"
            if context_file is None:
                context_file = merged_kubeconfig({f"k3d-{c}": c for c in DEMO_CLUSTERS})
            kubeconfig.write_text(context_file, encoding="utf-8")
            monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        fleet.write_text(text, encoding="utf-8")
        cfg.update({f"{PROJECT}:{k}": v for k, v in (config or {}).items()})
        return run_program(cfg, keys, started=self._started, stack=stack, mocks_=mocks_)


@pytest.fixture
def stack(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> StackRunner:
    return StackRunner(tmp_path, monkeypatch)


def check_kubeconfig(text: str, cluster: str, source: Source) -> None:
    """`text` is `cluster`'s kubeconfig and nobody else's."""
    doc = yaml.safe_load(text)
    ctx = cluster if source == "stack-secret" else f"k3d-{cluster}"
    assert doc["current-context"] == ctx
    assert [c["name"] for c in doc["contexts"]] == [ctx]
    assert [c["name"] for c in doc["clusters"]] == [f"{ctx}-cluster"]
    assert [u["name"] for u in doc["users"]] == [f"{ctx}-admin"]
    assert doc["users"][0]["user"]["token"] == f"{MARKER}{cluster}-token"
    assert OTHER_MARKER not in text
    assert not [o for o in DEMO_CLUSTERS if o != cluster and f"{MARKER}{o}-" in text]
