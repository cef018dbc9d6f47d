"""Tests of the schema tooling: scripts/vendor_schemas.py and tests/support/schemas.py."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # so that `tests.support` imports however pytest is started
    sys.path.insert(0, str(REPO))

from tests.support.schemas import (  # noqa: E402
    CRD_SCHEMA_DIR,
    crd_schemas,
    schema_sets,
    translated_crd_schema,
    validate_documents,
    validate_object,
)

SCRIPT = REPO / "scripts" / "vendor_schemas.py"
SHARED_CRDS = REPO.parent / "shared" / "crds"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_schemas", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["vendor_schemas"] = module
    spec.loader.exec_module(module)
    return module


vendor = _load_script()


def run_script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, check=False)


# ----------------------------------------------------------------------------- vendoring


def test_vendored_copy_is_current() -> None:
    if not SHARED_CRDS.is_dir():
        pytest.skip(f"{SHARED_CRDS} is not there to compare with")
    result = run_script("--check", "--crds", SHARED_CRDS, "--out", CRD_SCHEMA_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


SYNTHETIC_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        description: A widget.
        type: object
        properties:
          spec:
            description: The spec.
            type: object
            properties:
              description:
                description: A field that happens to be called description.
                type: string
              size:
                description: Int or string.
                anyOf: [{type: integer}, {type: string}]
                x-kubernetes-int-or-string: true
              extra:
                type: object
                default: {description: 'kept because it is a value, not a schema'}
                x-kubernetes-preserve-unknown-fields: true
  - name: v0
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
"""

SYNTHETIC_SOURCE = """\
# Source

- Repository: https://github.com/example/widgets (the widget project)
- Tag: `v1.4.0` (the newest release; tag object `fedcba9876543210fedcba9876543210fedcba98`)
- Commit: `0123456789abcdef0123456789abcdef01234567` (main)
- License: Apache License 2.0 (the repository's LICENSE).

| file | upstream path | git blob |
| --- | --- | --- |
| `widgets.yaml` | `config/crd/widgets.yaml` | `abc` |
"""


@pytest.fixture()
def synthetic_crds(tmp_path: Path) -> Path:
    folder = tmp_path / "crds" / "example"
    folder.mkdir(parents=True)
    (folder / "widgets.yaml").write_text(SYNTHETIC_CRD)
    (folder / "SOURCE.md").write_text(SYNTHETIC_SOURCE)
    return tmp_path / "crds"


def test_script_writes_served_versions_without_descriptions(synthetic_crds: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_script("--crds", synthetic_crds, "--out", out)
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "SOURCES.md",
        "current/example.com/Widget_v1.json",
        "sets.json",
    ]
    text = (out / "current" / "example.com" / "Widget_v1.json").read_text()
    assert text.endswith("}\n")
    data = json.loads(text)
    assert data["set"] == "current"
    assert data["group"] == "example.com"
    assert data["kind"] == "Widget"
    assert data["version"] == "v1"
    assert data["scope"] == "Cluster"
    assert data["source"] == {
        "file": "example/widgets.yaml",
        "repository": "https://github.com/example/widgets",
        "release": "v1.4.0",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "path": "config/crd/widgets.yaml",
    }
    spec = data["schema"]["properties"]["spec"]
    assert "description" not in data["schema"]
    assert "description" not in spec
    assert spec["properties"]["description"] == {"type": "string"}  # the property survives
    assert spec["properties"]["size"]["x-kubernetes-int-or-string"] is True
    assert spec["properties"]["extra"]["default"] == {"description": "kept because it is a value, not a schema"}
    sources = (out / "SOURCES.md").read_text()
    assert "`current/example.com/Widget_v1.json`" in sources
    assert "`v1.4.0`" in sources
    assert "Apache-2.0" in sources
    assert "scripts/vendor_schemas.py" in sources
    assert "description" in sources  # says descriptions were dropped


