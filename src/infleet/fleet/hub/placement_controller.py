"""The placement controller: for each ClusterResourcePlacement (or ResourcePlacement) it keeps a
finalizer, selects the objects to place, writes policy and resource snapshots when they change, and
writes the placement's status from the snapshots and bindings. On deletion it removes the bindings
(whose Works go with them), then the snapshots, then its finalizer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from infleet.api.labels import PLACEMENT_CLEANUP_FINALIZER
from infleet.api.placement_kubernetes_fleet_io.v1beta1.placement import SCHEDULED, PlacementSpec
from infleet.api.resource_kind import ResourceKind
from infleet.fleet.hub.namespace_contents import NamespaceContents
from infleet.fleet.hub.placement_kinds import PlacementKinds
from infleet.fleet.hub.placement_status import StatusInputs, build_status
from infleet.fleet.hub.resource_selection import InvalidSelectorError, SelectionScope, select_resources
from infleet.fleet.hub.snapshots import Snapshotter, latest, owned_snapshots
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import set_condition
from infleet.kube.discovery import Discovery
from infleet.kube.finalizers import ensure_finalizer, is_being_deleted, remove_finalizer
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status

log = logging.getLogger(__name__)


@dataclass
class PlacementInformers:
    """The hub caches one placement scope reads."""

    placements: Informer
    policy_snapshots: Informer
    resource_snapshots: Informer
    bindings: Informer


class PlacementController:
    """Reconciles placements of one scope (cluster or namespaced)."""

    def __init__(
        self,
        client: ClusterClient,
        kinds: PlacementKinds,
        informers: PlacementInformers,
        discovery: Discovery,
        clock: Clock,
        resync_seconds: float = 60.0,
        contents: NamespaceContents | None = None,
    ) -> None:
        self._client = client
        self._kinds = kinds
        self._informers = informers
        self._discovery = discovery
        self._clock = clock
        self._resync = resync_seconds
        self._contents = contents
        self._snapshotter = Snapshotter(
            client, kinds, informers.policy_snapshots.store, informers.resource_snapshots.store
        )

    async def reconcile(self, request: Request) -> Result:
        placement = self._informers.placements.store.get(request.name, request.namespace or None)
        if placement is None:
            return Result()
        if is_being_deleted(placement):
            return await self._delete(placement)
        try:
            spec = PlacementSpec.model_validate(placement.get("spec") or {})
        except ValidationError as error:
            await self._refuse(placement, "InvalidPlacementSpec", str(error).replace("\n", " "))
            return Result()
        try:
            selected = await select_resources(
                self._client,
                self._discovery,
                spec.resource_selectors,
                SelectionScope(request.namespace),
                self._contents,
            )
        except InvalidSelectorError as error:
            await self._refuse(placement, "InvalidResourceSelectors", str(error))
            return Result()
        # The three writes go together: each is one round trip on the path to Scheduled, and none needs
        # another. The scheduler waits for both snapshots (either one's creation wakes it), and they are
        # owned by the placement, so one deleted before its finalizer lands still takes them along.
        placement, resource_name, policy_name = await asyncio.gather(
            ensure_finalizer(self._client, self._kinds.placement, placement, PLACEMENT_CLEANUP_FINALIZER),
            self._snapshotter.resource_snapshot(placement, selected),
            self._snapshotter.policy_snapshot(placement),
        )
        await self._write_status(placement, policy_name, resource_name, selected)
        # Objects selected through a Namespace change without any event on the placement: look again.
        return Result(requeue_after=self._resync)

    async def _write_status(
        self, placement: dict[str, Any], policy_name: str, resource_name: str, selected: list[dict[str, Any]]
    ) -> None:
        namespace = placement["metadata"].get("namespace")
        inputs = StatusInputs(
            placement=placement,
            policy_snapshot=self._informers.policy_snapshots.store.get(policy_name, namespace),
            resource_snapshot=self._informers.resource_snapshots.store.get(resource_name, namespace),
            bindings=self._bindings(placement),
            selected=selected,
        )
        status = build_status(self._kinds, inputs, self._clock.wall())

        def mutate(current: dict[str, Any]) -> None:
            current.clear()
            current.update(status)

        await patch_status(self._client, self._kinds.placement, placement, mutate)

    def _bindings(self, placement: dict[str, Any]) -> list[dict[str, Any]]:
        metadata = placement["metadata"]
        return self._kinds.owned(
            self._informers.bindings.store, metadata.get("namespace") or "", metadata["name"]
        )

    async def _refuse(self, placement: dict[str, Any], reason: str, message: str) -> None:
        generation = placement["metadata"].get("generation")
        now = self._clock.wall()

        def mutate(status: dict[str, Any]) -> None:
            conditions = status.setdefault("conditions", [])
            set_condition(
                conditions, self._kinds.condition(SCHEDULED), False, reason, message, generation, now
            )

        await patch_status(self._client, self._kinds.placement, placement, mutate)

    async def _delete(self, placement: dict[str, Any]) -> Result:
        metadata = placement["metadata"]
        namespace, name = metadata.get("namespace") or "", metadata["name"]
        remaining = self._bindings(placement)
        for binding in remaining:
            await self._delete_quietly(self._kinds.binding, binding)
        if remaining:
            return Result(requeue_after=1.0)  # the work generator removes each binding's Work first
        for informer, kind in (
            (self._informers.policy_snapshots, self._kinds.policy_snapshot),
            (self._informers.resource_snapshots, self._kinds.resource_snapshot),
        ):
            for snapshot in latest_first(owned_snapshots(informer.store, self._kinds, namespace, name)):
                await self._delete_quietly(kind, snapshot)
        await remove_finalizer(self._client, self._kinds.placement, placement, PLACEMENT_CLEANUP_FINALIZER)
        return Result()

    async def _delete_quietly(self, kind: ResourceKind, obj: dict[str, Any]) -> None:
        metadata = obj["metadata"]
        await self._client.delete(kind, metadata["name"], metadata.get("namespace"), missing_ok=True)


def latest_first(snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    newest = latest(snapshots)
    return [s for s in snapshots if s is not newest] + ([newest] if newest is not None else [])
