"""Property tests: whatever a client sends, the server answers with a Status, never a 500, and a
refused request changes nothing in the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.apiserver_harness import ServerThread

CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "crd-modelserver.yaml").read_text())
MS = "/apis/llm.example.com/v1alpha1/namespaces/default/modelservers"
TARGETS = [MS, "/api/v1/namespaces/default/configmaps", "/apis/apps/v1/namespaces/default/deployments"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
names = st.one_of(st.text(max_size=12), st.sampled_from(["ok-name", "UPPER", "a.b", "-x", "x" * 300]))
documents = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(["llm.example.com/v1alpha1", "v1", "apps/v1", "bogus/v9"])
        | json_values,
        "kind": st.sampled_from(["ModelServer", "ConfigMap", "Deployment", "Pod"]) | json_values,
        "metadata": st.fixed_dictionaries(
            {"name": names},
            optional={"labels": json_values, "finalizers": json_values, "ownerReferences": json_values},
        )
        | json_values,
    },
    optional={"spec": json_values, "data": json_values, "status": json_values},
)
json_patch_ops = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
            "path": st.sampled_from(
                [
                    "/spec/replicas",
                    "/spec",
                    "/metadata/name",
                    "/metadata/finalizers/-",
                    "/x/y/z",
                    "/metadata/resourceVersion",
                    "",
                    "nope",
                ]
            ),
        },
        optional={"value": json_values, "from": st.sampled_from(["/spec", "/missing", "/metadata/labels"])},
    ),
    max_size=4,
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with (
        ServerThread(tmp_path_factory.mktemp("fuzz")) as server,
        httpx.Client(base_url=server.url("hub"), timeout=10) as client,
    ):
        assert (
            client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD).status_code
            == 201
        )
        base = {
            "apiVersion": "llm.example.com/v1alpha1",
            "kind": "ModelServer",
            "metadata": {"name": "target"},
            "spec": {"model": "m"},
        }
        assert client.post(MS, json=base).status_code == 201
        yield client


def resource_version(api: httpx.Client) -> str:
    return str(api.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"])


def assert_refusal_is_clean(api: httpx.Client, response: httpx.Response, before: str) -> None:
    assert response.status_code != 500, response.text
    if response.status_code >= 400:
        status: dict[str, Any] = response.json()
        assert status["kind"] == "Status"
        assert status["code"] == response.status_code
        assert resource_version(api) == before, "a refused request must not change the store"


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(document=documents, target=st.sampled_from(TARGETS))
def test_random_documents_are_created_or_refused_cleanly(
    api: httpx.Client, document: dict[str, Any], target: str
) -> None:
    before = resource_version(api)
    response = api.post(target, content=json.dumps(document), headers={"Content-Type": "application/json"})
    assert_refusal_is_clean(api, response, before)
    if response.status_code == 201:
        api.delete(f"{target}/{response.json()['metadata']['name']}")


@FUZZ
@given(body=st.binary(max_size=64), target=st.sampled_from(TARGETS))
def test_random_bytes_never_break_the_server(api: httpx.Client, body: bytes, target: str) -> None:
    before = resource_version(api)
    for method in ("POST", "PUT", "PATCH"):
        url = target if method == "POST" else f"{target}/target"
        content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
        response = api.request(method, url, content=body, headers={"Content-Type": content_type})
        assert_refusal_is_clean(api, response, before)
        assert response.status_code >= 400 or body.strip()


@FUZZ
@given(operations=json_patch_ops | json_values)
def test_random_json_patches(api: httpx.Client, operations: Any) -> None:
    before = resource_version(api)
    response = api.patch(
        f"{MS}/target",
        content=json.dumps(operations),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert_refusal_is_clean(api, response, before)


@FUZZ
@given(patch=json_values)
def test_random_merge_patches(api: httpx.Client, patch: Any) -> None:
    before = resource_version(api)
    response = api.patch(
        f"{MS}/target", content=json.dumps(patch), headers={"Content-Type": "application/merge-patch+json"}
    )
    assert_refusal_is_clean(api, response, before)
    assert api.get(f"{MS}/target").json()["metadata"]["name"] == "target"


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "labelSelector",
                "fieldSelector",
                "limit",
                "continue",
                "resourceVersion",
                "watch",
                "timeoutSeconds",
                "fieldValidation",
                "dryRun",
                "propagationPolicy",
            ]
        ),
        st.text(max_size=16),
        max_size=3,
    )
)
def test_random_query_parameters(api: httpx.Client, params: dict[str, str]) -> None:
    before = resource_version(api)
    if params.get("watch") not in (None, "", "0", "f", "F", "false", "FALSE", "False"):
        params["timeoutSeconds"] = "1"
    response = api.get(MS, params=params)
    assert response.status_code != 500, response.text
    assert resource_version(api) == before
