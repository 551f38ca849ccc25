from __future__ import annotations

from typing import Any

import pytest

from infleet.apiserver.errors import StatusError
from infleet.apiserver.selectors import FieldSelector, LabelSelector


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {}, True),
        ("a=b", {"a": "b"}, True),
        ("a==b", {"a": "c"}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a in (x, y)", {"a": "y"}, True),
        ("a in (x,y)", {"a": "z"}, False),
        ("a notin (x)", {}, True),
        ("a notin (x)", {"a": "x"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": "1"}, False),
        ("!a", {"b": "1"}, True),
        ("app=web,tier!=db,env", {"app": "web", "tier": "fe", "env": "p"}, True),
        ("app=web,tier!=db,env", {"app": "web", "tier": "db", "env": "p"}, False),
        ("example.com/app=web", {"example.com/app": "web"}, True),
        ("a=", {"a": ""}, True),
        ("n>3", {"n": "4"}, True),
        ("n<3", {"n": "4"}, False),
    ],
)
def test_label_selector_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector.parse(text).matches(labels) is expected


@pytest.mark.parametrize(
    "text",
    [
        "a=b=c",
        "a in x",
        "a in (x",
        "a in ()",
        "=b",
        "!a=b",
        "a,,b",
        "a b",
        "-bad=x",
        "a=" + "v" * 64,
        "a=b c",
        "A/b=c",
    ],
)
def test_bad_label_selectors_are_400_naming_the_selector(text: str) -> None:
    with pytest.raises(StatusError) as caught:
        LabelSelector.parse(text)
    assert caught.value.code == 400
    assert repr(text) in caught.value.message


def test_canonical_text_is_sorted_and_round_trips() -> None:
    selector = LabelSelector.parse("z=1, a in (y,x), !m, k")
    assert str(selector) == "a in (x,y),k,!m,z=1"
    assert LabelSelector.parse(str(selector)) == selector
    assert LabelSelector.parse("").is_empty
    assert not selector.is_empty


def test_from_dict_match_labels_and_expressions() -> None:
    selector = LabelSelector.from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert str(selector) == "app=web,!legacy,tier in (be,fe)"
    assert selector.matches({"app": "web", "tier": "fe"})
    assert not selector.matches({"app": "web", "tier": "fe", "legacy": "1"})
    assert LabelSelector.from_dict({}).is_empty


@pytest.mark.parametrize(
    "spec",
    [
        {"matchExpressions": [{"key": "a", "operator": "Near", "values": ["x"]}]},
        {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        {"matchLabels": {"bad key": "x"}},
        {"matchLabels": {"a": 1}},
        {"matchExpressions": "a"},
    ],
)
def test_from_dict_rejects_bad_selectors(spec: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"match"):
        LabelSelector.from_dict(spec)


def test_field_selector_parsing_and_matching() -> None:
    selector = FieldSelector.parse("metadata.name=demo,status.phase!=Failed,spec.nodeName==")
    assert selector.fields == frozenset({"metadata.name", "status.phase", "spec.nodeName"})
    assert selector.exact("metadata.name") == "demo"
    assert selector.exact("status.phase") is None
    assert selector.matches({"metadata.name": "demo", "status.phase": "Running"})
    assert not selector.matches({"metadata.name": "demo", "status.phase": "Failed"})
    assert not selector.matches({"metadata.name": "demo", "spec.nodeName": "n1"})
    assert FieldSelector.parse("").matches({"anything": "x"})


def test_field_selector_escapes() -> None:
    selector = FieldSelector.parse(r"metadata.name=a\,b\=c")
    assert selector.exact("metadata.name") == "a,b=c"
    assert FieldSelector.parse(str(selector)).exact("metadata.name") == "a,b=c"


@pytest.mark.parametrize("text", ["metadata.name", "=x", r"a=b\q", "a=b,,"])
def test_bad_field_selectors_are_400(text: str) -> None:
    with pytest.raises(StatusError) as caught:
        FieldSelector.parse(text)
    assert caught.value.code == 400


def test_field_selector_value_may_contain_operators() -> None:
    assert FieldSelector.parse("a=b==c").exact("a") == "b==c"
    assert FieldSelector.parse("a==x!=y").exact("a") == "x!=y"
    negated = FieldSelector.parse("a!=b=c")
    assert negated.matches({"a": "x"})
    assert not negated.matches({"a": "b=c"})
