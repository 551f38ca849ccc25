"""Malformed and invalid input is refused with a Status that names the field, never a 500, and a refused
request leaves the store as it was. One test per way a request can be wrong."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.apiserver_harness import ServerThread

CM = "/api/v1/namespaces/default/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
BAGS = "/apis/test.infleet.dev/v1/namespaces/default/bags"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
JSON = "application/json"

BAG_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "bags.test.infleet.dev"},
    "spec": {
        "group": "test.infleet.dev",
        "names": {"plural": "bags", "singular": "bag", "kind": "Bag", "listKind": "BagList"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer", "default": 1}},
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with (
        ServerThread(tmp_path_factory.mktemp("malformed")) as server,
        httpx.Client(base_url=server.url("hub"), timeout=30) as client,
    ):
        assert client.post(CRDS, json=BAG_CRD).status_code == 201
        for _ in range(50):
            if client.get(BAGS).status_code == 200:
                break
            time.sleep(0.05)
        yield client


def store_version(api: httpx.Client) -> str:
    return str(api.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"])


def refused(response: httpx.Response, code: int, field: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is a clean refusal with ``code``, naming ``field`` when given."""
    assert response.status_code == code, response.text
    status: dict[str, Any] = response.json()
    assert status["kind"] == "Status"
    assert status["code"] == code
    if field is not None:
        causes = [cause.get("field", "") for cause in (status.get("details") or {}).get("causes") or []]
        assert field in status["message"] or field in causes, status
    return status


def post(api: httpx.Client, url: str, body: str | bytes, content_type: str = JSON) -> httpx.Response:
    return api.post(url, content=body, headers={"Content-Type": content_type})


def deployment(name: str, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": labels}, "template": template, **spec},
    }


def configmap(name: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


def bag(name: str, spec: Any) -> dict[str, Any]:
    return {"apiVersion": "test.infleet.dev/v1", "kind": "Bag", "metadata": {"name": name}, "spec": spec}


def rolling(**rolling_update: Any) -> dict[str, Any]:
    return {"type": "RollingUpdate", "rollingUpdate": rolling_update}


def nested(depth: int) -> dict[str, Any]:
    leaf: dict[str, Any] = {}
    node = leaf
    for _ in range(depth - 1):
        node["n"] = {}
        node = node["n"]
    return leaf


# -- malformed bodies: 400/422, never 500 --------------------------------------------------------


def test_a_null_name_is_invalid(api: httpx.Client) -> None:
    before = store_version(api)
    response = post(api, CM, json.dumps(configmap(None)))
    assert 400 <= response.status_code < 500
    refused(response, response.status_code, "metadata.name")
    assert store_version(api) == before
    assert api.get(CM).status_code == 200


@pytest.mark.parametrize("number", ["9223372036854775808", "-9223372036854775809", "18446744073709551616"])
def test_integers_outside_int64_are_refused(api: httpx.Client, number: str) -> None:
    before = store_version(api)
    body = json.dumps(configmap("big")).replace('"data"', f'"x": {number}, "data"')
    refused(post(api, CM, body), 400)
    crd_body = json.dumps(bag("big", {"size": 0})).replace('"size": 0', f'"size": {number}')
    refused(post(api, BAGS, crd_body), 400)
    assert store_version(api) == before


@pytest.mark.parametrize("depth", [120, 251, 300, 1023, 2000])
def test_nesting_past_the_limit_is_refused_on_every_path(api: httpx.Client, depth: int) -> None:
    before = store_version(api)
    spec = '{"n": ' * (depth - 1) + "{}" + "}" * (depth - 1)  # json.dumps itself stops near 1,000
    body = json.dumps(bag(f"deep-{depth}", "SPEC")).replace('"SPEC"', spec)
    status = refused(post(api, BAGS, body), 400)
    assert "deeper than 100 levels" in status["message"]
    document = "apiVersion: test.infleet.dev/v1\nkind: Bag\nmetadata: {name: deep}\n"
    refused(post(api, BAGS, document + "spec: " + spec, "application/yaml"), 400)
    assert store_version(api) == before
    assert api.get(BAGS).status_code == 200


def test_nesting_reached_by_a_patch_is_refused_too(api: httpx.Client) -> None:
    assert post(api, BAGS, json.dumps(bag("grows", nested(60)))).status_code == 201
    before = store_version(api)
    pointer = "/spec" + "/n" * 59
    patch = [{"op": "add", "path": pointer + "/more", "value": nested(80)}]
    response = api.patch(
        f"{BAGS}/grows", content=json.dumps(patch), headers={"Content-Type": "application/json-patch+json"}
    )
    refused(response, 422)
    assert store_version(api) == before
    assert api.get(BAGS).status_code == 200


def test_an_object_within_the_nesting_limit_is_stored_and_listed(api: httpx.Client) -> None:
    assert post(api, BAGS, json.dumps(bag("deep-ok", nested(90)))).status_code == 201
    listed = api.get(BAGS)
    assert listed.status_code == 200
    assert "deep-ok" in {item["metadata"]["name"] for item in listed.json()["items"]}


def test_yaml_alias_bombs_are_refused_fast(api: httpx.Client) -> None:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: bomb}", "a0: &a0 [x, x, x, x, x, x]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    lines.append("data: {k: v}")
    before = store_version(api)
    started = time.monotonic()
    status = refused(post(api, CM, "\n".join(lines), "application/yaml"), 400)
    assert time.monotonic() - started < 2
    assert "alias" in status["message"]
    assert store_version(api) == before


