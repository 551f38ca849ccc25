"""What the provisioner packs against, read from API objects: each NodePool as a :class:`PoolOption`
(its node class's instance types through the CloudProvider, narrowed by its requirements, and its limits
less what its NodeClaims hold) and each NodeClaim not yet initialized as an :class:`InFlight` bin. Pools
of another node class (Karpenter's) and static pools (``spec.replicas``: nodes brought by their owner) are
no option: nothing is ever provisioned into them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_claim import INITIALIZED
from infleet.api.karpenter_sh.v1.node_pool import NodePoolSpec
from infleet.api.labels import GPU_RESOURCE, INSTANCE_TYPE_LABEL, NODEPOOL_LABEL
from infleet.api.pool_ownership import is_flex_pool, is_static
from infleet.api.quantity import parse_quantity
from infleet.compute.cloudprovider.provider import CloudProvider, InstanceType
from infleet.compute.provisioner.candidates import pool_candidates, type_labels
from infleet.compute.provisioner.packing import InFlight, PoolOption
from infleet.compute.provisioner.pod_shape import Resources
from infleet.compute.provisioner.pool_limits import CPU, GPUS, MEMORY, NODES, PoolLimits, parse_limits
from infleet.kube.conditions import is_true


def _int(value: Any) -> int:
    return int(parse_quantity(value)) if value is not None else 0


def claim_capacity(claim: Mapping[str, Any], types: Mapping[str, InstanceType]) -> Resources:
    """What a claim's node has: its status once launched, else its cheapest instance type."""
    capacity = (claim.get("status") or {}).get("capacity")
    if capacity:
        return Resources(
            _int(capacity.get(GPU_RESOURCE)),
            int(parse_quantity(capacity.get("cpu", 0)) * 1000) - 100,
            int(parse_quantity(capacity.get("memory", 0)) / (1024 * 1024)) - 512,
            _int(capacity.get("pods", 110)),
        )
    for item in (claim.get("spec") or {}).get("requirements") or []:
        if item.get("key") == INSTANCE_TYPE_LABEL and item.get("values"):
            shape = types.get(item["values"][0])
            if shape is not None:
                return Resources(shape.gpus, shape.cpu * 1000 - 100, shape.memory_gib * 1024 - 512, 110)
    return Resources()


def claim_requests(claim: Mapping[str, Any]) -> Resources:
    requests = (((claim.get("spec") or {}).get("resources") or {}).get("requests")) or {}
    return Resources(
        _int(requests.get(GPU_RESOURCE)),
        int(parse_quantity(requests.get("cpu", 0)) * 1000),
        int(parse_quantity(requests.get("memory", 0)) / (1024 * 1024)),
        _int(requests.get("pods", 0)),
    )


def pool_usage(claims: Iterable[Mapping[str, Any]], types: Mapping[str, InstanceType]) -> dict[str, int]:
    used = {GPUS: 0, CPU: 0, MEMORY: 0, NODES: 0}
    for claim in claims:
        capacity = claim_capacity(claim, types)
        used[GPUS] += capacity.gpus
        used[CPU] += capacity.cpu_m + 100
        used[MEMORY] += capacity.memory_mib + 512
        used[NODES] += 1
    return used


def pool_options(
    provider: CloudProvider,
    nodepools: Iterable[Mapping[str, Any]],
    nodeclasses: Mapping[str, FlexNodeClassSpec],
    claims: list[dict[str, Any]],
) -> tuple[list[PoolOption], dict[str, InstanceType]]:
    """Every usable pool (a dynamic FlexNodeClass pool whose class exists) and the instance types seen."""
    options, types = [], {}
    for nodepool in nodepools:
        if nodepool["metadata"].get("deletionTimestamp") or not is_flex_pool(nodepool):
            continue
        spec = NodePoolSpec.model_validate(nodepool.get("spec") or {})
        if is_static(spec):
            continue
        template = spec.template.spec
        node_class = nodeclasses.get(template.node_class_ref.name)
        if node_class is None:
            continue
        shapes = provider.instance_types(node_class)
        types.update({shape.name: shape for shape in shapes})
        labels = (spec.template.metadata.labels if spec.template.metadata else None) or {}
        candidates = pool_candidates(shapes, template.requirements or [], labels)
        name = nodepool["metadata"]["name"]
        mine = [c for c in claims if (c["metadata"].get("labels") or {}).get(NODEPOOL_LABEL) == name]
        limits = PoolLimits(name, parse_limits(spec.limits), pool_usage(mine, types))
        taints = [t.model_dump(exclude_none=True) for t in template.taints or []]
        options.append(PoolOption(name, spec.weight or 0, candidates, taints, limits))
    return options, types


def in_flight(
    claims: Iterable[Mapping[str, Any]], types: Mapping[str, InstanceType], used: Mapping[str, Resources]
) -> list[InFlight]:
    """Claims not yet initialized nor deleted, with the room left after ``used`` (nominated pods) or,
    for claims this process did not write, after their own requests."""
    found = []
    for claim in claims:
        metadata, status = claim["metadata"], claim.get("status") or {}
        if metadata.get("deletionTimestamp") or is_true(status.get("conditions"), INITIALIZED):
            continue
        capacity = claim_capacity(claim, types)
        taken = used.get(metadata["name"], claim_requests(claim))
        free = Resources(
            capacity.gpus - taken.gpus,
            capacity.cpu_m - taken.cpu_m,
            capacity.memory_mib - taken.memory_mib,
            capacity.pods - taken.pods,
        )
        labels = dict(metadata.get("labels") or {})
        for item in (claim.get("spec") or {}).get("requirements") or []:
            values = item.get("values") or []
            if item.get("operator") == "In" and len(values) == 1:
                labels.setdefault(item["key"], values[0])
        if INSTANCE_TYPE_LABEL in labels and labels[INSTANCE_TYPE_LABEL] in types:
            labels = {**type_labels(types[labels[INSTANCE_TYPE_LABEL]]), **labels}
        taints = list((claim.get("spec") or {}).get("taints") or [])
        found.append(InFlight(metadata["name"], labels, taints, free))
    return found
