"""``GatewayKey``: one API key of the gateway, its models, limits, priority and region pin.

LiteLLM calls these virtual keys and Envoy AI Gateway leaves them to the gateway's security policy; the
name says what it is to a platform team: a key of the gateway. The key itself lives in a Secret
(``spec.secretRef``) and is hashed when read, never stored in the object. Read by ``infleet.gateway``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.gateway_aitoolchain_io.v1alpha1.group_version import GROUP, VERSION
from infleet.api.gateway_aitoolchain_io.v1alpha1.model_route import SecretKeySelector
from infleet.api.resource_kind import ResourceKind

GATEWAY_KEY = ResourceKind(GROUP, VERSION, "GatewayKey", "gatewaykeys")

_SPEC_RULES: list[Any] = [
    {
        "rule": "!has(self.allowedRegions) || size(self.allowedRegions) > 0",
        "message": "spec.allowedRegions is empty, so the key could reach no replica: list at least one "
        "region, or remove the field to allow every region",
        "fieldPath": ".allowedRegions",
    },
    {
        "rule": "!has(self.homeRegion) || !has(self.allowedRegions) "
        "|| self.homeRegion in self.allowedRegions",
        "message": "spec.homeRegion is not one of spec.allowedRegions: add it there or pick one of them",
        "fieldPath": ".homeRegion",
    },
    {
        "rule": "!has(self.models) || size(self.models) > 0",
        "message": "spec.models is empty, so the key could use no model: list models, or remove the field "
        "to allow every model",
        "fieldPath": ".models",
    },
]


class GatewayKeySpec(ApiModel):
    """Where the key is kept and what it may do; unset limits are unlimited."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": _SPEC_RULES})

    secret_ref: SecretKeySelector = Field(description="Secret key holding the API key clients send.")
    models: list[str] | None = Field(
        default=None, max_length=256, description="Public model names (or aliases) it may use; omit for all."
    )
    rpm: int | None = Field(default=None, ge=0, description="Requests per minute.")
    tpm: int | None = Field(default=None, ge=0, description="Tokens per minute.")
    max_parallel: int | None = Field(default=None, ge=0, description="Requests in flight at most.")
    priority: Literal["critical", "standard", "sheddable"] = Field(
        default="standard", description="Highest x-infleet-priority honoured; a higher one is lowered."
    )
    allowed_regions: list[str] | None = Field(
        default=None,
        max_length=64,
        description="Regions its requests may be served in, intersected with each route's; never "
        "broken: with no replica there the answer is 503. Omit for all.",
    )
    home_region: str | None = Field(
        default=None, description="Preferred region when a request sends no x-infleet-region."
    )


class GatewayKeyStatus(ApiModel):
    """Written by the gateway (one per cluster, see ``infleet.gateway.status_writer``)."""

    conditions: Conditions | None = Field(
        default=None, description="Accepted, ResolvedRefs (its Secret holds the key) and Ready."
    )


GATEWAY_KEY_CRD = CRDInfo(
    resource=GATEWAY_KEY,
    short_names=("gwkey", "gwkeys"),
    categories=("infleet", "gateway"),
    printer_columns=(
        PrinterColumn("Secret", "string", ".spec.secretRef.name"),
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("Priority", "string", ".spec.priority"),
        PrinterColumn("Regions", "string", ".spec.allowedRegions"),
        PrinterColumn("RPM", "integer", ".spec.rpm"),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        PrinterColumn("Models", "string", ".spec.models", priority=1),
        PrinterColumn("Reason", "string", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
    ),
    description="An API key of the gateway (kept in a Secret) with its models, limits and region pin.",
)
