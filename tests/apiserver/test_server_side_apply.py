from __future__ import annotations

import copy
from typing import Any

from infleet.apiserver.builtin_schemas import BuiltinSchemas
from infleet.apiserver.schema_node import SchemaNode
from infleet.apiserver.server_side_apply import apply_configuration

NOW = "2026-03-01T10:00:00Z"


def schema() -> SchemaNode:
    node = BuiltinSchemas.load().node("apps", "v1", "Deployment")
    assert node is not None
    return node


def config(image: str = "nginx:1.27") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "c", "image": image, "ports": [{"containerPort": 80, "protocol": "TCP"}]}
                    ],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                }
            },
        },
    }


def test_create_records_managed_fields() -> None:
    result = apply_configuration(None, config(), schema(), manager="kubectl", api_version="apps/v1", now=NOW)
    assert result["spec"]["replicas"] == 2
    (entry,) = result["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl"
    assert entry["operation"] == "Apply"
    assert entry["time"] == NOW
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["apiVersion"] == "apps/v1"
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert container["."] == {}
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]
    assert fields["f:spec"]["f:template"]["f:spec"]["f:tolerations"] == {}


def test_merge_keeps_other_fields_and_merges_keyed_lists() -> None:
    live = apply_configuration(None, config(), schema(), manager="kubectl", api_version="apps/v1", now=NOW)
    live["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy"})
    live["metadata"]["managedFields"].append({"manager": "controller", "operation": "Update"})
    live_before = copy.deepcopy(live)
    applied = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}], "tolerations": []}}
        },
    }
    result = apply_configuration(
        live, applied, schema(), manager="kubectl", api_version="apps/v1", now="later"
    )
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("c", "nginx:1.28"), ("sidecar", "envoy")]
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert result["spec"]["template"]["spec"]["tolerations"] == []
    assert result["spec"]["replicas"] == 2
    managers = [(e["manager"], e.get("operation")) for e in result["metadata"]["managedFields"]]
    assert managers == [("controller", "Update"), ("kubectl", "Apply")]
    assert result["metadata"]["managedFields"][-1]["time"] == "later"
    assert live == live_before


def test_without_schema_lists_are_replaced() -> None:
    live = {
        "apiVersion": "x/v1",
        "kind": "K",
        "metadata": {"name": "a"},
        "spec": {"items": [{"name": "a"}], "x": 1},
    }
    result = apply_configuration(
        live, {"spec": {"items": [{"name": "b"}]}}, None, manager="m", api_version="x/v1", now=NOW
    )
    assert result["spec"] == {"items": [{"name": "b"}], "x": 1}
