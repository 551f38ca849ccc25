"""GIE's ``InferencePool`` (``inference.networking.k8s.io/v1``): the pods of one model server fleet.

Only what the gateway reads, under GIE's v1 field names, so GIE users' manifests apply unchanged:
``selector.matchLabels`` picks the pods (same namespace), ``targetPorts[0].number`` is where they
answer. ``endpointPickerRef`` is accepted and ignored: the gateway picks endpoints itself.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from infleet.api.api_model import ApiModel
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.inference_networking_k8s_io.v1.group_version import GROUP, VERSION
from infleet.api.resource_kind import ResourceKind

INFERENCE_POOL = ResourceKind(GROUP, VERSION, "InferencePool", "inferencepools")


class PoolSelector(ApiModel):
    """GIE's selector: equality on labels only, like a Service's."""

    match_labels: dict[str, str] = Field(min_length=1, max_length=64, description="Labels every pod has.")


class Port(ApiModel):
    number: int = Field(ge=1, le=65535, description="Port the model servers listen on.")


class EndpointPickerRef(ApiModel):
    """GIE's endpoint picker (an ext_proc service); Infleet's gateway picks endpoints itself."""

    group: str | None = Field(default="", description="API group of the picker; empty for Service.")
    kind: str | None = Field(default="Service", description="Kind of the picker.")
    name: str = Field(min_length=1, max_length=253, description="Name of the picker.")
    port: Port | None = None
    failure_mode: Literal["FailOpen", "FailClose"] | None = Field(default="FailClose")


class InferencePoolSpec(ApiModel):
    selector: PoolSelector
    target_ports: list[Port] = Field(min_length=1, max_length=8, description="Ports of the model servers.")
    app_protocol: str | None = Field(
        default=None,
        pattern=r"^(http|kubernetes\.io/h2c)$",
        description="http (HTTP/1.1, the default) or kubernetes.io/h2c.",
    )
    endpoint_picker_ref: EndpointPickerRef | None = Field(
        default=None, description="GIE's endpoint picker; accepted for compatibility, not used."
    )


class InferencePoolStatus(ApiModel):
    parents: list[dict[str, Any]] | None = Field(
        default=None, description="Per parent Gateway: conditions (Accepted, ResolvedRefs)."
    )


INFERENCE_POOL_CRD = CRDInfo(
    resource=INFERENCE_POOL,
    short_names=("infpool",),
    categories=("gateway-api-inference-extension",),
    printer_columns=(
        PrinterColumn("Port", "integer", ".spec.targetPorts[0].number"),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
    description="A pool of model server pods the gateway routes to (Gateway API Inference Extension).",
)
