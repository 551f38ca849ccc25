from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infleet.apiserver.builtin_schemas import BuiltinSchemas
from infleet.apiserver.errors import StatusError
from infleet.apiserver.merge_patch import apply_merge_patch
from infleet.apiserver.schema_node import SchemaNode
from infleet.apiserver.strategic_merge import apply_strategic_merge_patch


def node(group: str, version: str, kind: str) -> SchemaNode:
    found = BuiltinSchemas.load().node(group, version, kind)
    assert found is not None
    return found


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "finalizers": ["a.example.com/x"], "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "args": ["--x", "--y"],
                        },
                        {"name": "sidecar", "image": "envoy:1"},
                    ],
                    "tolerations": [{"key": "k", "operator": "Exists"}],
                },
            },
        },
    }


def test_kubectl_apply_image_change_keeps_containers_and_stores_no_directive() -> None:
    patch = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "c"}, {"name": "sidecar"}],
                    "containers": [{"name": "c", "image": "nginx:1.28"}],
                }
            }
        },
    }
    original = deployment()
    before = copy.deepcopy(original)
    result = apply_strategic_merge_patch(original, patch, node("apps", "v1", "Deployment"))
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["c", "sidecar"]
    assert containers[0]["image"] == "nginx:1.28"
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert containers[1]["image"] == "envoy:1"
    assert "$setElementOrder/containers" not in result["spec"]["template"]["spec"]
    assert "$setElementOrder" not in repr(result)
    assert result["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "{}"
    assert original == before


def test_set_element_order_reorders_merged_list() -> None:
    patch = {
        "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "c"}]}}}
    }
    result = apply_strategic_merge_patch(deployment(), patch, node("apps", "v1", "Deployment"))
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["sidecar", "c"]


def test_env_merges_by_name_and_patch_delete_removes_an_element() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "env": [
                                {"name": "B", "value": "22"},
                                {"name": "C", "value": "3"},
                                {"name": "A", "$patch": "delete"},
                            ],
                        }
                    ]
                }
            }
        }
    }
    result = apply_strategic_merge_patch(deployment(), patch, node("apps", "v1", "Deployment"))
    env = result["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "B", "value": "22"}, {"name": "C", "value": "3"}]


def test_list_without_strategy_is_replaced() -> None:
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["--z"]}], "tolerations": []}}}
    }
    result = apply_strategic_merge_patch(deployment(), patch, node("apps", "v1", "Deployment"))
    pod = result["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == ["--z"]
    assert pod["tolerations"] == []


def test_retain_keys_on_deployment_strategy() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    result = apply_strategic_merge_patch(deployment(), patch, node("apps", "v1", "Deployment"))
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    schema = node("apps", "v1", "Deployment")
    added = apply_strategic_merge_patch(
        deployment(), {"metadata": {"finalizers": ["a.example.com/x", "b.example.com/y"]}}, schema
    )
    assert added["metadata"]["finalizers"] == ["a.example.com/x", "b.example.com/y"]
    removed = apply_strategic_merge_patch(
        added, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/x"]}}, schema
    )
    assert removed["metadata"]["finalizers"] == ["b.example.com/y"]
    assert not any(k.startswith("$") for k in removed["metadata"])


def test_patch_replace_in_map_and_in_list() -> None:
    schema = node("apps", "v1", "Deployment")
    result = apply_strategic_merge_patch(
        deployment(), {"spec": {"selector": {"$patch": "replace", "matchLabels": {"tier": "x"}}}}, schema
    )
    assert result["spec"]["selector"] == {"matchLabels": {"tier": "x"}}
    result = apply_strategic_merge_patch(
        deployment(),
        {
            "spec": {
                "template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "i"}]}}
            }
        },
        schema,
    )
    assert result["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "i"}]


def test_patch_delete_on_a_map_removes_it_and_null_deletes() -> None:
    schema = node("apps", "v1", "Deployment")
    result = apply_strategic_merge_patch(
        deployment(), {"spec": {"strategy": {"$patch": "delete"}, "replicas": None}}, schema
    )
    assert "strategy" not in result["spec"]
    assert "replicas" not in result["spec"]


def test_service_ports_merge_by_port() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], "selector": {"app": "a"}},
    }
    result = apply_strategic_merge_patch(
        service, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}, node("", "v1", "Service")
    )
    assert [p["port"] for p in result["spec"]["ports"]] == [80, 443]


def test_configmap_namespace_node_pod_default_patches() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    out = apply_strategic_merge_patch(cm, {"data": {"a": None, "c": "3"}}, node("", "v1", "ConfigMap"))
    assert out["data"] == {"b": "2", "c": "3"}
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": {"x": "1"}}}
    out = apply_strategic_merge_patch(ns, {"metadata": {"labels": {"y": "2"}}}, node("", "v1", "Namespace"))
    assert out["metadata"]["labels"] == {"x": "1", "y": "2"}
    nd = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n"},
        "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
    }
    out = apply_strategic_merge_patch(
        nd, {"spec": {"unschedulable": True, "taints": []}}, node("", "v1", "Node")
    )
    assert out["spec"] == {"unschedulable": True, "taints": []}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]
        },
    }
    out = apply_strategic_merge_patch(
        pod, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, node("", "v1", "Pod")
    )
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]


@pytest.mark.parametrize(
    "patch",
    [
        {"spec": {"$patch": "explode"}},
        {"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}},
        {"spec": {"template": {"spec": {"$setElementOrder/containers": "c"}}}},
        {"spec": {"strategy": {"$retainKeys": "type"}}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": "x"}},
    ],
)
def test_bad_directives_are_bad_requests(patch: dict[str, Any]) -> None:
    with pytest.raises(StatusError) as caught:
        apply_strategic_merge_patch(deployment(), patch, node("apps", "v1", "Deployment"))
    assert caught.value.code == 400
    assert "spec" in caught.value.message or "finalizers" in caught.value.message


def test_without_schema_directives_are_still_interpreted() -> None:
    original = {"a": {"b": 1, "c": 2}, "l": [1, 2, 3]}
    result = apply_strategic_merge_patch(
        original, {"a": {"$patch": "replace", "d": 4}, "$deleteFromPrimitiveList/l": [2]}, None
    )
    assert result == {"a": {"d": 4}, "l": [1, 3]}


_keys = st.text(alphabet="abcdef", min_size=1, max_size=3)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(alphabet="xyz", max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=4), st.dictionaries(_keys, _json, max_size=4))
def test_without_schema_equals_merge_patch_on_directive_free_input(
    original: dict[str, Any], patch: dict[str, Any]
) -> None:
    assert apply_strategic_merge_patch(original, patch, None) == apply_merge_patch(original, patch)
