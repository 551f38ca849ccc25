"""The Manager: health and readiness endpoints, Prometheus metrics per manager, stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx

from infleet.api.resource_kind import ResourceKind
from infleet.kube.informer import InformerSettings
from infleet.kube.manager import Manager, ManagerSettings
from infleet.kube.reconciler import Request, Result
from tests.kube.conftest import RunningServer, eventually

CONFIGMAP = ResourceKind("", "v1", "ConfigMap", "configmaps")


class Counts:
    def __init__(self) -> None:
        self.requests: list[Request] = []

    async def reconcile(self, request: Request) -> Result:
        self.requests.append(request)
        return Result()


async def test_health_ready_and_metrics(apiserver: RunningServer) -> None:
    client = apiserver.client()
    manager = Manager(ManagerSettings(health_port=0, handle_signals=False))
    reconciler = Counts()
    controller = manager.controller("counts", reconciler)
    controller.watch_for(manager.informer(client, CONFIGMAP, InformerSettings(namespace="default")))
    assert manager.informer(client, CONFIGMAP, InformerSettings(namespace="default")) is manager.informers[0]
    assert manager._informers_synced() is not None  # nothing listed yet: not ready
    run = asyncio.ensure_future(manager.run())
    assert manager.health is not None
    await asyncio.wait_for(manager.health.started.wait(), 5)
    base = f"http://127.0.0.1:{manager.health.port}"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "default"}}
    await client.create(CONFIGMAP, body)
    await eventually(lambda: len(reconciler.requests) >= 1)
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{base}/healthz")).text == "ok"
        assert (await http.get(f"{base}/readyz")).status_code == 200
        metrics = (await http.get(f"{base}/metrics")).text
    assert 'controller_runtime_reconcile_total{controller="counts",result="success"} 1.0' in metrics
    assert 'workqueue_depth{name="counts"} 0.0' in metrics
    assert 'workqueue_adds_total{name="counts"} 1.0' in metrics
    assert "controller_runtime_reconcile_time_seconds_bucket" in metrics
    manager.stop()
    await asyncio.wait_for(run, 10)


async def test_two_managers_have_separate_registries() -> None:
    first, second = (
        Manager(ManagerSettings(handle_signals=False)),
        Manager(ManagerSettings(handle_signals=False)),
    )
    first.metrics.reconciles.labels("x", "success").inc()
    assert second.metrics.registry.get_sample_value(
        "controller_runtime_reconcile_total", {"controller": "x", "result": "success"}
    ) in (None, 0.0)


async def test_sigterm_stops_and_drains(apiserver: RunningServer) -> None:
    client = apiserver.client()
    manager = Manager(ManagerSettings(handle_signals=True))
    finished: list[str] = []

    class Slow:
        async def reconcile(self, request: Request) -> Result:
            await asyncio.sleep(0.3)
            finished.append(request.name)
            return Result()

    controller = manager.controller("slow", Slow())
    informer = manager.informer(client, CONFIGMAP)
    controller.watch_for(informer)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s", "namespace": "default"}}
    await client.create(CONFIGMAP, body)
    run = asyncio.ensure_future(manager.run())
    await eventually(lambda: controller.queue.processing == 1)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(run, 10)
    assert finished == ["s"], "the reconcile in flight finished before the manager returned"
    assert signal.getsignal(signal.SIGTERM) is not None


async def test_a_failing_runnable_stops_the_manager() -> None:
    manager = Manager(ManagerSettings(handle_signals=False))

    class Broken:
        async def run(self, stop: asyncio.Event) -> None:
            raise RuntimeError("boom")

    class Waits:
        stopped = False

        async def run(self, stop: asyncio.Event) -> None:
            await stop.wait()
            self.stopped = True

    waits = Waits()
    manager.add(Broken())
    manager.add(waits)
    await asyncio.wait_for(manager.run(), 5)
    assert waits.stopped
