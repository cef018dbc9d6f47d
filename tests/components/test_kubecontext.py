"""The context cut-down on its own: no Pulumi, no files (the reader is a dict)."""

from __future__ import annotations

import base64
from pathlib import PurePath
from typing import Any

import pytest
import yaml

from meshfleet.kube.kubecontext import ContextError, KubeconfigFile, reduce_to_context

SECRET = "SECRET-BYTES"


def kubeconfig(*contexts: str, **user_extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for ctx in contexts:
        doc["clusters"].append({"name": f"{ctx}-c", "cluster": {"server": f"https://{ctx}:6443"}})
        doc["users"].append({"name": f"{ctx}-u", "user": {"token": f"{SECRET}-{ctx}", **user_extra}})
        doc["contexts"].append(
            {"name": ctx, "context": {"cluster": f"{ctx}-c", "user": f"{ctx}-u", "namespace": "apps"}}
        )
    doc["current-context"] = contexts[0] if contexts else ""
    return doc


def file(doc: dict[str, Any] | str, path: str = "/home/u/.kube/config") -> KubeconfigFile:
    return KubeconfigFile(PurePath(path), doc if isinstance(doc, str) else yaml.safe_dump(doc))


def no_files(path: PurePath) -> bytes:
    raise AssertionError(f"nothing should be read, asked for {path}")


def test_only_the_named_context_its_cluster_and_user_remain() -> None:
    text = reduce_to_context([file(kubeconfig("prod", "dev"))], "dev", no_files)
    doc = yaml.safe_load(text)
    assert doc["current-context"] == "dev"
    assert doc["contexts"] == [{"name": "dev", "context": {"cluster": "dev-c", "user": "dev-u", "namespace": "apps"}}]
    assert doc["clusters"] == [{"name": "dev-c", "cluster": {"server": "https://dev:6443"}}]
    assert doc["users"] == [{"name": "dev-u", "user": {"token": f"{SECRET}-dev"}}]
    assert "prod" not in text


def test_referenced_files_are_inlined_relative_to_the_kubeconfig_that_names_them() -> None:
    doc = kubeconfig("k3d")
    doc["clusters"][0]["cluster"]["certificate-authority"] = "certs/ca.crt"
    doc["users"][0]["user"].update({"client-certificate": "/etc/abs/client.crt", "client-key": "client.key"})
    files = {
        PurePath("/home/u/.kube/certs/ca.crt"): b"CA",
        PurePath("/etc/abs/client.crt"): b"CERT",
        PurePath("/home/u/.kube/client.key"): b"KEY",
    }
    out = yaml.safe_load(reduce_to_context([file(doc)], "k3d", files.__getitem__))
    cluster, user = out["clusters"][0]["cluster"], out["users"][0]["user"]
    assert cluster == {"server": "https://k3d:6443", "certificate-authority-data": base64.b64encode(b"CA").decode()}
    assert user["client-certificate-data"] == base64.b64encode(b"CERT").decode()
    assert user["client-key-data"] == base64.b64encode(b"KEY").decode()
    assert "client-certificate" not in user and "client-key" not in user


def test_inline_data_wins_over_a_file_and_other_paths_become_absolute() -> None:
    doc = kubeconfig("k3d", tokenFile="tok", exec={"command": "./bin/auth", "apiVersion": "x"})
    doc["clusters"][0]["cluster"].update({"certificate-authority": "ca.crt", "certificate-authority-data": "REVBVEE="})
    out = yaml.safe_load(reduce_to_context([file(doc)], "k3d", no_files))
    assert out["clusters"][0]["cluster"]["certificate-authority-data"] == "REVBVEE="
    assert "certificate-authority" not in out["clusters"][0]["cluster"]
    user = out["users"][0]["user"]
    assert user["tokenFile"] == "/home/u/.kube/tok"
    assert user["exec"] == {"command": "/home/u/.kube/bin/auth", "apiVersion": "x"}


def test_an_exec_command_found_on_path_stays_a_name() -> None:
    doc = kubeconfig("eks", exec={"command": "aws", "args": ["eks", "get-token"]})
    out = yaml.safe_load(reduce_to_context([file(doc)], "eks", no_files))
    assert out["users"][0]["user"]["exec"]["command"] == "aws"


def test_files_merge_as_kubectl_merges_kubeconfig_the_first_definition_wins() -> None:
    first = kubeconfig("a")
    first["contexts"].append({"name": "b", "context": {"cluster": "b-c", "user": "a-u"}})
    second = kubeconfig("b")  # defines b again, and the cluster b-c that the first file lacks
    out = yaml.safe_load(reduce_to_context([file(first, "/one"), file(second, "/two")], "b", no_files))
    assert out["contexts"][0]["context"] == {"cluster": "b-c", "user": "a-u"}
    assert out["users"] == [{"name": "a-u", "user": {"token": f"{SECRET}-a"}}]
    assert out["clusters"] == [{"name": "b-c", "cluster": {"server": "https://b:6443"}}]


def test_a_context_without_a_user_connects_anonymously() -> None:
    doc = kubeconfig("k3d")
    del doc["contexts"][0]["context"]["user"]
    out = yaml.safe_load(reduce_to_context([file(doc)], "k3d", no_files))
    assert out["users"] == []
    assert out["clusters"][0]["name"] == "k3d-c"


@pytest.mark.parametrize(
    ("mutate", "context", "words"),
    [
        (lambda d: d, "staging", ["'staging' is not in /home/u/.kube/config", "contexts there: dev, prod"]),
        (lambda d: d["clusters"].pop(), "prod", ["names cluster 'prod-c', which no kubeconfig file defines"]),
        (lambda d: d["users"].pop(), "prod", ["names user 'prod-u'"]),
        (lambda d: d["contexts"][1]["context"].pop("cluster"), "prod", ["names no cluster"]),
        (lambda d: d.update(contexts={"not": "a list"}), "prod", ["'contexts' is not a list"]),
    ],
)
def test_errors_name_what_is_missing_and_quote_no_credential(mutate: Any, context: str, words: list[str]) -> None:
    doc = kubeconfig("dev", "prod")
    mutate(doc)
    with pytest.raises(ContextError) as err:
        reduce_to_context([file(doc)], context, no_files)
    for word in words:
        assert word in str(err.value)
    assert SECRET not in str(err.value)


def test_invalid_yaml_is_located_without_quoting_the_line() -> None:
    text = f"users:\n- name: u\n  user:\n    token: {SECRET}\n\t  oops: [\n"
    with pytest.raises(ContextError) as err:
        reduce_to_context([file(text)], "x", no_files)
    assert "not valid YAML at line" in str(err.value)
    assert SECRET not in str(err.value)


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ContextError, match="not a kubeconfig"):
        reduce_to_context([file(f"- {SECRET}\n")], "x", no_files)


def test_an_unreadable_certificate_file_is_named() -> None:
    doc = kubeconfig("k3d")
    doc["users"][0]["user"]["client-key"] = "missing.key"

    def read(path: PurePath) -> bytes:
        raise FileNotFoundError(2, "No such file or directory")

    with pytest.raises(ContextError) as err:
        reduce_to_context([file(doc)], "k3d", read)
    assert "client-key file /home/u/.kube/missing.key" in str(err.value)
    assert SECRET not in str(err.value)


def test_no_file_at_all() -> None:
    with pytest.raises(ContextError, match="no kubeconfig file"):
        reduce_to_context([], "x", no_files)
