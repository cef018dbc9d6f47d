"""The streamed JSON is json.dumps' text, handed out in bounded slices."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshfleet.fleet.load import load_plan
from meshfleet.sinks import summary
from meshfleet.sinks.json_stream import SLICE, Deferred, write_json
from tests.conftest import ROOT, run_cli

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
keys = st.text() | st.integers() | st.floats() | st.booleans() | st.none()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=40,
)


def streamed(value: Any) -> list[str]:
    writes: list[str] = []
    write_json(value, writes.append)
    return writes


@given(values)
def test_the_text_is_json_dumps_with_indent_two_and_a_newline(value: Any) -> None:
    assert "".join(streamed(value)) == json.dumps(value, indent=2) + "\n"


def test_what_json_refuses_is_refused_alike() -> None:
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        write_json({"a": {1, 2}}, list[str]().append)
    with pytest.raises(TypeError, match="keys must be str, int, float, bool or None, not tuple"):
        write_json({(1, 2): "a"}, list[str]().append)


def test_a_large_value_is_written_in_slices_none_of_which_holds_the_whole_text() -> None:
    value = {"objects": [{"name": f"obj-{i}", "spec": {"ports": [8080, 9090]}} for i in range(20_000)]}
    writes = streamed(value)
    whole = json.dumps(value, indent=2) + "\n"
    assert "".join(writes) == whole
    assert len(writes) > 10
    assert max(len(w) for w in writes) < len(whole) / 10


def test_plan_format_json_prints_the_plan_summary_in_json_dumps_layout() -> None:
    demo = ROOT / "fleet" / "demo.yaml"
    result = run_cli("plan", str(demo), "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert result.out == json.dumps(data, indent=2) + "\n"
    expected = json.loads(json.dumps(expanded(summary.as_json(load_plan(demo)))))
    assert data["clusters"] == expected["clusters"] and data["routes"] == expected["routes"]


def expanded(value: Any) -> Any:
    """`value` with every Deferred array made into the list it stands for."""
    if isinstance(value, dict):
        return {k: expanded(v) for k, v in value.items()}
    if isinstance(value, list | tuple | Deferred):
        return [expanded(v) for v in value]
    return value


def test_a_deferred_array_is_written_as_a_list_is() -> None:
    sources = [3, 0, 5]
    as_list = {"a": [list(range(n)) for n in sources], "empty": []}
    deferred = {"a": Deferred(sources, lambda n: list(range(n))), "empty": Deferred([], list)}
    assert "".join(streamed(deferred)) == json.dumps(as_list, indent=2) + "\n"


def test_a_deferred_item_is_made_only_once_the_items_before_it_are_written() -> None:
    writes: list[str] = []
    made_after: list[int] = []

    def make(i: int) -> list[int]:
        made_after.append(len(writes))
        return [i] * SLICE  # more than one slice of text: written before the next item is made

    write_json(Deferred(range(4), make), writes.append)
    assert made_after == sorted(made_after) and len(set(made_after)) == 4
    assert json.loads("".join(writes)) == [[i] * SLICE for i in range(4)]
