"""The gateway's kinds on the API server: CEL rules refuse routes and keys that could serve nothing, with
the field and the fix; a GIE InferencePool manifest applies as GIE users write it; printer columns read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from infleet.api.gateway_aitoolchain_io.v1alpha1.gateway_key import GATEWAY_KEY
from infleet.api.gateway_aitoolchain_io.v1alpha1.model_route import MODEL_ROUTE
from infleet.api.inference_networking_k8s_io.v1.inference_pool import INFERENCE_POOL
from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from tests.fleet.hub.conftest import running_hub


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ClusterClient]:
    async with running_hub(tmp_path, lambda manager, client: None) as client:
        yield client


def obj(kind: ResourceKind, spec: dict[str, Any], name: str = "x") -> dict[str, Any]:
    meta = {"name": name, "namespace": "default"}
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": spec}


async def refused(client: ClusterClient, kind: ResourceKind, spec: dict[str, Any]) -> str:
    with pytest.raises(KubeAPIError) as caught:
        await client.create(kind, obj(kind, spec))
    assert caught.value.code == 422
    return str(caught.value)


async def test_routes_that_could_serve_nothing_are_refused_with_the_field_and_the_fix(
    api: ClusterClient,
) -> None:
    message = await refused(api, MODEL_ROUTE, {"model": "chat"})
    assert "spec.deployments" in message
    assert "spec.providers" in message
    message = await refused(
        api, MODEL_ROUTE, {"model": "chat", "deployments": [{"name": "q"}], "aliases": ["chat"]}
    )
    assert "remove the public name from spec.aliases" in message
    message = await refused(
        api, MODEL_ROUTE, {"model": "chat", "deployments": [{"name": "q"}], "allowedRegions": []}
    )
    assert "spec.allowedRegions is empty" in message
    message = await refused(
        api, MODEL_ROUTE, {"model": "c", "providers": [{"name": "p", "url": "ftp://host/v1"}]}
    )
    assert "http:// or https://" in message
    await api.create(
        MODEL_ROUTE, obj(MODEL_ROUTE, {"model": "chat", "deploymentSelector": {"matchLabels": {"a": "b"}}})
    )


async def test_keys_name_a_secret_and_a_home_region_they_may_use(api: ClusterClient) -> None:
    ref = {"name": "keys", "key": "team"}
    message = await refused(
        api, GATEWAY_KEY, {"secretRef": ref, "allowedRegions": ["westeurope"], "homeRegion": "eastus"}
    )
    assert "spec.homeRegion is not one of spec.allowedRegions" in message
    assert "spec.models is empty" in await refused(api, GATEWAY_KEY, {"secretRef": ref, "models": []})
    await refused(api, GATEWAY_KEY, {"key": "sk-plain"})  # the key itself is never a field
    created = await api.create(
        GATEWAY_KEY, obj(GATEWAY_KEY, {"secretRef": ref, "allowedRegions": ["westeurope"]})
    )
    assert created["spec"]["priority"] == "standard"


async def test_a_gie_inference_pool_manifest_applies_unchanged(api: ClusterClient) -> None:
    spec = {
        "selector": {"matchLabels": {"app": "vllm-llama3-8b-instruct"}},
        "targetPorts": [{"number": 8000}],
        "appProtocol": "http",
        "endpointPickerRef": {
            "name": "vllm-llama3-8b-instruct-epp",
            "port": {"number": 9002},
            "failureMode": "FailOpen",
        },
    }
    created = await api.create(INFERENCE_POOL, obj(INFERENCE_POOL, spec, "vllm-llama3-8b-instruct"))
    assert created["spec"]["endpointPickerRef"]["failureMode"] == "FailOpen"
    await refused(api, INFERENCE_POOL, {**spec, "targetPorts": []})
