"""An embedded API server with every CRD and the compute layer's provisioning side
(``add_compute_controllers``) in a chosen mode over a fake cloud provider, on the system clock with short
batch windows; and the objects the mode tests write: pools of either node class kind, pending GPU pods,
Nodes brought by their owner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.kubernetes import NODE, POD
from infleet.api.labels import GPU_RESOURCE, GPU_SKU_LABEL, INSTANCE_TYPE_LABEL, NODEPOOL_LABEL
from infleet.compute.manager import ComputeControllers, ComputeSettings, add_compute_controllers
from infleet.compute.mode import ComputeMode
from infleet.compute.provisioner.provisioner import ProvisionerSettings
from infleet.kube.clock import SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.manager import Manager, ManagerSettings
from tests.compute.fake_provider import FakeProvider, shape
from tests.compute.fleet_objects import NODE_CLASS
from tests.compute.served_cluster import served_cluster

FLEX_REF = {"group": "compute.aitoolchain.io", "kind": "FlexNodeClass", "name": NODE_CLASS}
EC2_REF = {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": NODE_CLASS}
FAST = ComputeSettings(provisioner=ProvisionerSettings(batch_idle=0.05, batch_max=0.2, resync=0.5))


@dataclass
class ModeCluster:
    client: ClusterClient
    provider: FakeProvider
    controllers: ComputeControllers

    async def eventually(self, check: Callable[[], Any], within: float = 5.0) -> Any:
        async with asyncio.timeout(within):
            while not (value := await check()):  # noqa: ASYNC110 (polls the API server)
                await asyncio.sleep(0.05)
        return value

    async def claims(self) -> list[dict[str, Any]]:
        return (await self.client.list(NODE_CLAIM)).items

    async def pool(self, name: str) -> dict[str, Any]:
        return await self.client.get(NODE_POOL, name)


@contextlib.asynccontextmanager
async def mode_cluster(tmp_path: Path, mode: ComputeMode) -> AsyncIterator[ModeCluster]:
    async with served_cluster(tmp_path, "member") as client:
        provider = FakeProvider([shape("gpu-8x", 8, 80.0), shape("gpu-1x", 1, 10.0)])
        manager = Manager(ManagerSettings(handle_signals=False))
        controllers = add_compute_controllers(manager, client, provider, FAST, SystemClock(), mode=mode)
        task = asyncio.ensure_future(manager.run())
        try:
            yield ModeCluster(client, provider, controllers)
        finally:
            manager.stop()
            await asyncio.wait_for(task, 15)


async def create_pool(
    client: ClusterClient,
    name: str,
    ref: dict[str, str] = FLEX_REF,
    *,
    replicas: int | None = None,
    requirements: list[dict[str, Any]] | None = None,
    limits: dict[str, Any] | None = None,
) -> None:
    template: dict[str, Any] = {"nodeClassRef": ref}
    if requirements:
        template["requirements"] = requirements
    spec: dict[str, Any] = {
        "template": {"spec": template},
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "0s"},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if limits is not None:
        spec["limits"] = limits
    pool = {"apiVersion": NODE_POOL.api_version, "kind": NODE_POOL.kind, "metadata": {"name": name}}
    await client.create(NODE_POOL, pool | {"spec": spec})


async def create_pending_pod(client: ClusterClient, name: str, gpus: int = 1) -> None:
    """A GPU pod the scheduler found no node for (what the provisioner acts on)."""
    container = {"name": "c", "image": "engine", "resources": {"requests": {GPU_RESOURCE: str(gpus)}}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}}
    await client.create(POD, pod | {"spec": {"containers": [container]}})
    scheduled = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
    status = {"phase": "Pending", "conditions": [scheduled]}
    await client.patch(POD, name, {"status": status}, "default", subresource="status")


async def create_byo_node(client: ClusterClient, name: str, pool: str, gpus: int = 8) -> None:
    """A Node its owner joined to a static pool: labeled with the pool, no NodeClaim behind it."""
    labels = {NODEPOOL_LABEL: pool, INSTANCE_TYPE_LABEL: "p5.48xlarge", GPU_SKU_LABEL: "H100"}
    capacity = {GPU_RESOURCE: str(gpus), "cpu": "192", "memory": "2048Gi", "pods": "110"}
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
    ready = [{"type": "Ready", "status": "True"}]
    await client.create(
        NODE,
        node | {"spec": {}, "status": {"capacity": capacity, "allocatable": capacity, "conditions": ready}},
    )
