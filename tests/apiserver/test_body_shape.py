"""check_shape's quick pass must agree with its careful walk on every value: the quick pass only decides
whether the careful one runs, so a body it passes must be one the careful walk would pass too."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infleet.apiserver.body_decoding import (
    INT64_MAX,
    MAX_DEPTH,
    ShapeError,
    _locate_shape_error,
    _well_shaped,
    check_shape,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
keys = st.one_of(st.text(max_size=5), st.integers(0, 3))
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)
)


def careful_refuses(value: Any) -> bool:
    try:
        _locate_shape_error(value)
    except ShapeError:
        return True
    return False


@settings(max_examples=400, deadline=None)
@given(values)
def test_the_quick_pass_never_lets_through_what_the_careful_walk_refuses(value: Any) -> None:
    if _well_shaped(value):
        assert not careful_refuses(value)
    if careful_refuses(value):
        with pytest.raises(ShapeError):
            check_shape(value)
    else:
        check_shape(value)


def test_refusals_still_name_the_place() -> None:
    with pytest.raises(ShapeError) as too_big:
        check_shape({"spec": {"items": [1, INT64_MAX + 1]}})
    assert too_big.value.path == "spec.items[1]"
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 1):
        deep = {"a": deep}
    with pytest.raises(ShapeError, match="deeper"):
        check_shape(deep)