def test_yaml_with_a_few_aliases_is_accepted(api: httpx.Client) -> None:
    document = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aliased\n  labels: &l {app: web}\n"
    document += "  annotations: *l\n"
    assert post(api, CM, document, "application/yaml").status_code == 201
    assert api.get(f"{CM}/aliased").json()["metadata"]["annotations"] == {"app": "web"}


def test_yaml_timestamps_stay_strings(api: httpx.Client) -> None:
    document = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dated}\ndata: {when: 2026-12-04}\n"
    assert post(api, CM, document, "application/yaml").status_code == 201
    assert api.get(f"{CM}/dated").json()["data"] == {"when": "2026-12-04"}


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (DEPLOY, {**deployment("s"), "spec": "x"}, "spec"),
        (DEPLOY, {**deployment("t"), "status": "x"}, "status"),
        (BAGS, bag("s", 5), "spec"),
        (BAGS, bag("s", []), "spec"),
    ],
)
def test_a_wrong_typed_spec_or_status_is_invalid(api: httpx.Client, url: str, body: Any, field: str) -> None:
    before = store_version(api)
    refused(post(api, url, json.dumps(body)), 422, field)
    assert store_version(api) == before


# -- invalid objects: refused as kube-apiserver refuses them -------------------------------------


def test_an_api_version_of_another_version_is_refused(api: httpx.Client) -> None:
    body = {"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "v2"}}
    refused(post(api, CM, json.dumps(body)), 400, "v2")
    assert api.get(f"{CM}/v2").status_code == 404


def test_a_custom_resource_without_kind_or_api_version_is_refused(api: httpx.Client) -> None:
    no_kind = {"apiVersion": "test.infleet.dev/v1", "metadata": {"name": "nokind"}}
    refused(post(api, BAGS, json.dumps(no_kind)), 400, "kind")
    no_version = {"kind": "Bag", "metadata": {"name": "noversion"}}
    refused(post(api, BAGS, json.dumps(no_version)), 400, "apiVersion")


def test_a_built_in_kind_takes_kind_and_api_version_from_the_url(api: httpx.Client) -> None:
    # kube-apiserver decodes built-in kinds with the URL's kind as the default (kopf posts Events so).
    response = post(api, CM, json.dumps({"metadata": {"name": "from-url"}}))
    assert response.status_code == 201, response.text
    assert (response.json()["apiVersion"], response.json()["kind"]) == ("v1", "ConfigMap")


@pytest.mark.parametrize("key", ["a b/c!", "-starts-with-dash", "x" * 64, "a/b/c", "Example.COM/ok"])
def test_bad_label_keys_are_invalid(api: httpx.Client, key: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "labelled", "labels": {key: "v"}}}
    refused(post(api, CM, json.dumps(body)), 422, "metadata.labels")


def test_good_label_keys_are_accepted(api: httpx.Client) -> None:
    labels = {"app.kubernetes.io/name": "web", "example.com/tier": "front", "plain": ""}
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good-labels", "labels": labels}}
    assert post(api, CM, json.dumps(body)).status_code == 201


