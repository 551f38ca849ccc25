from __future__ import annotations

from typing import Any

import pytest

from infleet.apiserver.structural import apply_defaults, check_structural, prune
from infleet.apiserver.structural_validation import validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["model"],
            "properties": {
                "model": {"type": "string", "minLength": 2, "maxLength": 10, "pattern": "^[a-z0-9-]+$"},
                "replicas": {"type": "integer", "default": 1, "minimum": 0, "maximum": 5},
                "engine": {"type": "string", "enum": ["vllm", "sglang"], "default": "vllm"},
                "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "since": {"type": "string", "format": "date-time"},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": 3,
                    "x-kubernetes-list-type": "set",
                },
                "unique": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True, "minItems": 1},
                "servers": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "weight": {"type": "integer", "default": 10},
                        },
                    },
                },
                "labels": {"type": "object", "maxProperties": 2, "additionalProperties": {"type": "string"}},
                "config": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}},
                },
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}},
                },
                "resources": {
                    "type": "object",
                    "default": {},
                    "properties": {"gpu": {"type": "integer", "default": 1}},
                },
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def obj(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "a.io/v1",
        "kind": "K",
        "metadata": {"name": "x"},
        "spec": {"model": "llama", **spec},
    }


def test_structural_check_requires_types_except_int_or_string_and_preserve() -> None:
    assert check_structural(SCHEMA, "spec.versions[0].schema.openAPIV3Schema") == []
    bad = {
        "type": "object",
        "properties": {
            "spec": {"properties": {"a": {"type": "array"}}},
            "p": {"x-kubernetes-preserve-unknown-fields": True},
        },
    }
    fields = {c.field for c in check_structural(bad, "spec.versions[0].schema.openAPIV3Schema")}
    assert fields == {
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type",
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[a].items",
    }


def test_defaults_apply_recursively_including_list_items_and_defaulted_objects() -> None:
    o = obj(servers=[{"name": "a"}, {"name": "b", "weight": 3}], note=None, replicas=None)
    apply_defaults(o, SCHEMA)
    assert o["spec"]["replicas"] == 1
    assert o["spec"]["engine"] == "vllm"
    assert o["spec"]["servers"] == [{"name": "a", "weight": 10}, {"name": "b", "weight": 3}]
    assert o["spec"]["resources"] == {"gpu": 1}
    assert o["spec"]["note"] is None


def test_prune_removes_unknown_fields_and_respects_preserve_and_embedded() -> None:
    o = obj(
        foo=1,
        servers=[{"name": "a", "extra": True}],
        config={"anything": {"deep": 1}, "known": {"a": "x", "b": "pruned"}},
        template={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"x": "1", "y": "2"},
            "z": 1,
        },
    )
    o["status"] = {"ready": True, "bogus": 1}
    o["top"] = 1
    removed = prune(o, SCHEMA)
    assert sorted(removed) == sorted(
        [
            "spec.foo",
            "spec.servers[0].extra",
            "spec.config.known.b",
            "spec.template.spec.y",
            "spec.template.z",
            "status.bogus",
            "top",
        ]
    )
    assert o["spec"]["config"]["anything"] == {"deep": 1}
    assert o["spec"]["template"]["metadata"] == {"name": "p"}
    assert o["metadata"] == {"name": "x"}
    assert o["kind"] == "K"


def test_valid_object_has_no_causes() -> None:
    o = obj(
        replicas=2, ratio=0.5, port="http", since="2026-03-01T10:00:00Z", tags=["a"], unique=[1, 2], note=None
    )
    assert validate(o, SCHEMA) == []
    assert validate(obj(port=8080, replicas=2.0), SCHEMA) == []


