"""The API server's pods/binding and pods/log (through the kubelet endpoint), and the reachability fault."""

from __future__ import annotations

import httpx
import pytest

from infleet.api.kubernetes import CONFIGMAP, DEPLOYMENT, NAMESPACE, NODE, POD
from infleet.kube.api_error import KubeAPIError
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request
from infleet.sim.cluster_reachability import ClusterReachability
from infleet.sim.faults import FAULTS_NAMESPACE, Faults
from tests.sim.conftest import RunningSim, deployment, eventually


def bare_pod(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"schedulerName": "elsewhere", "containers": [{"name": "c", "image": "busybox"}]},
    }


async def test_binding_sets_the_node_once(sim: RunningSim) -> None:
    await sim.client.create(POD, bare_pod("manual"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "manual"},
        "target": {"kind": "Node", "name": "member-l4-0"},
    }
    await sim.client.create_subresource(POD, "manual", "binding", binding, "default")
    assert (await sim.client.get(POD, "manual", "default"))["spec"]["nodeName"] == "member-l4-0"
    with pytest.raises(KubeAPIError) as error:
        await sim.client.create_subresource(POD, "manual", "binding", binding, "default")
    assert error.value.code == 409
    assert "already assigned to node 'member-l4-0'" in error.value.message


async def test_pod_logs_are_served_through_the_api(sim: RunningSim) -> None:
    await sim.client.create(POD, bare_pod("unbound"))
    base = sim.server.cluster_url("member") + "/api/v1/namespaces/default/pods"
    async with httpx.AsyncClient(timeout=5) as http:
        waiting = await http.get(f"{base}/unbound/log")
        assert waiting.status_code == 400
        assert "waiting to start" in waiting.json()["message"]
        await sim.client.create(DEPLOYMENT, deployment("logged"))
        await eventually(lambda: any(p["status"].get("phase") == "Running" for p in sim.pods("app=logged")))
        name = sim.pods("app=logged")[0]["metadata"]["name"]
        response = await http.get(f"{base}/{name}/log", params={"container": "main"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert 'Pulling image "nginx:1.27"' in response.text
        assert "started" in response.text.splitlines()[-1]
        tail = await http.get(f"{base}/{name}/log", params={"tailLines": "1"})
        assert len(tail.text.splitlines()) == 1
        wrong = await http.get(f"{base}/{name}/log", params={"container": "nope"})
        assert wrong.status_code == 400
        assert "container nope is not valid" in wrong.json()["message"]


async def test_unreachable_cluster_fault_switches_the_api(sim: RunningSim) -> None:
    switched: list[tuple[str, bool]] = []

    def switch(cluster: str, reachable: bool) -> None:
        switched.append((cluster, reachable))
        sim.server.set_cluster_reachable(cluster, reachable)

    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": FAULTS_NAMESPACE}}
    await sim.hub.create(NAMESPACE, namespace)
    informer = Informer(sim.hub, CONFIGMAP)  # filled by hand below: the reconciler reads only its cache
    reachability = ClusterReachability(informer, ["member"], switch)
    faults = Faults(sim.hub)
    await faults.set_cluster_unreachable("member")
    configmaps = await sim.hub.list(CONFIGMAP, FAULTS_NAMESPACE)
    informer.store.replace(configmaps.items)
    await reachability.reconcile(Request("hub", FAULTS_NAMESPACE, "sim-faults"))
    assert switched == [("member", False)]
    with pytest.raises(KubeAPIError) as error:
        await sim.client.get(NODE, "member-l4-0")
    assert error.value.code == 503
    with pytest.raises(KubeAPIError) as error:
        await sim.client.probe("/readyz")  # health checks fail too, so a member agent reports it
    assert error.value.code == 503
    await faults.set_cluster_unreachable("member", unreachable=False)
    informer.store.replace((await sim.hub.list(CONFIGMAP, FAULTS_NAMESPACE)).items)
    await reachability.reconcile(Request("hub", FAULTS_NAMESPACE, "sim-faults"))
    assert switched[-1] == ("member", True)
    assert (await sim.client.get(NODE, "member-l4-0"))["metadata"]["name"] == "member-l4-0"
    assert await sim.client.probe("/readyz") == "ok"
