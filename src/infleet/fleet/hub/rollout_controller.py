"""The rollout controller: per placement, carries out :func:`plan_rollout`: binds Scheduled bindings to
the latest resource snapshot, moves Bound ones to it and deletes Unscheduled ones, within the strategy's
budgets. ``strategy.type: External`` leaves bindings to an external controller (staged update runs).
"""

from __future__ import annotations

from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import CONDITION_HEALTHY
from infleet.api.placement_kubernetes_fleet_io.v1beta1.placement import ROLLOUT_STARTED
from infleet.fleet.hub.placement_kinds import PlacementKinds
from infleet.fleet.hub.rollout_plan import plan_rollout
from infleet.fleet.hub.snapshots import latest, owned_snapshots
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import is_true, set_condition
from infleet.kube.finalizers import is_being_deleted
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status


class RolloutController:
    def __init__(
        self,
        client: ClusterClient,
        kinds: PlacementKinds,
        placements: Informer,
        bindings: Informer,
        resource_snapshots: Informer,
        members: Informer,
        clock: Clock,
    ) -> None:
        self._client = client
        self._clock = clock
        self._kinds = kinds
        self._placements = placements
        self._bindings = bindings
        self._snapshots = resource_snapshots
        self._members = members

    async def reconcile(self, request: Request) -> Result:
        placement = self._placements.store.get(request.name, request.namespace or None)
        if placement is None or is_being_deleted(placement):
            return Result()
        strategy = (placement.get("spec") or {}).get("strategy") or {}
        if strategy.get("type") == "External":
            bindings = self._kinds.owned(self._bindings.store, request.namespace, request.name)
            await self._held_back(bindings, "an External strategy rolls this cluster out (staged update run)")
            return Result()
        snapshot = latest(
            owned_snapshots(self._snapshots.store, self._kinds, request.namespace, request.name)
        )
        if snapshot is None:
            return Result()  # its creation maps back here (polling starved the placement controller)
        bindings = self._kinds.owned(self._bindings.store, request.namespace, request.name)
        plan = plan_rollout(
            bindings,
            _target(placement, bindings),
            snapshot["metadata"]["name"],
            strategy,
            self._healthy(bindings),
        )
        apply_strategy = strategy.get("applyStrategy")
        for binding in plan.delete:
            await self._delete(binding)
        for binding in [*plan.bind, *plan.update]:
            spec: dict[str, Any] = {"state": "Bound", "resourceSnapshotName": snapshot["metadata"]["name"]}
            if apply_strategy:
                spec["applyStrategy"] = apply_strategy
            await self._client.patch(
                self._kinds.binding,
                binding["metadata"]["name"],
                {"spec": spec},
                binding["metadata"].get("namespace"),
            )
        moving = {b["metadata"]["name"] for b in plan.bind}
        waiting = [b for b in bindings if b["metadata"]["name"] not in moving]
        await self._held_back(waiting, "waiting for the rollout to bind this cluster (strategy budgets)")
        return Result()

    async def _held_back(self, bindings: list[dict[str, Any]], why: str) -> None:
        """RolloutStarted False on Scheduled bindings left unbound (KubeFleet's rollout says the same);
        written only for those, so a binding bound at once costs no status write for it."""
        now = self._clock.wall()
        for binding in bindings:
            if not _scheduled(binding):
                continue
            generation = binding["metadata"].get("generation")

            def mutate(status: dict[str, Any], generation: Any = generation) -> None:
                conditions = status.setdefault("conditions", [])
                set_condition(
                    conditions, ROLLOUT_STARTED, False, "RolloutNotStartedYet", why, generation, now
                )

            await patch_status(self._client, self._kinds.binding, binding, mutate)

    def _healthy(self, bindings: list[dict[str, Any]]) -> set[str]:
        """The healthy ones among the clusters the bindings target: only those matter to the plan, and
        judging all 1,000 members on every run was most of a rollout's time."""
        targets = {str((b.get("spec") or {}).get("targetCluster")) for b in bindings}
        return {
            name
            for name in targets
            if (member := self._members.store.get(name)) is not None
            and is_true((member.get("status") or {}).get("conditions"), CONDITION_HEALTHY)
        }

    async def _delete(self, binding: dict[str, Any]) -> None:
        metadata = binding["metadata"]
        await self._client.delete(
            self._kinds.binding, metadata["name"], metadata.get("namespace"), missing_ok=True
        )


def _scheduled(binding: dict[str, Any]) -> bool:
    return (binding.get("spec") or {}).get("state") == "Scheduled"


def _target(placement: dict[str, Any], bindings: list[dict[str, Any]]) -> int:
    policy = (placement.get("spec") or {}).get("policy") or {}
    placement_type = policy.get("placementType", "PickAll")
    if placement_type == "PickN":
        return int(policy.get("numberOfClusters") or 0)
    if placement_type == "PickFixed":
        return len(policy.get("clusterNames") or [])
    return sum(1 for b in bindings if (b.get("spec") or {}).get("state") != "Unscheduled")
