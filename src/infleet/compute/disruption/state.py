"""One pass's view of the cluster: each NodeClaim with its Node, NodePool, bound pods, capacity and
price, read from the informer caches at the start of a disruption pass. Methods, guards and budgets all
decide over this snapshot, so a pass is consistent even while the caches move.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import INITIALIZED
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.labels import (
    CAPACITY_TYPE_LABEL,
    GPU_SKU_LABEL,
    INSTANCE_TYPE_LABEL,
    NODEPOOL_LABEL,
    ZONE_LABEL,
)
from infleet.compute import workload_pods
from infleet.compute.resources import Resources
from infleet.compute.termination.taints import has_disruption_taint
from infleet.compute.termination.terminator import node_for_claim
from infleet.kube.conditions import get_condition, is_true, parse_timestamp
from infleet.kube.finalizers import is_being_deleted
from infleet.kube.store import Store


@dataclass
class StateNode:
    """A NodeClaim, its Node (None before registration) and what runs there."""

    claim: dict[str, Any]
    node: dict[str, Any] | None
    pool_name: str
    pods: list[dict[str, Any]] = field(default_factory=list)
    price: float | None = None

    @property
    def name(self) -> str:
        return str(self.claim["metadata"]["name"])

    @property
    def node_name(self) -> str | None:
        return None if self.node is None else str(self.node["metadata"]["name"])

    def label(self, key: str) -> str | None:
        for obj in (self.node, self.claim):
            value = (((obj or {}).get("metadata") or {}).get("labels") or {}).get(key)
            if value:
                return str(value)
        return None

    @property
    def instance_type(self) -> str | None:
        return self.label(INSTANCE_TYPE_LABEL)

    @property
    def capacity_type(self) -> str | None:
        return self.label(CAPACITY_TYPE_LABEL)

    @property
    def zone(self) -> str | None:
        return self.label(ZONE_LABEL)

    @property
    def gpu_sku(self) -> str | None:
        return self.label(GPU_SKU_LABEL)

    @property
    def initialized(self) -> bool:
        return self.node is not None and is_true(
            (self.claim.get("status") or {}).get("conditions"), INITIALIZED
        )

    @property
    def disrupting(self) -> bool:
        """Already on its way out: the claim is being deleted or the node carries the disruption taint."""
        return is_being_deleted(self.claim) or (self.node is not None and has_disruption_taint(self.node))

    @property
    def allocatable(self) -> Resources:
        status = (self.node or {}).get("status") or {}
        return Resources.from_list(status.get("allocatable") or status.get("capacity"))

    @property
    def requested(self) -> Resources:
        total = Resources()
        for pod in self.pods:
            total = total + Resources.of_pod(pod)
        return total

    @property
    def free(self) -> Resources:
        return self.allocatable - self.requested

    @property
    def reschedulable(self) -> list[dict[str, Any]]:
        return [p for p in self.pods if workload_pods.is_reschedulable(p)]

    def initialized_at(self) -> float | None:
        """Wall-clock second the claim became Initialized (what ``expireAfter`` counts from, with age)."""
        condition = get_condition((self.claim.get("status") or {}).get("conditions"), INITIALIZED)
        return parse_timestamp((condition or {}).get("lastTransitionTime"))

    def created_at(self) -> float | None:
        return parse_timestamp(self.claim["metadata"].get("creationTimestamp"))


@dataclass
class Snapshot:
    nodes: list[StateNode]
    pools: dict[str, NodePoolSpec]
    pods: list[dict[str, Any]]

    def by_pool(self) -> dict[str, list[StateNode]]:
        grouped: dict[str, list[StateNode]] = defaultdict(list)
        for state in self.nodes:
            grouped[state.pool_name].append(state)
        return grouped


def take_snapshot(claims: Store, nodes: Store, pods: Store, pools: Store) -> Snapshot:
    """Join the caches: claims to nodes (nodeName or label), pods to nodes (spec.nodeName)."""
    pool_specs: dict[str, NodePoolSpec] = {}
    for pool in pools.list():
        if not is_being_deleted(pool):
            pool_specs[pool["metadata"]["name"]] = NodePoolSpec.model_validate(pool.get("spec") or {})
    all_pods = pods.list()
    pods_by_node: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pod in all_pods:
        node_name = workload_pods.node_of(pod)
        if node_name and workload_pods.is_active(pod):
            pods_by_node[node_name].append(pod)
    states = []
    for claim in claims.list():
        node = node_for_claim(claim, nodes)
        pool = ((claim.get("metadata") or {}).get("labels") or {}).get(NODEPOOL_LABEL, "")
        bound = pods_by_node.get(node["metadata"]["name"], []) if node is not None else []
        states.append(StateNode(claim, node, pool, bound))
    return Snapshot(states, pool_specs, all_pods)
