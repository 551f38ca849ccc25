"""Label selectors (metav1.LabelSelector) and resource identifiers shared by the placement kinds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from infleet.api.api_model import ApiModel


class LabelSelectorRequirement(ApiModel):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class LabelSelector(ApiModel):
    """matchLabels AND matchExpressions; an empty selector matches everything."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class ResourceIdentifier(ApiModel):
    """One placed object, as status lists it."""

    group: str = ""
    version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str | None = None
    envelope: dict[str, str] | None = None
