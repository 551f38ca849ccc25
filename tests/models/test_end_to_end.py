"""End to end in the embedded cluster: simulated 2-GPU nodes, kubelet, scheduler and workload
controllers, simulated vLLM engines, and the models controller. The issue's manifest becomes three ready
replicas (kubectl wait works), a model change rolls without a moment of zero ready replicas, and load
scales a deployment out, idleness back to its minimum and then to zero, and a wake brings it back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.kubernetes import POD
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.conditions import get_condition
from infleet.kube.manager import Manager, ManagerSettings
from infleet.models.manager import ModelsSettings, add_models_controller
from infleet.models.reconciler import ReconcilerSettings
from tests.models.conftest import install_crds

# The simulated cluster and engine live in another layer, reached through the module objects.
simulated_cluster = pytest.importorskip("infleet.sim.simulated_cluster", reason="needs the simulated cluster")
engine_pods = pytest.importorskip("infleet.sim.engine_pods", reason="needs the simulated engine")
mini_engine = pytest.importorskip("infleet.sim.mini_engine")
node_pools = pytest.importorskip("infleet.sim.node_pools")
sim_settings_module = pytest.importorskip("infleet.sim.settings")

MANIFEST = """\
apiVersion: aitoolchain.io/v1
kind: ModelDeployment
metadata:
  name: qwen2-7b
spec:
  model: qwen2-7b
  engine: vllm
  replicas: 3
  resources:
    gpu: 2
