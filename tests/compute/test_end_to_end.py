"""End to end in the embedded cluster: one simulated member with a single CPU node, the models
controller and the compute controllers over the simulated cloud provider. A ModelDeployment scaled from 1
to many replicas makes the provisioner ask for GPU nodes; they launch in more than one cloud (the
cheapest cloud's GPU quota runs out), register with the simulated kubelet, initialize, and every replica
becomes Ready; scaled back to one, the idle nodes are consolidated away and the cost returns to the one
node it needs. 40 replicas at time scale 0.002; ``benchmarks/provisioning.py`` measures 1,000 pods.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.catalog import load_catalog
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS
from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.kubernetes import NODE, POD
from infleet.api.labels import CLOUD_LABEL, NODECLAIM_LABEL, NODEPOOL_HASH_ANNOTATION, PRICE_LABEL
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.compute.cloudprovider.simulated import SimulatedCloudProvider
from infleet.compute.disruption_manager import add_disruption_controllers
from infleet.compute.disruption_settings import DisruptionSettings
from infleet.compute.manager import ComputeSettings, add_compute_controllers
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.conditions import is_true
from infleet.kube.manager import Manager, ManagerSettings
from infleet.models.manager import ModelsSettings, add_models_controller
from infleet.models.reconciler import ReconcilerSettings
from infleet.sim import mini_engine, node_pools, simulated_cluster
from infleet.sim import settings as sim_settings_module
from tests.models.conftest import install_crds

TIME_SCALE = 0.002
REPLICAS = 40
NODE_CLASS = {
    "apiVersion": "compute.aitoolchain.io/v1alpha1",
    "kind": "FlexNodeClass",
    "metadata": {"name": "multicloud"},
    "spec": {
        "clouds": [
            {"name": "aws", "quota": {"nvidia.com/gpu": 8}, "spot": False},
            {"name": "gcp", "spot": False},
            {"name": "coreweave"},
            {"name": "onprem", "quota": {"nvidia.com/gpu": 8}},
        ]
    },
}
NODE_POOL_MANIFEST = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodePool",
    "metadata": {"name": "gpu"},
    "spec": {
        "template": {
            "spec": {
                "nodeClassRef": {
                    "group": "compute.aitoolchain.io",
                    "kind": "FlexNodeClass",
                    "name": "multicloud",
                },
                "startupTaints": [{"key": "nvidia.com/gpu-driver", "effect": "NoSchedule"}],
            }
        },
        "limits": {"nvidia.com/gpu": 64},
        # Empty nodes go a second after their last pod, many at once, so the test sees the scale-back.
        "disruption": {
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": "1s",
            "budgets": [{"nodes": "50%"}],
        },
    },
}


def model_deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "aitoolchain.io/v1",
        "kind": "ModelDeployment",
        "metadata": {"name": "qwen", "namespace": "default"},
        "spec": {"model": "qwen2-7b", "engine": "vllm", "replicas": replicas, "resources": {"gpu": 1}},
    }


async def running_member(tmp_path: Path) -> AsyncIterator[tuple[ClusterClient, SimulatedCloudProvider]]:
    kubeconfig = tmp_path / "kubeconfig"
    server = EmbeddedAPIServer(
        APIServerSettings(
            port=0,
            data_dir=tmp_path / "data",
            clusters=("hub", "member"),
            kubeconfig_out=kubeconfig,
            tls=False,
        )
    )
    await server.start()
    factory = ClientFactory(kubeconfig)
    client = factory.client("infleet-member", "member")
    await install_crds(client, MODEL_DEPLOYMENT)
    manager = Manager(ManagerSettings(handle_signals=False))
    settings = sim_settings_module.SimSettings(
        time_scale=TIME_SCALE, log_dir=tmp_path / "logs", heartbeat_interval=0.5
    )
    cpu = node_pools.NodePool("system", "", 0, 1, "", "aws", "us-east-1", "us-east-1a")
    engines = mini_engine.MiniEngineLauncher()
    simulated = simulated_cluster.add_simulated_cluster(manager, client, [cpu], settings, engines)
    models = ModelsSettings(
        scrape_interval=0.2, rate_window=1.0, reconciler=ReconcilerSettings(autoscale_interval=0.2)
    )
    add_models_controller(manager, client, models)
    provider = SimulatedCloudProvider(client, load_catalog(), time_scale=TIME_SCALE)
    add_compute_controllers(manager, client, provider, ComputeSettings().scaled(0.05), rng=random.Random(7))
    # Karpenter's 15 s validation period, scaled like the poll interval.
    disruption = DisruptionSettings(
        poll_interval_seconds=0.2, replacement_timeout_seconds=30.0, consolidation_validation_seconds=0.3
    )
    add_disruption_controllers(manager, client, provider, disruption)
    await simulated.heartbeat.register()
    task = asyncio.ensure_future(manager.run())
    try:
        yield client, provider
    finally:
        manager.stop()
        await asyncio.wait_for(task, 15)
        await engines.close()
        await factory.close()
        await server.stop()


@pytest.fixture
async def member(tmp_path: Path) -> AsyncIterator[tuple[ClusterClient, SimulatedCloudProvider]]:
    async for running in running_member(tmp_path):
        yield running


async def ready_replicas(client: ClusterClient) -> int:
    pods = (await client.list(POD, "default")).items
    return sum(1 for p in pods if is_true((p.get("status") or {}).get("conditions"), "Ready"))


def pending_claims(claims: list[dict[str, Any]]) -> list[str]:
    """NodeClaims not yet Initialized."""
    return [
        c["metadata"]["name"]
        for c in claims
        if not is_true((c.get("status") or {}).get("conditions"), "Initialized")
    ]


async def test_scaling_out_provisions_nodes_across_clouds_until_every_replica_is_ready(
    member: tuple[ClusterClient, SimulatedCloudProvider],
) -> None:
    client, provider = member
    await client.create(FLEX_NODE_CLASS, NODE_CLASS)
    await client.create(NODE_POOL, NODE_POOL_MANIFEST)
    await client.create(MODEL_DEPLOYMENT, model_deployment(1))
    started = time.perf_counter()
    async with asyncio.timeout(60):
        while await ready_replicas(client) < 1:  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.1)
    first = time.perf_counter() - started
    await client.patch(MODEL_DEPLOYMENT, "qwen", {"spec": {"replicas": REPLICAS}}, "default")
    started = time.perf_counter()
    async with asyncio.timeout(120):
        while await ready_replicas(client) < REPLICAS:  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    # A claim made for a pod the scheduler placed elsewhere meanwhile may still be launching when the
    # last replica turns Ready (Karpenter's provisioner races the scheduler the same way); what must
    # not happen is a claim that never initializes.
    async with asyncio.timeout(30):
        while pending_claims(claims := (await client.list(NODE_CLAIM)).items):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    nodes = [n for n in (await client.list(NODE)).items if CLOUD_LABEL in (n["metadata"].get("labels") or {})]
    clouds = {
        (n["metadata"]["labels"] or {}).get(CLOUD_LABEL)
        for n in nodes
        if n["metadata"]["name"] != "member-system-0"
    }
    print(
        f"\n1 replica Ready in {first:.1f}s; 1 -> {REPLICAS} Ready in {elapsed:.1f}s "
        f"(time scale {TIME_SCALE}); "
        f"{len(claims)} NodeClaims, clouds {sorted(c for c in clouds if c)}, {provider.launches} launches"
    )
    assert all(is_true((c.get("status") or {}).get("conditions"), "Initialized") for c in claims)
    assert len(clouds) > 1
    # Stamped for drift detection; nothing changed, so none is Drifted.
    assert all(NODEPOOL_HASH_ANNOTATION in (c["metadata"].get("annotations") or {}) for c in claims)
    assert not any(is_true((c.get("status") or {}).get("conditions"), "Drifted") for c in claims)
    # The NodePool's status counts its nodes as the compute controllers next write it.
    async with asyncio.timeout(30):
        while (await client.get(NODE_POOL, "gpu"))["status"]["resources"]["nodes"] != str(len(claims)):  # noqa: ASYNC110
            await asyncio.sleep(0.2)

    # Back to one replica: the idle nodes are consolidated away and the cost returns to one node's.
    before = await provisioned_cost(client)
    await client.patch(MODEL_DEPLOYMENT, "qwen", {"spec": {"replicas": 1}}, "default")
    started = time.perf_counter()
    async with asyncio.timeout(60):
        while len((await client.list(NODE_CLAIM)).items) > 1:  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.2)
    after = await provisioned_cost(client)
    took = time.perf_counter() - started
    print(f"scale back to 1: consolidated in {took:.1f}s, ${before:.2f}/h -> ${after:.2f}/h")
    assert await ready_replicas(client) == 1
    [remaining] = [
        n for n in (await client.list(NODE)).items if NODECLAIM_LABEL in (n["metadata"].get("labels") or {})
    ]
    assert after == float(remaining["metadata"]["labels"][PRICE_LABEL])  # the baseline: the one node it needs


async def provisioned_cost(client: ClusterClient) -> float:
    """$/hour of the nodes the compute layer provisioned (their price labels)."""
    nodes = (await client.list(NODE)).items
    return sum(
        float(n["metadata"]["labels"][PRICE_LABEL])
        for n in nodes
        if NODECLAIM_LABEL in (n["metadata"].get("labels") or {})
    )
