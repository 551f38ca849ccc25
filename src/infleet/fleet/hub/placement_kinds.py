"""The two placement scopes and the kinds each uses: a ClusterResourcePlacement keeps cluster-scoped
snapshots and bindings, a ResourcePlacement namespaced twins in its own namespace. Every hub controller
takes a :class:`PlacementKinds` so one implementation serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infleet.api.labels import PARENT_NAMESPACE_LABEL, PARENT_PLACEMENT_LABEL
from infleet.api.placement_kubernetes_fleet_io.v1beta1.binding import (
    CLUSTER_RESOURCE_BINDING,
    RESOURCE_BINDING,
)
from infleet.api.placement_kubernetes_fleet_io.v1beta1.placement import (
    CLUSTER_RESOURCE_PLACEMENT,
    RESOURCE_PLACEMENT,
)
from infleet.api.placement_kubernetes_fleet_io.v1beta1.snapshots import (
    CLUSTER_RESOURCE_SNAPSHOT,
    CLUSTER_SCHEDULING_POLICY_SNAPSHOT,
    RESOURCE_SNAPSHOT,
    SCHEDULING_POLICY_SNAPSHOT,
)
from infleet.api.resource_kind import ResourceKind
from infleet.kube.store import Store


@dataclass(frozen=True)
class PlacementKinds:
    """The placement kind of one scope and the kinds of its snapshots and bindings."""

    placement: ResourceKind
    policy_snapshot: ResourceKind
    resource_snapshot: ResourceKind
    binding: ResourceKind

    @property
    def namespaced(self) -> bool:
        return self.placement.namespaced

    def condition(self, kind: str) -> str:
        """A placement-level condition type: ``ClusterResourcePlacementScheduled`` and the like."""
        return f"{self.placement.kind}{kind}"

    def owner_labels(self, namespace: str, name: str) -> dict[str, str]:
        """Labels that tie a snapshot, binding or Work to its placement."""
        labels = {PARENT_PLACEMENT_LABEL: name}
        if self.namespaced:
            labels[PARENT_NAMESPACE_LABEL] = namespace
        return labels

    def owner_selector(self, namespace: str, name: str) -> str:
        return ",".join(f"{key}={value}" for key, value in self.owner_labels(namespace, name).items())

    def owned(self, store: Store, namespace: str, name: str) -> list[dict[str, Any]]:
        """The snapshots, bindings or Works in ``store`` that belong to placement ``namespace/name``."""
        wanted = namespace if self.namespaced else ""
        return [
            item
            for item in store.by_label(PARENT_PLACEMENT_LABEL, name)
            if (item["metadata"].get("namespace") or "") == wanted
            or (item["metadata"].get("labels") or {}).get(PARENT_NAMESPACE_LABEL, "") == wanted
        ]

    def work_name(self, namespace: str, name: str) -> str:
        """The Work's name in each member namespace (KubeFleet's ``<crp>-work``, ``<ns>.<rp>-work``)."""
        return f"{namespace}.{name}-work" if self.namespaced else f"{name}-work"

    def binding_name(self, name: str, cluster: str) -> str:
        return f"{name}-{cluster}"


CLUSTER_SCOPE = PlacementKinds(
    CLUSTER_RESOURCE_PLACEMENT,
    CLUSTER_SCHEDULING_POLICY_SNAPSHOT,
    CLUSTER_RESOURCE_SNAPSHOT,
    CLUSTER_RESOURCE_BINDING,
)
NAMESPACE_SCOPE = PlacementKinds(
    RESOURCE_PLACEMENT, SCHEDULING_POLICY_SNAPSHOT, RESOURCE_SNAPSHOT, RESOURCE_BINDING
)
SCOPES = (CLUSTER_SCOPE, NAMESPACE_SCOPE)
