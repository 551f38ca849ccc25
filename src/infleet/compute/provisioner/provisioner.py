"""The provisioner (a Runnable): waits for unschedulable GPU pods, batches them, packs them onto
in-flight NodeClaims and new ones from the NodePools (:mod:`packing`), writes the new NodeClaims and
remembers which claim each pod is nominated to, so a pod waiting for its node is not packed twice. Pods
that no pool can serve get a Warning Event saying why (a pool's limits, taints, or no fitting type).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_claim import INITIALIZED, NODE_CLAIM
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.compute.cloudprovider.provider import CloudProvider
from infleet.compute.provisioner.batcher import Batcher
from infleet.compute.provisioner.cluster_state import in_flight, pool_options
from infleet.compute.provisioner.nodeclaim_manifest import claim_name, nodeclaim_manifest
from infleet.compute.provisioner.packing import Packing, pack
from infleet.compute.provisioner.pod_shape import PodShape, Resources, is_provisionable, pod_shape
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import is_true
from infleet.kube.events import WARNING, EventRecorder
from infleet.kube.informer import Informer, InformerEvent

log = logging.getLogger(__name__)


@dataclass
class ProvisionerSettings:
    batch_idle: float = 1.0  # each new pending pod extends the window this long
    batch_max: float = 10.0  # a window closes this long after it opened at the latest
    resync: float = 10.0  # re-pack unasked this often (pods stay pending without changing)
    nomination_grace: float = 60.0  # a pod nominated to an initialized claim waits this long to bind


@dataclass
class ProvisionerInformers:
    pods: Informer
    nodepools: Informer
    nodeclaims: Informer
    nodeclasses: Informer


@dataclass
class _Nomination:
    claim: str
    requests: Resources
    since: float


@dataclass
class ProvisionerStats:
    batches: int = 0
    claims_created: int = 0
    last_decision_seconds: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)


class Provisioner:
    def __init__(
        self,
        client: ClusterClient,
        provider: CloudProvider,
        informers: ProvisionerInformers,
        clock: Clock,
        settings: ProvisionerSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client, self.provider, self.informers, self.clock = client, provider, informers, clock
        self.settings = settings or ProvisionerSettings()
        self.rng = rng or random.Random()
        self.batcher = Batcher(clock, self.settings.batch_idle, self.settings.batch_max)
        self.events = EventRecorder(client, "karpenter", clock)
        self.nominations: dict[str, _Nomination] = {}  # pod uid -> claim
        self.created: set[str] = set()  # claims this process wrote: their room is known from nominations
        self.stats = ProvisionerStats()
        informers.pods.add_handler(self._on_pod)
        informers.nodeclaims.add_handler(self._on_change)
        informers.nodepools.add_handler(self._on_change)

    def _on_pod(self, event: InformerEvent) -> None:
        if event.type != "DELETED" and is_provisionable(event.obj):
            self.batcher.trigger()

    def _on_change(self, event: InformerEvent) -> None:
        if event.type == "DELETED" or event.old is None or event.obj.get("spec") != event.old.get("spec"):
            self.batcher.trigger()

    async def run(self, stop: asyncio.Event) -> None:
        for informer in (self.informers.pods, self.informers.nodepools, self.informers.nodeclaims):
            await informer.wait_synced()
        while await self.batcher.wait(stop, self.settings.resync):
            try:
                await self.provision()
            except (KubeAPIError, OSError) as error:
                log.warning("provisioning in %s failed: %s; retrying next batch", self.client.name, error)

    # -- one batch --------------------------------------------------------------------------------

    def _nominated(self, uid: str, claims: dict[str, dict[str, Any]]) -> bool:
        nomination = self.nominations.get(uid)
        if nomination is None:
            return False
        claim = claims.get(nomination.claim)
        live = claim is not None and not claim["metadata"].get("deletionTimestamp")
        if live and claim is not None and is_true((claim.get("status") or {}).get("conditions"), INITIALIZED):
            live = self.clock.now() - nomination.since < self.settings.nomination_grace
        if not live:
            del self.nominations[uid]
        return live

    def pending(self, claims: dict[str, dict[str, Any]]) -> list[tuple[dict[str, Any], PodShape]]:
        """Unschedulable GPU pods not waiting for a claim already."""
        pods = [p for p in self.informers.pods.store.list() if is_provisionable(p)]
        waiting = {p["metadata"].get("uid", "") for p in pods}
        for uid in [uid for uid in self.nominations if uid not in waiting]:
            del self.nominations[uid]  # bound, or gone: it no longer holds room on its claim
        return [(p, pod_shape(p)) for p in pods if not self._nominated(p["metadata"].get("uid", ""), claims)]

    def plan(self) -> tuple[Packing, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """Pack the pending pods (no writes); returns the packing, pods by key and pools by name."""
        claims = {c["metadata"]["name"]: c for c in self.informers.nodeclaims.store.list()}
        pending = self.pending(claims)
        classes = {
            c["metadata"]["name"]: FlexNodeClassSpec.model_validate(c.get("spec") or {})
            for c in self.informers.nodeclasses.store.list()
        }
        pools = self.informers.nodepools.store.list()
        options, types = pool_options(self.provider, pools, classes, list(claims.values()))
        used = {name: Resources() for name in self.created if name in claims}
        for nomination in self.nominations.values():
            used[nomination.claim] = used.get(nomination.claim, Resources()) + nomination.requests
        packing = pack([shape for _, shape in pending], options, in_flight(claims.values(), types, used))
        by_key = {shape.key: pod for pod, shape in pending}
        return packing, by_key, {p["metadata"]["name"]: p for p in pools}

    async def provision(self) -> Packing:
        started = time.process_time()
        packing, pods, pools = self.plan()
        self.stats.batches += 1
        self.stats.last_decision_seconds = time.process_time() - started
        now = self.clock.now()
        for bin_ in packing.in_flight:
            for shape in bin_.pods:
                self.nominations[shape.uid] = _Nomination(bin_.name, shape.requests, now)
        await asyncio.gather(*(self._create(claim, pools, now) for claim in packing.new))
        self.stats.failed = dict(packing.failed)
        for key, reason in packing.failed.items():
            await self.events.record(pods[key], WARNING, "FailedScheduling", f"Failed to provision: {reason}")
        return packing

    async def _create(self, claim: Any, pools: dict[str, dict[str, Any]], now: float) -> None:
        pool = pools[claim.pool.name]
        # Stamped with its node class's hash, so a later change to the class shows as drift.
        class_ref = NodePoolSpec.model_validate(pool.get("spec") or {}).template.spec.node_class_ref
        raw_class = self.informers.nodeclasses.store.get(class_ref.name)
        node_class = (
            None if raw_class is None else FlexNodeClassSpec.model_validate(raw_class.get("spec") or {})
        )
        manifest = nodeclaim_manifest(claim, pool, claim_name(claim.pool.name, self.rng), node_class)
        try:
            created = await self.client.create(NODE_CLAIM, manifest)
        except KubeAPIError as error:
            log.warning("NodeClaim for nodepool %s not created: %s", claim.pool.name, error)
            return
        self.stats.claims_created += 1
        name = created["metadata"]["name"]
        self.created.add(name)
        for shape in claim.pods:
            self.nominations[shape.uid] = _Nomination(name, shape.requests, now)
        log.info(
            "created NodeClaim %s (nodepool %s, %d pods, %s at $%.2f/h)",
            name,
            claim.pool.name,
            len(claim.pods),
            claim.candidates[0].name,
            claim.price,
        )
