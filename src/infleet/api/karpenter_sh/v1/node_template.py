"""What NodePools and NodeClaims share: scheduling requirements on node labels (Karpenter's operators),
taints, startup taints and the node class reference."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from infleet.api.api_model import ApiModel

RequirementOperator = Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte"]


class NodeSelectorRequirement(ApiModel):
    """``key operator values``: a constraint on a node label (instance type, zone, capacity type, GPU...)."""

    key: str = Field(min_length=1, max_length=316)
    operator: RequirementOperator
    values: list[str] | None = None
    min_values: int | None = Field(
        default=None, ge=1, le=50, description="Flexibility: at least this many values."
    )


class NodeTaint(ApiModel):
    key: str = Field(min_length=1)
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class NodeClassReference(ApiModel):
    group: str = Field(min_length=1, description="compute.aitoolchain.io for Infleet's FlexNodeClass.")
    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)


class NodeClaimTemplateSpec(ApiModel):
    node_class_ref: NodeClassReference
    requirements: list[NodeSelectorRequirement] | None = Field(default=None, max_length=100)
    taints: list[NodeTaint] | None = None
    startup_taints: list[NodeTaint] | None = Field(
        default=None, description="Taints the node starts with and sheds once ready (GPU drivers loaded)."
    )
    expire_after: str | None = Field(default="720h", description="Duration, or Never.")
    termination_grace_period: str | None = None
