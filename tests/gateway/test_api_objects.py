"""The gateway configured from the API: ModelRoutes, GatewayKeys and their Secrets, a ModelDeployment a
route claims and a GIE InferencePool's ready pod, on an embedded API server; requests are routed,
authenticated and pinned accordingly, and follow changes (a rotated key, a new route) live."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.gateway_aitoolchain_io.v1alpha1.gateway_key import GATEWAY_KEY
from infleet.api.gateway_aitoolchain_io.v1alpha1.model_route import MODEL_ROUTE
from infleet.api.inference_networking_k8s_io.v1.inference_pool import INFERENCE_POOL
from infleet.api.kubernetes import NAMESPACE, NODE, POD, SECRET
from infleet.api.labels import ENDPOINT_ANNOTATION, REGION_LABEL
from infleet.gateway.app import GatewayApp
from infleet.gateway.config import parse_config
from infleet.gateway.fleet_discovery import FleetDiscovery
from infleet.kube.cluster_client import ClusterClient
from tests.fleet.hub.conftest import running_hub, until
from tests.gateway.conftest import FakeEngine, LoopbackServer, call, chat


def secret(name: str, **data: str) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "llm"},
        "data": encoded,
    }


def obj(kind: Any, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": "llm", **metadata}
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": spec}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ClusterClient]:
    async with running_hub(tmp_path, lambda manager, client: None) as client:
        await client.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm"}})
        yield client


async def ready_pod(client: ClusterClient, name: str, endpoint: str, node: str = "") -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "llm",
            "labels": {"app": "pool"},
            "annotations": {ENDPOINT_ANNOTATION: endpoint},
        },
        "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]},
    }
    if node:
        pod["spec"]["nodeName"] = node
    await client.create(POD, pod)
    status = {"status": {"podIP": "127.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}}
    await client.patch(POD, name, status, "llm", subresource="status")


async def test_routes_keys_and_pools_declared_in_the_api_route_and_authenticate(api: ClusterClient) -> None:
    provider = await LoopbackServer(FakeEngine("qwen-served", name="provider")).start()
    replica = await LoopbackServer(FakeEngine("qwen-served", name="replica")).start()
    pool_engine = await LoopbackServer(FakeEngine("vllm-pool", name="pool")).start()
    await api.create(SECRET, secret("keys", team="sk-team", ops="sk-ops"))
    await api.create(SECRET, secret("upstream", token="sk-provider"))
    await api.create(
        GATEWAY_KEY,
        obj(
            GATEWAY_KEY,
            "team",
            {
                "secretRef": {"name": "keys", "key": "team"},
                "models": ["chat"],
                "allowedRegions": ["westeurope"],
            },
        ),
    )
    await api.create(GATEWAY_KEY, obj(GATEWAY_KEY, "ops", {"secretRef": {"name": "keys", "key": "ops"}}))
    deployment = await api.create(
        MODEL_DEPLOYMENT,
        obj(MODEL_DEPLOYMENT, "qwen", {"model": "qwen2-7b", "servedModelName": "qwen-served"}),
    )
    deployment["status"] = {
        "replicaStatus": [{"name": "qwen-0", "ready": True, "endpoint": replica.url.removeprefix("http://")}]
    }
    await api.replace(MODEL_DEPLOYMENT, deployment, subresource="status")
    route = {
        "model": "chat",
        "aliases": ["gpt-4o"],
        "deployments": [{"name": "qwen"}],
        "providers": [
            {
                "name": "eu-provider",
                "url": f"{provider.url}/v1",
                "model": "qwen-served",
                "region": "westeurope",
                "apiKeySecretRef": {"name": "upstream", "key": "token"},
            }
        ],
    }
    await api.create(MODEL_ROUTE, obj(MODEL_ROUTE, "chat", route))
    await api.create(
        INFERENCE_POOL,
        obj(
            INFERENCE_POOL,
            "vllm-pool",
            {"selector": {"matchLabels": {"app": "pool"}}, "targetPorts": [{"number": 8000}]},
        ),
    )
    await ready_pod(api, "pool-0", pool_engine.url.removeprefix("http://"))

    config = parse_config(
        {"health": {"enabled": False}, "scrape": {"enabled": False}, "access_log": {"enabled": False}},
        discovery=True,
    )
    app = GatewayApp(config, discovery=FleetDiscovery(api, settle=0.01))
    await app.startup()
    try:

        async def routed() -> bool:
            pool = app.table.lookup("vllm-pool")
            chat_route = app.table.lookup("chat")
            return bool(pool and pool.replicas and chat_route and len(chat_route.replicas) == 2)

        await until(routed, what="the gateway routes the route and the pool")
        assert app.table.lookup("qwen-served") is None  # claimed by the route: no walking around its pin

        team = {"authorization": "Bearer sk-team"}
        ops = {"authorization": "Bearer sk-ops"}
        assert (await call(app, "/v1/chat/completions", chat("chat"))).status == 401
        for _ in range(3):
            reply = await call(app, "/v1/chat/completions", chat("gpt-4o"), headers=team)
            assert reply.status == 200, reply.body
            assert reply.headers[b"x-infleet-backend"] == b"eu-provider"  # the pin: the replica has no region
            assert reply.json()["model"] == "gpt-4o"
        assert (await call(app, "/v1/chat/completions", chat("vllm-pool"), headers=team)).status == 403
        pooled = await call(app, "/v1/chat/completions", chat("vllm-pool"), headers=ops)
        assert pooled.status == 200
        assert pooled.headers[b"x-infleet-backend"] == b"pool-0"
        # Idle backends tie and the tie is broken at random: 8 calls all to one would happen once in 128
        # runs, so call until both have answered (at most 64 calls: a chance of 2**-63 by luck alone).
        backends: set[bytes] = set()
        for _ in range(64):
            reply = await call(app, "/v1/chat/completions", chat("chat"), headers=ops)
            assert reply.status == 200, reply.body
            backends.add(reply.headers[b"x-infleet-backend"])
            if len(backends) == 2:
                break
        assert backends == {b"eu-provider", b"qwen-0"}

        # A rotated key: the old one is refused, the new one accepted, without a restart.
        rotated = secret("keys", team="sk-team-2", ops="sk-ops")
        rotated["metadata"]["resourceVersion"] = (await api.get(SECRET, "keys", "llm"))["metadata"][
            "resourceVersion"
        ]
        await api.replace(SECRET, rotated)

        async def rotated_in() -> bool:
            return (
                await call(
                    app, "/v1/chat/completions", chat("chat"), headers={"authorization": "Bearer sk-team-2"}
                )
            ).status == 200

        await until(rotated_in, what="the rotated key is accepted")
        assert (await call(app, "/v1/chat/completions", chat("chat"), headers=team)).status == 401
    finally:
        await app.shutdown()
        for server in (provider, replica, pool_engine):
            await server.stop()


async def test_a_pools_pods_take_their_nodes_region_so_locality_and_pins_hold(api: ClusterClient) -> None:
    """Each pod of an InferencePool counts in its Node's topology.kubernetes.io/region: an EU-pinned key
    is served only by the EU pod, and a request preferring the US is served there."""
    eu_engine = await LoopbackServer(FakeEngine("vllm-pool", name="eu")).start()
    us_engine = await LoopbackServer(FakeEngine("vllm-pool", name="us")).start()
    for node, region in (("gpu-eu", "westeurope"), ("gpu-us", "eastus")):
        labels = {REGION_LABEL: region}
        await api.create(
            NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": labels}}
        )
    await api.create(SECRET, secret("keys", eu="sk-eu", any="sk-any"))
    pin = {"secretRef": {"name": "keys", "key": "eu"}, "allowedRegions": ["westeurope"]}
    await api.create(GATEWAY_KEY, obj(GATEWAY_KEY, "eu", pin))
    await api.create(GATEWAY_KEY, obj(GATEWAY_KEY, "any", {"secretRef": {"name": "keys", "key": "any"}}))
    pool = {"selector": {"matchLabels": {"app": "pool"}}, "targetPorts": [{"number": 8000}]}
    await api.create(INFERENCE_POOL, obj(INFERENCE_POOL, "vllm-pool", pool))
    await ready_pod(api, "pool-eu", eu_engine.url.removeprefix("http://"), node="gpu-eu")
    await ready_pod(api, "pool-us", us_engine.url.removeprefix("http://"), node="gpu-us")
    config = parse_config(
        {"health": {"enabled": False}, "scrape": {"enabled": False}, "access_log": {"enabled": False}},
        discovery=True,
    )
    app = GatewayApp(config, discovery=FleetDiscovery(api, settle=0.01))
    await app.startup()
    try:

        async def routed() -> bool:
            route = app.table.lookup("vllm-pool")
            return bool(route and {r.region for r in route.replicas} == {"westeurope", "eastus"})

        await until(routed, what="both pool pods routed with their nodes' regions")
        for _ in range(4):
            pinned = await call(
                app, "/v1/chat/completions", chat("vllm-pool"), headers={"authorization": "Bearer sk-eu"}
            )
            assert pinned.headers[b"x-infleet-backend"] == b"pool-eu"
        preferring_us = {"authorization": "Bearer sk-any", "x-infleet-region": "eastus"}
        near = await call(app, "/v1/chat/completions", chat("vllm-pool"), headers=preferring_us)
        assert near.headers[b"x-infleet-backend"] == b"pool-us"
    finally:
        await app.shutdown()
        for server in (eu_engine, us_engine):
            await server.stop()
