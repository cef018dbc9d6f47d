"""The fast block writer produces exactly PyYAML's bytes, or hands the value back to PyYAML."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from meshfleet.core.plan import plan
from meshfleet.fleet.generate import FleetShape, generate
from meshfleet.fleet.model import Fleet
from meshfleet.sinks.yaml_text import BlockWriter, dump_yaml

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "true",
            "no",
            "null",
            "~",
            "123",
            "0x1f",
            "1e3",
            "",
            " ",
            "a: b",
            "- x",
            "#c",
            "*",
            "'",
            '"',
            "yes",
            "on",
            "Yes",
            "OFF",
            "NULL",
            "e5",
            ".inf",
            "/",
            "a/b.c-d_e",
            "y",
            "N",
            "=",
            "<<",
            "2026-11-22",
            "/cluster-1/httpbin",
            "ServerSideApply=true,Prune=false",
            "line\nbreak",
            "x" * 600,
            "é ü 中",
            "\t",
            "@x",
            "`x",
            "{a}",
            "[a]",
            "%x",
            "!x",
            "a #b",
        ]
    ),
)
keys = st.one_of(st.text(max_size=20), st.sampled_from(["apiVersion", "on", "yes", "1", "a b", "? x", "-", "k:"]))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(doc=st.dictionaries(keys, documents, max_size=5))
@example(doc={"a": -0.0, "b": 0.0})  # 0.0 == -0.0, and they hash alike: one must not reuse the other's text
@example(doc={"a": 0.0, "b": [-0.0, 0.0]})
@example(doc={"a": 1, "b": True, "c": 1.0, "d": "1"})  # equal or alike as Python values, four texts
def test_any_document_matches_pyyaml(doc: dict[str, Any]) -> None:
    assert BlockWriter().dump(doc) == dump_yaml(doc)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), control_plane=st.booleans())
def test_planned_objects_match_pyyaml_with_a_shared_cache(seed: int, control_plane: bool) -> None:
    writer = BlockWriter()
    p = plan(
        Fleet.model_validate(
            generate(FleetShape(clusters=5, services=6, control_plane=control_plane, multi_port_share=0.5), seed)
        )
    )
    count = 0
    for _, obj in p.objects():
        assert writer.dump(obj.body) == dump_yaml(obj.body)
        count += 1
    assert count > 0


def test_remembered_documents_keep_their_own_text() -> None:
    """The whole-document memory must not hand one document's text to another that compares equal."""
    writer = BlockWriter()
    docs: list[dict[str, Any]] = [
        {"a": -0.0},
        {"a": 0.0},
        {"a": 1},
        {"a": True},
        {"a": 1.0},
        {"a": "1"},
        {"a": [1]},
        {"a": {"b": 1}},
        {"a": None},
        {"a": "~"},
    ]
    texts = [writer.dump(d) for d in docs] + [writer.dump(d) for d in docs]
    assert texts == [dump_yaml(d) for d in docs] * 2
    assert len(set(texts)) == len(docs)
