"""The hub's membership controller: reconciles each MemberCluster, as KubeFleet's hub agent does, and
judges its health from the heartbeat, which KubeFleet leaves unused.

Join phases, in order: finalizer -> namespace ``fleet-member-<name>`` -> InternalMemberCluster (state Join)
-> labels (member name, mirrored region and cloud) -> status (copied from the InternalMemberCluster, with
ReadyToJoin, Joined and Healthy). A deleted member goes through ``member_leave`` instead. The status phase
requeues for the moment the heartbeat would go stale, since a dead member writes nothing to react to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    CONDITION_HEALTHY,
    CONDITION_JOINED,
    INTERNAL_MEMBER_CLUSTER,
    MEMBER_CLUSTER,
    member_namespace,
)
from infleet.api.kubernetes import NAMESPACE
from infleet.api.labels import MEMBER_CLUSTER_FINALIZER, MEMBER_NAME_LABEL
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.fleet.hub.member_health import evaluate_health
from infleet.fleet.hub.member_leave import LeavePhase
from infleet.fleet.hub.member_status import write_member_status
from infleet.fleet.hub.membership_state import Informers, Membership, heartbeat_period
from infleet.fleet.hub.topology_labels import metadata_patch
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition
from infleet.kube.events import NORMAL, WARNING, EventRecorder
from infleet.kube.finalizers import ensure_finalizer, is_being_deleted
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.kube.sub_reconciler import SubReconciler, reconcile_phases

__all__ = ["Informers", "MembershipReconciler"]

#: Requeue a little after the heartbeat goes stale, so the next judgement sees it stale.
_STALE_MARGIN = 0.05


class FinalizerPhase:
    """Hold the MemberCluster until the member has left and its hub namespace is gone."""

    def __init__(self, client: ClusterClient) -> None:
        self.client = client

    async def reconcile(self, run: Membership) -> Result:
        run.obj = await ensure_finalizer(self.client, MEMBER_CLUSTER, run.obj, MEMBER_CLUSTER_FINALIZER)
        return Result()


class NamespacePhase:
    """Ensure ``fleet-member-<name>``, where the member's InternalMemberCluster and Works live."""

    def __init__(self, client: ClusterClient, informers: Informers) -> None:
        self.client = client
        self.informers = informers

    async def reconcile(self, run: Membership) -> Result:
        if self.informers.namespaces.store.get(run.namespace) is not None:
            return Result()
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": run.namespace, "labels": {MEMBER_NAME_LABEL: run.name}},
        }
        try:
            await self.client.create(NAMESPACE, body)
        except KubeAPIError as error:
            if error.reason != "AlreadyExists":  # the cache lags behind our own create
                raise
        return Result()


class InternalMemberClusterPhase:
    """Ensure the InternalMemberCluster asks the agent to join, at the member's heartbeat period."""

    def __init__(self, client: ClusterClient, informers: Informers) -> None:
        self.client = client
        self.informers = informers

    async def reconcile(self, run: Membership) -> Result:
        spec = {"state": "Join", "heartbeatPeriodSeconds": heartbeat_period(run.obj)}
        imc = self.informers.imcs.store.get(run.name, run.namespace)
        if imc is None:
            imc = await self._create(run, spec)
        elif any((imc.get("spec") or {}).get(key) != value for key, value in spec.items()):
            imc = await self.client.patch(INTERNAL_MEMBER_CLUSTER, run.name, {"spec": spec}, run.namespace)
        run.imc = imc
        return Result()

    async def _create(self, run: Membership, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": INTERNAL_MEMBER_CLUSTER.api_version,
            "kind": INTERNAL_MEMBER_CLUSTER.kind,
            "metadata": {
                "name": run.name,
                "namespace": run.namespace,
                "labels": {MEMBER_NAME_LABEL: run.name},
            },
            "spec": spec,
        }
        try:
            return await self.client.create(INTERNAL_MEMBER_CLUSTER, body)
        except KubeAPIError as error:
            if error.reason != "AlreadyExists":
                raise
            return await self.client.get(INTERNAL_MEMBER_CLUSTER, run.name, run.namespace)


