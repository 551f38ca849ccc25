"""``kubectl top``: the simulated kubelets' ``/metrics/resource`` and the API server's metrics.k8s.io."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from infleet.api.kubernetes import DEPLOYMENT
from infleet.api.quantity import parse_quantity
from infleet.sim.kubelet import LOADING, READY, PodRuntime
from infleet.sim.resource_metrics import (
    ENGINE_IDLE_CORES,
    ENGINE_LOADING_CORES,
    SIDECAR_MEMORY,
    SYSTEM_CORES,
    container_usage,
)
from tests.sim.conftest import RunningSim, deployment, eventually

KUBECTL = Path(sys.executable).parent / "kubectl"
METRICS = "/apis/metrics.k8s.io/v1beta1"


async def kubectl(sim: RunningSim, tmp_path: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        f"--kubeconfig={tmp_path / 'kubeconfig'}",
        "--context=infleet-member",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


def test_an_engine_uses_more_cpu_while_it_serves_than_idle() -> None:
    runtime = PodRuntime("uid", "default", "p", "node", "10.0.0.1", engine=True, stage=READY)
    engine = {"name": "vllm", "resources": {"requests": {"cpu": "4", "memory": "8Gi"}}}
    idle_cores, memory = container_usage(runtime, engine, True, 0)
    busy_cores, _ = container_usage(runtime, engine, True, 12)
    assert idle_cores == ENGINE_IDLE_CORES
    assert busy_cores > 1.0 > idle_cores
    assert memory == 8 * 1024**3
    capped, _ = container_usage(runtime, {**engine, "resources": {"requests": {"cpu": "1"}}}, True, 200)
    assert capped == 1.0, "never more than the container's CPU request"
    loading = PodRuntime("uid", "default", "p", "node", "10.0.0.1", engine=True, stage=LOADING)
    assert container_usage(loading, engine, True, None)[0] == ENGINE_LOADING_CORES
    sidecar_cores, sidecar_memory = container_usage(runtime, {"name": "proxy"}, False, None)
    assert sidecar_cores < 0.01
    assert sidecar_memory == SIDECAR_MEMORY


async def test_kubectl_top_shows_simulated_nodes_and_pods(sim: RunningSim, tmp_path: Path) -> None:
    await sim.client.create(DEPLOYMENT, deployment("web", replicas=2))
    await sim.client.create(DEPLOYMENT, deployment("llm", image="vllm/vllm-openai:v0.11.0", gpus=1))
    await eventually(
        lambda: len([p for p in sim.pods() if p["status"].get("phase") == "Running"]) == 3, within=30
    )

    nodes = await kubectl(sim, tmp_path, "top", "node")
    lines = nodes.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert {line.split()[0] for line in lines[1:]} == {
        n["metadata"]["name"] for n in sim.sim.kubelet.nodes.store.list()
    }

    pods = await kubectl(sim, tmp_path, "top", "pod", "--containers", "-l", "app=llm")
    rows = [line.split() for line in pods.splitlines()[1:]]
    assert len(rows) == 1
    pod, container, cpu = rows[0][:3]
    assert pod.startswith("llm-")
    assert container == "main"
    assert parse_quantity(cpu) >= parse_quantity(f"{int(ENGINE_IDLE_CORES * 1000) - 1}m")


async def test_the_metrics_api_is_read_only_and_filters_by_label(sim: RunningSim) -> None:
    await sim.client.create(DEPLOYMENT, deployment("web"))
    await eventually(
        lambda: any(p["status"].get("phase") == "Running" for p in sim.pods("app=web")), within=30
    )
    base = sim.server.cluster_url("member")
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        listed = (await api.get(f"{METRICS}/nodes")).json()
        assert listed["kind"] == "NodeMetricsList"
        for item in listed["items"]:
            assert parse_quantity(item["usage"]["cpu"]) >= parse_quantity(f"{int(SYSTEM_CORES * 1000) - 1}m")
            assert item["window"].endswith("s")
        pods = (
            await api.get(f"{METRICS}/namespaces/default/pods", params={"labelSelector": "app=web"})
        ).json()
        assert [p["metadata"]["labels"]["app"] for p in pods["items"]] == ["web"]
        name = pods["items"][0]["metadata"]["name"]
        one = await api.get(f"{METRICS}/namespaces/default/pods/{name}")
        assert one.json()["containers"][0]["name"] == "main"
        assert (await api.get(f"{METRICS}/namespaces/default/pods/nope")).status_code == 404
        refused = await api.post(f"{METRICS}/nodes", json={"metadata": {"name": "x"}})
        assert refused.status_code == 405
        assert "read-only" in refused.json()["message"]
        assert (await api.get(f"{METRICS}/nodes", params={"watch": "true"})).status_code == 405
        discovery = (await api.get("/apis/metrics.k8s.io/v1beta1")).json()
        assert {r["name"] for r in discovery["resources"]} == {"nodes", "pods"}


@pytest.mark.parametrize("selector", ["app in (", "!!"])
async def test_a_bad_label_selector_is_a_clear_400(sim: RunningSim, selector: str) -> None:
    async with httpx.AsyncClient(base_url=sim.server.cluster_url("member"), timeout=10) as api:
        answer = await api.get(f"{METRICS}/nodes", params={"labelSelector": selector})
    assert answer.status_code == 400
    assert "invalid label selector" in answer.json()["message"]
