"""The fleet's share of the gateway's configuration: ModelRoutes take the deployments they name (by name
or labels) under their public name and settings and claim them from plain discovery; GatewayKeys are read
from Secrets and hashed; InferencePools route their ready pods; the file wins over all of it."""

from __future__ import annotations

import base64
from typing import Any

from infleet.api.catalog import load_catalog
from infleet.api.labels import (
    CLOUD_LABEL,
    ENDPOINT_ANNOTATION,
    GPU_SKU_LABEL,
    MODEL_ANNOTATION,
    REGION_LABEL,
)
from infleet.gateway.config import KeyConfig, ModelConfig, hash_key, parse_config
from infleet.gateway.fleet_config import FleetObjects, fleet_config, merge_fleet

CATALOG = load_catalog()


def deployment(
    name: str, served: str, *endpoints: str, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "llm", "labels": labels or {}},
        "spec": {"model": "qwen2-7b", "servedModelName": served},
        "status": {
            "clusters": [
                {
                    "clusterName": "eu",
                    "servingReplicas": [{"name": f"r{i}", "endpoint": e} for i, e in enumerate(endpoints)],
                }
            ]
        },
    }


def route(name: str, spec: dict[str, Any], namespace: str = "llm") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def secret(name: str, **data: str) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"metadata": {"name": name, "namespace": "llm"}, "data": encoded}


def test_a_route_takes_its_deployments_under_its_public_name_and_claims_them() -> None:
    objects = FleetObjects(
        deployments=[
            deployment("qwen-a", "qwen-served", "10.0.0.1:8000"),
            deployment("qwen-b", "qwen-b-served", "10.0.0.2:8000", labels={"team": "chat"}),
            deployment("other", "other-served", "10.0.0.3:8000"),
        ],
        members=[{"metadata": {"name": "eu", "labels": {REGION_LABEL: "westeurope", CLOUD_LABEL: "azure"}}}],
        routes=[
            route(
                "chat",
                {
                    "model": "chat",
                    "aliases": ["gpt-4o"],
                    "deployments": [{"name": "qwen-a"}],
                    "deploymentSelector": {"matchLabels": {"team": "chat"}},
                    "allowedRegions": ["westeurope"],
                    "rpm": 10,
                    "fallbacks": ["other-served"],
                },
            )
        ],
    )
    models = {m.name: m for m in fleet_config(objects, CATALOG).models}
    assert sorted(models) == ["chat", "other-served"]  # qwen-served and qwen-b-served were claimed
    chat = models["chat"]
    assert [b.model for b in chat.backends] == ["qwen-served", "qwen-b-served"]  # engines keep their names
    assert [b.region for b in chat.backends] == ["westeurope", "westeurope"]
    assert [b.cloud for b in chat.backends] == ["azure", "azure"]  # the member's cloud label
    assert (chat.aliases, chat.allowed_regions, chat.rpm) == (["gpt-4o"], ["westeurope"], 10)
    assert chat.fallbacks == ["other-served"]


def test_routes_before_discovery_before_pools_and_the_first_route_keeps_a_name() -> None:
    pool = {
        "metadata": {"name": "chat", "namespace": "llm"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "targetPorts": [{"number": 8000}]},
    }
    objects = FleetObjects(
        deployments=[deployment("d", "chat", "10.0.0.1:8000")],
        routes=[
            route("a", {"model": "chat", "providers": [{"name": "p1", "url": "https://a.example/v1"}]}),
            route("b", {"model": "chat", "providers": [{"name": "p2", "url": "https://b.example/v1"}]}),
        ],
        pools=[pool],
    )
    [chat] = fleet_config(objects, CATALOG).models
    assert [b.name for b in chat.backends] == ["p1"]  # route a; not route b, the deployment or the pool
    assert chat.backends[0].external


def test_keys_and_provider_keys_come_from_secrets_hashed_and_missing_ones_are_left_out() -> None:
    objects = FleetObjects(
        routes=[
            route(
                "ext",
                {
                    "model": "gpt",
                    "providers": [
                        {
                            "name": "openai",
                            "url": "https://api.openai.com/v1",
                            "model": "gpt-4o",
                            "apiKeySecretRef": {"name": "openai", "key": "token"},
                        },
                        {
                            "name": "nokey",
                            "url": "https://x.example/v1",
                            "apiKeySecretRef": {"name": "absent", "key": "token"},
                        },
                    ],
                },
            )
        ],
        keys=[
            route(
                "team",
                {
                    "secretRef": {"name": "keys", "key": "team"},
                    "allowedRegions": ["westeurope"],
                    "homeRegion": "westeurope",
                    "models": ["gpt"],
                    "priority": "critical",
                },
            ),
            route("ghost", {"secretRef": {"name": "keys", "key": "nope"}}),
        ],
        secrets=[secret("openai", token="sk-provider"), secret("keys", team="sk-team\n")],
    )
    config = fleet_config(objects, CATALOG)
    [gpt] = config.models
    [backend] = gpt.backends
    assert backend.name == "openai"
    assert backend.model == "gpt-4o"
    assert backend.api_key is not None
    assert backend.api_key.get_secret_value() == "sk-provider"
    [key] = config.keys
    assert key.name == "llm/team"
    assert key.hash == f"sha256:{hash_key('sk-team')}"  # trimmed, hashed like the file's keys
    assert (key.allowed_regions, key.home_region, key.models, key.priority) == (
        ["westeurope"],
        "westeurope",
        ["gpt"],
        "critical",
    )
    assert "sk-team" not in repr(config)


