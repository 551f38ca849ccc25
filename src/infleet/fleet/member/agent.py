"""Entry point of the member agent: :func:`add_member_agent` wires its informers (on the hub: the member's
InternalMemberCluster and Works; on the member: nodes, pods, AppliedWorks and the workloads it applies),
the heartbeat and the work applier into a Manager. ``infleet member`` runs one; ``infleet up`` one per
member cluster.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.catalog import load_catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    INTERNAL_MEMBER_CLUSTER,
    member_namespace,
)
from infleet.api.kubernetes import DEPLOYMENT, NODE, POD, STATEFULSET
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import APPLIED_WORK, WORK
from infleet.fleet.member.heartbeat import Heartbeat, HeartbeatSettings
from infleet.fleet.member.work_applier import ApplierInformers, ApplierSettings, WorkApplier
from infleet.kube.backoff import ExponentialBackoff
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.controller import Controller, ControllerSettings
from infleet.kube.discovery import Discovery
from infleet.kube.informer import InformerEvent, InformerSettings
from infleet.kube.manager import Manager

#: A year: the agent waits for the hub's caches as long as the hub is away, rather than giving up.
WAIT_FOR_HUB = 365 * 24 * 3600.0


@dataclass
class MemberAgentSettings:
    heartbeat: HeartbeatSettings = field(default_factory=HeartbeatSettings)
    applier: ApplierSettings = field(default_factory=ApplierSettings)
    workers: int = 4
    needs_leader: bool = False
    #: Discovery is looked up again at most this often when a kind is missing (a CRD just applied).
    discovery_refresh: float = 1.0


@dataclass(frozen=True)
class MemberAgent:
    """Handles on the running parts, for tests and ``infleet up``."""

    name: str
    heartbeat: Heartbeat
    applier: WorkApplier
    controller: Controller


def _unchanged_but_status(event: InformerEvent) -> bool:
    """A MODIFIED event that changed only status (or bookkeeping): the applier wrote it; nothing to do."""
    if event.old is None or event.type != "MODIFIED":
        return False

    def body(obj: dict[str, Any]) -> dict[str, Any]:
        metadata = {
            k: v
            for k, v in (obj.get("metadata") or {}).items()
            if k not in ("resourceVersion", "managedFields")
        }
        return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": metadata}

    return body(event.old) == body(event.obj)


def _applied_work_owners(event: InformerEvent) -> Iterable[str]:
    for ref in (event.obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == APPLIED_WORK.kind and ref.get("apiVersion") == APPLIED_WORK.api_version:
            yield str(ref["name"])


def _wire_applier(
    manager: Manager, agent: WorkApplier, controller: Controller, member: ClusterClient
) -> None:
    informers = agent.informers
    controller.watch_mapped(
        informers.works,
        lambda e: [] if _unchanged_but_status(e) else [agent.request(e.obj["metadata"]["name"])],
    )
    controller.watch_mapped(
        informers.internal_member_clusters,
        lambda e: [agent.request(w["metadata"]["name"]) for w in informers.works.store.list()],
    )
    controller.watch_mapped(
        informers.applied_works,
        lambda e: (
            [agent.request(e.obj["metadata"]["name"])]
            if (e.obj.get("spec") or {}).get("workNamespace") == agent.namespace
            else []
        ),
    )

    def enqueue_owner(event: InformerEvent) -> None:
        for name in _applied_work_owners(event):
            controller.queue.add(agent.request(name))

    # Workloads whose status the Work reports: handlers without a sync wait, so a member without the
    # ModelDeployment CRD (yet) does not hold the applier back.
    patient = InformerSettings(reconnect_backoff=ExponentialBackoff(0.5, 60.0))
    for kind in (DEPLOYMENT, STATEFULSET, MODEL_DEPLOYMENT):
        manager.informer(member, kind, patient if kind is MODEL_DEPLOYMENT else None).add_handler(
            enqueue_owner
        )


def add_member_agent(
    manager: Manager,
    hub_client: ClusterClient,
    member_client: ClusterClient,
    member_name: str,
    settings: MemberAgentSettings | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> MemberAgent:
    """Add the member agent of ``member_name`` (heartbeat and work applier) to ``manager``."""
    settings = settings or MemberAgentSettings()
    clock = clock or SystemClock()
    in_namespace = InformerSettings(namespace=member_namespace(member_name))
    imcs = manager.informer(hub_client, INTERNAL_MEMBER_CLUSTER, in_namespace)
    works = manager.informer(hub_client, WORK, in_namespace)
    nodes = manager.informer(member_client, NODE)
    pods = manager.informer(member_client, POD)
    applied_works = manager.informer(member_client, APPLIED_WORK)

    heartbeat = Heartbeat(
        hub_client,
        member_client,
        member_name,
        (imcs, nodes, pods),
        load_catalog(),
        clock,
        rng or random.Random(),
        settings.heartbeat,
    )
    manager.add(heartbeat, settings.needs_leader)

    discovery = Discovery(member_client, clock, settings.discovery_refresh)
    informers = ApplierInformers(works, imcs, applied_works)
    applier = WorkApplier(
        hub_client, member_client, member_name, informers, discovery, clock, settings.applier
    )
    controller = manager.controller(
        f"{member_name}/work-applier",
        applier,
        ControllerSettings(
            workers=settings.workers, needs_leader=settings.needs_leader, sync_timeout=WAIT_FOR_HUB
        ),
    )
    _wire_applier(manager, applier, controller, member_client)
    return MemberAgent(member_name, heartbeat, applier, controller)
