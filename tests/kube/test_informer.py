"""Informers against the embedded server: list then watch, indexes, bookmarks, and no lost events across
an API server restart."""

from __future__ import annotations

import asyncio
from typing import Any

from infleet.api.resource_kind import ResourceKind
from infleet.apiserver.server import EmbeddedAPIServer
from infleet.kube.backoff import ExponentialBackoff
from infleet.kube.cluster_client import ClientFactory
from infleet.kube.informer import Informer, InformerEvent, InformerSettings
from tests.kube.conftest import RunningServer, eventually, settings

CONFIGMAP = ResourceKind("", "v1", "ConfigMap", "configmaps")
SECRET = ResourceKind("", "v1", "Secret", "secrets")


def config_map(
    name: str, labels: dict[str, str] | None = None, owner_uid: str | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default", "labels": labels or {}}
    if owner_uid:
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": owner_uid}
        ]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {}}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, event: InformerEvent) -> None:
        self.events.append((event.type, event.obj["metadata"]["name"]))


async def test_lists_then_watches_and_indexes(apiserver: RunningServer) -> None:
    client = apiserver.client()
    await client.create(CONFIGMAP, config_map("before", {"app": "x"}))
    informer = Informer(client, CONFIGMAP)
    recorder = Recorder()
    informer.add_handler(recorder)
    stop = asyncio.Event()
    task = asyncio.ensure_future(informer.run(stop))
    await asyncio.wait_for(informer.wait_synced(), 5)
    assert informer.has_synced()
    assert recorder.events == [("ADDED", "before")]

    await client.create(CONFIGMAP, config_map("child", {"app": "y"}, owner_uid="uid-1"))
    await client.patch(CONFIGMAP, "before", {"metadata": {"labels": {"app": "y"}}}, "default")
    await client.delete(CONFIGMAP, "child", "default")
    await eventually(lambda: len(recorder.events) == 4)
    assert recorder.events[1:] == [("ADDED", "child"), ("MODIFIED", "before"), ("DELETED", "child")]

    store = informer.store
    assert [o["metadata"]["name"] for o in store.by_label("app", "y")] == ["before"]
    assert store.by_label("app", "x") == []
    assert [o["metadata"]["name"] for o in store.list("default")] == ["before"]
    assert store.owned_by("uid-1") == []
    stop.set()
    await asyncio.wait_for(task, 5)
    assert informer.lists == 1, "a healthy watch never lists again"


async def test_bookmarks_advance_the_resume_point(apiserver: RunningServer) -> None:
    client = apiserver.client()
    informer = Informer(client, CONFIGMAP)
    stop = asyncio.Event()
    task = asyncio.ensure_future(informer.run(stop))
    await asyncio.wait_for(informer.wait_synced(), 5)
    secret = await client.create(
        SECRET, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}}
    )
    written = int(secret["metadata"]["resourceVersion"])
    # No ConfigMap changed, so only a BOOKMARK (sent every 0.5 s here) can move the informer forward.
    await eventually(lambda: int(informer.resource_version or 0) >= written, within=5)
    assert len(informer.store) == 0
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_owner_index(apiserver: RunningServer) -> None:
    client = apiserver.client()
    informer = Informer(client, CONFIGMAP)
    stop = asyncio.Event()
    task = asyncio.ensure_future(informer.run(stop))
    await asyncio.wait_for(informer.wait_synced(), 5)
    await client.create(CONFIGMAP, config_map("c1", owner_uid="uid-7"))
    await client.create(CONFIGMAP, config_map("c2", owner_uid="uid-7"))
    await eventually(lambda: len(informer.store.owned_by("uid-7")) == 2)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_no_change_is_lost_across_an_apiserver_restart(apiserver: RunningServer) -> None:
    client = apiserver.client()
    for name in ("kept", "changed", "deleted"):
        await client.create(CONFIGMAP, config_map(name))
    reconnect = ExponentialBackoff(base=0.05, cap=0.2, jitter=0.0)
    informer = Informer(client, CONFIGMAP, InformerSettings(reconnect_backoff=reconnect))
    recorder = Recorder()
    informer.add_handler(recorder)
    stop = asyncio.Event()
    task = asyncio.ensure_future(informer.run(stop))
    await asyncio.wait_for(informer.wait_synced(), 5)
    recorder.events.clear()

    async def write_while_down() -> None:
        # A second server process stands in for "someone else wrote while we were disconnected".
        other_config = apiserver.data_dir.parent / "other-kubeconfig"
        other = EmbeddedAPIServer(settings(apiserver.data_dir, other_config))
        await other.start()
        factory = ClientFactory(other_config)
        writer = factory.client("infleet-hub", "hub")
        await writer.patch(CONFIGMAP, "changed", {"data": {"k": "v"}}, "default")
        await writer.delete(CONFIGMAP, "deleted", "default")
        await writer.create(CONFIGMAP, config_map("created"))
        await factory.close()
        await other.stop()

    await apiserver.restart(between=write_while_down)
    await eventually(lambda: len(recorder.events) >= 3, within=10)
    assert sorted(recorder.events) == [("ADDED", "created"), ("DELETED", "deleted"), ("MODIFIED", "changed")]
    assert informer.store.get("changed", "default")["data"] == {"k": "v"}  # type: ignore[index]
    assert informer.lists >= 2, "the restarted server forgot its watch window, so the informer relisted (410)"

    await client.create(CONFIGMAP, config_map("after"))
    await eventually(lambda: ("ADDED", "after") in recorder.events)
    stop.set()
    await asyncio.wait_for(task, 5)
