from __future__ import annotations

from infleet.apiserver.schema_node import SchemaNode

DEFS = {
    "Pod": {
        "type": "object",
        "properties": {"spec": {"$ref": "#/components/schemas/PodSpec", "description": "d"}},
    },
    "PodSpec": {
        "type": "object",
        "properties": {
            "containers": {
                "type": "array",
                "items": {"allOf": [{"$ref": "#/components/schemas/Container"}]},
                "x-kubernetes-patch-strategy": "merge,retainKeys",
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
            "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Container": {"type": ["object", "null"], "properties": {"name": {"type": "string"}}},
}


def test_navigation_resolves_refs_and_allof_wrappers() -> None:
    pod = SchemaNode({"$ref": "#/$defs/Pod"}, DEFS)
    spec = pod.property("spec")
    assert spec is not None
    assert spec.raw["description"] == "d"
    containers = spec.property("containers")
    assert containers is not None
    assert containers.patch_strategies == frozenset({"merge", "retainKeys"})
    assert containers.patch_merge_key == "name"
    assert containers.list_type == "map"
    assert containers.list_map_keys == ("name",)
    item = containers.items()
    assert item is not None
    assert item.type_name == "object"
    assert item.property("name") is not None
    selector = spec.child("nodeSelector")
    assert selector is not None
    value = selector.child("anything")
    assert value is not None
    assert value.type_name == "string"
    assert spec.child("missing") is None
    assert pod.extension("x-none") is None
    assert containers.extension("x-kubernetes-list-type") == "map"


def test_unknown_ref_and_plain_schema() -> None:
    node = SchemaNode({"$ref": "#/components/schemas/Nope"})
    assert node.property("a") is None
    assert node.patch_strategies == frozenset()
    assert node.patch_merge_key is None
    assert node.items() is None