class LabelsPhase:
    """Label the member with its name and mirror its reported region and cloud into labels."""

    def __init__(self, client: ClusterClient) -> None:
        self.client = client

    async def reconcile(self, run: Membership) -> Result:
        properties = (run.imc_status or {}).get("properties") or (run.obj.get("status") or {}).get(
            "properties"
        )
        patch = metadata_patch(run.obj, properties)
        if patch is not None:
            run.obj = await self.client.patch(MEMBER_CLUSTER, run.name, {"metadata": patch})
        return Result()


@dataclass
class StatusPhase:
    """One status write: the agent's report copied, ReadyToJoin, Joined, Healthy; Events on flips."""

    client: ClusterClient
    events: EventRecorder
    settings: HubSettings
    clock: Clock
    _said: dict[str, tuple[str, str]] = field(default_factory=dict)

    async def reconcile(self, run: Membership) -> Result:
        now = self.clock.wall()
        before = (run.obj.get("status") or {}).get("conditions")
        health = evaluate_health(
            run.agent,
            heartbeat_period(run.obj),
            now,
            self.settings,
            get_condition(before, CONDITION_HEALTHY),
        )
        ready = run.imc is not None
        why = (
            f"namespace {run.namespace} and its InternalMemberCluster are ready"
            if ready
            else f"waiting for namespace {run.namespace} and its InternalMemberCluster"
        )
        run.obj = await patch_status(
            self.client,
            MEMBER_CLUSTER,
            run.obj,
            lambda status: write_member_status(
                status,
                generation=run.generation,
                ready_to_join=(ready, why),
                imc_status=run.imc_status,
                health=health,
                now=now,
            ),
        )
        await self._record_flips(run, before)
        if health.recheck_at is None:
            return Result()
        return Result(requeue_after=max(health.recheck_at - now, 0.0) + _STALE_MARGIN)

    async def _record_flips(self, run: Membership, before: list[dict[str, Any]] | None) -> None:
        after = (run.obj.get("status") or {}).get("conditions")
        for type_ in (CONDITION_JOINED, CONDITION_HEALTHY):
            old, new = get_condition(before, type_) or {}, get_condition(after, type_) or {}
            said = (str(new.get("status")), str(new.get("reason")))
            # Unknown is the absence of news (a new member), not something that happened.
            flipped = new.get("status") in ("True", "False") and old.get("status") != new.get("status")
            if flipped and self._said.get(f"{run.name}/{type_}") != said:
                self._said[f"{run.name}/{type_}"] = said
                kind = NORMAL if new.get("status") == "True" else WARNING
                await self.events.record(run.obj, kind, str(new.get("reason")), str(new.get("message")))


class MembershipReconciler:
    """Reconciles MemberClusters on the hub: join phases while the member exists, leave once deleted."""

    def __init__(
        self, client: ClusterClient, informers: Informers, settings: HubSettings, clock: Clock
    ) -> None:
        self.informers = informers
        events = EventRecorder(client, "infleet-hub-membership", clock)
        self.phases: list[SubReconciler[Membership]] = [
            FinalizerPhase(client),
            NamespacePhase(client, informers),
            InternalMemberClusterPhase(client, informers),
            LabelsPhase(client),
            StatusPhase(client, events, settings, clock),
        ]
        self.leave = LeavePhase(client, informers, settings, clock)

    async def reconcile(self, request: Request) -> Result:
        obj = self.informers.members.store.get(request.name)
        if obj is None:
            return Result()
        run = Membership(obj, self.informers.imcs.store.get(request.name, member_namespace(request.name)))
        if is_being_deleted(obj):
            return await self.leave.reconcile(run)
        return await reconcile_phases(self.phases, run)
