"""The eviction subresource on a simulated cluster: budgets refuse with 429 or let the pod go gracefully,
straight over HTTP and through ``kubectl drain``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import kubernetes
import pytest

from infleet.api.kubernetes import DEPLOYMENT, NODE, POD, POD_DISRUPTION_BUDGET
from infleet.kube.api_error import KubeAPIError
from tests.apiserver_harness import Kubectl, kubectl_binaries
from tests.sim.conftest import RunningSim, deployment, eventually

pytestmark = pytest.mark.timeout(180)
PODS = "/api/v1/namespaces/default/pods"
REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


def budget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": name}}, **spec},
    }


def eviction(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": "default"},
        **extra,
    }


def ready_pods(sim: RunningSim, app: str) -> list[dict[str, Any]]:
    return [
        p
        for p in sim.pods(f"app={app}")
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
        and not p["metadata"].get("deletionTimestamp")
    ]


async def running(sim: RunningSim, app: str, replicas: int) -> list[dict[str, Any]]:
    await sim.client.create(DEPLOYMENT, deployment(app, replicas=replicas))
    await eventually(lambda: len(ready_pods(sim, app)) == replicas, 30)
    return ready_pods(sim, app)


async def gone(sim: RunningSim, name: str) -> bool:
    try:
        pod = await sim.client.get(POD, name, "default")
    except KubeAPIError as error:
        return error.not_found
    return bool(pod["metadata"].get("deletionTimestamp"))


async def test_a_budget_refuses_then_allows_an_eviction(sim: RunningSim) -> None:
    first, _ = await running(sim, "web", 2)
    await sim.client.create(POD_DISRUPTION_BUDGET, budget("web", minAvailable=2))
    name = first["metadata"]["name"]
    async with httpx.AsyncClient(base_url=sim.server.cluster_url("member"), timeout=10) as api:
        refused = await api.post(f"{PODS}/{name}/eviction", json=eviction(name))
        assert refused.status_code == 429
        status = refused.json()
        assert (status["reason"], status["message"]) == ("TooManyRequests", REFUSED)
        assert status["details"]["causes"] == [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget web needs 2 healthy pods and has 2 currently",
            }
        ]
        assert not await gone(sim, name)

        # A dry run passes the budget check but leaves the pod alone.
        await sim.client.patch(POD_DISRUPTION_BUDGET, "web", {"spec": {"minAvailable": 1}}, "default")
        dry = await api.post(
            f"{PODS}/{name}/eviction", json=eviction(name, deleteOptions={"dryRun": ["All"]})
        )
        assert dry.status_code == 201
        assert not await gone(sim, name)

        allowed = await api.post(f"{PODS}/{name}/eviction", json=eviction(name))
        assert allowed.status_code == 201
        assert allowed.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

        assert await gone(sim, name)


async def budget_status(sim: RunningSim, name: str, **wanted: int) -> dict[str, Any]:
    """The budget's status once the simulated disruption controller has written ``wanted``."""
    async with asyncio.timeout(30):
        while True:
            status = (await sim.client.get(POD_DISRUPTION_BUDGET, name, "default")).get("status") or {}
            if all(status.get(key) == value for key, value in wanted.items()):
                return dict(status)
            await asyncio.sleep(0.05)


async def test_the_disruption_controller_keeps_budget_status(sim: RunningSim) -> None:
    await running(sim, "svc", 3)
    await sim.client.create(POD_DISRUPTION_BUDGET, budget("svc", maxUnavailable="34%"))
    status = await budget_status(sim, "svc", observedGeneration=1)
    assert {k: status[k] for k in ("expectedPods", "currentHealthy", "desiredHealthy")} == {
        "expectedPods": 3,
        "currentHealthy": 3,
        "desiredHealthy": 1,
    }
    assert status["disruptionsAllowed"] == 2
    (condition,) = status["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "DisruptionAllowed",
        "True",
        "SufficientPods",
    )
    await sim.client.patch(POD_DISRUPTION_BUDGET, "svc", {"spec": {"maxUnavailable": 0}}, "default")
    status = await budget_status(sim, "svc", observedGeneration=2)
    assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (3, 0)
    assert status["conditions"][0]["reason"] == "InsufficientPods"
    # Scaling the Deployment up raises the expected pods before the new ones are healthy.
    await sim.client.patch(DEPLOYMENT, "svc", {"spec": {"replicas": 4}}, "default")
    await budget_status(sim, "svc", expectedPods=4, desiredHealthy=4)


