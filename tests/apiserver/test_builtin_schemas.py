from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from infleet.apiserver.builtin_schemas import BuiltinSchemas


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web"},
            "managedFields": [{"manager": "m", "fieldsV1": {"f:x": {}}}],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "1"}}}]
                },
            },
        },
    }


@pytest.mark.parametrize(
    ("gvk", "name"),
    [
        (("", "v1", "Namespace"), "io.k8s.api.core.v1.Namespace"),
        (("", "v1", "Node"), "io.k8s.api.core.v1.Node"),
        (("", "v1", "Pod"), "io.k8s.api.core.v1.Pod"),
        (("", "v1", "Service"), "io.k8s.api.core.v1.Service"),
        (("", "v1", "Endpoints"), "io.k8s.api.core.v1.Endpoints"),
        (("", "v1", "ConfigMap"), "io.k8s.api.core.v1.ConfigMap"),
        (("", "v1", "Secret"), "io.k8s.api.core.v1.Secret"),
        (("", "v1", "Event"), "io.k8s.api.core.v1.Event"),
        (("coordination.k8s.io", "v1", "Lease"), "io.k8s.api.coordination.v1.Lease"),
        (("apps", "v1", "Deployment"), "io.k8s.api.apps.v1.Deployment"),
        (("apps", "v1", "StatefulSet"), "io.k8s.api.apps.v1.StatefulSet"),
        (
            ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        ),
        (("autoscaling", "v1", "Scale"), "io.k8s.api.autoscaling.v1.Scale"),
        (("", "v1", "Status"), "io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
        (("meta", "v1", "ObjectMeta"), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
        (("", "v1", "DeleteOptions"), "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
        (("llm.example.com", "v1", "ModelServer"), None),
    ],
)
def test_definition_names(gvk: tuple[str, str, str], name: str | None) -> None:
    assert BuiltinSchemas.load().definition_name(*gvk) == name


def test_load_is_a_cached_singleton() -> None:
    assert BuiltinSchemas.load() is BuiltinSchemas.load()


def test_node_exposes_patch_extensions() -> None:
    node = BuiltinSchemas.load().node("apps", "v1", "Deployment")
    assert node is not None
    spec = node.property("spec")
    assert spec is not None
    strategy = spec.property("strategy")
    assert strategy is not None
    assert strategy.patch_strategies == frozenset({"retainKeys"})
    template = spec.property("template")
    pod_spec = template.property("spec") if template else None
    containers = pod_spec.property("containers") if pod_spec else None
    assert containers is not None
    assert containers.patch_merge_key == "name"


def test_openapi_components_are_openapi_3() -> None:
    components = BuiltinSchemas.load().openapi_components()
    deployment_schema = components["io.k8s.api.apps.v1.Deployment"]
    assert deployment_schema["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert deployment_schema["properties"]["spec"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}
    ]
    replicas = components["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"]
    assert replicas["type"] == "integer"
    assert replicas["nullable"] is True
    containers = components["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    text = json.dumps(components)
    assert "#/$defs/" not in text
    assert "_definitions.json" not in text
    assert '"type": [' not in text
    assert components["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["x-kubernetes-int-or-string"] is True
    # Property names that look like directives are not rewritten.
    props = components["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"][
        "properties"
    ]
    assert props["$ref"]["type"] == "string"


def test_valid_deployment_has_no_causes_and_ignores_managed_fields() -> None:
    assert BuiltinSchemas.load().validate(deployment()) == ([], [])


def test_violations_and_unknown_fields() -> None:
    bad = deployment()
    bad["spec"]["replicas"] = "three"
    bad["spec"]["foo"] = 1
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    bad["spec"]["template"]["spec"]["containers"].append({"image": "x", "bogus": True})
    causes, unknown = BuiltinSchemas.load().validate(bad)
    by_field = {c.field: c for c in causes}
    assert by_field["spec.replicas"].reason == "FieldValueTypeInvalid"
    assert "spec.replicas in body must be of type integer" in by_field["spec.replicas"].message
    assert by_field["spec.template.spec.containers[0].imagePullPolicy"].reason == "FieldValueTypeInvalid"
    assert by_field["spec.template.spec.containers[1].name"].reason == "FieldValueRequired"
    assert unknown == ["spec.foo", "spec.template.spec.containers[1].bogus"]


def test_configmap_and_namespace_and_unknown_kind() -> None:
    schemas = BuiltinSchemas.load()
    assert schemas.validate(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    ) == ([], [])
    causes, _ = schemas.validate(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}}
    )
    assert [c.field for c in causes] == ["data.a"]
    assert schemas.validate({"apiVersion": "x.io/v1", "kind": "Thing", "spec": {"q": 1}}) == ([], [])


def test_validation_is_fast_after_warm_up() -> None:
    schemas = BuiltinSchemas.load()
    obj = deployment()
    schemas.validate(obj)
    start = time.perf_counter()
    for _ in range(50):
        schemas.validate(copy.deepcopy(obj))
    per_object = (time.perf_counter() - start) / 50
    assert per_object < 0.02  # generous bound for a shared CI machine; typically ~1 ms
