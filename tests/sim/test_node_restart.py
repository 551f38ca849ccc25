"""After the process that simulated a cluster dies, its pods are not ready until they run again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from infleet.api.kubernetes import DEPLOYMENT, POD
from infleet.kube.conditions import get_condition
from infleet.kube.manager import Manager, ManagerSettings
from infleet.sim.mini_engine import MiniEngineLauncher
from infleet.sim.node_restart import REASON, report_stopped_containers
from infleet.sim.settings import SimSettings
from infleet.sim.simulated_cluster import add_simulated_cluster
from tests.sim.conftest import POOLS, RunningSim, deployment, eventually


def ready(pod: dict[str, Any]) -> str | None:
    condition = get_condition((pod.get("status") or {}).get("conditions"), "Ready")
    return None if condition is None else str(condition["status"])


async def test_pods_of_a_dead_process_are_not_ready_until_they_run_again(sim: RunningSim) -> None:
    await sim.client.create(DEPLOYMENT, deployment("web"))
    await eventually(lambda: [ready(p) for p in sim.pods("app=web")] == ["True"], message="pod never ready")
    sim.manager.stop()  # the process that ran the kubelet and its containers is gone
    await asyncio.sleep(0.2)

    assert await report_stopped_containers(sim.client, time.time()) == 1
    (pod,) = (await sim.client.list(POD, namespace="default")).items
    condition = get_condition(pod["status"]["conditions"], "Ready")
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", REASON)
    assert await report_stopped_containers(sim.client, time.time()) == 0  # nothing left to report

    manager = Manager(ManagerSettings(handle_signals=False))
    launcher = MiniEngineLauncher()
    settings = SimSettings(time_scale=0.001, log_dir=sim.sim.kubelet.settings.log_dir, heartbeat_interval=0.5)
    again = add_simulated_cluster(manager, sim.client, POOLS, settings, launcher)
    await again.heartbeat.register()
    task = asyncio.ensure_future(manager.run())
    try:
        await eventually(
            lambda: [ready(p) for p in again.kubelet.pods.store.list("default")] == ["True"],
            message="the restarted kubelet never ran the pod again",
        )
    finally:
        manager.stop()
        await asyncio.wait_for(task, 15)
        await launcher.close()
