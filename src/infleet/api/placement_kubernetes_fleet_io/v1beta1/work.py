"""``Work`` (hub, in ``fleet-member-<cluster>``): the manifests one cluster must run for one placement, and
what its member agent reports back per manifest; ``AppliedWork`` (member, cluster-scoped): what the agent
created for a Work, so objects that leave the Work are deleted and nothing is orphaned.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.placement_kubernetes_fleet_io.v1beta1.group_version import GROUP, SERVED_VERSIONS, VERSION
from infleet.api.placement_kubernetes_fleet_io.v1beta1.strategy import ApplyStrategy
from infleet.api.resource_kind import ResourceKind

WORK = ResourceKind(GROUP, VERSION, "Work", "works")
APPLIED_WORK = ResourceKind(GROUP, VERSION, "AppliedWork", "appliedworks", namespaced=False)

# Work and manifest conditions.
WORK_APPLIED = "Applied"
WORK_AVAILABLE = "Available"

# Condition reasons the member agent writes (KubeFleet's names where it has them); the hub reads them.
MANIFEST_APPLIED_REASON = "ManifestApplied"
MANIFEST_APPLY_FAILED_REASON = "ManifestApplyFailed"
MANIFEST_AVAILABLE_REASON = "ManifestAvailable"
MANIFEST_NOT_AVAILABLE_REASON = "ManifestNotAvailableYet"
MANIFEST_NOT_APPLIED_REASON = "ManifestNotApplied"
WORK_APPLIED_REASON = "WorkAppliedCompleted"
WORK_APPLY_FAILED_REASON = "WorkAppliedFailed"
WORK_AVAILABLE_REASON = "WorkAvailable"
WORK_NOT_AVAILABLE_REASON = "WorkNotAvailableYet"


class WorkloadTemplate(ApiModel):
    manifests: list[dict[str, Any]] = Field(
        default_factory=list,
        json_schema_extra={"items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    )


class WorkSpec(ApiModel):
    workload: WorkloadTemplate
    apply_strategy: ApplyStrategy | None = None


class WorkResourceIdentifier(ApiModel):
    ordinal: int
    group: str = ""
    version: str = ""
    kind: str = ""
    resource: str = ""
    namespace: str = ""
    name: str = ""


class ManifestCondition(ApiModel):
    """One manifest's Applied/Available, and (Infleet) the status the member's controllers wrote."""

    identifier: WorkResourceIdentifier
    conditions: Conditions | None = None
    back_reported_status: dict[str, Any] | None = Field(
        default=None, description="The object's status in the member (ModelDeployments are always mirrored)."
    )


class WorkStatus(ApiModel):
    conditions: Conditions | None = None
    manifest_conditions: list[ManifestCondition] | None = None


class AppliedWorkSpec(ApiModel):
    work_name: str
    work_namespace: str


class AppliedResourceMeta(WorkResourceIdentifier):
    uid: str | None = None


class AppliedWorkStatus(ApiModel):
    applied_resources: list[AppliedResourceMeta] | None = None


WORK_CRD = CRDInfo(
    resource=WORK,
    served_versions=SERVED_VERSIONS,
    categories=("fleet", "fleet-placement"),
    printer_columns=(
        PrinterColumn("Applied", "string", '.status.conditions[?(@.type=="Applied")].status'),
        PrinterColumn("Available", "string", '.status.conditions[?(@.type=="Available")].status'),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
)
APPLIED_WORK_CRD = CRDInfo(
    resource=APPLIED_WORK,
    served_versions=SERVED_VERSIONS,
    categories=("fleet",),
    printer_columns=(PrinterColumn("Age", "date", ".metadata.creationTimestamp"),),
)
