from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from infleet.apiserver.merge_patch import apply_merge_patch, create_merge_patch

_scalars = st.booleans() | st.integers(-3, 3) | st.text(alphabet="ab", max_size=2)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("pqrs"), children, max_size=3)
    ),
    max_leaves=10,
)
_docs = st.dictionaries(st.sampled_from("abcd"), _values, max_size=4)


def test_rfc7386_examples() -> None:
    target = {
        "title": "Goodbye!",
        "author": {"givenName": "John", "familyName": "Doe"},
        "tags": ["example", "sample"],
    }
    patch = {
        "title": "Hello!",
        "phoneNumber": "+01-123-456-7890",
        "author": {"familyName": None},
        "tags": ["example"],
    }
    assert apply_merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "phoneNumber": "+01-123-456-7890",
    }
    assert apply_merge_patch({"a": "b"}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}
    assert apply_merge_patch({"a": "foo"}, "bar") == "bar"
    assert apply_merge_patch([1, 2], {"a": 1}) == {"a": 1}


@settings(max_examples=300, deadline=None)
@given(_docs, _docs)
def test_patch_from_diff_reproduces_target(source: dict[str, Any], target: dict[str, Any]) -> None:
    patch = create_merge_patch(source, target)
    assert apply_merge_patch(source, patch) == target


@settings(max_examples=300, deadline=None)
@given(_docs, st.dictionaries(st.sampled_from("abcd"), st.none() | _values, max_size=4))
def test_idempotent_and_pure(target: dict[str, Any], patch: dict[str, Any]) -> None:
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    once = apply_merge_patch(target, patch)
    assert apply_merge_patch(once, patch) == once
    assert target == target_before
    assert patch == patch_before


def test_result_shares_no_containers_with_inputs() -> None:
    target = {"a": {"b": [1]}}
    result = apply_merge_patch(target, {"c": 1})
    result["a"]["b"].append(2)
    assert target == {"a": {"b": [1]}}
