"""Wiring of the hub's membership controller and ModelDeployment status mirror into a Manager.

The hub manager (``infleet hub``, ``infleet up``) calls :func:`add_membership_controllers` once with the
hub's client; the informers it asks for are the Manager's shared ones, so the scheduler and the rollout
controller reading MemberClusters and Works share the same caches.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    INTERNAL_MEMBER_CLUSTER,
    MEMBER_CLUSTER,
    MEMBER_NAMESPACE_PREFIX,
)
from infleet.api.kubernetes import NAMESPACE
from infleet.api.labels import MEMBER_NAME_LABEL
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import WORK
from infleet.fleet.hub.event_mapping import unless_status_only
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.fleet.hub.membership import Informers, MembershipReconciler
from infleet.fleet.hub.model_status_mirror import ModelStatusMirror, WorkIndex
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.controller import ControllerSettings
from infleet.kube.informer import InformerEvent, InformerSettings
from infleet.kube.manager import Manager
from infleet.kube.reconciler import Request

#: How long a ModelDeployment's mirror waits after a Work event, gathering the burst it belongs to.
MIRROR_BATCH_SECONDS = 0.5


@dataclass
class MembershipControllers:
    """What :func:`add_membership_controllers` built (tests and the hub manager reach in here)."""

    membership: MembershipReconciler
    status_mirror: ModelStatusMirror


def _member_of_namespace(event: InformerEvent) -> list[Request]:
    """The MemberCluster whose hub namespace ``event``'s object lives in (or is)."""
    metadata = event.obj.get("metadata") or {}
    namespace = str(metadata.get("namespace") or metadata.get("name") or "")
    if not namespace.startswith(MEMBER_NAMESPACE_PREFIX):
        return []
    return [Request(event.cluster, "", namespace[len(MEMBER_NAMESPACE_PREFIX) :])]


def add_membership_controllers(
    manager: Manager,
    hub_client: ClusterClient,
    settings: HubSettings | None = None,
    clock: Clock | None = None,
) -> MembershipControllers:
    """Add the membership controller and the ModelDeployment status mirror of the hub to ``manager``."""
    settings = settings or HubSettings()
    clock = clock or SystemClock()
    informers = Informers(
        members=manager.informer(hub_client, MEMBER_CLUSTER),
        imcs=manager.informer(hub_client, INTERNAL_MEMBER_CLUSTER),
        namespaces=manager.informer(
            hub_client, NAMESPACE, InformerSettings(label_selector=MEMBER_NAME_LABEL)
        ),
    )
    membership = MembershipReconciler(hub_client, informers, settings, clock)
    controller = manager.controller(
        "membercluster",
        membership,
        ControllerSettings(workers=settings.membership_workers, needs_leader=settings.needs_leader),
    )
    # Its own status writes (one per heartbeat) need no second run: the member's report arrives through
    # the InternalMemberCluster, and staleness is a timed requeue.
    controller.watch_mapped(informers.members, unless_status_only())
    controller.watch_mapped(informers.imcs, _member_of_namespace)
    controller.watch_mapped(informers.namespaces, _member_of_namespace)

    models = manager.informer(hub_client, MODEL_DEPLOYMENT)
    works = manager.informer(hub_client, WORK)
    index = WorkIndex(hub_client.name)
    mirror = ModelStatusMirror(hub_client, models, works, index, clock)
    mirror_controller = manager.controller(
        "modeldeployment-status-mirror",
        mirror,
        ControllerSettings(workers=settings.status_mirror_workers, needs_leader=settings.needs_leader),
    )
    mirror_controller.watch_for(models)
    # The Works of one placement appear together (one per cluster) and agents report every few
    # seconds: one status write per burst, not one per Work.
    mirror_controller.watch_mapped(works, index.requests, batch_seconds=MIRROR_BATCH_SECONDS)
    return MembershipControllers(membership, mirror)