"""
POOLS = [
    node_pools.NodePool(
        "a100", "A100-80GB", 2, 4, "Standard_NC48ads_A100_v4", "azure", "westeurope", "westeurope-1"
    )
]
KUBECTL = Path(sys.executable).parent / "kubectl"


@dataclass
class Cluster:
    client: ClusterClient
    kubeconfig: Path
    engines: Any

    async def kubectl(self, *args: str, stdin: str | None = None, limit: float = 60) -> str:
        process = await asyncio.create_subprocess_exec(
            str(KUBECTL),
            f"--kubeconfig={self.kubeconfig}",
            "--context=infleet-member",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), limit)
        assert process.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
        return out.decode()

    async def md(self, name: str) -> dict[str, Any]:
        return await self.client.get(MODEL_DEPLOYMENT, name, "default")

    async def ready_pods(self, name: str) -> list[dict[str, Any]]:
        pods = (
            await self.client.list(POD, "default", label_selector=f"aitoolchain.io/model-deployment={name}")
        ).items
        return [
            p
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and (get_condition((p.get("status") or {}).get("conditions"), "Ready") or {}).get("status")
            == "True"
        ]


@contextlib.asynccontextmanager
async def running_cluster(tmp_path: Path, pools: list[Any], engines: Any) -> AsyncIterator[Cluster]:
    """The embedded API server with one simulated member cluster and the models controller on it."""
    if not KUBECTL.exists():
        pytest.skip("the pinned kubectl is not installed")
    kubeconfig = tmp_path / "kubeconfig"
    settings = APIServerSettings(
        port=0, data_dir=tmp_path / "data", clusters=("hub", "member"), kubeconfig_out=kubeconfig, tls=False
    )
    server = EmbeddedAPIServer(settings)
    await server.start()
    factory = ClientFactory(kubeconfig)
    client = factory.client("infleet-member", "member")
    await install_crds(client, MODEL_DEPLOYMENT)
    manager = Manager(ManagerSettings(handle_signals=False))
    sim_settings = sim_settings_module.SimSettings(
        time_scale=0.002, log_dir=tmp_path / "logs", heartbeat_interval=0.5
    )
    simulated = simulated_cluster.add_simulated_cluster(manager, client, pools, sim_settings, engines)
    models = ModelsSettings(
        scrape_interval=0.2, rate_window=1.0, reconciler=ReconcilerSettings(autoscale_interval=0.2)
    )
    add_models_controller(manager, client, models)
    await simulated.heartbeat.register()
    task = asyncio.ensure_future(manager.run())
    try:
        yield Cluster(client, kubeconfig, engines)
    finally:
        manager.stop()
        await asyncio.wait_for(task, 15)
        await engines.close()
        await factory.close()
        await server.stop()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """Four 2-GPU A100 nodes whose engine pods run simulated vLLM engines."""
    engines = engine_pods.SimulatedEngineLauncher(fallback=mini_engine.MiniEngineLauncher())
    async with running_cluster(tmp_path, POOLS, engines) as running:
        yield running


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return get_condition((obj.get("status") or {}).get("conditions"), type_) or {}


async def test_manifest_becomes_three_ready_replicas_and_rolls_changes_without_downtime(
    cluster: Cluster,
) -> None:
    started = time.perf_counter()
    await cluster.kubectl("apply", "-f", "-", stdin=MANIFEST)
    await cluster.kubectl("wait", "--for=condition=Ready", "modeldeployment/qwen2-7b", "--timeout=60s")
    print(f"\napplied -> Ready (3 replicas, time scale 0.002): {time.perf_counter() - started:.2f} s")
    table = (await cluster.kubectl("get", "modeldeployments")).splitlines()
    assert table[0].split() == ["NAME", "MODEL", "ENGINE", "GPU", "READY", "STATUS", "AGE"]
    assert table[1].split()[:6] == ["qwen2-7b", "qwen2-7b", "vllm", "2xA100-80GB", "3/3", "Ready"]

    status = (await cluster.md("qwen2-7b"))["status"]
    assert [r["sku"] for r in status["replicaStatus"]] == ["A100-80GB"] * 3
    assert len({r["node"] for r in status["replicaStatus"]}) == 3  # one 2-GPU node per replica
    # Each replica is a simulated vLLM engine serving the model under its served name.
    async with httpx.AsyncClient(timeout=10) as http:
        for replica in status["replicaStatus"]:
            models = (await http.get(f"{replica['endpoint']}/v1/models")).json()
            assert models["data"][0]["id"] == "qwen2-7b"

    # Change the model, then the engine version: each rolls with surge; count ready pods all along.
    mistral = "mistralai/Mistral-7B-Instruct-v0.3"
    changes = [
        (
            {"model": mistral},
            lambda pod: pod["metadata"]["annotations"].get("aitoolchain.io/model") == mistral,
        ),
        (
            {"engineVersion": "v0.11.1"},
            lambda pod: pod["spec"]["containers"][0]["image"].endswith(":v0.11.1"),
        ),
    ]
    for change, updated in changes:
        await cluster.client.patch(MODEL_DEPLOYMENT, "qwen2-7b", {"spec": change}, "default")
        lowest, rolled = 3, False
        async with asyncio.timeout(60):
            while not rolled:
                ready = await cluster.ready_pods("qwen2-7b")
                lowest = min(lowest, len(ready))
                rolled = len(ready) == 3 and all(updated(pod) for pod in ready)
                await asyncio.sleep(0.02)
        assert lowest >= 1, f"serving dropped to zero ready replicas while rolling {change}"
        await cluster.kubectl("wait", "--for=condition=Ready", "modeldeployment/qwen2-7b", "--timeout=30s")
        print(f"fewest ready replicas while rolling {change}: {lowest} of 3")


async def load(endpoint: str, seconds: float, concurrency: int) -> int:
    """Keep ``concurrency`` completions in flight against one replica for ``seconds``."""
    deadline = time.monotonic() + seconds
    sent = 0

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal sent
        while time.monotonic() < deadline:
            body = {"model": "qwen2-7b", "prompt": "Summarize the incident.", "max_tokens": 120}
            await http.post(f"{endpoint}/v1/completions", json=body)
            sent += 1

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return sent


async def test_autoscaling_out_back_to_minimum_then_zero_and_wake(cluster: Cluster) -> None:
    manifest = {
        "apiVersion": "aitoolchain.io/v1",
        "kind": "ModelDeployment",
        "metadata": {"name": "chat", "namespace": "default"},
        "spec": {
            "model": "qwen2-7b",
            "servedModelName": "qwen2-7b",
            "resources": {"gpu": 2},
            # Two sequences at a time, so a dozen concurrent requests queue (vLLM's --max-num-seqs).
            "engineArgs": {"extraArgs": ["--max-num-seqs", "2"]},
            "autoscaling": {
                "minReplicas": 1,
                "maxReplicas": 3,
                "metric": "queueDepth",
                "target": 2,
                "scaleDownStabilizationSeconds": 1,
                "scaleToZeroAfterSeconds": 3,
            },
        },
    }
    await cluster.client.create(MODEL_DEPLOYMENT, manifest)
    await cluster.kubectl("wait", "--for=condition=Ready", "modeldeployment/chat", "--timeout=60s")
    endpoint = (await cluster.md("chat"))["status"]["replicaStatus"][0]["endpoint"]

    # Sustained load: 12 requests in flight on an engine that runs 2 at a time queue ~10.
    replicas_seen: list[int] = []
    spec_replicas_seen: set[int] = set()

    async def watch_replicas() -> None:
        while True:
            obj = await cluster.md("chat")
            replicas_seen.append(obj["status"]["autoscaling"]["desiredReplicas"])
            spec_replicas_seen.add(obj["spec"]["replicas"])
            await asyncio.sleep(0.1)

    watcher = asyncio.ensure_future(watch_replicas())
    try:
        sent = await load(endpoint, 4.0, 12)
        assert max(replicas_seen) == 3, f"did not scale out under load: {replicas_seen}"
        serving = (await cluster.md("chat"))["status"]["serving"]
        print(f"\nserving at the end of the load: {serving}")
        assert serving["ttftP95Seconds"] >= serving["ttftP50Seconds"] > 0
        # Idle: back to the minimum after the down window, then to zero after the idle period.
        async with asyncio.timeout(20):
            while replicas_seen[-1] != 0:  # noqa: ASYNC110 (written by the watcher task)
                await asyncio.sleep(0.1)
    finally:
        watcher.cancel()
    after_load = replicas_seen[replicas_seen.index(3) :]
    assert 1 in after_load, f"never went back to minReplicas before zero: {after_load}"
    assert after_load.index(1) < after_load.index(0)
    obj = await cluster.md("chat")
    await cluster.kubectl(
        "wait", "--for=jsonpath={.status.state}=ScaledToZero", "modeldeployment/chat", "--timeout=20s"
    )
    print(f"\nload: {sent} requests; replicas over time: {sorted(set(replicas_seen), reverse=True)}")
    assert condition(obj, "InferenceReady")["reason"] in ("ScaledToZero", "Serving")

    # Wake on demand (what the gateway will do): the annotation brings one replica back.
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    await cluster.client.patch(
        MODEL_DEPLOYMENT,
        "chat",
        {"metadata": {"annotations": {"aitoolchain.io/wake-requested-at": now}}},
        "default",
    )
    await cluster.kubectl(
        "wait", "--for=jsonpath={.status.readyReplicas}=1", "modeldeployment/chat", "--timeout=30s"
    )
    ready = json.loads(await cluster.kubectl("get", "md", "chat", "-o", "json"))
    assert ready["status"]["autoscaling"]["desiredReplicas"] == 1
    # The autoscaler decides in status: spec (what a fleet hub propagates) never moved.
    assert spec_replicas_seen == {1}
    assert ready["metadata"]["generation"] == 1


async def test_a_model_that_needs_two_nodes_runs_as_leader_and_worker_groups(tmp_path: Path) -> None:
    pools = [node_pools.NodePool("h100", "H100", 8, 4, "p5.48xlarge", "aws", "us-east-1", "us-east-1a")]
    async with running_cluster(tmp_path, pools, mini_engine.MiniEngineLauncher()) as cluster:
        spec = {"model": "meta-llama/Llama-3.1-405B-Instruct", "replicas": 2}
        body = {"apiVersion": "aitoolchain.io/v1", "kind": "ModelDeployment", "metadata": {"name": "giant"}}
        await cluster.client.create(MODEL_DEPLOYMENT, {**body, "spec": spec}, "default")
        await cluster.kubectl("wait", "--for=condition=Ready", "modeldeployment/giant", "--timeout=60s")
        status = (await cluster.md("giant"))["status"]
        assert (status["gpu"], status["ready"], status["sizing"]["nodesPerReplica"]) == ("16xH100", "2/2", 2)
        pods = (
            await cluster.client.list(POD, "default", label_selector="aitoolchain.io/model-deployment=giant")
        ).items
        groups = sorted(
            (p["metadata"]["labels"]["aitoolchain.io/replica-group"], p["spec"]["nodeName"]) for p in pods
        )
        assert [group for group, _ in groups] == ["giant-0", "giant-0", "giant-1", "giant-1"]
        assert len({node for _, node in groups}) == 4  # every pod of every group on its own 8-GPU node
        assert [r["name"] for r in status["replicaStatus"]] == ["giant-0", "giant-1"]  # leaders only