def test_script_output_is_deterministic_and_check_finds_drift(synthetic_crds: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_script("--crds", synthetic_crds, "--out", out).returncode == 0
    target = out / "current" / "example.com" / "Widget_v1.json"
    first = target.read_bytes()
    assert run_script("--crds", synthetic_crds, "--out", out).returncode == 0
    assert target.read_bytes() == first
    assert run_script("--check", "--crds", synthetic_crds, "--out", out).returncode == 0

    target.write_text(first.decode().replace('"Cluster"', '"Namespaced"'))
    (out / "current" / "example.com" / "Gadget_v1.json").write_text("{}\n")
    (out / "SOURCES.md").unlink()
    result = run_script("--check", "--crds", synthetic_crds, "--out", out)
    assert result.returncode == 1
    assert "stale: current/example.com/Widget_v1.json" in result.stderr
    assert "unexpected: current/example.com/Gadget_v1.json" in result.stderr
    assert "missing: SOURCES.md" in result.stderr

    assert run_script("--crds", synthetic_crds, "--out", out).returncode == 0
    assert target.read_bytes() == first
    assert not (out / "current" / "example.com" / "Gadget_v1.json").exists()
    assert run_script("--check", "--crds", synthetic_crds, "--out", out).returncode == 0


def test_script_rejects_conflicting_duplicates(synthetic_crds: Path, tmp_path: Path) -> None:
    other = synthetic_crds / "fork"
    other.mkdir()
    (other / "widgets.yaml").write_text(SYNTHETIC_CRD.replace("type: string", "type: integer"))
    result = run_script("--crds", synthetic_crds, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "example.com/v1 Widget is defined differently in example/widgets.yaml and fork/widgets.yaml" in result.stderr
    assert "<project>-v<version>" in result.stderr  # the way out for an older release
    assert not (tmp_path / "out").exists()


def test_identical_duplicates_are_listed_once(synthetic_crds: Path, tmp_path: Path) -> None:
    other = synthetic_crds / "copy"
    other.mkdir()
    (other / "widgets.yaml").write_text(SYNTHETIC_CRD)
    out = tmp_path / "out"
    assert run_script("--crds", synthetic_crds, "--out", out).returncode == 0
    widget = out / "current" / "example.com" / "Widget_v1.json"
    assert json.loads(widget.read_text())["source"]["file"] == "copy/widgets.yaml"
    assert "same schema also in `example/widgets.yaml`" in (out / "SOURCES.md").read_text()


OLDER_WIDGET_SOURCE = """\
- Repository: https://github.com/example/widgets
- Tag: `v0.9.3`
- Commit: `89abcdef0123456789abcdef0123456789abcdef`
"""


def _older_release(synthetic_crds: Path, folder: str = "example-v0.9") -> Path:
    older = synthetic_crds / folder
    older.mkdir()
    (older / "widgets.yaml").write_text(
        SYNTHETIC_CRD.replace("type: string", "type: integer").replace(
            "name: v0\n    served: false", "name: v0\n    served: true"
        )
    )
    (older / "SOURCE.md").write_text(OLDER_WIDGET_SOURCE)
    return older


def test_an_older_release_folder_forms_a_set_of_its_own(synthetic_crds: Path, tmp_path: Path) -> None:
    _older_release(synthetic_crds)
    out = tmp_path / "out"
    result = run_script("--crds", synthetic_crds, "--out", out)
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json")) == [
        "current/example.com/Widget_v1.json",
        "example-v0.9/example.com/Widget_v0.json",
        "example-v0.9/example.com/Widget_v1.json",
        "sets.json",
    ]
    current = json.loads((out / "current" / "example.com" / "Widget_v1.json").read_text())
    older = json.loads((out / "example-v0.9" / "example.com" / "Widget_v1.json").read_text())
    assert current["schema"]["properties"]["spec"]["properties"]["description"] == {"type": "string"}
    assert older["schema"]["properties"]["spec"]["properties"]["description"] == {"type": "integer"}
    assert older["set"] == "example-v0.9"
    assert older["source"]["release"] == "v0.9.3"
    assert older["source"]["commit"] == "89abcdef0123456789abcdef0123456789abcdef"
    assert json.loads((out / "sets.json").read_text()) == {
        "current": {"base": None, "folders": ["example"], "hides_groups": []},
        "example-v0.9": {"base": "current", "folders": ["example-v0.9"], "hides_groups": []},
    }
    sources = (out / "SOURCES.md").read_text()
    assert "| `example-v0.9` | `current` | `example-v0.9` | - | example.com Widget | 2 |" in sources
    assert "`example-v0.9/example.com/Widget_v0.json`" in sources
    assert run_script("--check", "--crds", synthetic_crds, "--out", out).returncode == 0


def test_older_releases_name_their_set_and_hidden_groups(synthetic_crds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _older_release(synthetic_crds, "example-v1.2")
    gadgets = synthetic_crds / "example" / "gadgets.yaml"
    gadgets.write_text(
        SYNTHETIC_CRD.replace("widgets", "gadgets")
        .replace("Widget", "Gadget")
        .replace("example.com", "gadgets.example.com")
    )
    monkeypatch.setitem(vendor.OLDER_RELEASES, "example-v1.2", vendor.OlderRelease("ex-v1.2", ("gadgets.example.com",)))
    sets = vendor.collect(synthetic_crds)
    assert list(sets) == ["current", "ex-v1.2"]
    assert sets["ex-v1.2"].description() == {
        "base": "current",
        "folders": ["example-v1.2"],
        "hides_groups": ["gadgets.example.com"],
    }
    assert sorted(sets["ex-v1.2"].entries) == [
        "ex-v1.2/example.com/Widget_v0.json",
        "ex-v1.2/example.com/Widget_v1.json",
    ]

    monkeypatch.setitem(vendor.OLDER_RELEASES, "example-v1.2", vendor.OlderRelease("ex-v1.2", ("gadget.example.com",)))
    with pytest.raises(vendor.VendorError, match=r"hides API group\(s\) gadget.example.com, which the 'current' set"):
        vendor.collect(synthetic_crds)


def test_rerun_removes_the_layout_without_sets(synthetic_crds: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    legacy = out / "example.com" / "Widget_v1.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("{}\n")
    (out / "README.txt").write_text("not ours\n")
    result = run_script("--check", "--crds", synthetic_crds, "--out", out)
    assert result.returncode == 1
    assert "unexpected: example.com/Widget_v1.json" in result.stderr
    result = run_script("--crds", synthetic_crds, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "removed example.com/Widget_v1.json" in result.stdout
    assert not legacy.parent.exists()
    assert (out / "README.txt").read_text() == "not ours\n"
    assert (out / "current" / "example.com" / "Widget_v1.json").is_file()


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("- Tag: `v3.5.1` (newest)\n- Commit: `" + "a" * 40 + "` (branch `release-3.5`)\n", "v3.5.1"),
        ("- Release: `v1.19.4`, commit `" + "b" * 40 + "` (branch `v1.19`)\n", "v1.19.4"),
        ("- Commit: `" + "c" * 40 + "` (HEAD). The files are byte-identical to tag `v0.5.0` (commit x)\n", "v0.5.0"),
        (
            "- Commit: `" + "d" * 40 + "` (HEAD of `main`; `git describe`: edge-26.8.3-1-gb24cd4059).\n",
            "edge-26.8.3-1-gb24cd4059",
        ),
        ("- Branch/commit read: `main` @ `" + "e" * 40 + "`\n", "branch main"),
        ("- Branch/commit read: `main` @ `" + "e" * 40 + "`\n- Tag: `v2.0.0`\n", "v2.0.0"),
        ("- Commit: `" + "f" * 40 + "`\n", None),
    ],
    ids=["tag", "release-line", "tag-phrase", "git-describe", "branch", "tag-beats-branch", "none"],
)
def test_parse_source_md_reads_the_upstream_release(text: str, version: str | None) -> None:
    info = vendor.parse_source_md("# Source\n\n" + text)
    assert info.for_file("x.yaml").version == version
    assert info.for_file("x.yaml").commit is not None


def test_a_release_line_gives_the_commit_but_a_tag_object_does_not() -> None:
    info = vendor.parse_source_md("- Release: `v1.19.4`, commit `" + "b" * 40 + "` (branch `v1.19`)\n")
    assert info.folder.commit == "b" * 40
    info = vendor.parse_source_md("- Tag: `v1.2.9` (tag object `" + "c" * 40 + "`)\n- Commit: `" + "d" * 40 + "`\n")
    assert info.folder.commit == "d" * 40


def test_parse_source_md_reads_a_tag_column() -> None:
    info = vendor.parse_source_md(
        "| file | repository | upstream path | tag | commit |\n| --- | --- | --- | --- | --- |\n"
        "| `k.yaml` | https://github.com/fluxcd/kustomize-controller | `config/k.yaml` | `v1.9.4` | "
        "`" + "a" * 40 + "` |\n"
    )
    row = info.for_file("k.yaml")
    assert (row.version, row.repository, row.path) == (
        "v1.9.4",
        "https://github.com/fluxcd/kustomize-controller",
        "config/k.yaml",
    )


def test_parse_source_md_reads_tables_and_bullets() -> None:
    info = vendor.parse_source_md(
        "# X\n\n- Repository license: Apache License 2.0 (top-level LICENSE)\n"
        "- Branch/commit read: `main` @ `" + "a" * 40 + "`\n\n"
        "| File (this dir) | Path in org/repo | Commit read |\n|---|---|---|\n"
        "| one.yaml | deploy/one.yaml | " + "b" * 40 + " |\n\n"
        "## License\n\nBoth repositories: MIT (see LICENSE)\n"
    )
    row = info.for_file("one.yaml")
    assert row.commit == "b" * 40
    assert row.path == "deploy/one.yaml"
    assert row.license == "Apache-2.0"
    assert row.repository is None
    assert info.for_file("two.yaml").commit == "a" * 40


def _schema_descriptions(node: Any, path: str = "") -> list[str]:
    """Paths of `description` *keywords* (string values) left anywhere in a schema."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                found.append(path)
            found += _schema_descriptions(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _schema_descriptions(value, f"{path}[{index}]")
    return found


def test_vendored_files_are_well_formed() -> None:
    files = sorted(CRD_SCHEMA_DIR.glob("*/*/*.json"))
    assert len(files) >= 60
    assert not list(CRD_SCHEMA_DIR.glob("*/*.json")), "files outside a set folder"
    layout = json.loads((CRD_SCHEMA_DIR / "sets.json").read_text())
    assert sorted(layout) == ["current", "fsm-v1.2"]
    assert layout["fsm-v1.2"] == {
        "base": "current",
        "folders": ["flomesh-v1.2"],
        "hides_groups": ["multicluster.flomesh.io"],
    }
    for path in files:
        data = json.loads(path.read_text())
        assert path.name == f"{data['kind']}_{data['version']}.json"
        assert path.parent.name == data["group"]
        assert path.parent.parent.name == data["set"]
        assert data["set"] in layout
        assert data["scope"] in ("Namespaced", "Cluster")
        assert data["source"]["file"].endswith((".yaml", ".yml"))
        assert len(data["source"]["commit"]) == 40, path
        assert data["source"]["release"], path
        assert _schema_descriptions(data["schema"]) == [], path
        assert path.stat().st_size < 1_000_000
    app_project = json.loads((CRD_SCHEMA_DIR / "current" / "argoproj.io" / "AppProject_v1alpha1.json").read_text())
    assert "description" in app_project["schema"]["properties"]["spec"]["properties"]
    fsm_file = CRD_SCHEMA_DIR / "current" / "multicluster.flomesh.io" / "ServiceExport_v1alpha1.json"
    fsm = json.loads(fsm_file.read_text())
    assert fsm["source"]["repository"] == "https://github.com/flomesh-io/fsm"
    assert fsm["source"]["path"] == "cmd/fsm-bootstrap/crds/multicluster.flomesh.io_serviceexports.yaml"
    old = json.loads((CRD_SCHEMA_DIR / "fsm-v1.2" / "flomesh.io" / "ServiceExport_v1alpha1.json").read_text())
    assert old["source"] == {
        "file": "flomesh-v1.2/flomesh.io_serviceexports.yaml",
        "repository": "https://github.com/flomesh-io/fsm",
        "release": "v1.2.9",
        "commit": "f52d02016ea37cccb294026199766bf495fecc7d",
        "path": "cmd/fsm-bootstrap/crds/flomesh.io_serviceexports.yaml",
    }
    cilium = json.loads((CRD_SCHEMA_DIR / "current" / "cilium.io" / "CiliumNetworkPolicy_v2.json").read_text())
    assert (cilium["source"]["release"], cilium["source"]["commit"]) == (
        "v1.19.4",
        "95e477fdcfd35d438b135f4d981ee20ce3016ac3",
    )
    istio = json.loads((CRD_SCHEMA_DIR / "current" / "networking.istio.io" / "DestinationRule_v1.json").read_text())
    assert istio["source"]["release"] == "1.30.3"
    sources = (CRD_SCHEMA_DIR / "SOURCES.md").read_text()
    for path in files:
        assert f"`{path.relative_to(CRD_SCHEMA_DIR).as_posix()}`" in sources


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("multicluster.flomesh.io/v1alpha1", "Cluster"),
        ("multicluster.flomesh.io/v1alpha1", "ServiceExport"),
        ("multicluster.flomesh.io/v1alpha1", "ServiceImport"),
        ("multicluster.flomesh.io/v1alpha1", "GlobalTrafficPolicy"),
        ("config.flomesh.io/v1alpha3", "MeshConfig"),
        ("access.smi-spec.io/v1alpha3", "TrafficTarget"),
        ("specs.smi-spec.io/v1alpha4", "HTTPRouteGroup"),
        ("multicluster.x-k8s.io/v1beta1", "ServiceExport"),
        ("multicluster.x-k8s.io/v1alpha1", "ServiceImport"),
        ("multicluster.linkerd.io/v1alpha3", "Link"),
        ("argoproj.io/v1alpha1", "ApplicationSet"),
        ("argoproj.io/v1alpha1", "Application"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("source.toolkit.fluxcd.io/v1", "GitRepository"),
        ("cilium.io/v2", "CiliumNetworkPolicy"),
        ("cilium.io/v2", "CiliumClusterwideNetworkPolicy"),
        *[
            (f"networking.istio.io/{version}", kind)
            for version in ("v1", "v1beta1", "v1alpha3")
            for kind in ("DestinationRule", "ServiceEntry", "Sidecar", "VirtualService", "Gateway", "WorkloadEntry")
        ],
        *[
            (f"security.istio.io/{version}", kind)
            for version in ("v1", "v1beta1")
            for kind in ("AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication")
        ],
        ("telemetry.istio.io/v1", "Telemetry"),
    ],
)
def test_needed_kinds_are_vendored(api_version: str, kind: str) -> None:
    assert (api_version, kind) in crd_schemas()


def test_translated_schemas_are_valid_draft_2020_12() -> None:
    # partial=True differs only by dropping `required`, so one mode is enough (and ApplicationSet is slow)
    checked = set()
    for schema_set in schema_sets():
        for (api_version, kind), crd in crd_schemas(schema_set).items():
            if crd.file not in checked:
                schema = translated_crd_schema(api_version, kind, False, schema_set)
                jsonschema.Draft202012Validator.check_schema(schema)
                checked.add(crd.file)
    assert len(checked) == len(list(CRD_SCHEMA_DIR.glob("*/*/*.json")))


# ----------------------------------------------------------------------------- known-good objects

SERVICE_EXPORT = {
    "apiVersion": "multicluster.flomesh.io/v1alpha1",
    "kind": "ServiceExport",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "serviceAccountName": "httpbin",
        "rules": [{"portNumber": 8080, "path": "/cluster-1/httpbin-mesh", "pathType": "Prefix"}],
    },
}
SERVICE_IMPORT = {
    "apiVersion": "multicluster.flomesh.io/v1alpha1",
    "kind": "ServiceImport",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "type": "ClusterSetIP",
        "serviceAccountName": "httpbin",
        "ports": [
            {
                "port": 8080,
                "protocol": "TCP",
                "endpoints": [
                    {
                        "clusterKey": "default/default/default/cluster-1",
                        "target": {
                            "host": "192.168.1.110",
                            "ip": "192.168.1.110",
                            "port": 81,
                            "path": "/cluster-1/httpbin-mesh",
                        },
                    }
                ],
            }
        ],
    },
}
GLOBAL_TRAFFIC_POLICY = {
    "apiVersion": "multicluster.flomesh.io/v1alpha1",
    "kind": "GlobalTrafficPolicy",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "lbType": "ActiveActive",
        "targets": [
            {"clusterKey": "default/default/default/cluster-1", "weight": 50},
            {"clusterKey": "default/default/default/cluster-3", "weight": 50},
        ],
    },
}
CLUSTER = {
    "apiVersion": "multicluster.flomesh.io/v1alpha1",
    "kind": "Cluster",
    "metadata": {"name": "cluster-1", "labels": {"meshfleet.io/cluster": "cluster-1"}},
    "spec": {
        "gatewayHost": "192.168.1.110",
        "gatewayPort": 81,
        "kubeconfig": "apiVersion: v1\nkind: Config\n",
        "fsmMeshConfigName": "fsm-mesh-config",
        "fsmNamespace": "fsm-system",
    },
}
TRAFFIC_TARGET = {
    "apiVersion": "access.smi-spec.io/v1alpha3",
    "kind": "TrafficTarget",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "destination": {"kind": "ServiceAccount", "name": "httpbin", "namespace": "httpbin"},
        "rules": [{"kind": "HTTPRouteGroup", "name": "httpbin-routes", "matches": ["all"]}],
        "sources": [{"kind": "ServiceAccount", "name": "curl", "namespace": "curl"}],
    },
}
HTTP_ROUTE_GROUP = {
    "apiVersion": "specs.smi-spec.io/v1alpha4",
    "kind": "HTTPRouteGroup",
    "metadata": {"name": "httpbin-routes", "namespace": "httpbin"},
    "spec": {
        "matches": [
            {
                "name": "all",
                "pathRegex": ".*",
                "methods": ["GET", "POST"],
                "headers": [{"x-fleet": "yes"}],
            }
        ]
    },
}
MESH_CONFIG_PATCH = {
    "apiVersion": "config.flomesh.io/v1alpha3",
    "kind": "MeshConfig",
    "metadata": {"name": "fsm-mesh-config", "namespace": "fsm-system"},
    "spec": {"traffic": {"enablePermissiveTrafficPolicyMode": False}},
}
INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "httpbin",
        "namespace": "httpbin",
        "annotations": {"pipy.ingress.kubernetes.io/rewrite-target-from": "^/cluster-1/httpbin-mesh/?"},
    },
    "spec": {
        "ingressClassName": "pipy",
        "rules": [
            {
                "http": {
                    "paths": [
                        {
                            "path": "/cluster-1/httpbin-mesh",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "httpbin", "port": {"number": 8080}}},
                        }
                    ]
                }
            }
        ],
    },
}
NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "httpbin", "labels": {"openservicemesh.io/monitored-by": "fsm"}},
}
MCS_SERVICE_EXPORT = {
    "apiVersion": "multicluster.x-k8s.io/v1beta1",
    "kind": "ServiceExport",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "httpbin", "namespace": "httpbin"},
    "spec": {
        "type": "ClusterIP",
        "selector": {"app": "httpbin"},
        "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}],
    },
}
ENDPOINT_SLICE = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {
        "name": "httpbin-cluster-2",
        "namespace": "httpbin",
        "labels": {"kubernetes.io/service-name": "httpbin-cluster-2"},
    },
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.0.0.7"]}],
    "ports": [{"name": "http", "port": 4143, "protocol": "TCP"}],
}

GOOD: list[tuple[str, dict[str, Any], bool]] = [
    ("fsm-service-export", SERVICE_EXPORT, False),
    ("fsm-service-import", SERVICE_IMPORT, False),
    ("fsm-global-traffic-policy", GLOBAL_TRAFFIC_POLICY, False),
    ("fsm-cluster", CLUSTER, False),
    ("smi-traffic-target", TRAFFIC_TARGET, False),
    ("smi-http-route-group", HTTP_ROUTE_GROUP, False),
    ("fsm-mesh-config-patch", MESH_CONFIG_PATCH, True),
    ("ingress", INGRESS, False),
    ("namespace", NAMESPACE, False),
    ("mcs-service-export", MCS_SERVICE_EXPORT, False),
    ("service", SERVICE, False),
    ("endpoint-slice", ENDPOINT_SLICE, False),
]


@pytest.mark.parametrize(("obj", "partial"), [(o, p) for _, o, p in GOOD], ids=[i for i, _, _ in GOOD])
def test_known_good_objects_validate_clean(obj: dict[str, Any], partial: bool) -> None:
    assert validate_object(obj, partial=partial) == []


@pytest.mark.parametrize("version", ["1.25", "1.30", "1.37", "v1.33.4"])
def test_built_in_objects_validate_for_other_versions(version: str) -> None:
    for obj in (INGRESS, NAMESPACE, SERVICE, ENDPOINT_SLICE):
        assert validate_object(obj, k8s_version=version) == []


def test_unsupported_kubernetes_version_is_an_error() -> None:
    with pytest.raises(ValueError):
        validate_object(INGRESS, k8s_version="1.24")
    with pytest.raises(ValueError):
        validate_object(INGRESS, k8s_version="latest")


# ----------------------------------------------------------------------------- broken variants


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy of obj with a dotted path (list indexes as numbers) set, or deleted if value is DELETE."""
    result = copy.deepcopy(obj)
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = result
    for part in parts[:-1]:
        node = node[part]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return result


DELETE = object()

BROKEN: list[tuple[str, dict[str, Any], bool, str, str]] = [
    # id, object, partial, field path expected in a problem, words expected in that problem
    (
        "wrong-type",
        _set(SERVICE_EXPORT, "spec.rules.0.portNumber", "8080"),
        False,
        "spec.rules[0].portNumber",
        "is not of type 'integer'",
    ),
    (
        "unknown-field",
        _set(SERVICE_IMPORT, "spec.ports.0.endpoints.0.target.weight", 3),
        False,
        "spec.ports[0].endpoints[0].target.weight",
        "unknown field",
    ),
    (
        "unknown-top-level-field",
        _set(SERVICE_EXPORT, "sepc", {}),
        False,
        "sepc",
        "unknown field",
    ),
    (
        "missing-required",
        _set(SERVICE_IMPORT, "spec.ports.0.endpoints.0.target.ip", DELETE),
        False,
        "spec.ports[0].endpoints[0].target.ip",
        "required field is missing",
    ),
    (
        "missing-required-spec",
        _set(GLOBAL_TRAFFIC_POLICY, "spec.lbType", DELETE),
        False,
        "spec.lbType",
        "required field is missing",
    ),
    (
        "bad-enum",
        _set(SERVICE_EXPORT, "spec.rules.0.pathType", "Foo"),
        False,
        "spec.rules[0].pathType",
        "'Foo' is not one of ['Exact', 'Prefix']",
    ),
    (
        "bad-enum-service-import-type",
        _set(SERVICE_IMPORT, "spec.type", "ClusterIP"),
        False,
        "spec.type",
        "is not one of",
    ),
    (
        "bad-enum-gtp",
        _set(GLOBAL_TRAFFIC_POLICY, "spec.lbType", "RoundRobin"),
        False,
        "spec.lbType",
        "is not one of",
    ),
    (
        "too-many-ips",
        _set(SERVICE_IMPORT, "spec.ips", ["10.0.0.1", "10.0.0.2"]),
        False,
        "spec.ips",
        "too long",
    ),
    (
        "gateway-port-range",
        _set(CLUSTER, "spec.gatewayPort", 70000),
        False,
        "spec.gatewayPort",
        "maximum",
    ),
    (
        "namespace-on-cluster-scoped",
        _set(CLUSTER, "metadata.namespace", "fsm-system"),
        False,
        "metadata.namespace",
        "cluster-scoped",
    ),
    (
        "namespace-missing",
        _set(SERVICE_EXPORT, "metadata.namespace", DELETE),
        False,
        "metadata.namespace",
        "required field is missing",
    ),
    (
        "bad-namespace",
        _set(SERVICE_EXPORT, "metadata.namespace", "httpbin.prod"),
        False,
        "metadata.namespace",
        "DNS-1123 label",
    ),
    ("bad-name", _set(SERVICE_EXPORT, "metadata.name", "HttpBin_1"), False, "metadata.name", "DNS-1123"),
    ("name-too-long", _set(SERVICE_EXPORT, "metadata.name", "a" * 254), False, "metadata.name", "253"),
    ("name-missing", _set(CLUSTER, "metadata.name", DELETE), False, "metadata.name", "required"),
    (
        "bad-label-value",
        _set(CLUSTER, "metadata.labels", {"meshfleet.io/cluster": "not ok!"}),
        False,
        'metadata.labels["meshfleet.io/cluster"]',
        "value",
    ),
    (
        "annotation-not-string",
        _set(SERVICE_EXPORT, "metadata.annotations", {"meshfleet.io/weight": 3}),
        False,
        'metadata.annotations["meshfleet.io/weight"]',
        "not a string",
    ),
    (
        "metadata-typo",
        _set(SERVICE_EXPORT, "metadata.lables", {"a": "b"}),
        False,
        "metadata.lables",
        "unknown field",
    ),
    (
        "unknown-kind",
        _set(SERVICE_EXPORT, "kind", "ServiceExports"),
        False,
        "(root)",
        "unknown apiVersion/kind",
    ),
    (
        "unknown-group",
        _set(SERVICE_EXPORT, "apiVersion", "flomesh.io/v1alpha1"),
        False,
        "(root)",
        "unknown apiVersion/kind",
    ),
    (
        "unserved-version",
        _set(TRAFFIC_TARGET, "apiVersion", "access.smi-spec.io/v1alpha2"),
        False,
        "(root)",
        "served versions are access.smi-spec.io/v1alpha3",
    ),
    ("kind-missing", _set(NAMESPACE, "kind", DELETE), False, "kind", "required"),
    (
        "partial-mesh-config-wrong-type",
        _set(MESH_CONFIG_PATCH, "spec.traffic.enablePermissiveTrafficPolicyMode", "false"),
        True,
        "spec.traffic.enablePermissiveTrafficPolicyMode",
        "is not of type 'boolean'",
    ),
    (
        "partial-mesh-config-typo",
        _set(MESH_CONFIG_PATCH, "spec.traffic.enablePermisiveTrafficPolicyMode", True),
        True,
        "spec.traffic.enablePermisiveTrafficPolicyMode",
        "unknown field",
    ),
    (
        "partial-still-needs-namespace",
        _set(MESH_CONFIG_PATCH, "metadata.namespace", DELETE),
        True,
        "metadata.namespace",
        "required",
    ),
    (
        "mesh-config-patch-as-full-object",
        MESH_CONFIG_PATCH,
        False,
        "spec.image",
        "required field is missing",
    ),
    (
        "int-or-string",
        _set(MESH_CONFIG_PATCH, "spec.sidecar", {"resources": {"limits": {"cpu": 1.5}}}),
        True,
        "spec.sidecar.resources.limits.cpu",
        "is not of type 'integer', 'string'",
    ),
    (
        "smi-headers-as-map",
        _set(HTTP_ROUTE_GROUP, "spec.matches.0.headers", {"x-fleet": "yes"}),
        False,
        "spec.matches[0].headers",
        "is not of type 'array'",
    ),
    (
        "smi-rule-kind",
        _set(TRAFFIC_TARGET, "spec.rules.0.kind", "HTTPRoute"),
        False,
        "spec.rules[0].kind",
        "is not one of",
    ),
    (
        "smi-sources-missing",
        _set(TRAFFIC_TARGET, "spec.sources", DELETE),
        False,
        "spec.sources",
        "required",
    ),
    (
        "mcs-unknown-spec-field",
        _set(MCS_SERVICE_EXPORT, "spec", {"exportedLabels": {"a": "b"}, "clusters": ["c1"]}),
        False,
        "spec.clusters",
        "unknown field",
    ),
    (
        "duplicate-list-map-key",
        _set(
            MCS_SERVICE_EXPORT,
            "status",
            {
                "conditions": [
                    {
                        "type": "Valid",
                        "status": "True",
                        "reason": "Exported",
                        "message": "",
                        "lastTransitionTime": "2026-01-02T03:04:05Z",
                    },
                    {
                        "type": "Valid",
                        "status": "False",
                        "reason": "Conflict",
                        "message": "",
                        "lastTransitionTime": "2026-01-02T03:04:05Z",
                    },
                ]
            },
        ),
        False,
        "status.conditions[1]",
        "duplicate entry",
    ),
    (
        "bad-date-time",
        _set(
            MCS_SERVICE_EXPORT,
            "status",
            {
                "conditions": [
                    {
                        "type": "Valid",
                        "status": "True",
                        "reason": "Exported",
                        "message": "",
                        "lastTransitionTime": "yesterday",
                    }
                ]
            },
        ),
        False,
        "status.conditions[0].lastTransitionTime",
        "date-time",
    ),
    (
        "ingress-path-type",
        _set(INGRESS, "spec.rules.0.http.paths.0.pathType", "Sometimes"),
        False,
        "spec.rules[0].http.paths[0].pathType",
        "is not one of",
    ),
    (
        "ingress-port-type",
        _set(INGRESS, "spec.rules.0.http.paths.0.backend.service.port.number", "eighty"),
        False,
        "spec.rules[0].http.paths[0].backend.service.port.number",
        "is not of type",
    ),
    (
        "ingress-old-field",
        _set(INGRESS, "spec.rules.0.http.paths.0.backend.serviceName", "httpbin"),
        False,
        "spec.rules[0].http.paths[0].backend.serviceName",
        "unknown field",
    ),
    (
        "ingress-missing-backend-name",
        _set(INGRESS, "spec.rules.0.http.paths.0.backend.service.name", DELETE),
        False,
        "spec.rules[0].http.paths[0].backend.service.name",
        "required",
    ),
    ("namespace-bad-name", _set(NAMESPACE, "metadata.name", "httpbin.prod"), False, "metadata.name", "label"),
    ("service-name-digit", _set(SERVICE, "metadata.name", "1httpbin"), False, "metadata.name", "DNS-1035"),
    (
        "service-protocol",
        _set(SERVICE, "spec.ports.0.protocol", "HTTP"),
        False,
        "spec.ports[0].protocol",
        "is not one of",
    ),
    (
        "endpoint-slice-address-type",
        _set(ENDPOINT_SLICE, "addressType", "IP"),
        False,
        "addressType",
        "is not one of",
    ),
]


@pytest.mark.parametrize(
    ("obj", "partial", "field", "words"),
    [(o, p, f, w) for _, o, p, f, w in BROKEN],
    ids=[i for i, *_ in BROKEN],
)
def test_broken_variants_are_reported(obj: dict[str, Any], partial: bool, field: str, words: str) -> None:
    problems = validate_object(obj, partial=partial)
    assert problems, "expected at least one problem"
    matching = [p for p in problems if f": {field}: " in p and words in p]
    assert matching, f"no problem at {field!r} mentioning {words!r} in {problems}"


def test_all_problems_are_collected() -> None:
    obj = _set(SERVICE_EXPORT, "spec.rules.0.pathType", "Foo")
    obj = _set(obj, "spec.rules.0.portNumber", "x")
    obj = _set(obj, "spec.bogus", True)
    obj = _set(obj, "metadata.name", "Bad")
    problems = validate_object(obj)
    assert len(problems) == 4, problems
    assert all(p.startswith("ServiceExport httpbin/Bad: ") for p in problems)


def test_partial_only_relaxes_required() -> None:
    broken = _set(SERVICE_IMPORT, "spec.ports.0.endpoints.0.target.ip", DELETE)
    assert validate_object(broken, partial=True) == []
    assert validate_object(_set(broken, "spec.type", "Nope"), partial=True) != []


def test_validate_documents(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("---\n" + "\n---\n".join(json.dumps(o) for o in (NAMESPACE, SERVICE_EXPORT, INGRESS)) + "\n")
    assert validate_documents([good]) == []

    bad = tmp_path / "bad.yaml"
    as_list = {"apiVersion": "v1", "kind": "List", "items": [CLUSTER, _set(CLUSTER, "spec.gatewayPort", "81")]}
    bad.write_text(json.dumps(NAMESPACE) + "\n---\n" + json.dumps(as_list) + "\n---\n- just\n- a list\n")
    problems = validate_documents([good, bad])
    assert any(p.startswith(f"{bad}#2: Cluster cluster-1: spec.gatewayPort: ") for p in problems), problems
    assert any(p.startswith(f"{bad}#3: ") and "not a mapping" in p for p in problems), problems
    assert len(problems) == 2, problems
