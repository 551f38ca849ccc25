"""Label selectors (metav1.LabelSelector) and resource identifiers shared by the placement kinds.

A selector matches a label map in memory (:meth:`LabelSelector.matches`, the scheduler's cluster
affinity) or renders as the ``labelSelector`` query of a LIST (:meth:`LabelSelector.to_query`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from infleet.api.api_model import ApiModel


class LabelSelectorRequirement(ApiModel):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        inside = present and labels[self.key] in (self.values or ())
        return inside if self.operator == "In" else not inside

    def to_query(self) -> str:
        values = ",".join(sorted(self.values or ()))
        return {
            "In": f"{self.key} in ({values})",
            "NotIn": f"{self.key} notin ({values})",
            "Exists": self.key,
            "DoesNotExist": f"!{self.key}",
        }[self.operator]


class LabelSelector(ApiModel):
    """matchLabels AND matchExpressions; an empty selector matches everything."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in (self.match_labels or {}).items()):
            return False
        return all(requirement.matches(labels) for requirement in self.match_expressions or ())

    def to_query(self) -> str:
        """``a=b,c in (d,e),!f``: the string form LIST requests take (metav1.FormatLabelSelector)."""
        parts = [f"{key}={value}" for key, value in sorted((self.match_labels or {}).items())]
        parts += [requirement.to_query() for requirement in self.match_expressions or ()]
        return ",".join(parts)


class ResourceIdentifier(ApiModel):
    """One placed object, as status lists it."""

    group: str = ""
    version: str = ""
    kind: str = ""
    name: str = ""
    namespace: str | None = None
    envelope: dict[str, str] | None = None