async def test_eviction_requests_kube_refuses(sim: RunningSim) -> None:
    (pod,) = await running(sim, "api", 1)
    name = pod["metadata"]["name"]
    async with httpx.AsyncClient(base_url=sim.server.cluster_url("member"), timeout=10) as api:
        mismatch = await api.post(f"{PODS}/{name}/eviction", json=eviction("other"))
        assert mismatch.status_code == 400
        assert mismatch.json()["message"] == "name in URL does not match name in Eviction object"
        missing = await api.post(f"{PODS}/nope/eviction", json=eviction("nope"))
        assert missing.status_code == 404
        wrong_verb = await api.get(f"{PODS}/{name}/eviction")
        assert wrong_verb.status_code == 405
        # A UID precondition naming another pod of this name: refused before the pod is touched.
        other_uid = eviction(name, deleteOptions={"preconditions": {"uid": "not-this-pod"}})
        stale = await api.post(f"{PODS}/{name}/eviction", json=other_uid)
        assert stale.status_code == 409
        assert "Precondition failed: UID" in stale.json()["message"]
        untouched = await sim.client.get(POD, name, "default")
        assert not untouched["metadata"].get("deletionTimestamp")
        assert all(c["type"] != "DisruptionTarget" for c in untouched["status"].get("conditions") or [])
        await sim.client.create(POD_DISRUPTION_BUDGET, budget("api", maxUnavailable=1))
        second = budget("api", maxUnavailable=1)
        second["metadata"]["name"] = "api-too"
        await sim.client.create(POD_DISRUPTION_BUDGET, second)
        two = await api.post(f"{PODS}/{name}/eviction", json=eviction(name))
        assert two.status_code == 500
        assert "more than one PodDisruptionBudget" in two.json()["message"]
        await sim.client.delete(POD_DISRUPTION_BUDGET, "api-too", "default")
        # maxUnavailable 1 of the Deployment's one replica: one disruption allowed.
        allowed = await api.post(f"{PODS}/{name}/eviction", json=eviction(name))
        assert allowed.status_code == 201
    assert await gone(sim, name)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (every length here fits one byte)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def protobuf_eviction(name: str, grace: int) -> bytes:
    """A policy/v1 Eviction in the runtime.Unknown envelope client-go sends."""
    metadata = _field(1, name.encode()) + _field(3, b"default")
    delete_options = bytes([1 << 3, grace])  # gracePeriodSeconds, a one-byte varint
    message = _field(1, metadata) + _field(2, delete_options)
    type_meta = _field(1, b"policy/v1") + _field(2, b"Eviction")
    return b"k8s\x00" + _field(1, type_meta) + _field(2, message)


async def stranded_running_pod(sim: RunningSim, name: str) -> None:
    """A Running, Ready pod on a node no kubelet runs: deleted, it stays Terminating for inspection."""
    await sim.client.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "quiet"}})
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"nodeName": "quiet", "containers": [{"name": "c", "image": "nginx"}]},
    }
    await sim.client.create(POD, body)
    status = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    await sim.client.patch(POD, name, status, "default", subresource="status")


async def test_a_protobuf_eviction_with_delete_options(sim: RunningSim) -> None:
    await stranded_running_pod(sim, "proto")
    await sim.client.create(POD_DISRUPTION_BUDGET, budget("proto", maxUnavailable=1))
    async with httpx.AsyncClient(base_url=sim.server.cluster_url("member"), timeout=10) as api:
        answer = await api.post(
            f"{PODS}/proto/eviction",
            content=protobuf_eviction("proto", 9),
            headers={"content-type": "application/vnd.kubernetes.protobuf"},
        )
        assert answer.status_code == 201, answer.text
        evicted = (await api.get(f"{PODS}/proto")).json()
    assert evicted["metadata"]["deletionGracePeriodSeconds"] == 9
    target = next(c for c in evicted["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"], target["message"]) == (
        "True",
        "EvictionByEvictionAPI",
        "Eviction API: evicting",
    )


