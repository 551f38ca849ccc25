"""``ClusterResourceBinding`` (and the namespaced ``ResourceBinding``): one per placement and cluster.
The scheduler creates it Scheduled, the rollout controller makes it Bound within the strategy's budgets
(and deletes it once Unscheduled), the work generator turns a Bound binding into that cluster's Work.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.placement_kubernetes_fleet_io.v1beta1.group_version import GROUP, SERVED_VERSIONS, VERSION
from infleet.api.placement_kubernetes_fleet_io.v1beta1.placement import (
    DriftedResourcePlacement,
    FailedResourcePlacement,
)
from infleet.api.placement_kubernetes_fleet_io.v1beta1.snapshots import ClusterDecision
from infleet.api.placement_kubernetes_fleet_io.v1beta1.strategy import ApplyStrategy
from infleet.api.resource_kind import ResourceKind

CLUSTER_RESOURCE_BINDING = ResourceKind(
    GROUP, VERSION, "ClusterResourceBinding", "clusterresourcebindings", namespaced=False
)
RESOURCE_BINDING = ResourceKind(GROUP, VERSION, "ResourceBinding", "resourcebindings")

BindingState = Literal["Scheduled", "Bound", "Unscheduled"]


class ResourceBindingSpec(ApiModel):
    state: BindingState
    resource_snapshot_name: str | None = None
    scheduling_policy_snapshot_name: str = ""
    target_cluster: str = Field(min_length=1)
    cluster_decision: ClusterDecision | None = None
    apply_strategy: ApplyStrategy | None = None


class ResourceBindingStatus(ApiModel):
    failed_placements: list[FailedResourcePlacement] | None = None
    drifted_placements: list[DriftedResourcePlacement] | None = None
    conditions: Conditions | None = None


def _columns() -> tuple[PrinterColumn, ...]:
    return (
        PrinterColumn("Cluster", "string", ".spec.targetCluster"),
        PrinterColumn("State", "string", ".spec.state"),
        PrinterColumn("Snapshot", "string", ".spec.resourceSnapshotName"),
        PrinterColumn("Available", "string", '.status.conditions[?(@.type=="Available")].status'),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    )


CLUSTER_RESOURCE_BINDING_CRD = CRDInfo(
    resource=CLUSTER_RESOURCE_BINDING,
    served_versions=SERVED_VERSIONS,
    short_names=("crb",),
    categories=("fleet", "fleet-placement"),
    printer_columns=_columns(),
)
RESOURCE_BINDING_CRD = CRDInfo(
    resource=RESOURCE_BINDING,
    served_versions=SERVED_VERSIONS,
    short_names=("rb",),
    categories=("fleet", "fleet-placement"),
    printer_columns=_columns(),
)
