"""Messages about a user's kubeconfig name files, lines and keys, and never a value that may be a credential."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from meshfleet.kube.kubecontext import ContextError, KubeconfigFile, reduce_to_context, shown_name

TOKEN = "eyJhbGciOiJSUzI1NiJ9.S3CR3T-T0K3N"


def config(contexts: str) -> str:
    """A kubeconfig whose contexts start at line 4."""
    return (
        f"apiVersion: v1\nkind: Config\ncontexts:\n{contexts}clusters:\n- name: c\n  cluster: {{server: "
        f"https://c:6443}}\nusers:\n- name: u\n  user: {{token: {TOKEN}}}\n"
    )


def refused(text: str, context: str) -> str:
    with pytest.raises(ContextError) as err:
        reduce_to_context([KubeconfigFile(PurePath("/k/config"), text)], context, lambda p: b"")
    message = str(err.value)
    assert TOKEN not in message and "S3CR3T" not in message
    return message


def test_a_context_whose_name_is_a_mapping_is_counted_not_printed() -> None:
    message = refused(
        config(f"- name: {{token: {TOKEN}}}\n  context: {{cluster: c}}\n- name: dev\n  context: {{cluster: c}}\n"),
        "prod",
    )
    assert "contexts there: dev; and 1 entry whose name is not a plain name, not shown" in message


def test_a_context_named_like_a_token_is_not_listed() -> None:
    message = refused(
        config(f"- name: {TOKEN}-long-enough-to-be-a-credential-and-not-a-name\n  context: {{cluster: c}}\n"), "prod"
    )
    assert "contexts there: none; and 1 entry" in message


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("  context: x\n", "context 'prod' in /k/config at line 4 has no 'context' mapping"),
        ("  context: {user: u}\n", "context 'prod' in /k/config at line 4 names no cluster"),
        (f"  context:\n    cluster: {{token: {TOKEN}}}\n", "at line 6: 'cluster' is not a name"),
        (
            f"  context:\n    cluster: {TOKEN}{'x' * 40}\n",
            "at line 6 names cluster (a string that is not a plain name, not shown), which no kubeconfig file defines",
        ),
        ("  context:\n    cluster: gone\n", "at line 6 names cluster 'gone', which no kubeconfig file defines"),
    ],
)
def test_problems_in_a_context_name_its_line(entry: str, words: str) -> None:
    assert words in refused(config("- name: prod\n" + entry), "prod")


def test_shown_names_are_plain() -> None:
    assert shown_name("k3d-cluster-1") == "'k3d-cluster-1'"
    assert shown_name("arn:aws:eks:eu-west-1:123:cluster/prod") == "'arn:aws:eks:eu-west-1:123:cluster/prod'"
    assert shown_name({"token": TOKEN}) == "(a mapping that is not a plain name, not shown)"
    assert shown_name("two words") == "(a string that is not a plain name, not shown)"
    assert shown_name("x" * 64) == "(a string that is not a plain name, not shown)"
