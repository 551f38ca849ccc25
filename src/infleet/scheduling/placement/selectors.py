"""Matching a cluster against KubeFleet's cluster selector terms: a term is its labelSelector AND its
propertySelector; terms are ORed by their callers. Properties compare as quantities (Gt, Ge, Eq, Ne, Lt,
Le); Eq and Ne fall back to text for names such as a region. Used by the affinity filter and scorer.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import Decimal

from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import (
    ClusterSelectorTerm,
    PropertySelector,
    PropertySelectorRequirement,
)
from infleet.api.placement_kubernetes_fleet_io.v1beta1.selectors import LabelSelector
from infleet.api.quantity import parse_quantity
from infleet.scheduling.placement.cluster import ClusterCandidate

_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "Gt": operator.gt,
    "Ge": operator.ge,
    "Eq": operator.eq,
    "Ne": operator.ne,
    "Lt": operator.lt,
    "Le": operator.le,
}


def label_selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: matchLabels AND every expression; empty or None matches all."""
    if selector is None:
        return True
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    for requirement in selector.match_expressions or ():
        present = requirement.key in labels
        values = requirement.values or []
        if requirement.operator == "In" and not (present and labels[requirement.key] in values):
            return False
        if requirement.operator == "NotIn" and present and labels[requirement.key] in values:
            return False
        if requirement.operator == "Exists" and not present:
            return False
        if requirement.operator == "DoesNotExist" and present:
            return False
    return True


def requirement_failure(requirement: PropertySelectorRequirement, cluster: ClusterCandidate) -> str:
    """Why `cluster` fails one property requirement, or "" when it passes. A missing property fails,
    as in KubeFleet: a cluster that does not report a value cannot be shown to satisfy it."""
    name, op, wanted = requirement.name, requirement.operator, requirement.values[0]
    raw = cluster.properties.get(name)
    if raw is None:
        return f"property {name} is not reported (wanted {op} {wanted})"
    try:
        have, want = parse_quantity(raw), parse_quantity(wanted)
    except ValueError:
        if op in ("Eq", "Ne"):
            passed = (raw == wanted) == (op == "Eq")
            return "" if passed else f"{name} is {raw!r}, wanted {op} {wanted!r}"
        return f"{name}={raw!r} or {wanted!r} is not a quantity, so {op} cannot compare them"
    return "" if _COMPARE[op](have, want) else f"{name} is {raw}, wanted {op} {wanted}"


def property_selector_failure(selector: PropertySelector | None, cluster: ClusterCandidate) -> str:
    for requirement in selector.match_expressions if selector is not None else ():
        failure = requirement_failure(requirement, cluster)
        if failure:
            return failure
    return ""


def term_failure(term: ClusterSelectorTerm, cluster: ClusterCandidate) -> str:
    """Why `cluster` does not match `term` ("" when it does); the sorter plays no part in matching."""
    if not label_selector_matches(term.label_selector, cluster.labels):
        return "labels do not match the labelSelector"
    return property_selector_failure(term.property_selector, cluster)
