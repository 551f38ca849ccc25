"""``ClusterResourcePlacement`` (cluster-scoped) and ``ResourcePlacement`` (namespaced): what to place and
where, and KubeFleet's status pipeline (Scheduled, RolloutStarted, Overridden, WorkSynchronized, Applied,
Available) per cluster. The hub's placement controllers read the spec and write the status.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.placement_kubernetes_fleet_io.v1beta1.group_version import GROUP, SERVED_VERSIONS, VERSION
from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import PlacementPolicy
from infleet.api.placement_kubernetes_fleet_io.v1beta1.selectors import LabelSelector, ResourceIdentifier
from infleet.api.placement_kubernetes_fleet_io.v1beta1.strategy import RolloutStrategy
from infleet.api.resource_kind import ResourceKind

CLUSTER_RESOURCE_PLACEMENT = ResourceKind(
    GROUP, VERSION, "ClusterResourcePlacement", "clusterresourceplacements", namespaced=False
)
RESOURCE_PLACEMENT = ResourceKind(GROUP, VERSION, "ResourcePlacement", "resourceplacements")

# Placement conditions; a placement's own types carry its kind's prefix (ClusterResourcePlacementScheduled).
SCHEDULED = "Scheduled"
ROLLOUT_STARTED = "RolloutStarted"
OVERRIDDEN = "Overridden"
WORK_SYNCHRONIZED = "WorkSynchronized"
APPLIED = "Applied"
AVAILABLE = "Available"
PIPELINE = (SCHEDULED, ROLLOUT_STARTED, OVERRIDDEN, WORK_SYNCHRONIZED, APPLIED, AVAILABLE)


class ResourceSelector(ApiModel):
    """One kind of object to place, by name or labels; selectors are ORed."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.name) && has(self.labelSelector))",
                    "message": "a resource selector takes name or labelSelector, not both: remove one",
                }
            ]
        }
    )

    group: str = Field(description='API group, "" for the core group.')
    version: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    name: str | None = None
    label_selector: LabelSelector | None = None
    selection_scope: Literal["NamespaceOnly", "NamespaceWithResources", "NamespaceWithResourceSelectors"] = (
        Field(
            default="NamespaceWithResources",
            description="For Namespaces: the namespace alone or with its objects.",
        )
    )


class PlacementSpec(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "(has(oldSelf.policy) ? oldSelf.policy.placementType : 'PickAll') == "
                    "(has(self.policy) ? self.policy.placementType : 'PickAll')",
                    "message": "spec.policy.placementType cannot be changed: "
                    "delete the placement and create it again with the new type",
                    "fieldPath": ".policy.placementType",
                }
            ]
        }
    )

    resource_selectors: list[ResourceSelector] = Field(min_length=1, max_length=100)
    policy: PlacementPolicy | None = None
    strategy: RolloutStrategy | None = None
    revision_history_limit: int = Field(default=10, ge=1, le=1000)
    status_reporting_scope: Literal["ClusterScopeOnly", "NamespaceAccessible"] | None = None


class FailedResourcePlacement(ResourceIdentifier):
    condition: dict[str, str] | None = None


class DriftDetail(ApiModel):
    path: str
    value_in_member: str | None = None
    value_in_hub: str | None = None


class DriftedResourcePlacement(ResourceIdentifier):
    observation_time: str | None = None
    first_drifted_observed_time: str | None = None
    observed_drifts: list[DriftDetail] | None = None


class ClusterPlacementStatus(ApiModel):
    """One cluster's progress; PickN and PickFixed list one entry per wanted cluster."""

    cluster_name: str = ""
    observed_resource_index: str | None = None
    conditions: Conditions | None = None
    failed_placements: list[FailedResourcePlacement] | None = None
    drifted_placements: list[DriftedResourcePlacement] | None = None


class UnselectedCluster(ApiModel):
    """Infleet: why a cluster was not picked (KubeFleet keeps this in the policy snapshot only)."""

    cluster_name: str
    reason: str


class PlacementStatus(ApiModel):
    observed_resource_index: str | None = None
    selected_resources: list[ResourceIdentifier] | None = None
    placement_statuses: list[ClusterPlacementStatus] | None = None
    unselected_clusters: list[UnselectedCluster] | None = None
    conditions: Conditions | None = None


def _columns(prefix: str) -> tuple[PrinterColumn, ...]:
    def condition(kind: str, field: str) -> str:
        return f'.status.conditions[?(@.type=="{prefix}{kind}")].{field}'

    return (
        PrinterColumn("Gen", "string", ".metadata.generation"),
        PrinterColumn("Type", "string", ".spec.policy.placementType"),
        PrinterColumn("Scheduled", "string", condition(SCHEDULED, "status")),
        PrinterColumn("Scheduled-Gen", "string", condition(SCHEDULED, "observedGeneration")),
        PrinterColumn("Available", "string", condition(AVAILABLE, "status")),
        PrinterColumn("Available-Gen", "string", condition(AVAILABLE, "observedGeneration")),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    )


CLUSTER_RESOURCE_PLACEMENT_CRD = CRDInfo(
    resource=CLUSTER_RESOURCE_PLACEMENT,
    served_versions=SERVED_VERSIONS,
    short_names=("crp",),
    categories=("fleet", "fleet-placement"),
    printer_columns=_columns("ClusterResourcePlacement"),
    description="Places cluster-scoped resources (namespaces with their objects) on member clusters.",
)

RESOURCE_PLACEMENT_CRD = CRDInfo(
    resource=RESOURCE_PLACEMENT,
    served_versions=SERVED_VERSIONS,
    short_names=("rp",),
    categories=("fleet", "fleet-placement"),
    printer_columns=_columns("ResourcePlacement"),
    description="Places objects of its own namespace on member clusters.",
)
