"""The scheduling simulation consolidation and drift share: take some nodes away, put their pods on the
other nodes' free capacity first, and what is left needs one new node, the cheapest offering of the
pool's current template that holds those pods and their node selectors. Model replicas are sized for
their GPU SKU, so a replacement for GPU pods keeps it. Consolidation adds Karpenter's price rules: the
replacement must be strictly cheaper than the nodes it replaces together, spot nodes are not replaced
(SpotToSpotConsolidation is off by default), and several nodes are not replaced by one of their own
instance types (that is a deletion in disguise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infleet.api.labels import NODEPOOL_LABEL
from infleet.compute.disruption.budgets import UNDERUTILIZED
from infleet.compute.disruption.candidates import disruption_cost
from infleet.compute.disruption.command import Command, Replacement
from infleet.compute.disruption.pass_context import PassContext
from infleet.compute.disruption.pricing import Option
from infleet.compute.disruption.replacement import template_claim
from infleet.compute.disruption.requirements import offering_labels
from infleet.compute.disruption.state import StateNode
from infleet.compute.resources import Resources

WHEN_UNDERUTILIZED = "WhenEmptyOrUnderutilized"


@dataclass(frozen=True)
class Decision:
    """Take ``states`` away; ``option`` is the one new node their leftover pods need (None: delete)."""

    states: tuple[StateNode, ...]
    option: Option | None
    #: Free GPUs the new node keeps after the leftover pods (the warm buffer counts them).
    spare_gpus: float = 0.0


def eligible(ctx: PassContext) -> list[StateNode]:
    """Consolidation candidates, cheapest to disrupt first, at most ``max_candidates`` (Karpenter: 100)."""
    found = []
    for state in ctx.screened.candidates:
        pool = ctx.snapshot.pools.get(state.pool_name)
        policy = pool.disruption.consolidation_policy if pool and pool.disruption else WHEN_UNDERUTILIZED
        if policy != WHEN_UNDERUTILIZED or not state.reschedulable:
            continue
        # Pods were booked onto it this pass (pending ones, or ones leaving disrupting nodes).
        if state.name in ctx.capacity.received or not ctx.quiet.consolidatable(state, pool):
            continue
        found.append(state)
    return sorted(found, key=disruption_cost)[: ctx.settings.max_candidates]


def _selects(pod: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def _gpu_skus(states: Sequence[StateNode], pods: list[dict[str, Any]]) -> set[str | None]:
    ids = {id(pod) for pod in pods if Resources.of_pod(pod).gpus > 0}
    return {s.gpu_sku for s in states if any(id(p) in ids for p in s.reschedulable)}


def fitting_options(
    ctx: PassContext, states: Sequence[StateNode], pods: list[dict[str, Any]]
) -> list[Option]:
    """Offerings of the first node's pool (cheapest first) that hold ``pods``, keeping their GPU SKU."""
    pool_name = states[0].pool_name
    pool = ctx.snapshot.pools.get(pool_name)
    if pool is None:
        return []
    need = Resources()
    for pod in pods:
        need = need + Resources.of_pod(pod)
    skus = _gpu_skus(states, pods)
    if len(skus) > 1:
        return []  # GPU pods of two SKUs never share one replacement
    template_labels = (pool.template.metadata.labels if pool.template.metadata else None) or {}
    found = []
    for option in ctx.prices.options(pool):
        if skus and option.instance_type.gpu_sku not in skus:
            continue
        labels = {
            **template_labels,
            NODEPOOL_LABEL: pool_name,
            **offering_labels(option.instance_type, option.offering),
        }
        if need.fits_in(option.capacity) and all(_selects(pod, labels) for pod in pods):
            found.append(option)
    return found


def decide(ctx: PassContext, states: Sequence[StateNode]) -> Decision | None:
    """Consolidate exactly ``states``: delete them when their pods fit elsewhere, else replace them by one
    strictly cheaper node; None when neither works."""
    excluded = {state.name for state in states}
    _, left = ctx.capacity.place_some([p for s in states for p in s.reschedulable], excluded)
    if not left:
        return Decision(tuple(states), None)
    if any(s.capacity_type == "spot" or s.price is None for s in states):
        return None
    if len({s.pool_name for s in states}) > 1:
        return None  # Infleet: one replacement comes from one NodePool
    options = fitting_options(ctx, states, left)
    limit = sum(s.price or 0.0 for s in states)
    # Karpenter's filterOutSameInstanceType: if a fitting type is one being removed, only types cheaper
    # than it make sense; anything else is just deleting the other nodes.
    removed_types = {s.instance_type for s in states}
    same = [o.price for o in options if o.instance_type.name in removed_types]
    if same and len(states) > 1:
        limit = min(limit, min(same))
    option = next((o for o in options if o.price < limit), None)
    if option is None:
        return None
    used = sum(Resources.of_pod(p).gpus for p in left)
    return Decision(tuple(states), option, option.capacity.gpus - used)


def admit(ctx: PassContext, decision: Decision, reason: str) -> bool:
    """Guards for every node of the decision, charged on ``ctx`` as they pass; False at the first refusal."""
    for index, state in enumerate(decision.states):
        # The new node's spare GPUs are counted once, with the first node it replaces.
        spare = None if decision.option is None else (decision.spare_gpus if index == 0 else 0.0)
        if not ctx.guard(state, reason, spare):
            return False
        ctx.book(state, spare)
    return True


def to_command(ctx: PassContext, decision: Decision, method: str, reason: str = UNDERUTILIZED) -> Command:
    states = list(decision.states)
    option = decision.option
    if option is None:
        return Command(method, reason, delete=states, message="its pods fit on other nodes")
    pool_name = states[0].pool_name
    pool = ctx.snapshot.pools[pool_name]
    node_class = ctx.node_classes.get(pool.template.spec.node_class_ref.name)
    manifest = template_claim(pool_name, pool, node_class, option, [s.name for s in states])
    replacement = Replacement(tuple(states), option, manifest)
    names = ", ".join(s.name for s in states)
    message = (
        f"{names} replaced by one {option.instance_type.name} "
        f"(${option.price:.2f}/h instead of ${replacement.old_price:.2f}/h)"
    )
    return Command(method, reason, replace=[replacement], message=message)