def test_a_pool_routes_its_ready_pods_under_the_model_they_serve() -> None:
    def pod(name: str, ready: bool, labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
        condition = {"type": "Ready", "status": "True" if ready else "False"}
        return {
            "metadata": {"name": name, "namespace": "llm", "labels": labels, "annotations": annotations},
            "status": {"podIP": f"10.2.0.{len(name)}", "conditions": [condition]},
        }

    pool = {
        "metadata": {"name": "vllm-llama", "namespace": "llm"},
        "spec": {"selector": {"matchLabels": {"app": "llama"}}, "targetPorts": [{"number": 8000}]},
    }
    served = {MODEL_ANNOTATION: "meta-llama/Llama-3.1-8B-Instruct"}
    objects = FleetObjects(
        pools=[pool],
        pods=[
            pod("a", True, {"app": "llama"}, served),
            pod("bb", True, {"app": "llama"}, {**served, ENDPOINT_ANNOTATION: "127.0.0.1:5001"}),
            pod("ccc", False, {"app": "llama"}, served),
            pod("dddd", True, {"app": "other"}, served),
        ],
    )
    [model] = fleet_config(objects, CATALOG, local_cluster="eu").models
    assert model.name == "meta-llama/Llama-3.1-8B-Instruct"
    assert model.aliases == ["vllm-llama"]
    assert [(b.name, b.url) for b in model.backends] == [
        ("eu/a", "http://10.2.0.1:8000"),
        ("eu/bb", "http://127.0.0.1:5001"),
    ]


def test_the_file_wins_over_the_fleet_for_models_aliases_and_keys() -> None:
    file = parse_config(
        {
            "models": [{"name": "chat", "aliases": ["fast"], "backends": [{"url": "http://10.9.0.1:8000"}]}],
            "keys": [{"name": "file-team", "hash": f"sha256:{hash_key('sk-same')}"}],
        }
    )
    fleet_models = [
        ModelConfig(name="chat"),
        ModelConfig(name="other", aliases=["fast", "o"], profile="no-such-profile"),
    ]
    fleet_keys = [KeyConfig(name="llm/team", hash=f"sha256:{hash_key('sk-same')}")]
    merged = merge_fleet(file, fleet_models, fleet_keys)
    assert [(m.name, m.aliases) for m in merged.models] == [("chat", ["fast"]), ("other", ["o"])]
    assert merged.models[0].backends[0].url == "http://10.9.0.1:8000"
    assert merged.models[1].profile == "default"
    assert [k.name for k in merged.keys] == ["llm/team", "file-team"]  # the later, the file's, wins


def test_a_pools_pods_carry_the_pools_region_else_their_nodes_else_the_members() -> None:
    def pod(name: str, node: str, app: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "namespace": "llm", "labels": {"app": app}},
            "spec": {"nodeName": node},
            "status": {"podIP": "10.2.0.9", "conditions": [{"type": "Ready", "status": "True"}]},
        }

    def pool(name: str, app: str, **labels: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "namespace": "llm", "labels": labels},
            "spec": {"selector": {"matchLabels": {"app": app}}, "targetPorts": [{"number": 8000}]},
        }

    nodes = [
        {"metadata": {"name": "gpu-1", "labels": {REGION_LABEL: "westeurope", GPU_SKU_LABEL: "H100"}}},
        {"metadata": {"name": "gpu-2", "labels": {CLOUD_LABEL: "aws"}}},
    ]
    member = {"metadata": {"name": "eu", "labels": {REGION_LABEL: "northeurope", CLOUD_LABEL: "azure"}}}
    objects = FleetObjects(
        pools=[pool("by-node", "a"), pool("pinned", "b", **{REGION_LABEL: "swedencentral"})],
        pods=[
            pod("a-0", "gpu-1", "a"),
            pod("a-1", "unlabelled", "a"),
            pod("a-2", "gpu-2", "a"),
            pod("b-0", "gpu-1", "b"),
        ],
        nodes=nodes,
        members=[member],
    )
    models = {m.name: m for m in fleet_config(objects, CATALOG, local_cluster="eu").models}
    assert [(b.name, b.region, b.cloud, b.gpu) for b in models["by-node"].backends] == [
        ("eu/a-0", "westeurope", "azure", "H100"),  # its node's topology and GPU labels
        ("eu/a-1", "northeurope", "azure", ""),  # its node says nothing: the member's region and cloud
        ("eu/a-2", "northeurope", "aws", ""),  # the node's cloud label wins over the member's
    ]
    assert [b.region for b in models["pinned"].backends] == ["swedencentral"]  # the pool's own label wins
