"""A deleted MemberCluster leaves the fleet: the hub sets its InternalMemberCluster to Leave, waits for
the agent to acknowledge (its Joined turns False) for at most ``leave_timeout_seconds`` from the
deletion, then deletes the member's Works (stripping finalizers no agent will remove any more), the
InternalMemberCluster and the namespace, and releases the MemberCluster. An agent that never reported
or whose heartbeat is stale is not waited for. Called by the membership controller.
"""

from __future__ import annotations

from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    CONDITION_JOINED,
    INTERNAL_MEMBER_CLUSTER,
    MEMBER_CLUSTER,
)
from infleet.api.kubernetes import NAMESPACE
from infleet.api.labels import MEMBER_CLUSTER_FINALIZER
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import WORK
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.fleet.hub.member_health import evaluate_health, parse_time
from infleet.fleet.hub.member_status import LEAVING
from infleet.fleet.hub.membership_state import Informers, Membership, heartbeat_period
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition, set_condition
from infleet.kube.finalizers import has_finalizer, remove_finalizer
from infleet.kube.reconciler import Result
from infleet.kube.status_patch import patch_status

#: While Works are still terminating, look again this soon.
_CLEANUP_RECHECK_SECONDS = 0.5
#: Look again a little after the heartbeat goes stale, so that look sees it stale.
_STALE_MARGIN = 0.05


class LeavePhase:
    """The whole leave flow of one deleted MemberCluster; requeues itself while it waits."""

    def __init__(
        self, client: ClusterClient, informers: Informers, settings: HubSettings, clock: Clock
    ) -> None:
        self.client = client
        self.informers = informers
        self.settings = settings
        self.clock = clock

    async def reconcile(self, run: Membership) -> Result:
        if not has_finalizer(run.obj, MEMBER_CLUSTER_FINALIZER):
            return Result()
        await self._request_leave(run)
        wait = self._wait_for_agent(run)
        if wait is not None:
            await self._say_leaving(run, wait)
            return Result(requeue_after=wait)
        if await self._delete_works(run.namespace):
            return Result(requeue_after=_CLEANUP_RECHECK_SECONDS)
        await self.client.delete(INTERNAL_MEMBER_CLUSTER, run.name, run.namespace, missing_ok=True)
        await self.client.delete(NAMESPACE, run.namespace, missing_ok=True)
        await remove_finalizer(self.client, MEMBER_CLUSTER, run.obj, MEMBER_CLUSTER_FINALIZER)
        return Result()

    async def _request_leave(self, run: Membership) -> None:
        if run.imc is None or (run.imc.get("spec") or {}).get("state") == "Leave":
            return
        try:
            run.imc = await self.client.patch(
                INTERNAL_MEMBER_CLUSTER, run.name, {"spec": {"state": "Leave"}}, run.namespace
            )
        except KubeAPIError as error:
            if not error.not_found:
                raise
            run.imc = None

    def _wait_for_agent(self, run: Membership) -> float | None:
        """Seconds still to wait for the agent to acknowledge Leave; None when done waiting."""
        if run.imc is None:
            return None
        joined = get_condition((run.agent or {}).get("conditions"), CONDITION_JOINED)
        if joined is None or joined.get("status") == "False":
            return None  # never joined, or acknowledged
        now = self.clock.wall()
        health = evaluate_health(run.agent, heartbeat_period(run.obj), now, self.settings)
        if health.status != "True" and health.recheck_at is None:
            return None  # silent agent: nobody would acknowledge
        deleted = parse_time(run.obj["metadata"].get("deletionTimestamp")) or now
        remaining = deleted + self.settings.leave_timeout_seconds - now
        if remaining <= 0:
            return None
        # An agent that dies while we wait is not waited for: look again when its heartbeat goes stale.
        stale_in = (health.recheck_at or now) - now + _STALE_MARGIN
        return min(remaining, stale_in) if health.recheck_at is not None else remaining

    async def _say_leaving(self, run: Membership, wait: float) -> None:
        message = f"waiting for the member agent to acknowledge Leave (at most {wait:.0f}s more)"
        now = self.clock.wall()

        def mutate(status: dict[str, Any]) -> None:
            conditions = status.setdefault("conditions", [])
            current = get_condition(conditions, CONDITION_JOINED) or {}
            if current.get("reason") != LEAVING:  # one write when leaving starts, not one per recheck
                set_condition(conditions, CONDITION_JOINED, "Unknown", LEAVING, message, run.generation, now)

        run.obj = await patch_status(self.client, MEMBER_CLUSTER, run.obj, mutate)

    async def _delete_works(self, namespace: str) -> bool:
        """Delete the member's Works; True while some are still there."""
        works = (await self.client.list(WORK, namespace)).items
        for work in works:
            metadata = work["metadata"]
            if not metadata.get("deletionTimestamp"):
                await self.client.delete(WORK, metadata["name"], namespace, missing_ok=True)
            elif metadata.get("finalizers"):
                # The agent has left (or is gone): no one else will remove its cleanup finalizer.
                guard = {
                    "op": "test",
                    "path": "/metadata/resourceVersion",
                    "value": metadata["resourceVersion"],
                }
                strip = {"op": "replace", "path": "/metadata/finalizers", "value": []}
                await self.client.patch(WORK, metadata["name"], [guard, strip], namespace, json_patch=True)
        return bool(works)
