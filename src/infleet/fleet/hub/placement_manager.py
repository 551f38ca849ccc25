"""Wires the placement pipeline of both scopes into a Manager: for ClusterResourcePlacements and for
ResourcePlacements, the placement controller, the scheduler, the rollout and the work generator, with
the hub informers they share. ``add_hub_controllers`` (``infleet hub``, ``infleet up``) calls it.
"""

from __future__ import annotations

from infleet.api.catalog import Catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import MEMBER_CLUSTER
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import WORK
from infleet.fleet.hub.event_mapping import (
    member_to_bound_placements,
    member_to_placements,
    parent_placement,
    unless_status_only,
    work_binding,
)
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.fleet.hub.namespace_contents import NamespaceContents, placements_selecting
from infleet.fleet.hub.placement_controller import PlacementController, PlacementInformers
from infleet.fleet.hub.placement_kinds import SCOPES, PlacementKinds
from infleet.fleet.hub.rollout_controller import RolloutController
from infleet.fleet.hub.scheduler_controller import Schedule, SchedulerController, SchedulerInformers
from infleet.fleet.hub.work_generator import WorkGenerator
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.controller import ControllerSettings
from infleet.kube.discovery import Discovery
from infleet.kube.informer import Informer, InformerEvent
from infleet.kube.manager import Manager
from infleet.kube.reconciler import Request
from infleet.kube.workqueue import WorkQueue


def add_placement_controllers(
    manager: Manager,
    hub: ClusterClient,
    schedule: Schedule,
    catalog: Catalog,
    clock: Clock,
    settings: HubSettings | None = None,
) -> list[SchedulerController]:
    """Add every placement controller of both scopes; returns the schedulers (tests read their state)."""
    settings = settings or HubSettings()
    members = manager.informer(hub, MEMBER_CLUSTER)
    works = manager.informer(hub, WORK)
    discovery = Discovery(hub, clock)
    contents = NamespaceContents(hub, discovery)
    manager.add(contents)
    return [
        _add_scope(
            manager, hub, kinds, members, works, discovery, contents, schedule, catalog, clock, settings
        )
        for kinds in SCOPES
    ]


def _add_scope(
    manager: Manager,
    hub: ClusterClient,
    kinds: PlacementKinds,
    members: Informer,
    works: Informer,
    discovery: Discovery,
    contents: NamespaceContents,
    schedule: Schedule,
    catalog: Catalog,
    clock: Clock,
    settings: HubSettings,
) -> SchedulerController:
    scope = kinds.placement.plural
    informers = PlacementInformers(
        placements=manager.informer(hub, kinds.placement),
        policy_snapshots=manager.informer(hub, kinds.policy_snapshot),
        resource_snapshots=manager.informer(hub, kinds.resource_snapshot),
        bindings=manager.informer(hub, kinds.binding),
    )
    run = ControllerSettings(workers=settings.placement_workers, needs_leader=settings.needs_leader)
    to_parent = parent_placement(kinds)

    placement = PlacementController(
        hub, kinds, informers, discovery, clock, settings.placement_resync_seconds, contents
    )
    controller = manager.controller(f"hub/{scope}/placement", placement, run)
    if not kinds.namespaced:  # only a ClusterResourcePlacement selects a Namespace's contents
        selecting = placements_selecting(informers.placements.store)

        def reselect(event: InformerEvent, queue: WorkQueue[Request] = controller.queue) -> None:
            for request in selecting(event):
                queue.add(request)

        contents.add_handler(reselect)
    # It rebuilds the placement's status from snapshots and bindings: its own status writes need no run.
    controller.watch_mapped(informers.placements, unless_status_only())
    controller.watch_mapped(informers.bindings, to_parent)
    controller.watch_mapped(informers.policy_snapshots, to_parent)

    scheduler = SchedulerController(
        hub,
        kinds,
        SchedulerInformers(
            informers.placements,
            informers.policy_snapshots,
            informers.resource_snapshots,
            informers.bindings,
            members,
        ),
        schedule,
        catalog,
        clock,
        settings.failover_after_seconds,
    )
    controller = manager.controller(f"hub/{scope}/scheduler", scheduler, run)
    # The scheduler reads specs, never statuses; it writes the policy snapshot's status itself.
    controller.watch_mapped(informers.placements, unless_status_only())
    controller.watch_mapped(informers.policy_snapshots, unless_status_only(to_parent))
    controller.watch_mapped(informers.resource_snapshots, to_parent)
    controller.watch_mapped(members, member_to_placements(informers.placements.store, scheduler.unfulfilled))

    rollout = RolloutController(
        hub, kinds, informers.placements, informers.bindings, informers.resource_snapshots, members, clock
    )
    controller = manager.controller(f"hub/{scope}/rollout", rollout, run)
    controller.watch_mapped(informers.placements, unless_status_only())
    controller.watch_mapped(informers.bindings, to_parent)
    controller.watch_mapped(informers.resource_snapshots, to_parent)
    controller.watch_mapped(members, member_to_bound_placements(informers.bindings.store))

    generator = WorkGenerator(hub, kinds, informers.bindings, informers.resource_snapshots, works, clock)
    controller = manager.controller(f"hub/{scope}/work-generator", generator, run)
    controller.watch_for(informers.bindings)
    controller.watch_mapped(works, work_binding(kinds))
    return scheduler
