"""``MemberCluster`` (cluster-scoped, written by users) and ``InternalMemberCluster`` (in the hub namespace
``fleet-member-<name>``, written by the hub's membership controller and that member's agent), as KubeFleet
defines them. The member agent reports status into the InternalMemberCluster; the hub copies it to the
MemberCluster. Infleet's GPU properties travel in KubeFleet's ``status.properties`` map unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from infleet.api.api_model import ApiModel
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.group_version import GROUP, SERVED_VERSIONS, VERSION
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.fleet_properties import AVAILABLE_GPUS, NODE_COUNT, TOTAL_GPUS
from infleet.api.resource_kind import ResourceKind

MEMBER_CLUSTER = ResourceKind(GROUP, VERSION, "MemberCluster", "memberclusters", namespaced=False)
INTERNAL_MEMBER_CLUSTER = ResourceKind(GROUP, VERSION, "InternalMemberCluster", "internalmemberclusters")

#: The hub namespace of member ``name``: its InternalMemberCluster and its Works live there.
MEMBER_NAMESPACE_PREFIX = "fleet-member-"

# MemberCluster conditions (KubeFleet's names).
CONDITION_READY_TO_JOIN = "ReadyToJoin"
CONDITION_JOINED = "Joined"
CONDITION_HEALTHY = "Healthy"
CONDITION_PROPERTY_COLLECTION_SUCCEEDED = "ClusterPropertyCollectionSucceeded"
#: agentStatus type of the member agent.
MEMBER_AGENT = "MemberAgent"


def member_namespace(member: str) -> str:
    return f"{MEMBER_NAMESPACE_PREFIX}{member}"


class Identity(ApiModel):
    """The RBAC subject the member agent authenticates as (rbacv1.Subject)."""

    kind: str = Field(default="ServiceAccount", description="User, Group or ServiceAccount.")
    name: str = Field(min_length=1)
    namespace: str | None = None
    api_group: str | None = None


class Taint(ApiModel):
    """Keeps placements off the cluster unless they tolerate it (NoSchedule only, as in KubeFleet)."""

    key: str = Field(min_length=1, max_length=316)
    value: str | None = Field(default=None, max_length=63)
    effect: Literal["NoSchedule"] = "NoSchedule"


class DeleteOptions(ApiModel):
    validation_mode: Literal["Skip", "Strict"] = "Skip"


class MemberClusterSpec(ApiModel):
    """Who the member is and how often it reports."""

    identity: Identity | None = None
    heartbeat_period_seconds: int = Field(
        default=60, ge=1, le=600, description="How often the agent reports."
    )
    taints: list[Taint] | None = Field(default=None, max_length=100)
    delete_options: DeleteOptions | None = None


class PropertyValue(ApiModel):
    """One reported property: a quantity (or, for region and cloud, a name) and when it was observed."""

    value: str
    observation_time: str | None = Field(default=None, json_schema_extra={"format": "date-time"})


class ResourceUsage(ApiModel):
    """Capacity, allocatable and available resources summed over the member's nodes."""

    capacity: dict[str, str] | None = None
    allocatable: dict[str, str] | None = None
    available: dict[str, str] | None = None
    observation_time: str | None = Field(default=None, json_schema_extra={"format": "date-time"})


class AgentStatus(ApiModel):
    """What one agent of the member last said, and when."""

    type: str = Field(description="MemberAgent.")
    conditions: Conditions | None = None
    last_received_heartbeat: str | None = Field(default=None, json_schema_extra={"format": "date-time"})


class MemberClusterStatus(ApiModel):
    conditions: Conditions | None = None
    properties: dict[str, PropertyValue] | None = None
    resource_usage: ResourceUsage | None = None
    agent_status: list[AgentStatus] | None = None


class InternalMemberClusterSpec(ApiModel):
    """What the hub asks of the agent."""

    state: Literal["Join", "Leave"] = Field(description="Join or Leave.")
    heartbeat_period_seconds: int = Field(default=60, ge=1, le=600)


class InternalMemberClusterStatus(ApiModel):
    conditions: Conditions | None = None
    properties: dict[str, PropertyValue] | None = None
    resource_usage: ResourceUsage | None = None
    agent_status: list[AgentStatus] | None = None


def _prop(name: str) -> str:
    escaped = name.replace(".", "\\.")
    return f".status.properties.{escaped}.value"


MEMBER_CLUSTER_CRD = CRDInfo(
    resource=MEMBER_CLUSTER,
    served_versions=SERVED_VERSIONS,
    short_names=("member",),
    categories=("fleet", "fleet-cluster"),
    printer_columns=(
        PrinterColumn("Joined", "string", '.status.conditions[?(@.type=="Joined")].status'),
        PrinterColumn("Healthy", "string", '.status.conditions[?(@.type=="Healthy")].status'),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        PrinterColumn(
            "Member-Agent-Last-Seen",
            "date",
            '.status.agentStatus[?(@.type=="MemberAgent")].lastReceivedHeartbeat',
        ),
        PrinterColumn("Node-Count", "string", _prop(NODE_COUNT)),
        PrinterColumn("GPUs", "string", _prop(TOTAL_GPUS)),
        PrinterColumn("Available-GPUs", "string", _prop(AVAILABLE_GPUS)),
    ),
    description="A cluster that has joined (or is joining) the fleet.",
)

INTERNAL_MEMBER_CLUSTER_CRD = CRDInfo(
    resource=INTERNAL_MEMBER_CLUSTER,
    served_versions=SERVED_VERSIONS,
    short_names=("imc",),
    categories=("fleet", "fleet-cluster"),
    printer_columns=(
        PrinterColumn("State", "string", ".spec.state"),
        PrinterColumn(
            "Last-Heartbeat",
            "date",
            '.status.agentStatus[?(@.type=="MemberAgent")].lastReceivedHeartbeat',
        ),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
    description="The hub's and the member agent's shared view of one member (in fleet-member-<name>).",
)
