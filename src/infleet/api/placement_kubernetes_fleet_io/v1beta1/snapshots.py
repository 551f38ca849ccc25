"""The immutable inputs of one placement revision, as KubeFleet keeps them: the scheduling policy
snapshot (policy + hash; the scheduler writes its decisions into its status) and the resource snapshot
(the selected objects as they were). Each has a cluster-scoped kind for ClusterResourcePlacements and a
namespaced twin for ResourcePlacements; the hub's placement controller writes both.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.labels import IS_LATEST_SNAPSHOT_LABEL, POLICY_INDEX_LABEL, RESOURCE_INDEX_LABEL
from infleet.api.placement_kubernetes_fleet_io.v1beta1.group_version import GROUP, SERVED_VERSIONS, VERSION
from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import PlacementPolicy
from infleet.api.resource_kind import ResourceKind

CLUSTER_SCHEDULING_POLICY_SNAPSHOT = ResourceKind(
    GROUP, VERSION, "ClusterSchedulingPolicySnapshot", "clusterschedulingpolicysnapshots", namespaced=False
)
SCHEDULING_POLICY_SNAPSHOT = ResourceKind(
    GROUP, VERSION, "SchedulingPolicySnapshot", "schedulingpolicysnapshots"
)
CLUSTER_RESOURCE_SNAPSHOT = ResourceKind(
    GROUP, VERSION, "ClusterResourceSnapshot", "clusterresourcesnapshots", namespaced=False
)
RESOURCE_SNAPSHOT = ResourceKind(GROUP, VERSION, "ResourceSnapshot", "resourcesnapshots")


class SchedulingPolicySnapshotSpec(ApiModel):
    policy: PlacementPolicy | None = None
    policy_hash: str = Field(
        description="sha256 of the policy, so an unchanged policy is not snapshot again."
    )


class ClusterScore(ApiModel):
    affinity_score: int | None = None
    priority_score: int | None = None
    topology_spread_score: int | None = None


class ClusterDecision(ApiModel):
    """Whether the scheduler picked a cluster, its score and why."""

    cluster_name: str
    selected: bool
    cluster_score: ClusterScore | None = None
    reason: str = ""


class SchedulingPolicySnapshotStatus(ApiModel):
    observed_crp_generation: int | None = Field(default=None, alias="observedCRPGeneration")
    conditions: Conditions | None = None
    target_clusters: list[ClusterDecision] | None = Field(default=None, max_length=1000)


class ResourceSnapshotSpec(ApiModel):
    selected_resources: list[dict[str, Any]] = Field(
        description="The selected objects as they were when snapshot.",
        json_schema_extra={"items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    )


class ResourceSnapshotStatus(ApiModel):
    conditions: Conditions | None = None


def _policy_columns() -> tuple[PrinterColumn, ...]:
    return (
        PrinterColumn(
            "Index", "string", f".metadata.labels.{POLICY_INDEX_LABEL.replace('.', chr(92) + '.')}"
        ),
        PrinterColumn(
            "Latest", "string", f".metadata.labels.{IS_LATEST_SNAPSHOT_LABEL.replace('.', chr(92) + '.')}"
        ),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    )


def _resource_columns() -> tuple[PrinterColumn, ...]:
    return (
        PrinterColumn(
            "Index", "string", f".metadata.labels.{RESOURCE_INDEX_LABEL.replace('.', chr(92) + '.')}"
        ),
        PrinterColumn(
            "Latest", "string", f".metadata.labels.{IS_LATEST_SNAPSHOT_LABEL.replace('.', chr(92) + '.')}"
        ),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    )


CLUSTER_SCHEDULING_POLICY_SNAPSHOT_CRD = CRDInfo(
    resource=CLUSTER_SCHEDULING_POLICY_SNAPSHOT,
    served_versions=SERVED_VERSIONS,
    short_names=("cspsnapshot",),
    categories=("fleet", "fleet-placement"),
    printer_columns=_policy_columns(),
)
SCHEDULING_POLICY_SNAPSHOT_CRD = CRDInfo(
    resource=SCHEDULING_POLICY_SNAPSHOT,
    served_versions=SERVED_VERSIONS,
    short_names=("spsnapshot",),
    categories=("fleet", "fleet-placement"),
    printer_columns=_policy_columns(),
)
CLUSTER_RESOURCE_SNAPSHOT_CRD = CRDInfo(
    resource=CLUSTER_RESOURCE_SNAPSHOT,
    served_versions=SERVED_VERSIONS,
    short_names=("crsnapshot",),
    categories=("fleet", "fleet-placement"),
    printer_columns=_resource_columns(),
)
RESOURCE_SNAPSHOT_CRD = CRDInfo(
    resource=RESOURCE_SNAPSHOT,
    served_versions=SERVED_VERSIONS,
    short_names=("rsnapshot",),
    categories=("fleet", "fleet-placement"),
    printer_columns=_resource_columns(),
)
