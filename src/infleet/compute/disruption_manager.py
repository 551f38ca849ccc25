"""Wiring of the compute layer's disruption side into a Manager: the informers it reads, the termination
controller (NodeClaims being deleted, Nodes deleted directly) and the disruption loop. The lead combines
it with the provisioning side in the composition root.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FLEX_NODE_CLASS
from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.api.karpenter_sh.v1.node_pool import NODE_POOL
from infleet.api.kubernetes import NODE, POD
from infleet.api.labels import NODECLAIM_LABEL
from infleet.compute.cloudprovider.provider import CloudProvider
from infleet.compute.disruption.loop import DisruptionInformers, DisruptionLoop
from infleet.compute.disruption_settings import DisruptionSettings
from infleet.compute.termination import node_deletion
from infleet.compute.termination.node_deletion import NodeDeletionReconciler
from infleet.compute.termination.terminator import TerminationReconciler
from infleet.compute.workload_pods import node_of
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.controller import Controller
from infleet.kube.events import EventRecorder
from infleet.kube.informer import InformerEvent
from infleet.kube.manager import Manager
from infleet.kube.reconciler import Request


@dataclass
class DisruptionControllers:
    loop: DisruptionLoop
    termination: Controller
    node_deletion: Controller
    termination_reconciler: TerminationReconciler


def add_disruption_controllers(
    manager: Manager,
    client: ClusterClient,
    provider: CloudProvider,
    settings: DisruptionSettings | None = None,
    clock: Clock | None = None,
) -> DisruptionControllers:
    settings = settings or DisruptionSettings()
    clock = clock or manager.clock or SystemClock()
    informers = DisruptionInformers(
        claims=manager.informer(client, NODE_CLAIM),
        nodes=manager.informer(client, NODE),
        pods=manager.informer(client, POD),
        pools=manager.informer(client, NODE_POOL),
        node_classes=manager.informer(client, FLEX_NODE_CLASS),
        deployments=manager.informer(client, MODEL_DEPLOYMENT),
    )
    stores = (informers.claims.store, informers.nodes.store, informers.pods.store)
    recorder = EventRecorder(client, "termination", clock)
    terminator = TerminationReconciler(client, provider, stores, recorder, clock, settings)
    termination = manager.controller(f"{client.name}/nodeclaim-termination", terminator)
    termination.watch_for(informers.claims)

    def claim_of_pod(event: InformerEvent) -> list[Request]:
        # A drained pod leaving wakes the termination of its node's claim at once.
        node = informers.nodes.store.get(node_of(event.obj) or "")
        labels = ((node or {}).get("metadata") or {}).get("labels") or {}
        name = labels.get(NODECLAIM_LABEL)
        return [Request(client.name, "", name)] if name else []

    termination.watch_mapped(informers.pods, claim_of_pod)
    deletion = manager.controller(
        f"{client.name}/node-deletion",
        NodeDeletionReconciler(client, informers.claims.store, informers.nodes.store),
    )
    deletion.watch_mapped(informers.nodes, node_deletion.claim_of_node)
    loop = DisruptionLoop(client, provider, informers, clock, settings)
    manager.add(loop, needs_leader=True)
    return DisruptionControllers(loop, termination, deletion, terminator)
