"""Consolidation benchmark, Karpenter's "basic consolidation" (1,000 -> 700 pods, bound < 20 min): 1,000
one-GPU pods packed 8 to a node on the catalog's A10G 8-GPU shape, 300 of them deleted at random, then the
disruption loop runs on a manual clock (a pass every 10 s) against the embedded API server until it finds
nothing more to do. The harness stands in for the rest of the cluster: it recreates drained pods (their
controllers) and binds them first-fit (the scheduler), and launches replacement NodeClaims at once (the
provisioning lifecycle). Reports simulated time, wall time, and $/hour against the cheapest packing of
700 pods from scratch. Writes benchmarks/results/consolidation.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from infleet.api.catalog import load_catalog
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS, FlexNodeClassSpec
from infleet.api.crds import all_crds
from infleet.api.karpenter_sh.v1.node_claim import INITIALIZED, NODE_CLAIM
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.kubernetes import CUSTOM_RESOURCE_DEFINITION, NODE, POD
from infleet.api.labels import (
    CAPACITY_TYPE_LABEL,
    DISRUPTION_TAINT,
    GPU_RESOURCE,
    GPU_SKU_LABEL,
    INSTANCE_TYPE_LABEL,
    NODECLAIM_LABEL,
    NODEPOOL_LABEL,
    TERMINATION_FINALIZER,
    ZONE_LABEL,
)
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.compute.cloudprovider.provider import (
    Instance,
    InstanceType,
    Interruption,
    LaunchRequest,
    Offering,
)
from infleet.compute.disruption_manager import DisruptionControllers, add_disruption_controllers
from infleet.compute.disruption_settings import DisruptionSettings
from infleet.kube.clock import ManualClock
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.conditions import timestamp
from infleet.kube.manager import Manager, ManagerSettings

RESULTS = Path(__file__).parent / "results" / "consolidation.md"
SKU, ZONE, POOL, NODE_CLASS = "A10G", "us-east-1a", "gpu", "flex"
PASS_SECONDS = 10.0
KARPENTER_BOUND_MINUTES = 20.0


def a10g_shapes() -> list[InstanceType]:
    catalog = load_catalog()
    per_gpu = catalog.gpu(SKU).price_per_gpu_hour
    shapes = []
    for shape in catalog.instance_types:
        if shape.gpu == SKU and shape.provisionable and shape.cloud == "aws":
            price = shape.price_per_hour or per_gpu * shape.gpus
            offering = Offering("aws", "us-east-1", ZONE, "on-demand", price)
            shapes.append(
                InstanceType(shape.name, SKU, shape.gpus, shape.gpus * 8, shape.gpus * 32, (offering,))
            )
    return sorted(shapes, key=lambda s: s.gpus)


class CatalogProvider:
    """The CloudProvider port over the catalog's A10G shapes; instances are what the harness made."""

    name = "bench"

    def __init__(self, shapes: list[InstanceType]) -> None:
        self.shapes = shapes
        self.deleted: list[str] = []

    def instance_types(self, node_class: FlexNodeClassSpec) -> list[InstanceType]:
        return self.shapes

    async def create(self, request: LaunchRequest) -> Instance:
        raise NotImplementedError("the harness launches replacements itself")

    async def delete(self, provider_id: str) -> None:
        self.deleted.append(provider_id)

    async def get(self, provider_id: str) -> Instance:
        raise NotImplementedError

    async def list(self) -> list[Instance]:
        return []

    async def interruptions(self) -> list[Interruption]:
        return []


