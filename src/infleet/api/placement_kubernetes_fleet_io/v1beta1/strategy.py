"""``spec.strategy`` of a placement: rolling updates within budgets (or an external controller), how
objects are applied in members and what happens when a placement is deleted. KubeFleet's fields and
defaults; ``deleteStrategy: Abandon`` works here (KubeFleet declares it but never implemented it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from infleet.api.api_model import ApiModel


class RollingUpdateConfig(ApiModel):
    max_unavailable: int | str = Field(default="25%", description="Clusters that may be unavailable.")
    max_surge: int | str = Field(default="25%", description="Clusters over the target during a change.")
    unavailable_period_seconds: int = Field(
        default=60, ge=0, description="How long an untrackable object is given before it counts as ready."
    )


class ServerSideApplyConfig(ApiModel):
    force: bool = False


class ApplyStrategy(ApiModel):
    """How the member agent writes objects and treats edits made in the member."""

    type: Literal["ClientSideApply", "ServerSideApply", "ReportDiff"] = "ClientSideApply"
    comparison_option: Literal["PartialComparison", "FullComparison"] = "PartialComparison"
    when_to_apply: Literal["Always", "IfNotDrifted"] = "Always"
    when_to_take_over: Literal["Always", "IfNoDiff", "Never"] = "Always"
    allow_co_ownership: bool = False
    server_side_apply_config: ServerSideApplyConfig | None = None


class DeleteStrategy(ApiModel):
    propagation_policy: Literal["Delete", "Abandon"] = "Delete"


class ReportBackStrategy(ApiModel):
    """Mirror member status back to the hub; Infleet mirrors ModelDeployment status regardless."""

    type: Literal["Disabled", "Mirror"] = "Disabled"
    destination: Literal["OriginalResource", "WorkAPI"] | None = None


class RolloutStrategy(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(oldSelf.type) || oldSelf.type != 'External' || self.type == 'External'",
                    "message": "spec.strategy.type cannot change from External back to RollingUpdate: "
                    "create a new placement instead",
                    "fieldPath": ".type",
                }
            ]
        }
    )

    type: Literal["RollingUpdate", "External"] = "RollingUpdate"
    rolling_update: RollingUpdateConfig | None = None
    apply_strategy: ApplyStrategy | None = None
    delete_strategy: DeleteStrategy | None = None
    report_back_strategy: ReportBackStrategy | None = None
