"""The models controller against the real embedded API server. Pods and workload status are written by
the test (standing in for the kubelet and the Deployment controller) so each phase can be checked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from infleet.api.aitoolchain_io.v1.model_deployment import (
    MODEL_DEPLOYMENT,
    Autoscaling,
    ModelDeploymentSpec,
)
from infleet.api.kubernetes import DEPLOYMENT, EVENT, NODE, POD, SERVICE, STATEFULSET
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition
from infleet.kube.manager import Manager, ManagerSettings
from infleet.models.manager import ModelsSettings, build_manager
from infleet.models.replica_ownership import running_replicas
from tests.models.conftest import RunningServer, gpu_node, install_crds

METRICS = """\
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="qwen2-7b",engine="0"} 2.0
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="qwen2-7b",engine="0"} 5.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="qwen2-7b",engine="0"} 0.25
# TYPE vllm:request_success counter
vllm:request_success_total{model_name="qwen2-7b",engine="0",finished_reason="stop"} 10.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="qwen2-7b",engine="0"} 5.0
vllm:time_to_first_token_seconds_bucket{le="0.5",model_name="qwen2-7b",engine="0"} 10.0
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="qwen2-7b",engine="0"} 10.0
vllm:time_to_first_token_seconds_count{model_name="qwen2-7b",engine="0"} 10.0
vllm:time_to_first_token_seconds_sum{model_name="qwen2-7b",engine="0"} 1.5
"""


@dataclass
class Cluster:
    client: ClusterClient
    manager: Manager


@pytest.fixture
async def cluster(apiserver: RunningServer) -> AsyncIterator[Cluster]:
    client = apiserver.client("member1")
    await install_crds(client, MODEL_DEPLOYMENT)
    for index in range(3):
        await client.create(NODE, gpu_node(f"l40s-{index}", "NVIDIA-L40S", 2, "g6e.12xlarge"))
    await client.create(NODE, gpu_node("h100-0", "NVIDIA-H100-80GB-HBM3", 8, "p5.48xlarge"))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=METRICS))
    settings = ModelsSettings(manager=ManagerSettings(handle_signals=False), scrape_interval=0.2)
    manager = build_manager(client, settings, scrape_transport=transport)
    running = asyncio.ensure_future(manager.run())
    yield Cluster(client, manager)
    manager.stop()
    await asyncio.wait_for(running, 10)


def model_deployment(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "aitoolchain.io/v1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


async def read(client: ClusterClient, name: str) -> dict[str, Any]:
    return await client.get(MODEL_DEPLOYMENT, name, "default")


async def wait_for(client: ClusterClient, name: str, check: Any, within: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            obj = await read(client, name)
            if check(obj):
                return obj
            await asyncio.sleep(0.02)


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    found = get_condition((obj.get("status") or {}).get("conditions"), type_)
    return found or {}


async def exists(client: ClusterClient, kind: Any, name: str) -> bool:
    try:
        await client.get(kind, name, "default")
    except KubeAPIError as error:
        if not error.not_found:
            raise
        return False
    return True


async def until(predicate: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll (bounded) until ``predicate`` holds: the state is owned by the controller under test."""
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def run_pods(client: ClusterClient, name: str, count: int, node_prefix: str = "l40s") -> None:
    """Stand in for the scheduler, kubelet and Deployment controller: ready pods and workload status."""
    deployment = await client.get(DEPLOYMENT, name, "default")
    template = deployment["spec"]["template"]
    for index in range(count):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-{index}",
                "namespace": "default",
                "labels": template["metadata"]["labels"],
            },
            "spec": {**template["spec"], "nodeName": f"{node_prefix}-{index}"},
        }
        await client.create(POD, pod)
        status = {
            "phase": "Running",
            "podIP": f"10.0.0.{index + 1}",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
        }
        await client.patch(POD, pod["metadata"]["name"], {"status": status}, "default", subresource="status")
    workload_status = {
        "replicas": count,
        "readyReplicas": count,
        "updatedReplicas": count,
        "availableReplicas": count,
    }
    await client.patch(DEPLOYMENT, name, {"status": workload_status}, "default", subresource="status")


