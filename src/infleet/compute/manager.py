"""Entry point of the compute layer for one cluster: :func:`add_compute_controllers` wires the
provisioner, the NodeClaim lifecycle and the NodePool and FlexNodeClass status controllers, over one
CloudProvider, into a Manager (``infleet up`` adds them per member; ``infleet compute`` runs them alone).
In karpenter mode (:mod:`infleet.compute.mode`) only the status controllers run: Karpenter provisions,
runs NodeClaims and disrupts, and the pools' status still tells the member agent what can be provisioned.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS
from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.kubernetes import NODE, POD
from infleet.api.labels import NODECLAIM_LABEL, NODEPOOL_LABEL
from infleet.compute.cloudprovider.provider import CloudProvider
from infleet.compute.lifecycle.nodeclaim_lifecycle import LifecycleSettings, NodeClaimLifecycle
from infleet.compute.lifecycle.pool_status import NodeClassStatus, NodePoolStatus
from infleet.compute.mode import ComputeMode
from infleet.compute.provisioner.provisioner import Provisioner, ProvisionerInformers, ProvisionerSettings
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.controller import ControllerSettings
from infleet.kube.informer import InformerEvent
from infleet.kube.manager import Manager
from infleet.kube.reconciler import Request

POOL_STATUS_BATCH_SECONDS = 1.0


@dataclass
class ComputeSettings:
    provisioner: ProvisionerSettings = field(default_factory=ProvisionerSettings)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    workers: int = 4
    needs_leader: bool = False

    def scaled(self, factor: float) -> ComputeSettings:
        """The same settings with every duration multiplied by ``factor`` (tests, ``infleet up``)."""
        p, lc = self.provisioner, self.lifecycle
        return ComputeSettings(
            ProvisionerSettings(p.batch_idle * factor, p.batch_max * factor, p.resync, p.nomination_grace),
            LifecycleSettings(
                lc.launch_timeout * factor, lc.registration_timeout * factor, lc.remove_startup_taints
            ),
            self.workers,
            self.needs_leader,
        )


@dataclass
class ComputeControllers:
    mode: ComputeMode
    #: None in karpenter mode, where Karpenter provisions and runs the NodeClaims.
    provisioner: Provisioner | None
    lifecycle: NodeClaimLifecycle | None


def _claim_of_node(event: InformerEvent) -> list[Request]:
    name = (event.obj["metadata"].get("labels") or {}).get(NODECLAIM_LABEL)
    return [Request(event.cluster, "", name)] if name else []


def _pool_of_claim(event: InformerEvent) -> list[Request]:
    name = (event.obj["metadata"].get("labels") or {}).get(NODEPOOL_LABEL)
    return [Request(event.cluster, "", name)] if name else []


def add_compute_controllers(
    manager: Manager,
    client: ClusterClient,
    provider: CloudProvider,
    settings: ComputeSettings | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    mode: ComputeMode = ComputeMode.INFLEET,
) -> ComputeControllers:
    """Add the compute layer of ``client``'s cluster to ``manager``, in ``mode`` (already resolved)."""
    if mode is ComputeMode.AUTO:
        raise ValueError("compute mode auto must be resolved first (infleet.compute.mode.resolve_mode)")
    settings = settings or ComputeSettings()
    clock = clock or SystemClock()
    nodes = manager.informer(client, NODE)
    nodepools, nodeclaims = manager.informer(client, NODE_POOL), manager.informer(client, NODE_CLAIM)
    nodeclasses = manager.informer(client, FLEX_NODE_CLASS)
    controller_settings = ControllerSettings(workers=settings.workers, needs_leader=settings.needs_leader)

    provisioner, lifecycle = None, None
    if mode is ComputeMode.INFLEET:
        provisioner, lifecycle = _add_provisioning(
            manager, client, provider, settings, clock, rng, controller_settings
        )

    pool_status = NodePoolStatus(client, nodepools, nodeclaims, nodeclasses, clock, nodes, mode)
    controller = manager.controller(f"{client.name}/nodepool-status", pool_status, controller_settings)
    controller.watch_for(nodepools)
    # A pool's status adds up all its claims: once a second for a burst of claim events, not once per
    # event (a thousand claims launching re-added a thousand claims each time). The provisioner reads
    # the claims themselves for limits, so nothing that decides waits on this sum.
    controller.watch_mapped(nodeclaims, _pool_of_claim, batch_seconds=POOL_STATUS_BATCH_SECONDS)
    # A static pool's nodes come and go on their own.
    controller.watch_mapped(nodes, _pool_of_claim, batch_seconds=POOL_STATUS_BATCH_SECONDS)
    controller.watch_mapped(
        nodeclasses,
        lambda event: [Request(event.cluster, "", p["metadata"]["name"]) for p in nodepools.store.list()],
    )

    class_status = NodeClassStatus(client, nodeclasses, provider, clock)
    controller = manager.controller(f"{client.name}/flexnodeclass-status", class_status, controller_settings)
    controller.watch_for(nodeclasses)
    return ComputeControllers(mode, provisioner, lifecycle)


def _add_provisioning(
    manager: Manager,
    client: ClusterClient,
    provider: CloudProvider,
    settings: ComputeSettings,
    clock: Clock,
    rng: random.Random | None,
    controller_settings: ControllerSettings,
) -> tuple[Provisioner, NodeClaimLifecycle]:
    """Infleet's own provisioner and NodeClaim lifecycle (infleet mode only)."""
    pods, nodes = manager.informer(client, POD), manager.informer(client, NODE)
    nodepools, nodeclaims = manager.informer(client, NODE_POOL), manager.informer(client, NODE_CLAIM)
    nodeclasses = manager.informer(client, FLEX_NODE_CLASS)
    informers = ProvisionerInformers(pods, nodepools, nodeclaims, nodeclasses)
    provisioner = Provisioner(client, provider, informers, clock, settings.provisioner, rng)
    manager.add(provisioner, settings.needs_leader)

    lifecycle = NodeClaimLifecycle(
        client, provider, nodeclaims, nodes, nodeclasses, clock, settings.lifecycle
    )
    controller = manager.controller(f"{client.name}/nodeclaim-lifecycle", lifecycle, controller_settings)
    controller.watch_for(nodeclaims)
    controller.watch_mapped(nodes, _claim_of_node)
    return provisioner, lifecycle
