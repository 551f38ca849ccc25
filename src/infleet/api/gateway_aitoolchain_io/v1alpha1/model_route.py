"""``ModelRoute``: one public model name and what serves it, declared once for the whole fleet.

Named after what LiteLLM users write (a ``model_list`` entry: a public ``model_name`` over deployments)
and what Envoy AI Gateway and GIE call the step from a model name to backends (a route); ``Model`` alone
would clash with ModelDeployment. The gateway (``infleet.gateway.declared_routes``) reads it and writes
only its status.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn
from infleet.api.gateway_aitoolchain_io.v1alpha1.group_version import GROUP, VERSION
from infleet.api.placement_kubernetes_fleet_io.v1beta1.selectors import LabelSelector
from infleet.api.resource_kind import ResourceKind

MODEL_ROUTE = ResourceKind(GROUP, VERSION, "ModelRoute", "modelroutes")

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class SecretKeySelector(ApiModel):
    """One key of a Secret in the object's own namespace: secrets never sit in the object itself."""

    name: str = Field(min_length=1, description="Secret in the same namespace.")
    key: str = Field(min_length=1, description="Key in the Secret's data holding the value.")


class DeploymentRef(ApiModel):
    """A ModelDeployment whose ready replicas (in every member it runs in) serve this route."""

    name: str = Field(min_length=1, description="ModelDeployment name.")
    namespace: str | None = Field(default=None, description="Its namespace; default the route's own.")


class Provider(ApiModel):
    """An external OpenAI-compatible API used as one more backend (health judged from traffic)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.url.startsWith('http://') || self.url.startsWith('https://')",
                    "message": "spec.providers[].url must be an http:// or https:// base URL, "
                    "for example https://api.openai.com/v1",
                    "fieldPath": ".url",
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=63, pattern=_DNS_LABEL, description="Backend name in answers.")
    url: str = Field(min_length=8, description="Base URL, e.g. https://api.openai.com/v1.")
    model: str | None = Field(default=None, description="Model name the provider serves; default spec.model.")
    api_key_secret_ref: SecretKeySelector | None = Field(
        default=None, description="Secret key holding the provider's API key, sent as a Bearer token."
    )
    region: str | None = Field(default=None, description="Region the provider counts as, for region pins.")
    cost: float | None = Field(default=None, ge=0, description="Relative cost, for the cost scorer.")
    max_concurrency: int | None = Field(default=None, ge=0, description="Requests in flight at most.")


_SPEC_RULES: list[Any] = [
    {
        "rule": "has(self.deployments) || has(self.deploymentSelector) || has(self.providers)",
        "message": "a ModelRoute needs backends: set spec.deployments (ModelDeployments by name), "
        "spec.deploymentSelector (by labels) or spec.providers (external APIs)",
        "reason": "FieldValueRequired",
    },
    {
        "rule": "!has(self.aliases) || !(self.model in self.aliases)",
        "message": "spec.aliases repeats spec.model: remove the public name from spec.aliases",
        "fieldPath": ".aliases",
    },
    {
        "rule": "!has(self.fallbacks) || !(self.model in self.fallbacks)",
        "message": "spec.fallbacks names this route's own model: list other models' public names",
        "fieldPath": ".fallbacks",
    },
    {
        "rule": "!has(self.allowedRegions) || size(self.allowedRegions) > 0",
        "message": "spec.allowedRegions is empty, so no request could be served: list at least one "
        "region, or remove the field to allow every region",
        "fieldPath": ".allowedRegions",
    },
]


class ModelRouteSpec(ApiModel):
    """The public name clients send, its backends and how the gateway routes, limits and pins it."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": _SPEC_RULES})

    model: str = Field(min_length=1, max_length=256, description="Public model name clients send.")
    aliases: list[str] | None = Field(default=None, max_length=32, description="More names for it.")
    deployments: list[DeploymentRef] | None = Field(
        default=None, max_length=64, description="ModelDeployments whose replicas serve it."
    )
    deployment_selector: LabelSelector | None = Field(
        default=None, description="ModelDeployments in the route's namespace selected by their labels."
    )
    providers: list[Provider] | None = Field(
        default=None, max_length=16, description="External OpenAI-compatible APIs as extra backends."
    )
    profile: str = Field(default="default", min_length=1, description="Routing profile of the gateway.")
    fallbacks: list[str] | None = Field(
        default=None, max_length=8, description="Public models tried in order when this one cannot answer."
    )
    rpm: int | None = Field(default=None, ge=0, description="Requests per minute over every key.")
    tpm: int | None = Field(default=None, ge=0, description="Tokens per minute over every key.")
    allowed_regions: list[str] | None = Field(
        default=None, max_length=64, description="Regions whose replicas may serve it; omit for all."
    )


class ModelRouteStatus(ApiModel):
    """Written by the gateway (one per cluster, see ``infleet.gateway.status_writer``)."""

    conditions: Conditions | None = Field(
        default=None, description="Accepted, ResolvedRefs and Ready, as Gateway API routes report them."
    )
    backends: int | None = Field(default=None, description="Ready replicas and providers behind the route.")
    deployments: int | None = Field(default=None, description="ModelDeployments the route resolved.")
    regions: list[str] | None = Field(default=None, description="Regions of its backends.")
    clouds: list[str] | None = Field(default=None, description="Clouds of its replicas, where known.")
    clusters: list[str] | None = Field(default=None, description="Member clusters of its replicas.")


MODEL_ROUTE_CRD = CRDInfo(
    resource=MODEL_ROUTE,
    short_names=("mroute", "mroutes"),
    categories=("infleet", "gateway"),
    printer_columns=(
        PrinterColumn("Model", "string", ".spec.model"),
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("Backends", "integer", ".status.backends"),
        PrinterColumn("Regions", "string", ".status.regions"),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        PrinterColumn("Profile", "string", ".spec.profile", priority=1),
        PrinterColumn("Allowed", "string", ".spec.allowedRegions", priority=1),
        PrinterColumn("Clusters", "string", ".status.clusters", priority=1),
        PrinterColumn("Aliases", "string", ".spec.aliases", priority=1),
        PrinterColumn("Deployments", "string", ".spec.deployments[*].name", priority=1),
        PrinterColumn("Reason", "string", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
    ),
    description="A public model name served by the gateway over ModelDeployments and external providers.",
)
