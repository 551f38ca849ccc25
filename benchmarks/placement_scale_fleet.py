"""What ``placement_scale.py`` drives: a generated fleet of member clusters without kubelets, the member
agents' heartbeats it writes in their place, and the hub controllers as a process of their own.

Run as ``python benchmarks/placement_scale_fleet.py hub --kubeconfig K --stats F`` it *is* the hub
process: ``add_hub_controllers`` on a Manager, and a reporter that writes the controllers' reconcile
counts and queue depths to ``F`` (JSON) four times a second, which the driver reads to judge re-sync.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import heapq
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from infleet.api.catalog import Catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    INTERNAL_MEMBER_CLUSTER,
    MEMBER_CLUSTER,
    member_namespace,
)
from infleet.api.labels import CLOUD_LABEL, GPU_COUNT_LABEL, GPU_RESOURCE, GPU_SKU_LABEL, REGION_LABEL
from infleet.cli import event_loop
from infleet.fleet.member.imc_status import Report, apply_report
from infleet.fleet.member.properties import ClusterProperties, cluster_properties
from infleet.kube.cluster_client import ClusterClient

ROOT = Path(__file__).resolve().parent.parent
REGIONS = ("eastus", "westus", "centralus", "westeurope", "northeurope", "uksouth", "japaneast",
           "southeastasia", "australiaeast", "brazilsouth")  # fmt: skip
CLOUDS = ("azure", "aws", "gcp")
#: SKUs a generated member may hold, each node with this many GPUs; every member holds one that fits a 7B.
SKU_SHAPES = (("L40S", 4), ("A100-80GB", 8), ("H100", 8), ("T4", 1), ("L4", 4))
ENV_LABEL = "env"  # a user's own label, as a platform team would set it


@dataclass(frozen=True)
class GeneratedMember:
    name: str
    labels: dict[str, str]
    properties: ClusterProperties


def _nodes(rng: random.Random, region: str, cloud: str) -> list[dict[str, Any]]:
    """A handful of GPU nodes: one big SKU always, sometimes a small one beside it."""
    shapes = [SKU_SHAPES[rng.randrange(3)]]
    if rng.random() < 0.5:
        shapes.append(SKU_SHAPES[3 + rng.randrange(2)])
    nodes = []
    for sku, gpus in shapes:
        for index in range(rng.randint(1, 4)):
            labels = {
                GPU_SKU_LABEL: sku,
                GPU_COUNT_LABEL: str(gpus),
                REGION_LABEL: region,
                CLOUD_LABEL: cloud,
            }
            resources = {"cpu": "96", "memory": "900Gi", GPU_RESOURCE: str(gpus)}
            nodes.append(
                {
                    "metadata": {"name": f"{sku.lower()}-{index}", "labels": labels},
                    "status": {"capacity": resources, "allocatable": resources},
                }
            )
    return nodes


def generate_fleet(count: int, catalog: Catalog, seed: int = 7) -> list[GeneratedMember]:
    """``count`` members over ten regions and three clouds, properties computed as the agent would."""
    rng = random.Random(seed)
    members = []
    for index in range(count):
        region, cloud = REGIONS[index % len(REGIONS)], CLOUDS[index % len(CLOUDS)]
        env = "prod" if index % 10 < 3 else "dev"
        properties = cluster_properties(_nodes(rng, region, cloud), [], catalog)
        labels = {REGION_LABEL: region, ENV_LABEL: env}
        members.append(GeneratedMember(f"member-{index:04d}", labels, properties))
    return members


def member_cluster(member: GeneratedMember, heartbeat_period: int) -> dict[str, Any]:
    return {
        "apiVersion": MEMBER_CLUSTER.api_version,
        "kind": MEMBER_CLUSTER.kind,
        "metadata": {"name": member.name, "labels": member.labels},
        "spec": {
            "identity": {"kind": "ServiceAccount", "name": "fleet-member-agent", "namespace": "fleet-system"},
            "heartbeatPeriodSeconds": heartbeat_period,
        },
    }


@dataclass
class Agents:
    """Every member's agent, reduced to its heartbeat: the IMC status it writes, at its period."""

    client: ClusterClient
    members: list[GeneratedMember]
    period: float
    jitter: float = 0.05
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    beats: int = 0
    failures: int = 0
    last_error: str = ""
    write_seconds: list[float] = field(default_factory=list)
    _status: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def beat(self, member: GeneratedMember) -> None:
        status = self._status.setdefault(member.name, {})
        apply_report(status, Report(True, time.time(), 1, True, "", member.properties))
        started = time.perf_counter()
        try:
            await self.client.patch(
                INTERNAL_MEMBER_CLUSTER,
                member.name,
                {"status": status},
                member_namespace(member.name),
                subresource="status",
            )
        except Exception as error:
            self.failures += 1
            self.last_error = repr(error)
            return
        self.write_seconds.append(time.perf_counter() - started)
        self.beats += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Beat every member each period (with jitter), phases spread evenly over the first period."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        due = [(start + self.period * i / len(self.members), i) for i in range(len(self.members))]
        heapq.heapify(due)
        pending: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            when, index = heapq.heappop(due)
            delay = when - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    break
                except TimeoutError:
                    pass
            task = asyncio.create_task(self.beat(self.members[index]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            spread = self.period * (1 + self.rng.uniform(-self.jitter, self.jitter))
            heapq.heappush(due, (when + spread, index))
        await asyncio.gather(*pending)


# -- the hub process ---------------------------------------------------------------------------------


class HubProcess:
    """The hub controllers in a child process; its stats file says what they have reconciled."""

    def __init__(self, workdir: Path, kubeconfig: Path, tag: str, profile: Path | None = None) -> None:
        self.stats = workdir / f"hub-{tag}.json"
        self.log = (workdir / f"hub-{tag}.log").open("wb")
        self.profile = profile
        command = [sys.executable]
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
            command += ["-m", "cProfile", "-o", str(profile / f"hub-{tag}.prof")]
        command += [__file__, "hub", "--kubeconfig", str(kubeconfig), "--stats", str(self.stats)]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def read(self) -> dict[str, Any] | None:
        try:
            value: dict[str, Any] = orjson.loads(self.stats.read_bytes())
            return value
        except (OSError, orjson.JSONDecodeError):
            return None

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            # A profiled hub must exit cleanly to write its profile.
            hard = kill and self.profile is None
            self.process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def _stats(manager: Any) -> dict[str, Any]:
    reconciles: dict[str, float] = {}
    depth: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for metric in manager.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == "controller_runtime_reconcile_total" and sample.labels["result"] in (
                "success",
                "requeue_after",
            ):
                name = sample.labels["controller"]
                reconciles[name] = reconciles.get(name, 0.0) + sample.value
            elif sample.name == "workqueue_depth":
                depth[sample.labels["name"]] = sample.value
            elif sample.name == "controller_runtime_reconcile_time_seconds_sum":
                name = sample.labels["controller"]
                seconds[name] = seconds.get(name, 0.0) + sample.value
    synced = all(informer.has_synced() for informer in manager.informers)
    return {
        "wall": time.time(),
        "synced": synced,
        "reconciles": reconciles,
        "depth": depth,
        "reconcile_seconds": seconds,
        "gc": GC_PAUSES.by_generation,
    }


async def _report(manager: Any, path: Path, stop: asyncio.Event) -> None:
    scratch = path.with_suffix(".tmp")
    while not stop.is_set():
        scratch.write_bytes(orjson.dumps(_stats(manager)))
        scratch.replace(path)  # atomic: the driver never reads half a file
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


class GcPauses:
    """Garbage-collector pauses per generation (count, seconds in all, longest), from gc.callbacks."""

    def __init__(self) -> None:
        self.by_generation: dict[str, list[float]] = {}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        entry = self.by_generation.setdefault(str(info["generation"]), [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += took
        entry[2] = max(entry[2], took)


GC_PAUSES = GcPauses()


async def run_hub(kubeconfig: Path, stats: Path) -> None:
    gc.callbacks.append(GC_PAUSES)
    from infleet.fleet.hub.hub_manager import add_hub_controllers
    from infleet.fleet.hub.hub_settings import HubSettings
    from infleet.kube.cluster_client import ClientFactory
    from infleet.kube.manager import Manager, ManagerSettings

    factory = ClientFactory(kubeconfig)
    manager = Manager(ManagerSettings(name="infleet-hub"))
    add_hub_controllers(manager, factory.client("infleet-hub", "hub"), HubSettings(needs_leader=False))
    stop = asyncio.Event()
    reporter = asyncio.ensure_future(_report(manager, stats, stop))
    try:
        await manager.run()
    finally:
        stop.set()
        await reporter
        await factory.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["hub"])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args()
    event_loop.run(run_hub(args.kubeconfig, args.stats))  # as `infleet hub` runs


if __name__ == "__main__":
    main()
