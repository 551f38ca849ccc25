"""Launch: ask the CloudProvider for the claim's node (its instance types cheapest first, capacity types,
zones, region, the pool's taints and startup taints). On success the claim gets the provider ID, the
capacity, the instance type and offering labels and ``Launched``; on insufficient capacity it is deleted,
so the provisioner packs its pods again against what is left (another cloud, region or type).
"""

from __future__ import annotations

from typing import Any, cast

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.api.karpenter_sh.v1.node_claim import LAUNCHED, NODE_CLAIM
from infleet.api.labels import (
    CAPACITY_TYPE_LABEL,
    GPU_RESOURCE,
    INSTANCE_TYPE_LABEL,
    REGION_LABEL,
    ZONE_LABEL,
)
from infleet.compute.cloudprovider.provider import (
    CapacityType,
    CloudError,
    CloudProvider,
    Instance,
    InstanceType,
    LaunchRequest,
)
from infleet.compute.cloudprovider.simulated_node import node_status, offering_labels
from infleet.compute.lifecycle.claim_run import ClaimRun, delete_claim, set_claim_condition
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.events import WARNING, EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Result

RETRY_SECONDS = 5.0


def _values(spec: dict[str, Any], key: str) -> tuple[str, ...]:
    for item in spec.get("requirements") or []:
        if item.get("key") == key and item.get("operator") == "In":
            return tuple(str(v) for v in item.get("values") or [])
    return ()


def launch_request(claim: dict[str, Any], node_class: FlexNodeClassSpec) -> LaunchRequest:
    spec = claim.get("spec") or {}
    capacity_types = cast(tuple[CapacityType, ...], _values(spec, CAPACITY_TYPE_LABEL) or ("on-demand",))
    taints = [*(spec.get("taints") or []), *(spec.get("startupTaints") or [])]
    return LaunchRequest(
        nodeclaim=claim["metadata"]["name"],
        node_class=node_class,
        instance_types=_values(spec, INSTANCE_TYPE_LABEL),
        capacity_types=capacity_types,
        regions=_values(spec, REGION_LABEL),
        zones=_values(spec, ZONE_LABEL),
        labels={k: str(v) for k, v in (claim["metadata"].get("labels") or {}).items()},
        taints=tuple({k: str(v) for k, v in t.items()} for t in taints),
    )


class Launch:
    def __init__(
        self,
        client: ClusterClient,
        provider: CloudProvider,
        nodeclasses: Informer,
        events: EventRecorder,
        clock: Clock,
    ) -> None:
        self.client, self.provider, self.nodeclasses = client, provider, nodeclasses
        self.events, self.clock = events, clock

    async def reconcile(self, run: ClaimRun) -> Result:
        if run.has(LAUNCHED) or (run.claim.get("status") or {}).get("providerID"):
            return Result()
        ref = ((run.claim.get("spec") or {}).get("nodeClassRef") or {}).get("name", "")
        node_class = self.nodeclasses.store.get(ref)
        if node_class is None:
            message = f"FlexNodeClass {ref} not found; create it or fix spec.nodeClassRef.name"
            await set_claim_condition(
                self.client, run, self.clock, LAUNCHED, False, "NodeClassNotFound", message
            )
            return Result(requeue_after=RETRY_SECONDS)
        request = launch_request(run.claim, FlexNodeClassSpec.model_validate(node_class.get("spec") or {}))
        try:
            instance = await self.provider.create(request)
        except CloudError as error:
            return await self._failed(run, error)
        await self._launched(run, instance, request)
        return Result()

    async def _failed(self, run: ClaimRun, error: CloudError) -> Result:
        if error.insufficient_capacity:
            await self.events.record(run.claim, WARNING, "InsufficientCapacityError", str(error))
            await delete_claim(self.client, run)
            return Result()
        await set_claim_condition(self.client, run, self.clock, LAUNCHED, False, "LaunchFailed", str(error))
        return Result(requeue_after=RETRY_SECONDS)

    async def _launched(self, run: ClaimRun, instance: Instance, request: LaunchRequest) -> None:
        shape = next(
            (t for t in self.provider.instance_types(request.node_class) if t.name == instance.instance_type),
            None,
        )
        if shape is None:  # a provider that launched a type it does not list: keep what is known
            shape = InstanceType(instance.instance_type, "", 0, 0, 0)
        labels = offering_labels(shape, instance)
        run.claim = await self.client.patch(NODE_CLAIM, run.name, {"metadata": {"labels": labels}})
        extra: dict[str, Any] = {"providerID": instance.provider_id, "imageID": "sim-gpu-ubuntu-22.04"}
        if shape.gpus:
            status = node_status(shape)
            # What the node offers once initialized: its GPUs included.
            allocatable = {**status["allocatable"], GPU_RESOURCE: status["capacity"][GPU_RESOURCE]}
            extra.update(capacity=status["capacity"], allocatable=allocatable)
        offering = instance.offering
        message = f"launched {instance.instance_type} ({offering.capacity_type}) in {offering.zone}"
        await set_claim_condition(self.client, run, self.clock, LAUNCHED, True, "Launched", message, extra)
