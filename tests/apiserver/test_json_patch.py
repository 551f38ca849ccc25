from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infleet.apiserver.errors import StatusError
from infleet.apiserver.json_patch import apply_json_patch


def doc() -> dict[str, Any]:
    return {"metadata": {"name": "x", "resourceVersion": "7", "finalizers": ["a"]}, "spec": {"n": 1}}


def test_kopf_style_finalizer_patch() -> None:
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
    ]
    original = doc()
    result = apply_json_patch(original, ops, kind="ModelServer", name="x")
    assert result["metadata"]["finalizers"] == ["a", "b"]
    assert original == doc()


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/metadata/resourceVersion", "value": "8"}],
        [{"op": "remove", "path": "/spec/missing"}],
        [{"op": "replace", "path": "/spec/missing", "value": 1}],
        [{"op": "add", "path": "/metadata/finalizers/5", "value": "z"}],
        [{"op": "move", "from": "/nope", "path": "/spec/x"}],
        [{"op": "replace", "path": "", "value": [1]}],
    ],
)
def test_failed_operations_are_422(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(StatusError) as caught:
        apply_json_patch(doc(), ops, kind="ModelServer", name="x")
    assert caught.value.code == 422
    assert caught.value.reason == "Invalid"
    assert 'ModelServer "x"' in caught.value.message


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "add", "path": "/a", "value": 1},
        ["not an object"],
        [{"op": "frobnicate", "path": "/a"}],
        [{"op": "add", "path": "/a"}],
        [{"op": "move", "path": "/a"}],
        [{"path": "/a"}],
        [{"op": "add", "path": "a", "value": 1}],
    ],
)
def test_malformed_bodies_are_400(ops: Any) -> None:
    with pytest.raises(StatusError) as caught:
        apply_json_patch(doc(), ops, kind="ModelServer", name="x")
    assert caught.value.code == 400


_segments = st.sampled_from(["metadata", "spec", "name", "n", "finalizers", "0", "1", "-", "zz", "~1", ""])
_paths = st.lists(_segments, max_size=4).map(lambda parts: "".join("/" + p for p in parts))
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.text(max_size=2),
    lambda c: st.lists(c, max_size=2) | st.dictionaries(st.text(max_size=2), c, max_size=2),
    max_leaves=5,
)
_ops = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]), "path": _paths},
    optional={"value": _values, "from": _paths},
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ops, max_size=4) | _values)
def test_random_operations_raise_only_status_errors_and_never_mutate(ops: Any) -> None:
    original = doc()
    snapshot = copy.deepcopy(original)
    ops_snapshot = copy.deepcopy(ops)
    code = 0
    try:
        result = apply_json_patch(original, ops, kind="ModelServer", name="x")
    except StatusError as exc:
        code = exc.code
    else:
        assert isinstance(result, dict)
    assert code in (0, 400, 422)
    assert original == snapshot
    assert ops == ops_snapshot
