from __future__ import annotations

from typing import Any

import pytest

from infleet.apiserver.jsonpath import compile_jsonpath

OBJ: dict[str, Any] = {
    "metadata": {"name": "demo", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"replicas": 3, "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
    "status": {
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "Progressing", "status": "False"}]
    },
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (".metadata.name", ["demo"]),
        ("{.spec.replicas}", [3]),
        ("$.spec.replicas", [3]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type!='Ready')].type", ["Progressing"]),
        (".spec.containers[0].image", ["x"]),
        (".spec.containers[-1].name", ["b"]),
        (".spec.containers[*].name", ["a", "b"]),
        (".spec.containers[0:1].name", ["a"]),
        (r".metadata.labels.app\.kubernetes\.io/name", ["web"]),
        (".metadata['labels']['app.kubernetes.io/name']", ["web"]),
        ("..image", ["x", "y"]),
        (".spec.missing", []),
        (".spec.containers[5]", []),
        (".spec.replicas.deeper", []),
    ],
)
def test_find(expr: str, expected: list[Any]) -> None:
    assert compile_jsonpath(expr).find(OBJ) == expected


@pytest.mark.parametrize(
    "expr", ["", "metadata.name", ".a[", ".a[?(@.x=)]", ".a[x]", ".a[?@.x]", "..", ".a..[0]"]
)
def test_bad_expressions_raise_value_error_naming_the_expression(expr: str) -> None:
    with pytest.raises(ValueError, match="invalid JSONPath"):
        compile_jsonpath(expr)


def test_numeric_filters() -> None:
    data = {"items": [{"n": 1}, {"n": 5}, {"n": "x"}]}
    assert compile_jsonpath(".items[?(@.n > 2)].n").find(data) == [5]
    assert compile_jsonpath(".items[?(@.n)]").find(data) == data["items"]
