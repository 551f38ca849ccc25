"""The hub's scheduler controller: one cycle per placement on the placement profile
(``infleet.scheduling.placement``). It builds the request (policy, GPU demands, current bindings) and
the candidates (MemberClusters, with failover), then creates Scheduled bindings for picked clusters,
marks bindings Unscheduled where a cluster is no longer picked, and records every decision, with its
reason, in the policy snapshot's status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from infleet.api.catalog import Catalog
from infleet.api.labels import WORK_CLEANUP_FINALIZER
from infleet.api.placement_kubernetes_fleet_io.v1beta1.placement import SCHEDULED
from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import PlacementPolicy
from infleet.fleet.hub.cluster_candidates import MemberViews, failover_of, next_failover
from infleet.fleet.hub.gpu_demands import gpu_demands
from infleet.fleet.hub.placement_kinds import PlacementKinds
from infleet.fleet.hub.snapshots import latest, owned_snapshots
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import set_condition
from infleet.kube.finalizers import is_being_deleted
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.scheduling.placement import (
    ClusterCandidate,
    Eligibility,
    PlacementDecision,
    PlacementRequest,
)

Schedule = Callable[[PlacementRequest, Sequence[ClusterCandidate]], PlacementDecision]
#: How often an unfulfilled placement looks again even without an event (capacity freed elsewhere).
UNFULFILLED_RETRY_SECONDS = 30.0


@dataclass
class SchedulerInformers:
    placements: Informer
    policy_snapshots: Informer
    resource_snapshots: Informer
    bindings: Informer
    members: Informer


class SchedulerController:
    def __init__(
        self,
        client: ClusterClient,
        kinds: PlacementKinds,
        informers: SchedulerInformers,
        schedule: Schedule,
        catalog: Catalog,
        clock: Clock,
        failover_after_seconds: float,
    ) -> None:
        self._client = client
        self._kinds = kinds
        self._informers = informers
        self._schedule = schedule
        self._catalog = catalog
        self._clock = clock
        self._failover_after = failover_after_seconds
        #: Placements whose last cycle fell short: a member's capacity change is worth a new cycle.
        self.unfulfilled: set[Request] = set()
        self._members = MemberViews()

    async def reconcile(self, request: Request) -> Result:
        placement = self._informers.placements.store.get(request.name, request.namespace or None)
        if placement is None or is_being_deleted(placement):
            self.unfulfilled.discard(request)
            return Result()
        snapshots = owned_snapshots(
            self._informers.policy_snapshots.store, self._kinds, request.namespace, request.name
        )
        policy_snapshot = latest(snapshots)
        resources = latest(
            owned_snapshots(
                self._informers.resource_snapshots.store, self._kinds, request.namespace, request.name
            )
        )
        if policy_snapshot is None or resources is None:
            # The placement controller writes both first; their creation maps back here. Polling for
            # them instead starved that controller once a thousand placements waited at once.
            return Result()
        bindings = self._kinds.owned(self._informers.bindings.store, request.namespace, request.name)
        by_cluster = {str(b["spec"]["targetCluster"]): b for b in bindings}
        now = self._clock.wall()
        failover = failover_of(placement, self._failover_after)
        members = self._members.of(self._informers.members.store.list())
        views = self._members
        candidates = [views.candidate(m, now, failover, _holds(by_cluster.get(m.name))) for m in members]
        decision = self._schedule(
            self._request(placement, policy_snapshot, resources, by_cluster, failover.enabled), candidates
        )
        await self._apply(placement, policy_snapshot, decision, by_cluster)
        await self._record(placement, policy_snapshot, decision)
        if decision.fulfilled:
            self.unfulfilled.discard(request)
        else:
            self.unfulfilled.add(request)
        waits = [w for w in (next_failover(members, now, failover),) if w is not None]
        if not decision.fulfilled and decision.retry_may_help:
            waits.append(UNFULFILLED_RETRY_SECONDS)
        return Result(requeue_after=min(waits) + 0.5 if waits else None)

    def _request(
        self,
        placement: dict[str, Any],
        policy_snapshot: dict[str, Any],
        resources: dict[str, Any],
        by_cluster: dict[str, dict[str, Any]],
        failover: bool,
    ) -> PlacementRequest:
        spec = policy_snapshot.get("spec") or {}
        policy = PlacementPolicy.model_validate(spec["policy"]) if spec.get("policy") else None
        count = ((placement.get("spec") or {}).get("policy") or {}).get("numberOfClusters")
        if policy is not None and count is not None:
            policy = policy.model_copy(update={"number_of_clusters": count})  # only an annotation moves
        manifests = (resources.get("spec") or {}).get("selectedResources") or []
        return PlacementRequest(
            name=placement["metadata"]["name"],
            policy=policy,
            workloads=gpu_demands(self._catalog, manifests),
            bindings={cluster: b["spec"]["state"] for cluster, b in by_cluster.items()},
            eligibility=Eligibility(exclude_unhealthy=failover),
        )

    async def _apply(
        self,
        placement: dict[str, Any],
        policy_snapshot: dict[str, Any],
        decision: PlacementDecision,
        by_cluster: dict[str, dict[str, Any]],
    ) -> None:
        chosen = {outcome.cluster: outcome for outcome in decision.selected}
        writes: list[Awaitable[None]] = []
        for cluster, outcome in chosen.items():
            binding = by_cluster.get(cluster)
            if binding is None:
                writes.append(self._create_binding(placement, policy_snapshot, outcome.to_api().to_wire()))
            elif binding["spec"].get("state") == "Unscheduled":
                writes.append(
                    self._patch_binding(
                        binding, {"state": "Scheduled", "clusterDecision": outcome.to_api().to_wire()}
                    )
                )
        for cluster, binding in by_cluster.items():
            if cluster not in chosen and binding["spec"].get("state") != "Unscheduled":
                writes.append(self._patch_binding(binding, {"state": "Unscheduled"}))
        # Each binding is its own object: written together, a decision costs one round trip, not one
        # per cluster (a PickAll over a hundred clusters waited on a hundred in a row).
        await asyncio.gather(*writes)

    async def _create_binding(
        self, placement: dict[str, Any], policy_snapshot: dict[str, Any], decision: dict[str, Any]
    ) -> None:
        metadata = placement["metadata"]
        namespace = metadata.get("namespace") or ""
        body: dict[str, Any] = {
            "apiVersion": self._kinds.binding.api_version,
            "kind": self._kinds.binding.kind,
            "metadata": {
                "name": self._kinds.binding_name(metadata["name"], decision["clusterName"]),
                "labels": self._kinds.owner_labels(namespace, metadata["name"]),
                # Born with the work generator's finalizer: one write less per binding, and no window
                # in which a binding exists that could go without its Work being cleaned up.
                "finalizers": [WORK_CLEANUP_FINALIZER],
            },
            "spec": {
                "state": "Scheduled",
                "targetCluster": decision["clusterName"],
                "schedulingPolicySnapshotName": policy_snapshot["metadata"]["name"],
                "clusterDecision": decision,
            },
        }
        if namespace:
            body["metadata"]["namespace"] = namespace
        try:
            await self._client.create(self._kinds.binding, body, namespace or None)
        except KubeAPIError as error:
            if not error.conflict:  # written by the last cycle; the cache has not seen it yet
                raise

    async def _patch_binding(self, binding: dict[str, Any], spec: dict[str, Any]) -> None:
        metadata = binding["metadata"]
        await self._client.patch(
            self._kinds.binding, metadata["name"], {"spec": spec}, metadata.get("namespace")
        )

    async def _record(
        self, placement: dict[str, Any], policy_snapshot: dict[str, Any], decision: PlacementDecision
    ) -> None:
        generation = placement["metadata"].get("generation")
        now = self._clock.wall()
        targets = [target.to_wire() for target in decision.target_clusters()]
        picked = ", ".join(decision.cluster_names) or "none"
        message = decision.message or f"picked {picked}"

        def mutate(status: dict[str, Any]) -> None:
            status["observedCRPGeneration"] = generation
            status["targetClusters"] = targets
            conditions = status.setdefault("conditions", [])
            reason = "SchedulingPolicyFulfilled" if decision.fulfilled else "SchedulingPolicyUnfulfilled"
            set_condition(conditions, SCHEDULED, decision.fulfilled, reason, message, generation, now)

        await patch_status(self._client, self._kinds.policy_snapshot, policy_snapshot, mutate)


def _holds(binding: dict[str, Any] | None) -> bool:
    return binding is not None and binding["spec"].get("state") in ("Scheduled", "Bound")