async def test_an_unscheduled_pod_goes_whatever_its_budget(sim: RunningSim) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "waiting", "namespace": "default", "labels": {"app": "idle"}},
        "spec": {"schedulerName": "none", "containers": [{"name": "c", "image": "nginx"}]},
    }
    await sim.client.create(POD, body)
    await sim.client.create(POD_DISRUPTION_BUDGET, budget("idle", maxUnavailable=0))
    async with httpx.AsyncClient(base_url=sim.server.cluster_url("member"), timeout=10) as api:
        answer = await api.post(f"{PODS}/waiting/eviction", json=eviction("waiting"))
    assert answer.status_code == 201
    assert await gone(sim, "waiting")


async def test_kubectl_drain_waits_for_the_budget(sim: RunningSim, tmp_path: Path) -> None:
    binaries = kubectl_binaries()
    if not binaries:
        pytest.skip("no kubectl binary")
    kubeconfig = sim.server.settings.kubeconfig_out
    assert kubeconfig is not None
    kubectl = Kubectl(binaries[0], kubeconfig, tmp_path / "kube-cache", context="infleet-member")
    (pod,) = await running(sim, "db", 1)
    node = pod["spec"]["nodeName"]
    await sim.client.create(POD_DISRUPTION_BUDGET, budget("db", minAvailable=1))

    def drain(timeout: str) -> Any:
        return kubectl.run(
            "drain", node, "--ignore-daemonsets", f"--timeout={timeout}", check=False, timeout=90
        )

    blocked = await asyncio.to_thread(drain, "4s")
    assert blocked.returncode != 0
    assert REFUSED in blocked.stderr + blocked.stdout
    assert not await gone(sim, pod["metadata"]["name"])
    assert (await sim.client.get(NODE, node))["spec"]["unschedulable"] is True

    await sim.client.patch(POD_DISRUPTION_BUDGET, "db", {"spec": {"minAvailable": 0}}, "default")
    drained = await asyncio.to_thread(drain, "60s")
    assert drained.returncode == 0, drained.stderr
    assert f"pod/{pod['metadata']['name']} evicted" in drained.stdout
    assert f"node/{node} drained" in drained.stdout
    # The Deployment's replacement runs on another node.
    await eventually(lambda: len(ready_pods(sim, "db")) == 1, 30)
    assert ready_pods(sim, "db")[0]["spec"]["nodeName"] != node


async def test_the_official_python_client_evicts(sim: RunningSim) -> None:
    (pod,) = await running(sim, "client", 1)
    name = pod["metadata"]["name"]
    await sim.client.create(POD_DISRUPTION_BUDGET, budget("client", minAvailable=1))
    configuration = kubernetes.client.Configuration()
    configuration.host = sim.server.cluster_url("member")

    def evict() -> kubernetes.client.ApiException:
        with kubernetes.client.ApiClient(configuration) as client:
            core = kubernetes.client.CoreV1Api(client)
            body = kubernetes.client.V1Eviction(
                metadata=kubernetes.client.V1ObjectMeta(name=name, namespace="default")
            )
            with pytest.raises(kubernetes.client.ApiException) as refused:
                core.create_namespaced_pod_eviction(name, "default", body)
            policy = kubernetes.client.PolicyV1Api(client)
            policy.patch_namespaced_pod_disruption_budget("client", "default", {"spec": {"minAvailable": 0}})
            core.create_namespaced_pod_eviction(name, "default", body)
            return refused.value

    refused = await asyncio.to_thread(evict)
    assert refused.status == 429
    assert REFUSED in str(refused.body)
    assert await gone(sim, name)
