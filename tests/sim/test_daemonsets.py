"""DaemonSets on a simulated cluster, through real kubectl: one pod bound to every matching node,
nodeSelector and taints, kube's status counts, a rolling update followed by ``rollout status``, and
``rollout history`` / ``undo`` over the DaemonSet's ControllerRevisions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from infleet.api.kubernetes import CONTROLLER_REVISION, DAEMONSET, NODE
from tests.sim.conftest import RunningSim, eventually
from tests.sim.test_kubectl_rollout import kubectl

pytestmark = pytest.mark.timeout(240)

NODES = {"member-a100-0", "member-a100-1", "member-l4-0"}


def daemonset(name: str, image: str = "fluentd:1.16", **pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "agent", "image": image}], **pod_spec},
            },
        },
    }


def placed(sim: RunningSim, app: str) -> dict[str, str]:
    """Image of each live, bound pod of ``app`` by node."""
    return {
        p["spec"]["nodeName"]: p["spec"]["containers"][0]["image"]
        for p in sim.pods(f"app={app}")
        if p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp")
    }


def live_pods(sim: RunningSim, app: str) -> list[dict[str, Any]]:
    return [p for p in sim.pods(f"app={app}") if not p["metadata"].get("deletionTimestamp")]


async def test_one_ready_pod_per_node_and_the_status_counts(sim: RunningSim) -> None:
    await sim.client.create(DAEMONSET, daemonset("agent"))
    await kubectl(sim, "rollout", "status", "ds/agent", "--timeout=60s")
    assert set(placed(sim, "agent")) == NODES
    assert len(live_pods(sim, "agent")) == 3
    pod = live_pods(sim, "agent")[0]
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchFields"][0]["values"] == [pod["spec"]["nodeName"]]
    tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerated
    status = (await sim.client.get(DAEMONSET, "agent", "default"))["status"]
    for field in (
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "numberReady",
        "updatedNumberScheduled",
        "numberAvailable",
    ):
        assert status[field] == 3, (field, status)
    assert status["numberMisscheduled"] == 0
    row = (await kubectl(sim, "get", "ds", "agent", "--no-headers")).split()
    assert row[1:6] == ["3", "3", "3", "3", "3"]  # DESIRED CURRENT READY UP-TO-DATE AVAILABLE
    described = await kubectl(sim, "describe", "ds", "agent")
    assert "Desired Number of Nodes Scheduled: 3" in described
    assert "Pods Status:  3 Running / 0 Waiting / 0 Succeeded / 0 Failed" in described


async def test_node_selector_and_taints_choose_the_nodes(sim: RunningSim) -> None:
    await sim.client.patch(
        NODE, "member-a100-1", {"spec": {"taints": [{"key": "maintenance", "effect": "NoSchedule"}]}}
    )
    await sim.client.create(DAEMONSET, daemonset("gpu-agent", nodeSelector={"infleet.io/node-pool": "a100"}))
    await kubectl(sim, "rollout", "status", "ds/gpu-agent", "--timeout=60s")
    assert set(placed(sim, "gpu-agent")) == {"member-a100-0"}

    tolerant = daemonset("tolerant", tolerations=[{"key": "maintenance", "operator": "Exists"}])
    await sim.client.create(DAEMONSET, tolerant)
    await kubectl(sim, "rollout", "status", "ds/tolerant", "--timeout=60s")
    assert set(placed(sim, "tolerant")) == NODES

    await sim.client.create(DAEMONSET, daemonset("plain"))
    await kubectl(sim, "rollout", "status", "ds/plain", "--timeout=60s")
    assert set(placed(sim, "plain")) == NODES - {"member-a100-1"}
    # NoExecute evicts the pod a NoSchedule taint left running; a matching toleration keeps it.
    evicting = [{"key": "maintenance", "effect": "NoExecute"}]
    await sim.client.patch(NODE, "member-a100-0", {"spec": {"taints": evicting}})
    await eventually(lambda: set(placed(sim, "plain")) == {"member-l4-0"}, 30)
    assert "member-a100-0" in placed(sim, "tolerant")
    status = (await sim.client.get(DAEMONSET, "plain", "default"))["status"]
    assert status["desiredNumberScheduled"] == 1


async def test_rolling_update_history_and_undo(sim: RunningSim) -> None:
    await sim.client.create(DAEMONSET, daemonset("logs"))
    await kubectl(sim, "rollout", "status", "ds/logs", "--timeout=60s")
    await kubectl(sim, "set", "image", "ds/logs", "agent=fluentd:1.17")
    out = await kubectl(sim, "rollout", "status", "ds/logs", "--timeout=90s")
    assert 'daemon set "logs" successfully rolled out' in out
    await eventually(lambda: set(placed(sim, "logs").values()) == {"fluentd:1.17"}, 30)
    assert len(live_pods(sim, "logs")) == 3
    history = await kubectl(sim, "rollout", "history", "ds/logs")
    rows = [line.split() for line in history.splitlines()[1:] if line.strip()]
    assert rows == [["REVISION", "CHANGE-CAUSE"], ["1", "<none>"], ["2", "<none>"]]
    assert "fluentd:1.16" in await kubectl(sim, "rollout", "history", "ds/logs", "--revision=1")
    revisions = (await sim.client.list(CONTROLLER_REVISION, "default", label_selector="app=logs")).items
    assert len(revisions) == 2
    assert all(r["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet" for r in revisions)

    assert "rolled back" in await kubectl(sim, "rollout", "undo", "ds/logs")
    await kubectl(sim, "rollout", "status", "ds/logs", "--timeout=90s")
    await eventually(lambda: placed(sim, "logs") == dict.fromkeys(NODES, "fluentd:1.16"), 30)
    hashes = {p["metadata"]["labels"]["controller-revision-hash"] for p in live_pods(sim, "logs")}
    first = next(r for r in revisions if r["revision"] == 1)
    assert hashes == {first["metadata"]["labels"]["controller-revision-hash"]}


async def test_surge_starts_the_new_pod_before_the_old_one_goes(sim: RunningSim) -> None:
    body = daemonset("surge")
    body["spec"]["updateStrategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    await sim.client.create(DAEMONSET, body)
    await kubectl(sim, "rollout", "status", "ds/surge", "--timeout=60s")
    await kubectl(sim, "set", "image", "ds/surge", "agent=fluentd:1.17")
    fewest_ready = 3
    async with asyncio.timeout(60):
        while set(placed(sim, "surge").values()) != {"fluentd:1.17"} or len(live_pods(sim, "surge")) != 3:
            ready = sum(
                1
                for p in live_pods(sim, "surge")
                if any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"].get("conditions") or []
                )
            )
            fewest_ready = min(fewest_ready, ready)
            await asyncio.sleep(0.02)
    assert fewest_ready >= 3, "maxUnavailable 0: every node keeps a Ready pod throughout"
    await kubectl(sim, "rollout", "status", "ds/surge", "--timeout=60s")
