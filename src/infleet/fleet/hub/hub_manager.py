"""Entry point of the hub: :func:`add_hub_controllers` adds every hub controller (membership and health,
the ModelDeployment status mirror, and the placement pipeline of both scopes) to a Manager;
:func:`build_manager` gives them a Manager of their own (``infleet hub``); ``infleet up`` adds them to its.
"""

from __future__ import annotations

from infleet.api.catalog import Catalog, load_catalog
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.fleet.hub.membership_controllers import add_membership_controllers
from infleet.fleet.hub.placement_manager import add_placement_controllers
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.manager import Manager, ManagerSettings
from infleet.scheduling.placement import PlacementScheduler


def add_hub_controllers(
    manager: Manager,
    hub: ClusterClient,
    settings: HubSettings | None = None,
    clock: Clock | None = None,
    catalog: Catalog | None = None,
) -> None:
    settings = settings or HubSettings()
    clock = clock or SystemClock()
    catalog = catalog or load_catalog()
    add_membership_controllers(manager, hub, settings, clock)
    scheduler = PlacementScheduler(catalog=catalog)
    add_placement_controllers(manager, hub, scheduler.schedule, catalog, clock, settings)


def build_manager(hub: ClusterClient, manager_settings: ManagerSettings, settings: HubSettings) -> Manager:
    """A Manager of the hub's controllers alone; it elects a leader on the hub when asked to."""
    leader = hub if manager_settings.leader_election is not None else None
    manager = Manager(manager_settings, leader_client=leader)
    add_hub_controllers(manager, hub, settings)
    return manager
