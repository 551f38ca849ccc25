"""Registration and heartbeats of a cluster's simulated nodes: creates the pools' missing Nodes (so a
second ``infleet up`` creates none), points them at this process's kubelet endpoint, then renews each
live node's Lease in ``kube-node-lease`` every ``heartbeat_interval`` (one small PATCH per node) and posts
Ready again for recovered nodes. Failed nodes get no heartbeat. Nodes a cloud provider created with a
``sim://`` provider ID are adopted: the kubelet posts Ready for them, the device plugin registers their
GPUs (allocatable), and their Leases are renewed like the pools' own. A Runnable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx2

from infleet.api.kubernetes import LEASE, NODE, NODE_LEASE_NAMESPACE
from infleet.api.labels import GPU_RESOURCE, UNREACHABLE_TAINT
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import is_true, set_condition
from infleet.kube.informer import Informer, InformerEvent
from infleet.kube.status_patch import patch_status
from infleet.sim import faults
from infleet.sim.node_pools import NodePool, node_manifest, regional_factor
from infleet.sim.settings import SimSettings

log = logging.getLogger(__name__)


def micro_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _gpus(capacity: dict[str, Any]) -> dict[str, Any]:
    return {GPU_RESOURCE: capacity[GPU_RESOURCE]} if GPU_RESOURCE in capacity else {}


class NodeHeartbeat:
    """Registers ``pools`` in ``cluster`` and keeps their nodes' Leases fresh."""

    def __init__(
        self,
        client: ClusterClient,
        cluster: str,
        pools: Sequence[NodePool],
        nodes: Informer,
        settings: SimSettings,
        kubelet_port: int,
        clock: Clock | None = None,
    ) -> None:
        self.client, self.cluster, self.pools, self.nodes = client, cluster, list(pools), nodes
        self.settings, self.kubelet_port = settings, kubelet_port
        self.clock: Clock = clock or SystemClock()
        self.beats = 0
        self.adopted: set[str] = set()
        self._wake = asyncio.Event()
        nodes.add_handler(self._on_node)

    def _on_node(self, event: InformerEvent) -> None:
        name = event.obj["metadata"]["name"]
        if event.type != "DELETED" and name not in self.adopted and self._foreign(event.obj):
            self._wake.set()  # adopt a new machine now, not at the next beat

    def _foreign(self, node: dict[str, Any]) -> bool:
        """A simulated machine some cloud provider launched (not one of this cluster's pools)."""
        provider_id = str((node.get("spec") or {}).get("providerID", ""))
        return (
            provider_id.startswith("sim://")
            and node["metadata"]["name"] not in self._pool_names
            and not node["metadata"].get("deletionTimestamp")
        )

    @functools.cached_property
    def _pool_names(self) -> set[str]:
        return set(self.node_names())

    def node_names(self) -> list[str]:
        return [name for pool in self.pools for name in pool.node_names(self.cluster)]

    async def register(self) -> int:
        """Create missing Nodes and Leases; returns how many Nodes were created."""
        created = 0
        index = 0
        for pool in self.pools:
            for name in pool.node_names(self.cluster):
                index += 1
                cidr = f"127.{self.settings.cluster_index}.{index}.0/24"
                manifest = node_manifest(pool, name, self.kubelet_port, cidr, regional_factor(self.cluster))
                set_condition(
                    manifest["status"].setdefault("conditions", []),
                    "Ready",
                    True,
                    "KubeletReady",
                    "kubelet is posting ready status",
                    now=self.clock.wall(),
                )
                try:
                    node = await self.client.create(NODE, manifest)
                    created += 1
                except KubeAPIError as error:
                    if not error.conflict:
                        raise
                    node = await self.client.get(NODE, name)
                await self._post_status(node, manifest["status"])
                await self._renew(name)
        return created

    async def _post_status(self, node: dict[str, Any], wanted: dict[str, Any]) -> None:
        def mutate(status: dict[str, Any]) -> None:
            for key in ("capacity", "allocatable", "addresses", "daemonEndpoints", "nodeInfo"):
                status[key] = wanted[key]
            status.setdefault("conditions", wanted["conditions"])

        await patch_status(self.client, NODE, node, mutate)

    async def _renew(self, name: str) -> None:
        now = micro_time(self.clock.wall())
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": int(self.settings.node_lease_grace),
            "renewTime": now,
        }
        try:
            await self.client.patch(LEASE, name, {"spec": spec}, NODE_LEASE_NAMESPACE)
        except KubeAPIError as error:
            if not error.not_found:
                raise
            node = self.nodes.store.get(name) or await self.client.get(NODE, name)
            owner = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": NODE_LEASE_NAMESPACE, "ownerReferences": [owner]},
                "spec": {**spec, "acquireTime": now},
            }
            await self.client.create(LEASE, body)

    async def adopt(self, node: dict[str, Any]) -> bool:
        """Register a provider-launched machine: pod range, addresses, Ready, GPUs allocatable."""
        name = node["metadata"]["name"]
        capacity = (node.get("status") or {}).get("capacity")
        if not capacity:
            return False  # the provider has not written the machine's capacity yet
        if not (node.get("spec") or {}).get("podCIDR"):
            index = len(self._pool_names) + len(self.adopted) + 1
            cidr = f"127.{self.settings.cluster_index}.{index % 250 + 1}.0/24"
            node = await self.client.patch(NODE, name, {"spec": {"podCIDR": cidr}})
        wanted = node_manifest(self._adopted_pool(node), name, self.kubelet_port, "", 1.0)["status"]
        now = self.clock.wall()

        def mutate(status: dict[str, Any]) -> None:
            for key in ("addresses", "daemonEndpoints", "nodeInfo"):
                status[key] = wanted[key]
            # The device plugin has registered the GPUs: they become allocatable.
            status["allocatable"] = {
                **(status.get("allocatable") or {}),
                **_gpus(status.get("capacity") or {}),
            }
            _post_ready(status, now)

        await patch_status(self.client, NODE, node, mutate)
        await self._renew(name)
        self.adopted.add(name)
        return True

    @staticmethod
    def _adopted_pool(node: dict[str, Any]) -> NodePool:
        return NodePool(node["metadata"]["name"], "", 0, 1, "", "", "", "")

    async def beat(self) -> None:
        """One round: adopt new machines, renew live nodes' Leases, post Ready for recovered nodes."""
        self.beats += 1
        for node in self.nodes.store.list():
            if node["metadata"]["name"] not in self.adopted and self._foreign(node):
                await self.adopt(node)
        self.adopted &= {n["metadata"]["name"] for n in self.nodes.store.list()}
        found = [self.nodes.store.get(name) for name in [*self.node_names(), *sorted(self.adopted)]]
        live = [node for node in found if node is not None and not faults.is_failed(node)]
        # Concurrent writes share the API server's commits; one after another they would queue.
        await asyncio.gather(*(self._renew(node["metadata"]["name"]) for node in live))
        for node in live:
            if not is_true((node.get("status") or {}).get("conditions"), "Ready"):
                await self._recover(node)

    async def _recover(self, node: dict[str, Any]) -> None:
        now = self.clock.wall()

        await patch_status(self.client, NODE, node, lambda status: _post_ready(status, now))
        taints = [
            t for t in (node.get("spec") or {}).get("taints") or [] if t.get("key") != UNREACHABLE_TAINT
        ]
        if taints != ((node.get("spec") or {}).get("taints") or []):
            await self.client.patch(NODE, node["metadata"]["name"], {"spec": {"taints": taints}})

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.beat()
            except (KubeAPIError, httpx2.HTTPError, OSError) as error:
                log.info("heartbeat of %s: %s", self.cluster, error)
            await self._sleep(stop)

    async def _sleep(self, stop: asyncio.Event) -> None:
        """Until the next beat, or sooner when a new machine appears."""
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        await asyncio.wait(
            waits, timeout=self.settings.heartbeat_interval, return_when=asyncio.FIRST_COMPLETED
        )
        for task in waits:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._wake.clear()


def _post_ready(status: dict[str, Any], now: float) -> None:
    """The kubelet's Ready condition, as it posts it."""
    set_condition(
        status.setdefault("conditions", []),
        "Ready",
        True,
        "KubeletReady",
        "kubelet is posting ready status",
        now=now,
    )
