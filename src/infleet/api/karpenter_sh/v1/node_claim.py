"""``NodeClaim``: one node asked of a cloud for pending pods, and its lifecycle Launched -> Registered ->
Initialized (startup taints gone, GPUs registered: only then do pods bind). Written by the provisioner,
advanced by the lifecycle controller, deleted by disruption and termination.
"""

from __future__ import annotations

from pydantic import Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.karpenter_sh.v1.group_version import GROUP, VERSION
from infleet.api.karpenter_sh.v1.node_template import NodeClaimTemplateSpec
from infleet.api.labels import CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, NODEPOOL_LABEL, ZONE_LABEL
from infleet.api.resource_kind import ResourceKind

NODE_CLAIM = ResourceKind(GROUP, VERSION, "NodeClaim", "nodeclaims", namespaced=False)

# Conditions, in the order a NodeClaim passes them.
LAUNCHED = "Launched"
REGISTERED = "Registered"
INITIALIZED = "Initialized"
READY = "Ready"
CONSOLIDATABLE = "Consolidatable"
DRIFTED = "Drifted"
DRAINED = "Drained"


class ResourceRequirements(ApiModel):
    requests: dict[str, int | str] | None = None


class NodeClaimSpec(NodeClaimTemplateSpec):
    resources: ResourceRequirements | None = None


class NodeClaimStatus(ApiModel):
    provider_id: str | None = Field(default=None, alias="providerID")
    node_name: str | None = None
    image_id: str | None = Field(default=None, alias="imageID")
    capacity: dict[str, str] | None = None
    allocatable: dict[str, str] | None = None
    conditions: Conditions | None = None
    last_pod_event_time: str | None = None


def _label(key: str) -> str:
    return ".metadata.labels." + key.replace(".", "\\.")


NODE_CLAIM_CRD = CRDInfo(
    resource=NODE_CLAIM,
    short_names=("nc", "ncs"),
    categories=("karpenter",),
    printer_columns=(
        PrinterColumn("Type", "string", _label(INSTANCE_TYPE_LABEL)),
        PrinterColumn("Capacity", "string", _label(CAPACITY_TYPE_LABEL)),
        PrinterColumn("Zone", "string", _label(ZONE_LABEL)),
        PrinterColumn("Node", "string", ".status.nodeName"),
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        PrinterColumn("NodePool", "string", _label(NODEPOOL_LABEL), priority=1),
        PrinterColumn("ID", "string", ".status.providerID", priority=1),
    ),
    description="One node asked of a cloud for pending pods.",
)
