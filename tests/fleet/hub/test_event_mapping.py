"""Which hub events reach which controllers: a status-only update of a placement runs no controller that
reads no status; a spec, label or deletion change still does."""

from __future__ import annotations

from typing import Any

from infleet.fleet.hub.event_mapping import unless_status_only
from infleet.kube.informer import ADDED, MODIFIED, InformerEvent
from infleet.kube.reconciler import Request


def _placement(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "crp", "resourceVersion": "1", "labels": {"a": "b"}},
        "spec": {"policy": {"placementType": "PickN", "numberOfClusters": 2}},
        "status": {"conditions": []},
    }
    for key, value in changes.items():
        if key in ("deletionTimestamp", "resourceVersion"):
            obj["metadata"][key] = value
        else:
            obj[key] = value
    return obj


def test_a_status_only_update_maps_to_nothing() -> None:
    mapper = unless_status_only()
    old = _placement()
    new = _placement(status={"conditions": [{"type": "Scheduled"}]}, resourceVersion="2")
    assert list(mapper(InformerEvent(MODIFIED, new, old, "hub"))) == []


def test_creation_spec_and_deletion_map_to_the_placement() -> None:
    mapper = unless_status_only()
    old = _placement()
    wanted = [Request("hub", "", "crp")]
    assert list(mapper(InformerEvent(ADDED, old, None, "hub"))) == wanted
    spec = _placement(spec={"policy": {"placementType": "PickAll"}})
    assert list(mapper(InformerEvent(MODIFIED, spec, old, "hub"))) == wanted
    deleting = _placement(deletionTimestamp="2026-01-01T00:00:00Z")
    assert list(mapper(InformerEvent(MODIFIED, deleting, old, "hub"))) == wanted
