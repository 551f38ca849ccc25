"""A simulated member cluster per test: the embedded API server in-process plus the sim controllers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infleet.api.catalog import load_catalog
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.manager import Manager, ManagerSettings
from infleet.sim.engine import EngineHost
from infleet.sim.engine_pods import SimulatedEngineLauncher
from infleet.sim.mini_engine import MiniEngineLauncher
from infleet.sim.node_pools import NodePool
from infleet.sim.settings import SimSettings
from infleet.sim.simulated_cluster import SimulatedCluster, add_simulated_cluster
from tests.apiserver_harness import Kubectl, kubectl_binaries

POOLS = [
    NodePool("a100", "A100-80GB", 2, 2, "Standard_NC48ads_A100_v4", "azure", "westeurope", "westeurope-1"),
    NodePool("l4", "L4", 1, 1, "g2-standard-8", "gcp", "europe-west4", "europe-west4-a"),
]


@dataclass
class RunningSim:
    server: EmbeddedAPIServer
    client: ClusterClient
    hub: ClusterClient
    manager: Manager
    sim: SimulatedCluster
    launcher: MiniEngineLauncher

    def pods(self, label: str | None = None) -> list[dict[str, Any]]:
        found = self.sim.kubelet.pods.store.list("default")
        if label is None:
            return found
        key, _, value = label.partition("=")
        return [p for p in found if (p["metadata"].get("labels") or {}).get(key) == value]


async def eventually(predicate: Callable[[], Any], within: float = 10.0, message: str = "") -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 (polls caches owned by the code under test)
            await asyncio.sleep(0.02)
    assert predicate(), message


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[RunningSim]:
    kubeconfig = tmp_path / "kubeconfig"
    server = EmbeddedAPIServer(
        APIServerSettings(
            port=0,
            data_dir=tmp_path / "data",
            clusters=("hub", "member"),
            kubeconfig_out=kubeconfig,
            tls=False,
            bookmark_interval=0.5,
        )
    )
    await server.start()
    factory = ClientFactory(kubeconfig)
    client = factory.client("infleet-member", "member")
    settings = SimSettings(time_scale=0.001, log_dir=tmp_path / "logs", heartbeat_interval=0.5)
    launcher = MiniEngineLauncher()
    manager = Manager(ManagerSettings(handle_signals=False))
    simulated = add_simulated_cluster(manager, client, POOLS, settings, launcher)
    await simulated.heartbeat.register()
    task = asyncio.ensure_future(manager.run())
    running = RunningSim(server, client, factory.client("infleet-hub", "hub"), manager, simulated, launcher)
    yield running
    manager.stop()
    await asyncio.wait_for(task, 15)
    await launcher.close()
    await factory.close()
    await server.stop()


def deployment(
    name: str, image: str = "nginx:1.27", replicas: int = 1, gpus: int = 0, **extra: Any
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": image}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    container.update(extra.pop("container", {}))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": extra.pop("annotations", {})},
                "spec": {"containers": [container]},
            },
            **extra,
        },
    }


# exec, attach and port-forward tests (test_pod_streams*.py): TLS, a token and engines, as infleet up.
@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[RunningSim]:
    """A member cluster over TLS with a token (as ``infleet up``), running simulated vLLM engines."""
    kubeconfig = tmp_path / "kubeconfig"
    server = EmbeddedAPIServer(
        APIServerSettings(
            port=0, data_dir=tmp_path / "data", clusters=("hub", "member"), kubeconfig_out=kubeconfig
        )
    )
    await server.start()
    factory = ClientFactory(kubeconfig)
    client = factory.client("infleet-member", "member")
    settings = SimSettings(
        time_scale=0.001, log_dir=tmp_path / "logs", heartbeat_interval=0.5, kubelet_token=server.token
    )
    launcher = SimulatedEngineLauncher(MiniEngineLauncher(), EngineHost(catalog=load_catalog()))
    manager = Manager(ManagerSettings(handle_signals=False))
    simulated = add_simulated_cluster(manager, client, POOLS, settings, launcher)
    await simulated.heartbeat.register()
    task = asyncio.ensure_future(manager.run())
    yield RunningSim(server, client, factory.client("infleet-hub", "hub"), manager, simulated, launcher)  # type: ignore[arg-type]
    manager.stop()
    await asyncio.wait_for(task, 15)
    await launcher.close()
    await factory.close()
    await server.stop()


@pytest.fixture
def kubectl(cluster: RunningSim, tmp_path: Path) -> Kubectl:
    binaries = kubectl_binaries()
    if not binaries:
        pytest.skip("no kubectl binary")
    kubeconfig = cluster.server.settings.kubeconfig_out
    assert kubeconfig is not None
    return Kubectl(binaries[0], kubeconfig, tmp_path / "kube-cache", context="infleet-member")
