"""The simulated cluster end to end against the embedded API server: scheduling, rollouts, node loss,
garbage collection, StatefulSet order, crash loops, engines behind Services."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from infleet.api.kubernetes import DEPLOYMENT, ENDPOINTS, EVENT, NODE, POD, SERVICE, STATEFULSET
from infleet.kube.api_error import KubeAPIError
from infleet.kube.conditions import get_condition, is_true
from infleet.kube.informer import InformerEvent
from infleet.sim.faults import Faults
from tests.sim.conftest import RunningSim, deployment, eventually


def _ready(pod: dict[str, Any]) -> bool:
    return is_true((pod.get("status") or {}).get("conditions"), "Ready")


async def test_gpu_deployment_runs_and_an_oversized_one_stays_pending(sim: RunningSim) -> None:
    await sim.client.create(DEPLOYMENT, deployment("two", gpus=2))
    await sim.client.create(DEPLOYMENT, deployment("huge", gpus=16))
    await eventually(lambda: any(_ready(p) for p in sim.pods("app=two")))
    pod = sim.pods("app=two")[0]
    node = await sim.client.get(NODE, pod["spec"]["nodeName"])
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "2"

    def unschedulable() -> dict[str, Any] | None:
        pods = sim.pods("app=huge")
        return (
            get_condition((pods[0].get("status") or {}).get("conditions"), "PodScheduled") if pods else None
        )

    await eventually(lambda: unschedulable() is not None)
    condition = unschedulable()
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert condition["message"] == "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    huge = sim.pods("app=huge")[0]
    events = await sim.client.list(
        EVENT, "default", field_selector=f"involvedObject.name={huge['metadata']['name']}"
    )
    assert [e["reason"] for e in events.items] == ["FailedScheduling"]
    status: dict[str, Any] = {}
    for _ in range(200):  # the pod's readiness reaches the Deployment through its ReplicaSet's status
        status = (await sim.client.get(DEPLOYMENT, "two", "default"))["status"]
        if status.get("availableReplicas"):
            break
        await asyncio.sleep(0.05)
    assert status["readyReplicas"] == status["availableReplicas"] == 1


async def test_rolling_update_respects_max_surge_and_max_unavailable(sim: RunningSim) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    body = deployment(
        "web", replicas=3, strategy=strategy, annotations={"sim.infleet.io/ready-seconds": "20"}
    )
    await sim.client.create(DEPLOYMENT, body)
    await eventually(lambda: sum(_ready(p) for p in sim.pods("app=web")) == 3)
    seen: list[tuple[int, int]] = []

    def sample(event: InformerEvent) -> None:
        pods = [p for p in sim.pods("app=web") if p["status"].get("phase") != "Failed"]
        seen.append((len(pods), sum(_ready(p) for p in pods)))

    sim.sim.kubelet.pods.add_handler(sample)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}}
    updated = await sim.client.patch(DEPLOYMENT, "web", patch, "default")

    def rolled_out() -> bool:
        pods = sim.pods("app=web")
        return len(pods) == 3 and all(
            _ready(p) and p["spec"]["containers"][0]["image"] == "nginx:1.28" for p in pods
        )

    await eventually(rolled_out, within=15)
    assert max(total for total, _ in seen) <= 4, "maxSurge 1 allows at most 4 pods"
    assert min(ready for _, ready in seen) >= 3, "maxUnavailable 0 keeps 3 ready pods throughout"

    async def status() -> dict[str, Any]:
        return dict((await sim.client.get(DEPLOYMENT, "web", "default")).get("status") or {})

    final: dict[str, Any] = {}
    for _ in range(300):
        final = await status()
        if (
            final.get("updatedReplicas") == 3
            and final.get("replicas") == 3
            and final.get("availableReplicas") == 3
        ):
            break
        await asyncio.sleep(0.05)
    assert final["observedGeneration"] == updated["metadata"]["generation"]
    progressing = get_condition(final["conditions"], "Progressing")
    assert progressing is not None
    assert progressing["reason"] == "NewReplicaSetAvailable"


async def test_a_failed_node_loses_its_pods_and_they_are_replaced(sim: RunningSim) -> None:
    await sim.client.create(DEPLOYMENT, deployment("llm", image="vllm/vllm-openai:v0.11.0", gpus=2))
    await eventually(lambda: any(_ready(p) for p in sim.pods("app=llm")))
    first = sim.pods("app=llm")[0]
    lost_node = first["spec"]["nodeName"]
    await Faults(sim.client).fail_node(lost_node)

    def moved() -> bool:
        pods = sim.pods("app=llm")
        return len(pods) == 1 and pods[0]["spec"].get("nodeName") not in (None, lost_node) and _ready(pods[0])

    await eventually(moved)
    await eventually(lambda: sim.launcher.running == 1, message="the lost node's engine is stopped")
    node = await sim.client.get(NODE, lost_node)
    ready = get_condition(node["status"]["conditions"], "Ready")
    assert ready is not None
    assert ready["status"] == "Unknown"
    assert {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"} in node["spec"]["taints"]

    await Faults(sim.client).fail_node(lost_node, failed=False)

    async def recovered() -> bool:
        node = await sim.client.get(NODE, lost_node)
        return is_true(node["status"]["conditions"], "Ready") and not node["spec"].get("taints")

    for _ in range(100):
        if await recovered():
            break
        await asyncio.sleep(0.05)
    assert await recovered()


async def test_deleting_a_deployment_collects_its_pods(sim: RunningSim) -> None:
    await sim.client.create(DEPLOYMENT, deployment("gc", replicas=2))
    await eventually(lambda: len(sim.pods("app=gc")) == 2)
    await sim.client.delete(DEPLOYMENT, "gc", "default")
    await eventually(lambda: not sim.pods("app=gc"))
    assert (await sim.client.list(POD, "default", label_selector="app=gc")).items == []


async def test_statefulset_starts_pods_in_order_with_stable_names(sim: RunningSim) -> None:
    order: list[tuple[str, bool]] = []

    def record(event: InformerEvent) -> None:
        if event.type == "ADDED" and event.obj["metadata"]["name"].startswith("db-"):
            ordinal = int(event.obj["metadata"]["name"].rsplit("-", 1)[1])
            previous = sim.sim.kubelet.pods.store.get(f"db-{ordinal - 1}", "default")
            order.append(
                (event.obj["metadata"]["name"], ordinal == 0 or (previous is not None and _ready(previous)))
            )

    sim.sim.kubelet.pods.add_handler(record)
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres:17"}]},
            },
        },
    }
    await sim.client.create(STATEFULSET, body)
    await eventually(lambda: sum(_ready(p) for p in sim.pods("app=db")) == 3)
    assert order == [("db-0", True), ("db-1", True), ("db-2", True)]

    replaced: list[str] = []
    sim.sim.kubelet.pods.add_handler(
        lambda event: replaced.append(event.obj["metadata"]["name"]) if event.type == "DELETED" else None
    )
    image = {"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "postgres:18"}]}}}}
    await sim.client.patch(STATEFULSET, "db", image, "default")

    def updated() -> bool:
        pods = sim.pods("app=db")
        return len(pods) == 3 and all(
            _ready(p) and p["spec"]["containers"][0]["image"] == "postgres:18" for p in pods
        )

    await eventually(updated, within=15)
    assert replaced == ["db-2", "db-1", "db-0"], "a rolling update replaces the highest ordinal first"
    for _ in range(100):
        status = (await sim.client.get(STATEFULSET, "db", "default"))["status"]
        if status.get("currentRevision") == status.get("updateRevision") and status.get("readyReplicas") == 3:
            break
        await asyncio.sleep(0.05)
    assert status["currentRevision"] == status["updateRevision"]
    assert status["updatedReplicas"] == status["currentReplicas"] == 3
    await sim.client.patch(STATEFULSET, "db", {"spec": {"replicas": 1}}, "default")
    await eventually(lambda: [p["metadata"]["name"] for p in sim.pods("app=db")] == ["db-0"])


async def test_a_crashing_pod_restarts_with_backoff_and_recovers(sim: RunningSim) -> None:
    await sim.client.create(DEPLOYMENT, deployment("crashy"))
    await eventually(lambda: any(_ready(p) for p in sim.pods("app=crashy")))
    name = sim.pods("app=crashy")[0]["metadata"]["name"]
    await Faults(sim.client).fail_pod("default", name)

    def crash_looping() -> bool:
        pod = sim.sim.kubelet.pods.store.get(name, "default") or {}
        statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
        return statuses[0].get("restartCount", 0) >= 2

    await eventually(crash_looping)
    await Faults(sim.client).fail_pod("default", name, failed=False)
    await eventually(lambda: _ready(sim.sim.kubelet.pods.store.get(name, "default") or {}), within=15)
    pod = sim.sim.kubelet.pods.store.get(name, "default")
    assert pod is not None
    assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1


async def test_an_engine_pod_serves_behind_its_service(sim: RunningSim) -> None:
    container = {
        "args": ["--model", "meta-llama/Llama-3.1-8B-Instruct"],
        "ports": [{"containerPort": 8000, "name": "http"}],
    }
    await sim.client.create(
        DEPLOYMENT, deployment("llama", image="vllm/vllm-openai:v0.11.0", gpus=1, container=container)
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "llama", "namespace": "default"},
        "spec": {"selector": {"app": "llama"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    await sim.client.create(SERVICE, service)

    async def address() -> str | None:
        try:
            endpoints = await sim.client.get(ENDPOINTS, "llama", "default")
        except KubeAPIError:
            return None
        for subset in endpoints.get("subsets") or []:
            for entry in subset.get("addresses") or []:
                return f"{entry['ip']}:{subset['ports'][0]['port']}"
        return None

    found = None
    for _ in range(200):
        found = await address()
        if found:
            break
        await asyncio.sleep(0.05)
    assert found is not None
    async with httpx.AsyncClient(base_url=f"http://{found}", timeout=5) as http:
        models = (await http.get("/v1/models")).json()
        assert models["data"][0]["id"] == "llama-3.1-8b-instruct"
        reply = await http.post(
            "/v1/chat/completions",
            json={"model": "llama-3.1-8b-instruct", "messages": [{"role": "user", "content": "ping"}]},
        )
        assert reply.status_code == 200
        assert "ping" in reply.json()["choices"][0]["message"]["content"]
        assert (await http.get("/health")).status_code == 200
    assert sim.launcher.running == 1
