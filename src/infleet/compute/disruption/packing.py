"""The scheduling simulation consolidation needs: would these pods fit on the other nodes' free capacity?
First-fit decreasing by GPUs, then CPU, then memory, honouring each pod's ``nodeSelector``. Capacity is
booked as pods are placed, so one pass can decide several deletions against the same free space.
"""

from __future__ import annotations

from typing import Any

from infleet.compute.disruption.state import StateNode
from infleet.compute.resources import Resources


def _selects(pod: dict[str, Any], state: StateNode) -> bool:
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    return all(state.label(key) == value for key, value in selector.items())


class FreeCapacity:
    """Free room on the nodes pods may move to (initialized, not disrupting), booked as they move."""

    def __init__(self, targets: list[StateNode]) -> None:
        self.targets = {state.name: state for state in targets}
        self.room = {state.name: state.free for state in targets}
        #: Nodes that pods were booked onto this pass: deleting one would strand what was booked there.
        self.received: set[str] = set()

    def place(self, pods: list[dict[str, Any]], excluding: set[str]) -> dict[str, Resources] | None:
        """Book ``pods`` on nodes not in ``excluding``; the rooms after, or None when one does not fit."""
        room, left = self.place_some(pods, excluding)
        return None if left else room

    def place_some(
        self, pods: list[dict[str, Any]], excluding: set[str]
    ) -> tuple[dict[str, Resources], list[dict[str, Any]]]:
        """Book what fits of ``pods`` on nodes not in ``excluding``: the rooms after, and the pods left over
        (what a replacement node would have to hold)."""
        room = {name: free for name, free in self.room.items() if name not in excluding}
        ordered = sorted(pods, key=lambda p: Resources.of_pod(p).sort_key(), reverse=True)
        left: list[dict[str, Any]] = []
        for pod in ordered:
            need = Resources.of_pod(pod)
            target = next(
                (n for n, free in room.items() if need.fits_in(free) and _selects(pod, self.targets[n])), None
            )
            if target is None:
                left.append(pod)
            else:
                room[target] = room[target] - need
        return room, left

    def fork(self) -> FreeCapacity:
        copied = FreeCapacity([])
        copied.targets = self.targets
        copied.room = dict(self.room)
        copied.received = set(self.received)
        return copied

    def reserve(self, pods: list[dict[str, Any]]) -> None:
        """Book room for pods that must land somewhere already (on disrupting nodes, or pending), one at a
        time, so no decision counts on room they will take; those that fit nowhere are the provisioner's."""
        for pod in sorted(pods, key=lambda p: Resources.of_pod(p).sort_key(), reverse=True):
            room = self.place([pod], set())
            if room is not None:
                self.commit(room, None)

    def commit(self, room: dict[str, Resources], removed: str | None) -> None:
        self.received.update(name for name, free in room.items() if free != self.room.get(name))
        self.room.update(room)
        if removed is not None:
            self.room.pop(removed, None)
