"""Controllers end to end against the embedded server: reconcile on change, owned objects map to their
owner, requeue_after, retries with backoff, terminal errors, and a change made while the API server was
down is reconciled after it comes back."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import pytest

from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.backoff import ExponentialBackoff
from infleet.kube.controller import Controller, ControllerSettings
from infleet.kube.informer import Informer, InformerSettings
from infleet.kube.rate_limit import RateLimiter
from infleet.kube.reconciler import Request, Result, TerminalError
from tests.kube.conftest import RunningServer, eventually

CONFIGMAP = ResourceKind("", "v1", "ConfigMap", "configmaps")


def config_map(name: str, owner: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default"}
    if owner is not None:
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"], "controller": True}
        metadata["ownerReferences"] = [{**ref, "uid": owner["metadata"]["uid"]}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {}}


class Scripted:
    """A reconciler whose outcome per name is scripted: a list of results or exceptions, then success."""

    def __init__(self, script: dict[str, list[Result | Exception]] | None = None) -> None:
        self.script = script or {}
        self.calls: list[Request] = []

    async def reconcile(self, request: Request) -> Result:
        self.calls.append(request)
        steps = self.script.get(request.name)
        if steps:
            step = steps.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return Result()

    def count(self, name: str) -> int:
        return sum(1 for call in self.calls if call.name == name)


def fast_settings() -> ControllerSettings:
    return ControllerSettings(
        workers=2, rate_limiter=RateLimiter(ExponentialBackoff(base=0.02, cap=0.1, jitter=0.0), None)
    )


async def start(
    controller: Controller, *informers: Informer
) -> tuple[asyncio.Event, list[asyncio.Future[None]]]:
    stop = asyncio.Event()
    tasks: list[asyncio.Future[None]] = [asyncio.ensure_future(i.run(stop)) for i in informers]
    tasks.append(asyncio.ensure_future(controller.run(stop)))
    return stop, tasks


async def test_reconciles_changes_and_maps_owned_objects(apiserver: RunningServer) -> None:
    client = apiserver.client()
    reconciler = Scripted()
    controller = Controller("cm", reconciler, fast_settings())
    informer = Informer(client, CONFIGMAP)
    controller.watch_for(informer)
    controller.watch_owned(informer, "ConfigMap")
    stop, tasks = await start(controller, informer)

    owner = await client.create(CONFIGMAP, config_map("owner"))
    await eventually(lambda: reconciler.count("owner") >= 1)
    await client.create(CONFIGMAP, config_map("child", owner))
    await eventually(lambda: reconciler.count("child") >= 1 and reconciler.count("owner") >= 2)
    assert all(call.cluster == "hub" and call.namespace == "default" for call in reconciler.calls)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def test_retries_with_backoff_until_success_and_terminal_errors_stop(apiserver: RunningServer) -> None:
    client = apiserver.client()
    reconciler = Scripted(
        {
            "flaky": [RuntimeError("one"), RuntimeError("two"), RuntimeError("three")],
            "broken": [TerminalError("spec cannot work")],
            "poll": [Result(requeue_after=0.05), Result(requeue_after=0.05)],
        }
    )
    controller = Controller("cm", reconciler, fast_settings())
    informer = Informer(client, CONFIGMAP)
    controller.watch_for(informer)
    stop, tasks = await start(controller, informer)
    for name in ("flaky", "broken", "poll"):
        await client.create(CONFIGMAP, config_map(name))

    await eventually(lambda: reconciler.count("flaky") == 4 and reconciler.count("poll") == 3)
    await asyncio.sleep(0.3)
    assert reconciler.count("flaky") == 4, "after success the key is not retried"
    assert reconciler.count("broken") == 1, "a terminal error is not retried"
    assert reconciler.count("poll") == 3, "requeue_after asked twice, then success"
    flaky = Request("hub", "default", "flaky")
    assert controller.queue.num_requeues(flaky) == 0, "success forgets the backoff"
    results = {
        labels["result"]: value
        for metric in controller.metrics.reconciles.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
        for labels, value in [(sample.labels, sample.value)]
    }
    assert results == {"error": 3, "terminal_error": 1, "requeue_after": 2, "success": 2}
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def test_a_conflict_is_requeued_quietly_not_counted_as_an_error(
    apiserver: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = apiserver.client()
    stale = KubeAPIError(409, "Conflict", "the object has been modified; please apply your changes")
    exists = KubeAPIError(409, "AlreadyExists", 'configmaps "raced" already exists')
    reconciler = Scripted({"raced": [stale, exists], "failing": [RuntimeError("boom")]})
    controller = Controller("cm", reconciler, fast_settings())
    informer = Informer(client, CONFIGMAP)
    controller.watch_for(informer)
    stop, tasks = await start(controller, informer)
    with caplog.at_level(logging.INFO, logger="infleet.kube.controller"):
        for name in ("raced", "failing"):
            await client.create(CONFIGMAP, config_map(name))
        await eventually(lambda: reconciler.count("raced") == 3 and reconciler.count("failing") == 2)
    results = Counter(
        {
            sample.labels["result"]: sample.value
            for metric in controller.metrics.reconciles.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        }
    )
    assert results["conflict"] == 2, "both stale writes were requeued"
    assert results["error"] == 1, "only the real failure counts as an error"
    errors = sum(
        s.value for m in controller.metrics.errors.collect() for s in m.samples if s.name.endswith("_total")
    )
    assert errors == 1
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info is not None for r in logged] == [True], "one traceback: the RuntimeError's"
    assert "raced" not in " ".join(r.getMessage() for r in logged)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def test_one_key_is_never_reconciled_concurrently(apiserver: RunningServer) -> None:
    client = apiserver.client()
    running: Counter[str] = Counter()
    overlaps: list[str] = []
    seen: list[str] = []
    release = asyncio.Event()

    class Blocking:
        async def reconcile(self, request: Request) -> Result:
            running[request.name] += 1
            if running[request.name] > 1:
                overlaps.append(request.name)
            if not seen:
                await release.wait()  # the first reconcile holds the key while updates arrive
            seen.append(request.name)
            running[request.name] -= 1
            return Result()

    controller = Controller("blocking", Blocking(), ControllerSettings(workers=4))
    informer = Informer(client, CONFIGMAP)
    controller.watch_for(informer)
    stop, tasks = await start(controller, informer)
    await client.create(CONFIGMAP, config_map("hot"))
    await eventually(lambda: running["hot"] == 1)
    for value in range(8):
        await client.patch(CONFIGMAP, "hot", {"data": {"v": str(value)}}, "default")
    await eventually(lambda: (informer.store.get("hot", "default") or {}).get("data", {}).get("v") == "7")
    assert controller.queue.depth == 0, "the key is held by a worker, so it is not handed to another"
    release.set()
    await eventually(lambda: len(seen) == 2 and controller.queue.processing == 0)
    await asyncio.sleep(0.1)
    assert overlaps == []
    assert seen == ["hot", "hot"], "eight updates during one reconcile collapse into one more reconcile"
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)


async def test_change_made_while_apiserver_was_down_is_reconciled(apiserver: RunningServer) -> None:
    client = apiserver.client()
    seen: list[tuple[str, str | None]] = []

    class Records:
        async def reconcile(self, request: Request) -> Result:
            obj = informer.store.get(request.name, request.namespace)
            seen.append((request.name, None if obj is None else obj["data"].get("v")))
            return Result()

    await client.create(CONFIGMAP, config_map("target"))
    settings = InformerSettings(reconnect_backoff=ExponentialBackoff(0.5, 0.5, 0.0))
    informer = Informer(client, CONFIGMAP, settings)
    controller = Controller("records", Records())
    controller.watch_for(informer)
    stop, tasks = await start(controller, informer)
    await eventually(lambda: ("target", None) in seen)

    async def nothing() -> None:
        return None

    # The informer waits 0.5 s before reconnecting, so this write lands while its watch is down.
    await apiserver.restart(between=nothing)
    await apiserver.client().patch(CONFIGMAP, "target", {"data": {"v": "while-down"}}, "default")
    await eventually(lambda: ("target", "while-down") in seen, within=10)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