@pytest.mark.parametrize(
    ("spec", "reason", "field", "text"),
    [
        (
            {"replicas": "3"},
            "FieldValueTypeInvalid",
            "spec.replicas",
            "spec.replicas in body must be of type integer",
        ),
        ({"replicas": 1.5}, "FieldValueTypeInvalid", "spec.replicas", "must be of type integer"),
        ({"replicas": True}, "FieldValueTypeInvalid", "spec.replicas", "must be of type integer"),
        ({"replicas": 9}, "FieldValueInvalid", "spec.replicas", "less than or equal to 5"),
        ({"replicas": -1}, "FieldValueInvalid", "spec.replicas", "greater than or equal to 0"),
        ({"ratio": 0}, "FieldValueInvalid", "spec.ratio", "greater than 0"),
        ({"engine": "tgi"}, "FieldValueNotSupported", "spec.engine", 'supported values: "vllm", "sglang"'),
        ({"model": "x"}, "FieldValueInvalid", "spec.model", "at least 2 chars"),
        ({"model": "a" * 11}, "FieldValueTooLong", "spec.model", "more than 10"),
        ({"model": "Bad_Name"}, "FieldValueInvalid", "spec.model", "should match"),
        ({"port": 1.5}, "FieldValueTypeInvalid", "spec.port", "integer-or-string"),
        ({"since": "yesterday"}, "FieldValueInvalid", "spec.since", "date-time"),
        ({"tags": ["a", "b", "c", "d"]}, "FieldValueTooMany", "spec.tags", "at most 3"),
        ({"tags": ["a", "a"]}, "FieldValueDuplicate", "spec.tags[1]", "Duplicate value"),
        ({"unique": [1, 1]}, "FieldValueDuplicate", "spec.unique[1]", "Duplicate value"),
        ({"unique": []}, "FieldValueInvalid", "spec.unique", "at least 1 items"),
        (
            {"servers": [{"name": "a"}, {"name": "a", "weight": 2}]},
            "FieldValueDuplicate",
            "spec.servers[1]",
            '"name": "a"',
        ),
        (
            {"servers": [{"name": 3}]},
            "FieldValueTypeInvalid",
            "spec.servers[0].name",
            "must be of type string",
        ),
        ({"labels": {"a": "1", "b": "2", "c": "3"}}, "FieldValueTooMany", "spec.labels", "at most 2"),
        ({"labels": {"a": 1}}, "FieldValueTypeInvalid", "spec.labels.a", "must be of type string"),
        (
            {"template": {"apiVersion": "v1", "spec": {}}},
            "FieldValueRequired",
            "spec.template.kind",
            "Required value",
        ),
        ({"tags": None}, "FieldValueTypeInvalid", "spec.tags", "must be of type array"),
    ],
)
def test_each_keyword_reports_reason_and_field(
    spec: dict[str, Any], reason: str, field: str, text: str
) -> None:
    causes = validate(obj(**spec), SCHEMA)
    assert [(c.reason, c.field) for c in causes] == [(reason, field)], causes
    assert text in causes[0].message


def test_required_and_type_at_object_level() -> None:
    o = obj()
    del o["spec"]["model"]
    assert [(c.reason, c.field) for c in validate(o, SCHEMA)] == [("FieldValueRequired", "spec.model")]
    causes = validate({"apiVersion": "a.io/v1", "kind": "K", "metadata": {}, "spec": "nope"}, SCHEMA)
    assert causes[0].message == 'Invalid value: "nope": spec in body must be of type object: "nope"'


def test_combinators() -> None:
    schema = {
        "type": "object",
        "properties": {
            "v": {"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]},
            "w": {"type": "integer", "not": {"enum": [13]}},
        },
    }
    assert validate({"v": "apple", "w": 1}, schema) == []
    assert [c.field for c in validate({"v": "cat", "w": 13}, schema)] == ["v", "w"]


def test_a_schema_declaring_metadata_as_a_bare_object_does_not_prune_it() -> None:
    schema = {"type": "object", "properties": {"metadata": {"type": "object"}, "spec": {"type": "object"}}}
    obj = {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "labels": {"a": "b"}}, "spec": {}}
    assert prune(obj, schema) == []
    assert obj["metadata"] == {"name": "n", "labels": {"a": "b"}}


def test_validation_ratchets_fields_unchanged_since_the_stored_object() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}}},
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        },
    }
    stored = {"spec": {"name": "too-long"}}  # valid under the schema it was written with
    status_write = {"spec": {"name": "too-long"}, "status": {"ready": True}}
    assert validate(status_write, schema, stored) == []
    assert [c.field for c in validate(status_write, schema)] == ["spec.name"]
    changed = {"spec": {"name": "still-too-long"}, "status": {"ready": "yes"}}
    assert sorted(c.field for c in validate(changed, schema, stored)) == ["spec.name", "status.ready"]


def test_prune_and_defaults_settle_what_is_unchanged_and_still_walk_what_changed() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"size": {"type": "integer", "default": 1}}},
            "status": {"type": "object", "properties": {"phase": {"type": "string", "default": "Pending"}}},
        },
    }
    stored = {"spec": {"size": 1}, "status": {"phase": "Ready"}}
    update = {"spec": {"size": 1}, "status": {"extra": True}}
    assert prune(update, schema, stored) == ["status.extra"]
    apply_defaults(update, schema, stored)
    assert update == {"spec": {"size": 1}, "status": {"phase": "Pending"}}
