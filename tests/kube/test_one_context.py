"""A kubeconfig given whole as text (a stack secret, a `--kubeconfigs-file` entry) is cut to one context."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from meshfleet.kube.kubecontext import ContextError, one_context

TOKEN = "S3CR3T-T0K3N-"
SOURCE = "the --kubeconfigs-file given.yaml entry eu-1"


def kubeconfig(*contexts: str, current: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current or contexts[0],
        "clusters": [
            {
                "name": f"{c}-c",
                "cluster": {"server": f"https://{c}.example:6443", "certificate-authority-data": f"{TOKEN}{c}-ca"},
            }
            for c in contexts
        ],
        "users": [{"name": f"{c}-u", "user": {"token": f"{TOKEN}{c}"}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": f"{c}-c", "user": f"{c}-u"}} for c in contexts],
    }


def cut(doc: dict[str, Any] | str, wanted: str | None) -> dict[str, Any]:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc)
    out: dict[str, Any] = yaml.safe_load(one_context(text, cluster="eu-1", source=SOURCE, wanted=wanted))
    return out


def refused(doc: dict[str, Any] | str, wanted: str | None) -> str:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc)
    with pytest.raises(ContextError, match=r"^cluster eu-1: ") as err:
        one_context(text, cluster="eu-1", source=SOURCE, wanted=wanted)
    assert TOKEN not in str(err.value) and "example" not in str(err.value)
    return str(err.value)


def test_the_context_the_fleet_names_is_kept_and_made_current() -> None:
    doc = cut(kubeconfig("us-1", "eu-1", "ap-1", current="us-1"), "eu-1")
    assert doc["current-context"] == "eu-1"
    assert [c["name"] for c in doc["contexts"]] == ["eu-1"]
    assert [c["name"] for c in doc["clusters"]] == ["eu-1-c"] and [u["name"] for u in doc["users"]] == ["eu-1-u"]
    assert TOKEN + "us-1" not in yaml.safe_dump(doc) and TOKEN + "ap-1" not in yaml.safe_dump(doc)


@pytest.mark.parametrize("wanted", [None, "k3d-eu-1"])
def test_a_text_with_one_context_is_that_context_whatever_its_name(wanted: str | None) -> None:
    doc = cut(kubeconfig("ci-eu-1", current="gone"), wanted)
    assert doc["current-context"] == "ci-eu-1" and [c["name"] for c in doc["contexts"]] == ["ci-eu-1"]


def test_several_contexts_and_no_way_to_choose_name_the_cluster_and_the_source() -> None:
    message = refused(kubeconfig("us-1", "ap-1"), None)
    assert message.startswith(f"cluster eu-1: {SOURCE} holds 2 contexts; it must hold exactly one")
    message = refused(kubeconfig("us-1", "ap-1"), "k3d-eu-1")
    assert f"{SOURCE} holds 2 contexts and not 'k3d-eu-1', the one the fleet file names" in message


@pytest.mark.parametrize("text", ["", f"- {TOKEN}\n", f"contexts: {TOKEN}\n", f"{{{TOKEN}: [\n"])
def test_a_text_that_is_not_a_kubeconfig_is_refused_unquoted(text: str) -> None:
    assert refused(text, None) == f"cluster eu-1: {SOURCE} is not a kubeconfig (no contexts list)"


def test_files_are_not_read_for_a_text_given_whole() -> None:
    doc = kubeconfig("eu-1")
    doc["users"][0]["user"] = {"client-certificate": "/home/me/.kube/eu.crt", "client-key-data": TOKEN}
    message = refused(doc, "eu-1")
    assert f"user 'eu-1-u' in {SOURCE} names its client-certificate file" in message
    assert "inline it as client-certificate-data" in message and "/home/me" not in message


def test_a_missing_user_or_cluster_is_named_by_entry() -> None:
    doc = kubeconfig("eu-1")
    doc["clusters"] = []
    assert "names cluster 'eu-1-c', which no kubeconfig file defines" in refused(doc, None)
