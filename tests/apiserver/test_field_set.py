from __future__ import annotations

import pytest

from infleet.apiserver.field_set import FieldSet, path_string

CONTAINER = 'k:{"name":"web"}'


def fields(*paths: tuple[str, ...]) -> FieldSet:
    found = FieldSet()
    for path in paths:
        found.insert(path)
    return found


def test_fields_v1_round_trip_marks_members_with_children_by_a_dot() -> None:
    encoded = {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:containers": {CONTAINER: {".": {}, "f:image": {}, "f:name": {}}},
            "f:finalizers": {'v:"a"': {}},
        },
    }
    decoded = FieldSet.from_fields_v1(encoded)
    assert decoded.has(("f:metadata", "f:labels"))
    assert decoded.has(("f:metadata", "f:labels", "f:app"))
    assert not decoded.has(("f:metadata",))
    assert decoded.has(("f:spec", "f:containers", CONTAINER))
    assert decoded.to_fields_v1() == encoded


def test_fields_v1_keys_are_sorted_fields_before_keys_and_values() -> None:
    found = fields(("f:list", 'v:"b"'), ("f:list", 'k:{"a":1}'), ("f:list", "f:z"), ("f:list", "i:0"))
    assert list(found.to_fields_v1()["f:list"]) == ["f:z", 'k:{"a":1}', 'v:"b"', "i:0"]


@pytest.mark.parametrize("bad", [{"x:field": {}}, {"f:a": "nope"}, []])
def test_malformed_fields_v1_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="fieldsV1"):
        FieldSet.from_fields_v1(bad)


def test_set_algebra() -> None:
    a = fields(("f:spec", "f:replicas"), ("f:spec", "f:paused"), ("f:data", "f:x"))
    b = fields(("f:spec", "f:replicas"), ("f:metadata", "f:labels", "f:app"))
    assert [path_string(p) for p in a.intersection(b).paths()] == [".spec.replicas"]
    assert [path_string(p) for p in a.difference(b).paths()] == [".data.x", ".spec.paused"]
    assert sorted(path_string(p) for p in a.union(b).paths()) == [
        ".data.x",
        ".metadata.labels.app",
        ".spec.paused",
        ".spec.replicas",
    ]
    assert a.difference(a).empty()
    # Recursive difference drops everything under a member of the other set.
    assert [path_string(p) for p in a.recursive_difference(FieldSet({"f:spec"})).paths()] == [".data.x"]


def test_path_strings_read_as_kube_apiserver_prints_them() -> None:
    assert path_string(("f:spec", "f:replicas")) == ".spec.replicas"
    assert (
        path_string(("f:spec", "f:containers", CONTAINER, "f:image")) == '.spec.containers[name="web"].image'
    )
    ports = 'k:{"containerPort":80,"protocol":"TCP"}'
    assert path_string(("f:ports", ports)) == '.ports[containerPort=80,protocol="TCP"]'
    assert path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'
    assert path_string(("f:args", "i:2")) == ".args[2]"
