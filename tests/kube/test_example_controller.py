"""A small controller written the way Infleet's controllers are, across two clusters: a Widget in the hub
gets a ConfigMap in member1 (owned-object style mapping by label), a finalizer that cleans it up, and a
Ready condition written once per reconcile."""

from __future__ import annotations

import asyncio
from typing import Any

from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import is_true, set_condition
from infleet.kube.finalizers import ensure_finalizer, is_being_deleted, remove_finalizer
from infleet.kube.informer import Informer, InformerEvent, InformerSettings
from infleet.kube.manager import Manager, ManagerSettings
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from tests.kube.conftest import RunningServer, eventually, install_widget_crd, widget

CONFIGMAP = ResourceKind("", "v1", "ConfigMap", "configmaps")
FINALIZER = "test.infleet.io/member-copy"
SOURCE = "test.infleet.io/widget"


class WidgetCopier:
    """Keeps a ConfigMap in the member for every Widget in the hub."""

    def __init__(
        self, hub: ClusterClient, member: ClusterClient, kind: ResourceKind, widgets: Informer
    ) -> None:
        self.hub, self.member, self.kind, self.widgets = hub, member, kind, widgets
        self.reconciles = 0

    async def reconcile(self, request: Request) -> Result:
        self.reconciles += 1
        obj = self.widgets.store.get(request.name, request.namespace)
        if obj is None:
            return Result()
        if is_being_deleted(obj):
            await self._delete_copy(request)
            await remove_finalizer(self.hub, self.kind, obj, FINALIZER)
            return Result()
        obj = await ensure_finalizer(self.hub, self.kind, obj, FINALIZER)
        await self._apply_copy(request, obj)

        def ready(status: dict[str, Any]) -> None:
            status["observedGeneration"] = obj["metadata"].get("generation")
            set_condition(status.setdefault("conditions", []), "Ready", True, "Copied", "copied to member1")

        await patch_status(self.hub, self.kind, obj, ready)
        return Result()

    async def _apply_copy(self, request: Request, obj: dict[str, Any]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": request.name, "namespace": "default", "labels": {SOURCE: request.name}},
            "data": {key: str(value) for key, value in (obj.get("spec") or {}).items()},
        }
        try:
            await self.member.create(CONFIGMAP, body)
        except KubeAPIError as error:
            if not error.conflict:
                raise
            await self.member.patch(CONFIGMAP, request.name, {"data": body["data"]}, "default")

    async def _delete_copy(self, request: Request) -> None:
        try:
            await self.member.delete(CONFIGMAP, request.name, "default")
        except KubeAPIError as error:
            if not error.not_found:
                raise


def copy_to_widget(event: InformerEvent) -> list[Request]:
    """A member ConfigMap maps back to the hub Widget named in its label."""
    source = (event.obj["metadata"].get("labels") or {}).get(SOURCE)
    return [Request("hub", "default", source)] if source else []


async def test_widget_copier_across_clusters(apiserver: RunningServer) -> None:
    hub, member = apiserver.client("hub"), apiserver.client("member1")
    kind = await install_widget_crd(hub)
    manager = Manager(ManagerSettings(handle_signals=False))
    widgets = manager.informer(hub, kind)
    copies = manager.informer(member, CONFIGMAP, InformerSettings(label_selector=SOURCE))
    copier = WidgetCopier(hub, member, kind, widgets)
    controller = manager.controller("widget-copier", copier)
    controller.watch_for(widgets)
    controller.watch_mapped(copies, copy_to_widget)
    run = asyncio.ensure_future(manager.run())

    await hub.create(kind, widget("w", size=3))
    await eventually(
        lambda: is_true(
            ((widgets.store.get("w", "default") or {}).get("status") or {}).get("conditions"), "Ready"
        )
    )
    assert (await member.get(CONFIGMAP, "w", "default"))["data"] == {"size": "3"}

    # Drift in the member is repaired because member changes map back to the hub object.
    await member.patch(CONFIGMAP, "w", {"data": {"size": "99"}}, "default")
    await eventually(lambda: (copies.store.get("w", "default") or {}).get("data") == {"size": "3"})

    await hub.delete(kind, "w", "default")
    await eventually(lambda: widgets.store.get("w", "default") is None)
    assert await _gone(member), "the finalizer removed the member copy before the Widget went away"
    manager.stop()
    await asyncio.wait_for(run, 10)


async def _gone(member: ClusterClient) -> bool:
    try:
        await member.get(CONFIGMAP, "w", "default")
    except KubeAPIError as error:
        return error.not_found
    return False
