"""``NodePool``: which nodes may be created for pending pods (a template and requirements), within which
limits, tried in weight order, and when they may be taken away (disruption). Karpenter's fields and
defaults; Infleet adds ``warmBuffer`` (spare GPUs kept per SKU for bursts). ``replicas`` marks a static
pool (Karpenter's alpha StaticCapacity field); with a FlexNodeClass its nodes are brought by their owner and
Infleet never creates or removes them (``infleet.api.pool_ownership``). The compute layer's provisioner and
disruption controller read it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.karpenter_sh.v1.group_version import GROUP, VERSION
from infleet.api.karpenter_sh.v1.node_template import NodeClaimTemplateSpec
from infleet.api.resource_kind import ResourceKind

NODE_POOL = ResourceKind(GROUP, VERSION, "NodePool", "nodepools", namespaced=False)

DisruptionReason = Literal["Underutilized", "Empty", "Drifted"]


class TemplateMetadata(ApiModel):
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class NodeClaimTemplate(ApiModel):
    metadata: TemplateMetadata | None = None
    spec: NodeClaimTemplateSpec


class Budget(ApiModel):
    """At most ``nodes`` (count or percent) disrupted at once, during ``schedule`` for ``duration``."""

    nodes: str = Field(default="10%")
    schedule: str | None = Field(default=None, description="Cron schedule when the budget is active.")
    duration: str | None = None
    reasons: list[DisruptionReason] | None = None


class Disruption(ApiModel):
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = "WhenEmptyOrUnderutilized"
    consolidate_after: str = Field(
        default="0s", description="Duration a node stays empty or underused, or Never."
    )
    budgets: list[Budget] | None = Field(default=None, max_length=50)


class WarmBuffer(ApiModel):
    """Infleet: keep this many spare GPUs of a SKU provisioned for bursts; never consolidated away."""

    sku: str = Field(min_length=1, description="Catalog GPU SKU, e.g. H100.")
    gpus: int = Field(ge=1)


class NodePoolSpec(ApiModel):
    template: NodeClaimTemplate
    disruption: Disruption | None = None
    limits: dict[str, int | str] | None = Field(
        default=None,
        description="Ceiling on what the pool's nodes add up to: cpu, memory, nvidia.com/gpu, nodes.",
    )
    weight: int | None = Field(default=None, ge=1, le=100, description="Higher is tried first.")
    warm_buffer: list[WarmBuffer] | None = Field(
        default=None, description="Infleet: spare GPUs kept per SKU."
    )
    replicas: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Static pool: never provisioned for pending pods nor consolidated. Karpenter launches this "
            "many nodes; with a FlexNodeClass Infleet expects this many nodes brought by their owner "
            "(labeled karpenter.sh/nodepool) and never creates or deletes them."
        ),
    )


class NodePoolStatus(ApiModel):
    resources: dict[str, str] | None = Field(default=None, description="What the pool's nodes add up to now.")
    nodes: int | None = Field(default=None, description="Nodes the pool has now (static pools: present).")
    conditions: Conditions | None = None


NODE_POOL_CRD = CRDInfo(
    resource=NODE_POOL,
    short_names=("np", "nps"),
    categories=("karpenter",),
    printer_columns=(
        PrinterColumn("NodeClass", "string", ".spec.template.spec.nodeClassRef.name"),
        PrinterColumn("Nodes", "string", ".status.resources.nodes"),
        PrinterColumn("GPUs", "string", ".status.resources.nvidia\\.com/gpu"),
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        PrinterColumn("Weight", "integer", ".spec.weight", priority=1),
        PrinterColumn("Replicas", "integer", ".spec.replicas", priority=1),
    ),
    description="Which GPU nodes may be created for pending pods, within which limits, and when they go.",
)