class Harness:
    """The cluster around the disruption side: nodes, pods, a scheduler, a lifecycle."""

    def __init__(self, client: ClusterClient, controllers: DisruptionControllers, shapes: list[InstanceType]):
        self.client = client
        self.controllers = controllers
        self.shapes = {shape.name: shape for shape in shapes}
        self.wanted_pods: set[str] = set()

    def store(self, which: str) -> Any:
        return getattr(self.controllers.loop.informers, which).store

    async def add_node(self, name: str, instance_type: str, claim_exists: bool = False) -> None:
        shape = self.shapes[instance_type]
        labels = {
            NODEPOOL_LABEL: POOL,
            INSTANCE_TYPE_LABEL: instance_type,
            CAPACITY_TYPE_LABEL: "on-demand",
            ZONE_LABEL: ZONE,
            GPU_SKU_LABEL: SKU,
        }
        if not claim_exists:
            ref = {"group": FLEX_NODE_CLASS.group, "kind": FLEX_NODE_CLASS.kind, "name": NODE_CLASS}
            claim = {
                "apiVersion": NODE_CLAIM.api_version,
                "kind": NODE_CLAIM.kind,
                "metadata": {"name": name, "labels": labels, "finalizers": [TERMINATION_FINALIZER]},
                "spec": {"nodeClassRef": ref},
            }
            await self.client.create(NODE_CLAIM, claim)
        allocatable = {
            GPU_RESOURCE: str(shape.gpus),
            "cpu": str(shape.cpu),
            "memory": f"{shape.memory_gib}Gi",
        }
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {**labels, NODECLAIM_LABEL: name}},
            "status": {"allocatable": allocatable, "capacity": allocatable},
        }
        await self.client.create(NODE, node)
        condition = {
            "type": INITIALIZED,
            "status": "True",
            "reason": INITIALIZED,
            "lastTransitionTime": timestamp(),
        }
        status = {"providerID": f"bench://{name}", "nodeName": name, "conditions": [condition]}
        await self.client.patch(NODE_CLAIM, name, {"status": status}, subresource="status")

    async def add_pod(self, name: str, node: str) -> None:
        request = {GPU_RESOURCE: "1", "cpu": "1", "memory": "4Gi"}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "c", "image": "i", "resources": {"requests": request}}],
            },
        }
        await self.client.create(POD, pod)
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        await self.client.patch(POD, name, {"status": status}, "default", subresource="status")

    def _free_gpus(self) -> dict[str, int]:
        free: dict[str, int] = {}
        for node in self.store("nodes").list():
            taints = (node.get("spec") or {}).get("taints") or []
            if node["metadata"].get("deletionTimestamp") or any(t["key"] == DISRUPTION_TAINT for t in taints):
                continue
            free[node["metadata"]["name"]] = int(node["status"]["allocatable"][GPU_RESOURCE])
        for pod in self.store("pods").list():
            node_name = pod["spec"].get("nodeName")
            if node_name in free:
                free[node_name] -= 1
        return free

    async def reconcile(self) -> None:
        """Launch replacement claims, then recreate and bind drained pods (fullest node first)."""
        for claim in self.store("claims").list():
            name = claim["metadata"]["name"]
            if not claim.get("status") and not claim["metadata"].get("deletionTimestamp"):
                shape = next(
                    r["values"][0] for r in claim["spec"]["requirements"] if r["key"] == INSTANCE_TYPE_LABEL
                )
                await self.add_node(name, shape, claim_exists=True)
        await self.settle()
        present = {p["metadata"]["name"] for p in self.store("pods").list()}
        free = self._free_gpus()
        for name in sorted(self.wanted_pods - present):
            target = min(
                (n for n, gpus in free.items() if gpus > 0), key=lambda n: (free[n], n), default=None
            )
            if target is None:
                return  # the provisioner's job; consolidation never leaves pods without room
            free[target] -= 1
            await self.add_pod(name, target)

    async def settle(self) -> None:
        """Let the informers catch up with the server (the harness and the loop read caches): the same
        objects (by uid), not only as many, since drained pods come back under their old names."""
        for _ in range(500):
            if all(
                [
                    await self._caught_up(kind, which)
                    for kind, which in ((POD, "pods"), (NODE_CLAIM, "claims"), (NODE, "nodes"))
                ]
            ):
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the informers did not catch up with the API server")

    async def _caught_up(self, kind: Any, which: str) -> bool:
        def uids(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
            return {(o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in items}

        return uids((await self.client.list(kind)).items) == uids(self.store(which).list())


def cost(harness: Harness) -> float:
    total = 0.0
    for node in harness.store("nodes").list():
        total += harness.shapes[node["metadata"]["labels"][INSTANCE_TYPE_LABEL]].offerings[0].price_per_hour
    return total


def cheapest_packing(pods: int, shapes: list[InstanceType]) -> float:
    """$/h of the cheapest set of shapes holding ``pods`` one-GPU pods (unbounded knapsack, exact)."""
    best = [0.0] + [float("inf")] * pods
    for need in range(1, pods + 1):
        for shape in shapes:
            best[need] = min(best[need], best[max(0, need - shape.gpus)] + shape.offerings[0].price_per_hour)
    return best[pods]


async def run(pods: int, remove: int, seed: int) -> dict[str, float]:
    shapes = a10g_shapes()
    big = shapes[-1]
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        server = EmbeddedAPIServer(
            APIServerSettings(
                port=0, data_dir=Path(tmp) / "data", clusters=("hub",), kubeconfig_out=kubeconfig, tls=False
            )
        )
        await server.start()
        factory = ClientFactory(kubeconfig)
        client = factory.client("infleet-hub", "hub")
        for crd in all_crds():
            await client.create(CUSTOM_RESOURCE_DEFINITION, crd)
        await asyncio.sleep(0.5)
        await client.create(
            FLEX_NODE_CLASS,
            {
                "apiVersion": FLEX_NODE_CLASS.api_version,
                "kind": FLEX_NODE_CLASS.kind,
                "metadata": {"name": NODE_CLASS},
                "spec": {"clouds": [{"name": "aws"}]},
            },
        )
        ref = {"group": FLEX_NODE_CLASS.group, "kind": FLEX_NODE_CLASS.kind, "name": NODE_CLASS}
        pool = {"template": {"spec": {"nodeClassRef": ref}}, "disruption": {"consolidateAfter": "0s"}}
        await client.create(
            NODE_POOL,
            {
                "apiVersion": NODE_POOL.api_version,
                "kind": NODE_POOL.kind,
                "metadata": {"name": POOL},
                "spec": pool,
            },
        )
        clock = ManualClock(wall_start=time.time())
        manager = Manager(ManagerSettings(handle_signals=False), clock=clock)
        settings = DisruptionSettings(poll_interval_seconds=1e9)
        controllers = add_disruption_controllers(manager, client, CatalogProvider(shapes), settings, clock)
        task = asyncio.ensure_future(manager.run())
        harness = Harness(client, controllers, shapes)
        try:
            return await _measure(harness, clock, pods, remove, seed, big, shapes)
        finally:
            manager.stop()
            await asyncio.wait_for(task, 30)
            await factory.close()
            await server.stop()


async def _measure(
    harness: Harness,
    clock: ManualClock,
    pods: int,
    remove: int,
    seed: int,
    big: InstanceType,
    shapes: list[InstanceType],
) -> dict[str, float]:
    nodes = -(-pods // big.gpus)
    for i in range(nodes):
        await harness.add_node(f"node-{i:04d}", big.name)
    for i in range(pods):
        harness.wanted_pods.add(f"pod-{i:04d}")
        await harness.add_pod(f"pod-{i:04d}", f"node-{i // big.gpus:04d}")
    for informer in harness.controllers.loop.informers.all():
        await informer.wait_synced()
    await harness.settle()
    before = cost(harness)
    gone = random.Random(seed).sample(sorted(harness.wanted_pods), remove)
    for name in gone:
        harness.wanted_pods.discard(name)
        await harness.client.delete(POD, name, "default")
    await harness.settle()
    after_removal = cost(harness)
    started, passes, idle = time.perf_counter(), 0, 0
    while idle < 3:
        await clock.advance(PASS_SECONDS)
        passes += 1
        command = await harness.controllers.loop.run_pass()
        loop = harness.controllers.loop
        # Idle: nothing acted, nothing replacing, and no command held for its validation period.
        busy = command is not None or loop.orchestrator.pending or loop.validating is not None
        idle = 0 if busy else idle + 1
        await _until_terminated(harness)
        await harness.reconcile()
        await harness.settle()
    wall = time.perf_counter() - started
    running = len(harness.store("pods"))
    # Consolidation must never strand a pod: every one still has a node.
    assert running == pods - remove, f"{running} pods run, expected {pods - remove}"
    return {
        "nodes_before": nodes,
        "nodes_after": len(harness.store("nodes")),
        "cost_before": before,
        "cost_after_removal": after_removal,
        "cost_after": cost(harness),
        "baseline": cheapest_packing(pods - remove, shapes),
        "passes": passes,
        "simulated_minutes": (passes - 3) * PASS_SECONDS / 60.0,
        "wall_seconds": wall,
    }


async def _until_terminated(harness: Harness) -> None:
    """Termination finishes in real time (pod deletions are immediate): wait until no claim is deleting."""
    for _ in range(500):
        deleting = [c for c in harness.store("claims").list() if c["metadata"].get("deletionTimestamp")]
        if not deleting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("termination did not finish")


def write(figures: dict[str, float], pods: int, remove: int) -> str:
    saved = figures["cost_after_removal"] - figures["cost_after"]
    rows = [
        ("pods", f"{pods:,} -> {pods - remove:,}"),
        ("nodes", f"{figures['nodes_before']:.0f} -> {figures['nodes_after']:.0f}"),
        (f"$/hour with {pods:,} pods", f"{figures['cost_before']:.2f}"),
        (f"$/hour after {remove:,} pods left, before consolidation", f"{figures['cost_after_removal']:.2f}"),
        ("$/hour after consolidation", f"{figures['cost_after']:.2f}"),
        (
            f"$/hour of the cheapest packing of {pods - remove:,} pods (baseline)",
            f"{figures['baseline']:.2f}",
        ),
        ("saved by consolidation, $/hour", f"{saved:.2f}"),
        (
            "above baseline after consolidation",
            f"{(figures['cost_after'] / figures['baseline'] - 1) * 100:.1f}%",
        ),
        ("disruption passes (10 s each) until idle", f"{figures['passes'] - 3:.0f}"),
        ("simulated time to converge (Karpenter's bound: 20 min)", f"{figures['simulated_minutes']:.1f} min"),
        ("wall time of the run (API server, informers, passes)", f"{figures['wall_seconds']:.1f} s"),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    text = (
        f"# Consolidation: {pods:,} -> {pods - remove:,} pods\n\n"
        f"Machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}. "
        "One-GPU pods on the catalog's AWS A10G shapes, default budget (10% of the pool's nodes), "
        "consolidateAfter 0s; `benchmarks/consolidation.py`.\n\n"
        "| figure | value |\n|---|---|\n" + table + "\n\n"
        "Simulated time counts disruption passes only: the harness launches replacements and drains at "
        "once, so a real cloud adds its launch time (minutes for GPU nodes) to each replacement.\n"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--remove", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    figures = asyncio.run(run(args.pods, args.remove, args.seed))
    print(write(figures, args.pods, args.remove))


if __name__ == "__main__":
    main()
