"""Karpenter's node selector requirements (In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte) evaluated
against the labels an offering would give a node: NodePool requirements narrow instance types and
offerings, and new NodeClaims carry requirements the provisioner writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from infleet.api.karpenter_sh.v1.node_template import NodeSelectorRequirement


def _compare(operator: str, left: str, right: str) -> bool:
    try:
        a, b = int(left), int(right)
    except ValueError:
        return False
    return {"Gt": a > b, "Lt": a < b, "Gte": a >= b, "Lte": a <= b}[operator]


def matches(requirement: NodeSelectorRequirement, labels: Mapping[str, str]) -> bool:
    value = labels.get(requirement.key)
    values = requirement.values or []
    match requirement.operator:
        case "In":
            return value is not None and value in values
        case "NotIn":
            return value is None or value not in values
        case "Exists":
            return value is not None
        case "DoesNotExist":
            return value is None
        case _:
            return value is not None and bool(values) and _compare(requirement.operator, value, values[0])


def all_match(requirements: Iterable[NodeSelectorRequirement], labels: Mapping[str, str]) -> bool:
    """Requirements on keys the labels do not mention are left to later stages, except Exists."""
    return all(matches(r, labels) for r in requirements if r.key in labels or r.operator in ("In", "Exists"))


def requirement(key: str, values: Iterable[str]) -> dict[str, object]:
    """An ``In`` requirement as written into a NodeClaim (values deduplicated, order kept)."""
    return {"key": key, "operator": "In", "values": list(dict.fromkeys(values))}
