"""Liveness: a claim not launched within the launch timeout (5 min), or launched but with no Node
within the registration timeout (15 min), is deleted, so the provisioner asks again elsewhere (Azure
#181: GPU nodes that never register). Termination then gives the instance back.
"""

from __future__ import annotations

from infleet.api.karpenter_sh.v1.node_claim import LAUNCHED, REGISTERED
from infleet.compute.lifecycle.claim_run import ClaimRun, delete_claim
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import parse_timestamp
from infleet.kube.events import WARNING, EventRecorder
from infleet.kube.reconciler import Result


class Liveness:
    def __init__(
        self,
        client: ClusterClient,
        events: EventRecorder,
        clock: Clock,
        launch_timeout: float = 300.0,
        registration_timeout: float = 900.0,
    ) -> None:
        self.client, self.events, self.clock = client, events, clock
        self.launch_timeout, self.registration_timeout = launch_timeout, registration_timeout

    async def reconcile(self, run: ClaimRun) -> Result:
        if run.deleted or run.has(REGISTERED) or run.claim["metadata"].get("deletionTimestamp"):
            return Result()
        if run.has(LAUNCHED):
            started, limit, what = parse_timestamp(run.since(LAUNCHED)), self.registration_timeout, "register"
        else:
            created = run.claim["metadata"].get("creationTimestamp")
            started, limit, what = parse_timestamp(created), self.launch_timeout, "launch"
        if started is None:
            return Result(requeue_after=limit)
        left = started + limit - self.clock.wall()
        if left > 0:
            return Result(requeue_after=left)
        message = f"NodeClaim {run.name} did not {what} within {limit:g}s; deleting it to retry"
        await self.events.record(run.claim, WARNING, f"{what.capitalize()}Timeout", message)
        await delete_claim(self.client, run)
        return Result()
