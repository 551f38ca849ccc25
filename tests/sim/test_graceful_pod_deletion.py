"""Graceful pod deletion: the API server marks a running pod, its kubelet stops the containers and
removes it; pods that never ran or have ended go at once; the official Python client decodes every
answer (it expects the Pod back, as kube-apiserver sends it)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import kubernetes
import pytest

from infleet.api.kubernetes import DEPLOYMENT, EVENT, NODE, POD
from infleet.kube.api_error import KubeAPIError
from tests.sim.conftest import RunningSim, deployment, eventually

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str, node: str | None = None, grace: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


async def gone(sim: RunningSim, name: str) -> bool:
    try:
        await sim.client.get(POD, name, "default")
    except KubeAPIError as error:
        return error.not_found
    return False


async def until_gone(sim: RunningSim, name: str) -> None:
    async with asyncio.timeout(15):
        while not await gone(sim, name):  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.05)


async def running_pod(sim: RunningSim, app: str) -> dict[str, Any]:
    await sim.client.create(DEPLOYMENT, deployment(app))
    await eventually(lambda: any(p["status"].get("phase") == "Running" for p in sim.pods(f"app={app}")), 30)
    return next(p for p in sim.pods(f"app={app}") if p["status"].get("phase") == "Running")


async def test_a_running_pod_is_marked_then_removed_by_its_kubelet(sim: RunningSim) -> None:
    name = (await running_pod(sim, "web"))["metadata"]["name"]
    async with httpx.AsyncClient(base_url=sim.server.cluster_url("member"), timeout=10) as api:
        answer = await api.delete(f"{PODS}/{name}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["kind"] == "Pod"
    assert body["metadata"]["deletionGracePeriodSeconds"] == 30
    assert body["metadata"]["deletionTimestamp"]
    await until_gone(sim, name)
    events = (await sim.client.list(EVENT, "default")).items
    assert any(e["reason"] == "Killing" and e["involvedObject"]["name"] == name for e in events)


async def test_pods_that_never_ran_or_were_forced_go_at_once(sim: RunningSim) -> None:
    await sim.client.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "no-kubelet"}})
    await sim.client.create(POD, pod("unscheduled") | {"spec": {"schedulerName": "none", **pod("x")["spec"]}})
    await sim.client.create(POD, pod("stranded", node="no-kubelet"))
    async with httpx.AsyncClient(base_url=sim.server.cluster_url("member"), timeout=10) as api:
        first = await api.delete(f"{PODS}/unscheduled")
        assert first.json()["kind"] == "Pod"
        assert await gone(sim, "unscheduled")
        # No kubelet runs this node: the pod waits in Terminating, as on a real cluster ...
        marked = (await api.delete(f"{PODS}/stranded", params={"gracePeriodSeconds": "120"})).json()
        assert marked["metadata"]["deletionGracePeriodSeconds"] == 120
        await asyncio.sleep(0.5)
        assert not await gone(sim, "stranded")
        # ... a longer period never postpones it, a shorter one brings it closer ...
        again = (await api.delete(f"{PODS}/stranded", params={"gracePeriodSeconds": "600"})).json()
        assert again["metadata"]["deletionGracePeriodSeconds"] == 120
        shorter = (await api.delete(f"{PODS}/stranded", params={"gracePeriodSeconds": "10"})).json()
        assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10
        # ... and `kubectl delete --force --grace-period=0` removes it.
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        forced = await api.request("DELETE", f"{PODS}/stranded", json=body)
        assert forced.status_code == 200
        assert await gone(sim, "stranded")
        bad = await api.delete(f"{PODS}/whatever", params={"gracePeriodSeconds": "soon"})
        assert bad.status_code == 400
        assert "gracePeriodSeconds" in bad.json()["message"]


async def test_a_terminating_pod_whose_node_is_gone_is_collected(sim: RunningSim) -> None:
    await sim.client.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "doomed"}})
    await sim.client.create(POD, pod("orphan", node="doomed"))
    await sim.client.delete(POD, "orphan", "default")
    assert not await gone(sim, "orphan")
    await sim.client.delete(NODE, "doomed")
    await until_gone(sim, "orphan")


async def test_the_official_python_client_deletes_and_watches_pods(sim: RunningSim) -> None:
    name = (await running_pod(sim, "client"))["metadata"]["name"]
    configuration = kubernetes.client.Configuration()
    configuration.host = sim.server.cluster_url("member")

    def delete_and_watch() -> list[str]:
        with kubernetes.client.ApiClient(configuration) as client:
            core = kubernetes.client.CoreV1Api(client)
            deleted = core.delete_namespaced_pod(name, "default")
            assert isinstance(deleted, kubernetes.client.V1Pod)
            assert deleted.metadata.deletion_timestamp is not None
            seen = []
            stream = kubernetes.watch.Watch().stream(
                core.list_namespaced_pod,
                "default",
                field_selector=f"metadata.name={name}",
                resource_version=deleted.metadata.resource_version,
                timeout_seconds=20,
            )
            for event in stream:
                seen.append(event["type"])
                if event["type"] == "DELETED":
                    break
            return seen

    seen = await asyncio.to_thread(delete_and_watch)
    assert seen[-1] == "DELETED"
    assert await gone(sim, name)


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
async def test_an_ended_pod_goes_at_once(sim: RunningSim, phase: str) -> None:
    await sim.client.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "plain"}})
    await sim.client.create(POD, pod("ended", node="plain"))
    await sim.client.patch(POD, "ended", {"status": {"phase": phase}}, "default", subresource="status")
    await sim.client.delete(POD, "ended", "default")
    assert await gone(sim, "ended")