def test_duplicate_keys_are_refused_under_strict(api: httpx.Client) -> None:
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"1","a":"2"}}'
    response = api.post(
        CM, params={"fieldValidation": "Strict"}, content=body, headers={"Content-Type": "application/json"}
    )
    refused(response, 400, 'duplicate field "data.a"')
    warned = api.post(
        CM, params={"fieldValidation": "Warn"}, content=body, headers={"Content-Type": "application/json"}
    )
    assert warned.status_code == 201
    assert 'duplicate field \\"data.a\\"' in warned.headers.get("warning", "")


def test_duplicate_yaml_keys_are_refused_under_strict(api: httpx.Client) -> None:
    document = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dupyaml}\ndata: {a: '1', a: '2'}\n"
    response = api.post(
        CM,
        params={"fieldValidation": "Strict"},
        content=document,
        headers={"Content-Type": "application/yaml"},
    )
    refused(response, 400, 'duplicate field "data.a"')


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"replicas": -1}, "spec.replicas"),
        ({"replicas": 2**31}, "spec.replicas"),
        ({"replicas": 2**63 - 1}, "spec.replicas"),
        ({"strategy": rolling(maxSurge=-5)}, "spec.strategy.rollingUpdate.maxSurge"),
        ({"strategy": rolling(maxSurge=0, maxUnavailable=0)}, "spec.strategy.rollingUpdate.maxUnavailable"),
        ({"strategy": rolling(maxSurge="150x")}, "spec.strategy.rollingUpdate.maxSurge"),
        ({"strategy": rolling(maxUnavailable="101%")}, "spec.strategy.rollingUpdate.maxUnavailable"),
        ({"strategy": {"type": "Recreate", "rollingUpdate": {}}}, "spec.strategy.rollingUpdate"),
        ({"strategy": {"type": "Sideways"}}, "spec.strategy.type"),
        ({"revisionHistoryLimit": -1}, "spec.revisionHistoryLimit"),
        ({"minReadySeconds": -3}, "spec.minReadySeconds"),
    ],
)
def test_deployment_spec_ranges_are_checked(api: httpx.Client, spec: dict[str, Any], field: str) -> None:
    before = store_version(api)
    refused(post(api, DEPLOY, json.dumps(deployment("ranged", **spec))), 422, field)
    assert store_version(api) == before


def test_a_pod_template_without_containers_is_invalid(api: httpx.Client) -> None:
    body = deployment("empty")
    body["spec"]["template"]["spec"]["containers"] = []
    refused(post(api, DEPLOY, json.dumps(body)), 422, "spec.template.spec.containers")


def test_a_selector_that_does_not_match_the_template_is_invalid(api: httpx.Client) -> None:
    body = deployment("mismatch")
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    refused(post(api, DEPLOY, json.dumps(body)), 422, "spec.template.metadata.labels")


def test_duplicate_container_names_are_invalid(api: httpx.Client) -> None:
    body = deployment("twins")
    body["spec"]["template"]["spec"]["containers"] *= 2
    refused(post(api, DEPLOY, json.dumps(body)), 422, "spec.template.spec.containers[1].name")


def test_a_pod_without_containers_is_invalid(api: httpx.Client) -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"}, "spec": {"containers": []}}
    refused(post(api, "/api/v1/namespaces/default/pods", json.dumps(body)), 422, "spec.containers")


def test_a_valid_deployment_is_still_accepted(api: httpx.Client) -> None:
    response = post(api, DEPLOY, json.dumps(deployment("fine", replicas=3)))
    assert response.status_code == 201, response.text
    rolling_update = response.json()["spec"]["strategy"]["rollingUpdate"]
    assert rolling_update == {"maxSurge": "25%", "maxUnavailable": "25%"}


def test_an_object_grown_past_the_size_limit_by_patches_is_refused(api: httpx.Client) -> None:
    assert post(api, CM, json.dumps(configmap("grows-big"))).status_code == 201
    chunk = "x" * (1024 * 1024)
    merge = {"Content-Type": "application/merge-patch+json"}
    for key in ("a", "b"):
        patch = json.dumps({"data": {key: chunk}})
        assert api.patch(f"{CM}/grows-big", content=patch, headers=merge).status_code == 200
    before = store_version(api)
    status = refused(
        api.patch(f"{CM}/grows-big", content=json.dumps({"data": {"c": chunk}}), headers=merge), 422
    )
    assert "at most 3145728 bytes" in status["message"]
    assert store_version(api) == before
    assert len(api.get(f"{CM}/grows-big").json()["data"]) == 2
