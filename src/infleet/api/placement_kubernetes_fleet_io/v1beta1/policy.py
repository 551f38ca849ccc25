"""``spec.policy`` of a placement: which clusters (PickAll / PickN / PickFixed), affinity with label and
property selectors, preferred terms with property sorters, topology spread and tolerations. The CEL rules
below are KubeFleet's webhook and CEL checks, with messages that name the field and the fix.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from infleet.api.api_model import ApiModel
from infleet.api.placement_kubernetes_fleet_io.v1beta1.selectors import LabelSelector

PlacementType = Literal["PickAll", "PickN", "PickFixed"]
PropertyOperator = Literal["Gt", "Ge", "Eq", "Ne", "Lt", "Le"]


class PropertySelectorRequirement(ApiModel):
    """``name operator values[0]``: a cluster property compared as a quantity (Eq/Ne also as text)."""

    name: str = Field(min_length=1, description="A property name, e.g. gpu.aitoolchain.io/h100/available.")
    operator: PropertyOperator
    values: list[str] = Field(min_length=1, max_length=1)


class PropertySelector(ApiModel):
    match_expressions: list[PropertySelectorRequirement]


class PropertySorter(ApiModel):
    """Rank clusters by a property: the best gets the term's whole weight, the others in proportion."""

    name: str = Field(min_length=1)
    sort_order: Literal["Ascending", "Descending"]


class ClusterSelectorTerm(ApiModel):
    """labelSelector AND propertySelector; terms are ORed."""

    label_selector: LabelSelector | None = None
    property_selector: PropertySelector | None = None
    property_sorter: PropertySorter | None = None


class ClusterSelector(ApiModel):
    cluster_selector_terms: list[ClusterSelectorTerm] = Field(max_length=10)


class PreferredClusterSelector(ApiModel):
    weight: int = Field(ge=-100, le=100)
    preference: ClusterSelectorTerm


class ClusterAffinity(ApiModel):
    required_during_scheduling_ignored_during_execution: ClusterSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredClusterSelector] | None = None


class Affinity(ApiModel):
    cluster_affinity: ClusterAffinity | None = None


class TopologySpreadConstraint(ApiModel):
    """Spread the picked clusters over the values of a cluster label (PickN only)."""

    max_skew: int = Field(default=1, ge=1)
    topology_key: str = Field(min_length=1, description="A MemberCluster label, e.g. region.")
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = "DoNotSchedule"


class Toleration(ApiModel):
    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule"] | None = None


_POLICY_RULES: list[Any] = [
    {
        "rule": "self.placementType == 'PickFixed' || !has(self.clusterNames) "
        "|| size(self.clusterNames) == 0",
        "message": "clusterNames is only for placementType PickFixed: remove spec.policy.clusterNames "
        "or set spec.policy.placementType to PickFixed",
        "fieldPath": ".clusterNames",
    },
    {
        "rule": "self.placementType != 'PickFixed' "
        "|| (has(self.clusterNames) && size(self.clusterNames) > 0)",
        "message": "placementType PickFixed needs the clusters: list them in spec.policy.clusterNames",
        "fieldPath": ".clusterNames",
        "reason": "FieldValueRequired",
    },
    {
        "rule": "self.placementType != 'PickFixed' || !has(self.affinity)",
        "message": "placementType PickFixed takes no affinity: remove spec.policy.affinity "
        "or use PickN or PickAll",
        "fieldPath": ".affinity",
    },
    {
        "rule": "self.placementType != 'PickN' || has(self.numberOfClusters)",
        "message": "placementType PickN needs spec.policy.numberOfClusters: set how many clusters to pick",
        "fieldPath": ".numberOfClusters",
        "reason": "FieldValueRequired",
    },
    {
        "rule": "self.placementType == 'PickN' || !has(self.numberOfClusters)",
        "message": "numberOfClusters is only for placementType PickN: remove spec.policy.numberOfClusters "
        "or set spec.policy.placementType to PickN",
        "fieldPath": ".numberOfClusters",
    },
    {
        "rule": "self.placementType == 'PickN' || !has(self.topologySpreadConstraints) "
        "|| size(self.topologySpreadConstraints) == 0",
        "message": "topologySpreadConstraints are only for placementType PickN: "
        "remove spec.policy.topologySpreadConstraints or use PickN",
        "fieldPath": ".topologySpreadConstraints",
    },
    {
        "rule": "!has(oldSelf.tolerations) || (has(self.tolerations) "
        "&& oldSelf.tolerations.all(t, t in self.tolerations))",
        "message": "spec.policy.tolerations can only be added to, never changed or removed: "
        "put back the tolerations you removed, or create a new placement",
        "fieldPath": ".tolerations",
    },
]


class PlacementPolicy(ApiModel):
    """Which clusters the selected resources go to; omitted: every joined cluster (PickAll)."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": _POLICY_RULES})

    placement_type: PlacementType = Field(default="PickAll", description="PickAll, PickN or PickFixed.")
    cluster_names: list[str] | None = Field(default=None, max_length=100, description="PickFixed only.")
    number_of_clusters: int | None = Field(default=None, ge=0, description="PickN only: how many clusters.")
    affinity: Affinity | None = None
    topology_spread_constraints: list[TopologySpreadConstraint] | None = None
    tolerations: list[Toleration] | None = Field(default=None, max_length=100)
