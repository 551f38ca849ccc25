"""How hub events reach the placement controllers: an object labelled with its placement maps to that
placement; a Work to its binding; a MemberCluster change to the placements it can affect (all of them
when what eligibility reads changed, only unfulfilled ones when only capacity moved, those bound there
when its health flipped), so a 1,000-member fleet's heartbeats do not reschedule everything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import CONDITION_HEALTHY, CONDITION_JOINED
from infleet.api.labels import PARENT_BINDING_LABEL, PARENT_NAMESPACE_LABEL, PARENT_PLACEMENT_LABEL
from infleet.fleet.hub.placement_kinds import PlacementKinds
from infleet.kube.conditions import get_condition
from infleet.kube.controller import Mapper, request_for
from infleet.kube.informer import MODIFIED, InformerEvent
from infleet.kube.reconciler import Request
from infleet.kube.store import Store


def parent_placement(kinds: PlacementKinds) -> Callable[[InformerEvent], list[Request]]:
    """Snapshot or binding -> its placement (of this scope)."""

    def mapper(event: InformerEvent) -> list[Request]:
        labels = (event.obj.get("metadata") or {}).get("labels") or {}
        name = labels.get(PARENT_PLACEMENT_LABEL)
        namespace = labels.get(PARENT_NAMESPACE_LABEL, "")
        if not name or bool(namespace) != kinds.namespaced:
            return []
        return [Request(event.cluster, namespace, name)]

    return mapper


def _beyond_status(obj: dict[str, Any]) -> tuple[Any, ...]:
    metadata = obj.get("metadata") or {}
    return (
        obj.get("spec"),
        metadata.get("labels"),
        metadata.get("annotations"),
        metadata.get("finalizers"),
        metadata.get("deletionTimestamp"),
    )


def _the_object(event: InformerEvent) -> list[Request]:
    return [request_for(event)]


def unless_status_only(mapper: Mapper = _the_object) -> Mapper:
    """``mapper``, but nothing for an update that changed only status: a controller that does not read
    an object's status must not run again on its own status writes, nor on another controller's (with
    1,000 placements, every status write re-ran the scheduler and re-read every namespace)."""

    def mapped(event: InformerEvent) -> Iterable[Request]:
        status_only = (
            event.type == MODIFIED
            and event.old is not None
            and _beyond_status(event.old) == _beyond_status(event.obj)
        )
        return [] if status_only else mapper(event)

    return mapped


def work_binding(kinds: PlacementKinds) -> Callable[[InformerEvent], list[Request]]:
    """Work -> the binding it was generated from (of this scope)."""

    def mapper(event: InformerEvent) -> list[Request]:
        labels = (event.obj.get("metadata") or {}).get("labels") or {}
        binding = labels.get(PARENT_BINDING_LABEL)
        namespace = labels.get(PARENT_NAMESPACE_LABEL, "")
        if not binding or bool(namespace) != kinds.namespaced:
            return []
        return [Request(event.cluster, namespace, binding)]

    return mapper


def _eligibility_view(member: dict[str, Any] | None) -> tuple[Any, ...]:
    if member is None:
        return ()
    metadata = member.get("metadata") or {}
    conditions = (member.get("status") or {}).get("conditions")
    states = tuple(
        (get_condition(conditions, c) or {}).get("status") for c in (CONDITION_JOINED, CONDITION_HEALTHY)
    )
    labels = tuple(sorted((metadata.get("labels") or {}).items()))
    taints = str((member.get("spec") or {}).get("taints"))
    return (labels, taints, states, bool(metadata.get("deletionTimestamp")))


def _capacity_view(member: dict[str, Any] | None) -> dict[str, Any]:
    properties = ((member or {}).get("status") or {}).get("properties") or {}
    return {name: value.get("value") for name, value in properties.items()}


def member_to_placements(
    placements: Store, unfulfilled: Collection[Request]
) -> Callable[[InformerEvent], Iterable[Request]]:
    """For the scheduler: which placements a MemberCluster event should re-run."""

    def mapper(event: InformerEvent) -> Iterable[Request]:
        if (
            event.old is None
            or event.type == "DELETED"
            or _eligibility_view(event.old) != _eligibility_view(event.obj)
        ):
            return [_request(event.cluster, p) for p in placements.list()]
        if _capacity_view(event.old) != _capacity_view(event.obj):
            return list(unfulfilled)
        return []

    return mapper


def member_to_bound_placements(bindings: Store) -> Callable[[InformerEvent], Iterable[Request]]:
    """For the rollout: placements with a binding on a member whose health or membership changed."""

    def mapper(event: InformerEvent) -> Iterable[Request]:
        if event.old is not None and _eligibility_view(event.old) == _eligibility_view(event.obj):
            return []
        member = event.obj["metadata"]["name"]
        requests = set()
        for binding in bindings.list():
            if (binding.get("spec") or {}).get("targetCluster") == member:
                labels = binding["metadata"].get("labels") or {}
                requests.add(
                    Request(
                        event.cluster,
                        labels.get(PARENT_NAMESPACE_LABEL, ""),
                        labels.get(PARENT_PLACEMENT_LABEL, ""),
                    )
                )
        return [r for r in requests if r.name]

    return mapper


def _request(cluster: str, placement: dict[str, Any]) -> Request:
    metadata = placement["metadata"]
    return Request(cluster, str(metadata.get("namespace") or ""), str(metadata["name"]))
