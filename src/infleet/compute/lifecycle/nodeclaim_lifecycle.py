"""The NodeClaim lifecycle reconciler: Launch -> Registration -> Initialization, with Liveness deleting
claims that miss their timeouts. A claim deleted before it launched holds no instance, so its
``karpenter.sh/termination`` finalizer is dropped here; a launched one is termination's to finish.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.api.labels import TERMINATION_FINALIZER
from infleet.compute.cloudprovider.provider import CloudProvider
from infleet.compute.lifecycle.claim_run import ClaimRun
from infleet.compute.lifecycle.initialization import Initialization
from infleet.compute.lifecycle.launch import Launch
from infleet.compute.lifecycle.liveness import Liveness
from infleet.compute.lifecycle.registration import Registration
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.events import EventRecorder
from infleet.kube.finalizers import remove_finalizer
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.sub_reconciler import combine


@dataclass
class LifecycleSettings:
    launch_timeout: float = 300.0  # Karpenter's 5 min
    registration_timeout: float = 900.0  # Karpenter's 15 min
    remove_startup_taints: bool = True  # stand in for the GPU operator (simulated clusters)


class NodeClaimLifecycle:
    def __init__(
        self,
        client: ClusterClient,
        provider: CloudProvider,
        nodeclaims: Informer,
        nodes: Informer,
        nodeclasses: Informer,
        clock: Clock,
        settings: LifecycleSettings | None = None,
    ) -> None:
        settings = settings or LifecycleSettings()
        self.client, self.nodeclaims = client, nodeclaims
        events = EventRecorder(client, "karpenter", clock)
        self.launch = Launch(client, provider, nodeclasses, events, clock)
        self.registration = Registration(client, nodes, clock)
        self.initialization = Initialization(client, clock, settings.remove_startup_taints)
        self.liveness = Liveness(
            client, events, clock, settings.launch_timeout, settings.registration_timeout
        )

    async def reconcile(self, request: Request) -> Result:
        claim = self.nodeclaims.store.get(request.name)
        if claim is None:
            return Result()
        if claim["metadata"].get("deletionTimestamp"):
            if not (claim.get("status") or {}).get("providerID"):
                await remove_finalizer(self.client, NODE_CLAIM, claim, TERMINATION_FINALIZER)
            return Result()
        run = ClaimRun(claim)
        results = []
        for phase in (self.launch, self.registration, self.initialization, self.liveness):
            results.append(await phase.reconcile(run))
            if run.deleted:
                break
        return combine(results)
