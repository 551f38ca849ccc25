"""``status.conditions`` in Kubernetes form, as a pydantic type every kind's status embeds.

The schema marks the list as a map keyed by ``type`` so server-side apply and strategic merge treat
conditions as Kubernetes does. Controllers write conditions with ``infleet.kube.conditions``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from infleet.api.api_model import ApiModel


class Condition(ApiModel):
    """One observation of the object's state (metav1.Condition)."""

    type: str = Field(description="Condition type, e.g. Ready.", max_length=316)
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason for the last transition.", max_length=1024)
    message: str = Field(default="", description="Human-readable detail, naming the field and the fix.")
    last_transition_time: str | None = Field(
        default=None,
        description="When status last changed (RFC 3339).",
        json_schema_extra={"format": "date-time"},
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the condition was computed from."
    )


Conditions = Annotated[
    list[Condition],
    Field(
        description="Latest observations of the object's state.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]
