"""The consolidation simulation: pods booked onto a node keep it from being deleted in the same pass."""

from __future__ import annotations

from typing import Any

from infleet.api.labels import GPU_RESOURCE
from infleet.compute.disruption.packing import FreeCapacity
from infleet.compute.disruption.state import StateNode


def state(name: str, gpus: int, used: int) -> StateNode:
    node = {"metadata": {"name": name}, "status": {"allocatable": {GPU_RESOURCE: str(gpus)}}}
    return StateNode(
        {"metadata": {"name": name}}, node, "gpu", [pod(f"{name}-{i}", name) for i in range(used)]
    )


def pod(name: str, node: str) -> dict[str, Any]:
    container = {"name": "c", "resources": {"requests": {GPU_RESOURCE: "1"}}}
    return {"metadata": {"name": name}, "spec": {"nodeName": node, "containers": [container]}}


def test_a_node_that_received_pods_is_not_deleted_too() -> None:
    a, b = state("a", 8, 2), state("b", 8, 2)
    capacity = FreeCapacity([a, b])
    room = capacity.place(a.pods, {"a"})
    assert room is not None
    capacity.commit(room, "a")
    assert capacity.received == {"b"}
    # b now holds a's pods too: nothing is left to take b's.
    assert capacity.place(b.pods, {"a", "b"}) is None


def test_pods_that_fit_nowhere_are_not_booked() -> None:
    capacity = FreeCapacity([state("a", 2, 1)])
    assert capacity.place([pod("x", "z"), pod("y", "z")], set()) is None
    capacity.reserve([pod("x", "z"), pod("y", "z")])
    assert capacity.room["a"].gpus == 0
