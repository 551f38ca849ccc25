"""EndpointSlices of simulated Services: their contents from pods, and a cluster keeping them current
while pods start, become Ready and terminate; ``kubectl describe svc`` reads them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from infleet.api.kubernetes import DEPLOYMENT, ENDPOINT_SLICE, NODE, POD, SERVICE
from infleet.sim.endpoint_slices import MANAGED_BY, desired_slices
from tests.apiserver_harness import Kubectl, kubectl_binaries
from tests.sim.conftest import RunningSim, deployment


def pod(name: str, ip: str, ready: bool, terminating: bool = False, engine_port: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "labels": {"app": "web"},
        "annotations": {"sim.infleet.io/engine-port": engine_port} if engine_port else {},
    }
    if terminating:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": metadata,
        "spec": {"nodeName": "n1", "containers": [{"ports": [{"name": "http", "containerPort": 8000}]}]},
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": str(ready)}]},
    }


SERVICE_BODY = {
    "metadata": {"name": "web", "uid": "svc-uid"},
    "spec": {
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "appProtocol": "http"}],
    },
}


def test_conditions_of_ready_unready_and_terminating_pods() -> None:
    pods = [pod("a", "10.0.0.2", True), pod("b", "10.0.0.3", False), pod("c", "10.0.0.4", True, True)]
    (content,) = desired_slices(SERVICE_BODY, pods).values()
    assert content["addressType"] == "IPv4"
    assert content["ports"] == [{"name": "http", "port": 8000, "protocol": "TCP", "appProtocol": "http"}]
    conditions = {e["targetRef"]["name"]: e["conditions"] for e in content["endpoints"]}
    assert conditions == {
        "a": {"ready": True, "serving": True, "terminating": False},
        "b": {"ready": False, "serving": False, "terminating": False},
        "c": {"ready": False, "serving": True, "terminating": True},
    }
    first = content["endpoints"][0]
    assert first["addresses"] == ["10.0.0.2"]
    assert first["nodeName"] == "n1"
    assert first["targetRef"] == {"kind": "Pod", "name": "a", "namespace": "default", "uid": "uid-a"}


def test_pods_on_other_ports_get_their_own_slice_and_nothing_selected_keeps_one() -> None:
    slices = desired_slices(
        SERVICE_BODY, [pod("a", "10.0.0.2", True), pod("b", "127.0.0.1", True, False, "41000")]
    )
    assert sorted(s["ports"][0]["port"] for s in slices.values()) == [8000, 41000]
    assert all(name.startswith("web-") for name in slices)
    ended = pod("d", "10.0.0.5", False)
    ended["status"]["phase"] = "Succeeded"
    (empty,) = desired_slices(SERVICE_BODY, [ended, pod("e", "", False)]).values()
    assert empty["endpoints"] == []
    assert empty["ports"] == []


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]},
    }


async def listed_slices(sim: RunningSim, service_name: str) -> list[dict[str, Any]]:
    found = await sim.client.list(
        ENDPOINT_SLICE, "default", label_selector=f"kubernetes.io/service-name={service_name}"
    )
    return list(found.items)


async def until_endpoint(
    sim: RunningSim, service_name: str, check: Any, within: float = 30
) -> dict[str, Any]:
    """Poll the API until one endpoint of the Service's slices passes ``check``; return it."""
    async with asyncio.timeout(within):
        while True:
            for item in await listed_slices(sim, service_name):
                for endpoint in item.get("endpoints") or []:
                    if check(endpoint):
                        return dict(endpoint)
            await asyncio.sleep(0.05)


@pytest.mark.timeout(120)
async def test_slices_follow_pods_becoming_ready(sim: RunningSim, tmp_path: Path) -> None:
    await sim.client.create(SERVICE, service("web"))
    (placeholder,) = await _eventually_listed(sim, "web")
    labels = placeholder["metadata"]["labels"]
    assert labels["endpointslice.kubernetes.io/managed-by"] == MANAGED_BY
    owner = placeholder["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Service", "web", True)
    assert not placeholder.get("endpoints")

    await sim.client.create(DEPLOYMENT, deployment("web"))
    ready = await until_endpoint(sim, "web", lambda e: e["conditions"]["ready"])
    assert ready["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert ready["targetRef"]["kind"] == "Pod"
    assert ready["nodeName"]
    (current,) = await listed_slices(sim, "web")
    assert current["addressType"] == "IPv4"
    assert current["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    # Settled: nothing rewrites an unchanged slice.
    await asyncio.sleep(1.0)
    (later,) = await listed_slices(sim, "web")
    assert later["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]

    binaries = kubectl_binaries()
    if not binaries:
        pytest.skip("no kubectl binary")
    kubeconfig = sim.server.settings.kubeconfig_out
    assert kubeconfig is not None
    kubectl = Kubectl(binaries[0], kubeconfig, tmp_path / "kube-cache", context="infleet-member")
    described = await asyncio.to_thread(kubectl.run, "describe", "svc", "web")
    line = next(line for line in described.stdout.splitlines() if line.startswith("Endpoints:"))
    assert f"{ready['addresses'][0]}:80" in line, described.stdout


async def _eventually_listed(sim: RunningSim, name: str) -> list[dict[str, Any]]:
    async with asyncio.timeout(30):
        while not (found := await listed_slices(sim, name)):  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.05)
    return found


@pytest.mark.timeout(120)
async def test_a_terminating_pod_is_serving_but_not_ready(sim: RunningSim) -> None:
    # A node no kubelet runs: the deleted pod stays Terminating, as it would while a kubelet stops it.
    await sim.client.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "quiet"}})
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "draining", "namespace": "default", "labels": {"app": "api"}},
        "spec": {"nodeName": "quiet", "containers": [{"name": "c", "image": "nginx"}]},
    }
    await sim.client.create(POD, body)
    status = {
        "status": {
            "phase": "Running",
            "podIP": "127.9.0.5",
            "conditions": [{"type": "Ready", "status": "True"}],
        }
    }
    await sim.client.patch(POD, "draining", status, "default", subresource="status")
    await sim.client.create(SERVICE, service("api"))
    await until_endpoint(sim, "api", lambda e: e["conditions"]["ready"])
    async with httpx.AsyncClient(base_url=sim.server.cluster_url("member"), timeout=10) as api:
        answer = await api.delete("/api/v1/namespaces/default/pods/draining")
    assert answer.json()["metadata"]["deletionTimestamp"]
    endpoint = await until_endpoint(sim, "api", lambda e: e["conditions"]["terminating"])
    assert endpoint["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert endpoint["addresses"] == ["127.9.0.5"]
