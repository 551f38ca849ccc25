"""``FlexNodeClass``: the node class a NodePool's ``nodeClassRef`` names. Which clouds, regions and
accounts nodes may come from (hyperscalers, GPU clouds, on-premises), quotas per cloud, whether spot may
be used, and how a node joins the cluster (a bootstrap token, the flex-node way). One class, and so one
pool, may span clouds and regions: the provisioner picks the cheapest offering among them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.resource_kind import ResourceKind

GROUP = "compute.aitoolchain.io"
VERSION = "v1alpha1"
FLEX_NODE_CLASS = ResourceKind(GROUP, VERSION, "FlexNodeClass", "flexnodeclasses", namespaced=False)


class CloudSource(ApiModel):
    """One cloud nodes may come from, where, and how much of it this class may use."""

    name: str = Field(min_length=1, description="aws, azure, gcp, a GPU cloud, or onprem.")
    regions: list[str] | None = Field(
        default=None, description="Regions allowed; omit for every region offered."
    )
    account: str | None = Field(default=None, description="Account, subscription or project to bill.")
    quota: dict[str, int] | None = Field(
        default=None, description="Ceiling per resource in this cloud, e.g. nvidia.com/gpu: 64."
    )
    spot: bool = Field(default=True, description="Spot capacity may be used here (with on-demand fallback).")


class SecretKeyReference(ApiModel):
    name: str = Field(min_length=1)
    namespace: str | None = None
    key: str = "token"


class Join(ApiModel):
    """How a node joins: a bootstrap token it presents to the API server (flex nodes), or the cloud's own."""

    method: Literal["BootstrapToken", "Managed"] = "BootstrapToken"
    bootstrap_token_secret_ref: SecretKeyReference | None = None


class FlexNodeClassSpec(ApiModel):
    clouds: list[CloudSource] = Field(min_length=1, max_length=32)
    join: Join | None = None
    labels: dict[str, str] | None = Field(default=None, description="Labels every node of the class carries.")


class FlexNodeClassStatus(ApiModel):
    offerings: int | None = Field(default=None, description="Instance type offerings the class can draw on.")
    conditions: Conditions | None = None


FLEX_NODE_CLASS_CRD = CRDInfo(
    resource=FLEX_NODE_CLASS,
    short_names=("fnc",),
    categories=("infleet", "compute"),
    printer_columns=(
        PrinterColumn("Clouds", "string", ".spec.clouds[*].name"),
        PrinterColumn("Offerings", "integer", ".status.offerings"),
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
    description="Which clouds, regions and accounts GPU nodes come from, and how they join.",
)