async def test_minimal_manifest_is_sized_rendered_and_becomes_ready(cluster: Cluster) -> None:
    client = cluster.client
    started = time.perf_counter()
    await client.create(
        MODEL_DEPLOYMENT,
        model_deployment("qwen2-7b", model="qwen2-7b", engine="vllm", replicas=3, resources={"gpu": 2}),
    )
    await until(lambda: exists(client, DEPLOYMENT, "qwen2-7b"))
    latency = time.perf_counter() - started
    print(f"ModelDeployment created -> Deployment exists: {latency * 1000:.0f} ms")
    assert latency < 3.0

    deployment = await client.get(DEPLOYMENT, "qwen2-7b", "default")
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "nvidia.com/gpu.product": "NVIDIA-L40S"
    }  # the cheapest 2-GPU nodes present
    assert pod["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert await exists(client, SERVICE, "qwen2-7b")

    obj = await wait_for(client, "qwen2-7b", lambda o: condition(o, "Sized").get("status") == "True")
    sizing = obj["status"]["sizing"]
    assert (sizing["sku"], sizing["gpusPerReplica"], sizing["tensorParallel"], sizing["source"]) == (
        "L40S",
        2,
        2,
        "cluster",
    )
    assert sizing["costPerHour"] == pytest.approx(3.72)
    assert obj["status"]["gpu"] == "2xL40S"
    assert condition(obj, "Ready")["status"] == "False"

    await run_pods(client, "qwen2-7b", 3)
    obj = await wait_for(client, "qwen2-7b", lambda o: condition(o, "Ready").get("status") == "True")
    status = obj["status"]
    assert (status["ready"], status["state"], condition(obj, "InferenceReady")["reason"]) == (
        "3/3",
        "Ready",
        "Serving",
    )
    replicas = status["replicaStatus"]
    assert [(r["node"], r["sku"], r["endpoint"]) for r in replicas] == [
        (f"l40s-{i}", "L40S", f"http://10.0.0.{i + 1}:5000") for i in range(3)
    ]
    # Telemetry from the replicas' /metrics lands in status and in the controller's metrics.
    obj = await wait_for(
        client, "qwen2-7b", lambda o: (o["status"].get("serving") or {}).get("queueDepth") == 6.0
    )
    serving = obj["status"]["serving"]
    assert serving["queueDepth"] == 6.0
    assert serving["kvCacheUsage"] == 0.25
    assert serving["ttftP50Seconds"] == pytest.approx(0.1)
    exported = cluster.manager.metrics.registry.get_sample_value(
        "infleet_model_queue_depth", {"cluster": "member1", "namespace": "default", "name": "qwen2-7b"}
    )
    assert exported == 6.0


async def test_semantic_errors_are_conditions_and_create_no_pods(cluster: Cluster) -> None:
    client = cluster.client
    await client.create(MODEL_DEPLOYMENT, model_deployment("nope", model="qwen9-1t"))
    obj = await wait_for(client, "nope", lambda o: condition(o, "Sized").get("reason") == "UnknownModel")
    assert "spec.model" in condition(obj, "Sized")["message"]
    assert (obj["status"]["state"], condition(obj, "Ready")["reason"]) == ("Failed", "UnknownModel")

    big = model_deployment(
        "big", model="meta-llama/Llama-3.3-70B-Instruct", resources={"gpu": 1, "gpuSkus": ["L40S"]}
    )
    await client.create(MODEL_DEPLOYMENT, big)
    obj = await wait_for(client, "big", lambda o: condition(o, "Sized").get("reason") == "DoesNotFit")
    message = condition(obj, "Sized")["message"]
    assert "134.0 GiB of weights" in message
    assert "1 x L40S give 43.2 GiB usable per GPU (48 GiB x 0.90)" in message
    assert not await exists(client, DEPLOYMENT, "nope")
    assert not await exists(client, DEPLOYMENT, "big")
    events = (await client.list(EVENT, "default")).items
    warnings = {(e["involvedObject"]["name"], e["reason"]) for e in events if e["type"] == "Warning"}
    assert {("nope", "UnknownModel"), ("big", "DoesNotFit")} <= warnings


async def test_spec_errors_the_schema_cannot_express_name_the_field(cluster: Cluster) -> None:
    client = cluster.client
    spec = {"model": "qwen2-7b", "autoscaling": {"minReplicas": 3, "maxReplicas": 2}}
    await client.create(MODEL_DEPLOYMENT, model_deployment("minmax", **spec))
    obj = await wait_for(client, "minmax", lambda o: condition(o, "Sized").get("reason") == "InvalidSpec")
    message = condition(obj, "Sized")["message"]
    assert message.startswith("spec.autoscaling: ")
    assert "minReplicas (3) exceeds maxReplicas (2)" in message
    assert not await exists(client, DEPLOYMENT, "minmax")


async def test_uncatalogued_hugging_face_model_runs_as_the_user_sized_it(cluster: Cluster) -> None:
    client = cluster.client
    spec = {"model": "hf:acme/private-13b", "resources": {"gpu": 2}, "hfTokenSecret": {"name": "hf"}}
    await client.create(MODEL_DEPLOYMENT, model_deployment("private", **spec))
    await until(lambda: exists(client, DEPLOYMENT, "private"))
    container = (await client.get(DEPLOYMENT, "private", "default"))["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["args"][:3] == ["acme/private-13b", "--served-model-name", "private-13b"]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    obj = await wait_for(client, "private", lambda o: condition(o, "Sized").get("status") == "True")
    assert "not in the catalog" in condition(obj, "Sized")["message"]


async def test_unschedulable_pods_surface_as_insufficient_gpu(cluster: Cluster) -> None:
    client = cluster.client
    await client.create(MODEL_DEPLOYMENT, model_deployment("pending", model="qwen2-7b", resources={"gpu": 2}))
    await until(lambda: exists(client, DEPLOYMENT, "pending"))
    template = (await client.get(DEPLOYMENT, "pending", "default"))["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pending-0", "namespace": "default", "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    }
    await client.create(POD, pod)
    message = "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."
    scheduled = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    await client.patch(
        POD, "pending-0", {"status": {"conditions": [scheduled]}}, "default", subresource="status"
    )
    obj = await wait_for(
        client, "pending", lambda o: condition(o, "ResourcesReady").get("reason") == "InsufficientGPU"
    )
    assert message in condition(obj, "ResourcesReady")["message"]
    assert obj["status"]["state"] == "Pending"


async def test_model_change_updates_the_deployment_and_deletion_collects_it(
    cluster: Cluster,
) -> None:
    client = cluster.client
    await client.create(
        MODEL_DEPLOYMENT, model_deployment("roll", model="qwen2-7b", replicas=2, resources={"gpu": 2})
    )
    await until(lambda: exists(client, DEPLOYMENT, "roll"))
    await client.patch(
        MODEL_DEPLOYMENT, "roll", {"spec": {"model": "mistralai/Mistral-7B-Instruct-v0.3"}}, "default"
    )

    async def args() -> list[str]:
        deployment = await client.get(DEPLOYMENT, "roll", "default")
        result: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        return result

    async def rolled() -> bool:
        return (await args())[0] == "mistralai/Mistral-7B-Instruct-v0.3"

    await until(rolled)
    deployment = await client.get(DEPLOYMENT, "roll", "default")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    ref = deployment["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["controller"]) == ("ModelDeployment", True)
    await client.delete(MODEL_DEPLOYMENT, "roll", "default")

    async def collected() -> bool:
        return not await exists(client, DEPLOYMENT, "roll") and not await exists(client, SERVICE, "roll")

    await until(collected)


async def test_multi_node_model_becomes_statefulset_groups_and_is_ready_when_whole_groups_are(
    cluster: Cluster,
) -> None:
    client = cluster.client
    spec = {"model": "meta-llama/Llama-3.1-405B-Instruct", "resources": {"gpuSkus": ["H100"]}}
    await client.create(MODEL_DEPLOYMENT, model_deployment("giant", **spec))
    await until(lambda: exists(client, STATEFULSET, "giant-0"))
    obj = await wait_for(client, "giant", lambda o: condition(o, "Sized").get("status") == "True")
    sizing = obj["status"]["sizing"]
    # One H100 node is present; a replica needs two, so the shape comes from provisionable nodes.
    assert (sizing["nodesPerReplica"], sizing["tensorParallel"], sizing["pipelineParallel"]) == (2, 8, 2)
    assert sizing["source"] == "provisionable"
    group = await client.get(STATEFULSET, "giant-0", "default")
    assert group["spec"]["replicas"] == 2
    assert group["spec"]["template"]["spec"]["nodeSelector"] == {
        "aitoolchain.io/gpu-sku": "H100",
        "nvidia.com/gpu.count": "8",
    }
    leader = await client.get(SERVICE, "giant", "default")
    assert leader["spec"]["selector"]["apps.kubernetes.io/pod-index"] == "0"

    status = {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2}
    await client.patch(STATEFULSET, "giant-0", {"status": status}, "default", subresource="status")
    obj = await wait_for(client, "giant", lambda o: o["status"].get("replicas") == 1)
    assert obj["status"]["readyReplicas"] == 0  # half a group serves nothing
    status["readyReplicas"] = 2
    await client.patch(STATEFULSET, "giant-0", {"status": status}, "default", subresource="status")
    await wait_for(client, "giant", lambda o: condition(o, "Ready").get("status") == "True")


async def test_under_autoscaling_a_scale_subresource_write_moves_the_count_and_spec_is_never_written(
    cluster: Cluster,
) -> None:
    client = cluster.client
    policy = {"minReplicas": 1, "maxReplicas": 3, "scaleDownStabilizationSeconds": 600}
    await client.create(
        MODEL_DEPLOYMENT,
        model_deployment("auto", model="qwen2-7b", replicas=2, resources={"gpu": 2}, autoscaling=policy),
    )

    async def deployment_replicas(count: int) -> bool:
        return await exists(client, DEPLOYMENT, "auto") and (
            (await client.get(DEPLOYMENT, "auto", "default"))["spec"]["replicas"] == count
        )

    await until(lambda: deployment_replicas(2))
    auto = (await wait_for(client, "auto", lambda o: "autoscaling" in o.get("status", {})))["status"]
    assert (auto["autoscaling"]["desiredReplicas"], auto["autoscaling"]["observedSpecReplicas"]) == (2, 2)

    # kubectl scale / HPA / a fleet write spec.replicas: the autoscaler starts again from that count.
    scale = {"spec": {"replicas": 0}}
    await client.patch(MODEL_DEPLOYMENT, "auto", scale, "default", subresource="scale")
    await until(lambda: deployment_replicas(0))
    asleep = await wait_for(
        client, "auto", lambda o: o["status"]["autoscaling"].get("observedSpecReplicas") == 0
    )
    assert asleep["status"]["autoscaling"]["desiredReplicas"] == 0
    assert asleep["status"]["state"] == "ScaledToZero"
    await client.patch(MODEL_DEPLOYMENT, "auto", {"spec": {"replicas": 1}}, "default", subresource="scale")
    await until(lambda: deployment_replicas(1))
    obj = await read(client, "auto")
    assert obj["spec"]["replicas"] == 1, "the controller never writes spec.replicas"


def test_the_running_count_is_the_autoscalers_unless_spec_replicas_moved_since() -> None:
    spec = ModelDeploymentSpec(model="x", replicas=2, autoscaling=Autoscaling())
    decided = {"autoscaling": {"desiredReplicas": 4, "observedSpecReplicas": 2}}
    assert running_replicas(spec, decided) == 4
    assert running_replicas(spec, {}) == 2, "before the first decision: spec.replicas"
    moved = {"autoscaling": {"desiredReplicas": 4, "observedSpecReplicas": 3}}
    assert running_replicas(spec, moved) == 2, "spec.replicas written since the decision"
    assert running_replicas(ModelDeploymentSpec(model="x", replicas=2), decided) == 2, "no autoscaling"
