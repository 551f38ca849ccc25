"""The simulated cloud provider: the catalog's instance types in every cloud and region of
``catalog/clouds.yaml``, on-demand and spot prices, boot delays scaled by ``time_scale``, quotas from the
FlexNodeClass and the faults of :class:`CloudFaults`. A launch takes the cheapest offering that has
capacity and fits the quota (spot before on-demand where both are allowed, since spot is cheaper), and
after the cloud's boot delay writes the machine's Node (``sim://<cloud>/<region>/<id>``) through a
ClusterClient: the simulated kubelet adopts it from there, as Karpenter's kwok provider works.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from infleet.api.catalog import Catalog
from infleet.api.clouds import CloudInfo, CloudOffering, class_offerings, load_clouds
from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import CloudSource, FlexNodeClassSpec
from infleet.api.kubernetes import NODE
from infleet.api.labels import GPU_RESOURCE
from infleet.compute.cloudprovider.cloud_faults import CloudFaults
from infleet.compute.cloudprovider.provider import (
    CapacityType,
    CloudError,
    Instance,
    InstanceType,
    Interruption,
    LaunchRequest,
    NotFoundError,
    Offering,
)
from infleet.compute.cloudprovider.simulated_node import node_manifest, node_status
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.status_patch import patch_status

# Node class specs whose offerings are kept (a cluster has a handful; edits add a new one each).
_KEPT_NODE_CLASSES = 64

log = logging.getLogger(__name__)

PROVIDER_ID_SCHEME = "sim://"


def node_cpu(gpus: int) -> int:
    """vCPUs of a simulated GPU node (the simulated clusters size their static nodes the same way)."""
    return 8 * gpus + 8


def node_memory_gib(gpus: int) -> int:
    return 64 * gpus + 32


def _offering(offering: CloudOffering, available: bool) -> Offering:
    capacity_type: CapacityType = "spot" if offering.capacity_type == "spot" else "on-demand"
    return Offering(
        offering.cloud, offering.region, offering.zone, capacity_type, offering.price_per_hour, available
    )


@dataclass
class _Machine:
    instance: Instance
    instance_type: InstanceType
    account: str
    boot: asyncio.Future[None] | None = None


class SimulatedCloudProvider:
    """A CloudProvider over simulated clouds; ``client`` is the cluster its Nodes register with."""

    name = "simulated"

    def __init__(
        self,
        client: ClusterClient | None,
        catalog: Catalog,
        clock: Clock | None = None,
        time_scale: float = 1.0,
        clouds: dict[str, CloudInfo] | None = None,
        faults: CloudFaults | None = None,
    ) -> None:
        self.client, self.catalog = client, catalog
        self.clock: Clock = clock or SystemClock()
        self.time_scale = time_scale
        self.clouds = clouds if clouds is not None else load_clouds()
        self.faults = faults or CloudFaults()
        self._offerings: dict[str, list[tuple[str, list[CloudOffering]]]] = {}
        self.machines: dict[str, _Machine] = {}
        self.notices: dict[str, Interruption] = {}
        self.launches = 0
        #: Called with a Node manifest instead of writing it (benchmarks without an API server).
        self.on_node: Callable[[dict[str, Any]], None] | None = None

    # -- catalog ----------------------------------------------------------------------------------

    def instance_types(self, node_class: FlexNodeClassSpec) -> list[InstanceType]:
        types = []
        for name, items in self._offerings_by_type(node_class):
            shape = items[0].instance_type
            priced = tuple(
                _offering(o, not self.faults.stocked_out(o.cloud, o.region, name, o.capacity_type))
                for o in items
            )
            types.append(
                InstanceType(
                    name, shape.gpu, shape.gpus, node_cpu(shape.gpus), node_memory_gib(shape.gpus), priced
                )
            )
        return types

    def _offerings_by_type(self, node_class: FlexNodeClassSpec) -> list[tuple[str, list[CloudOffering]]]:
        """The class's offerings per instance type, cheapest first: fixed for one spec (availability is
        read per call), and working them out was a fifth of the lifecycle's CPU at a thousand claims."""
        key = node_class.model_dump_json()
        known = self._offerings.get(key)
        if known is None:
            offerings = sorted(
                class_offerings(self.catalog, node_class, self.clouds), key=lambda o: o.instance_type.name
            )
            known = [
                (name, sorted(group, key=lambda o: o.price_per_hour))
                for name, group in groupby(offerings, key=lambda o: o.instance_type.name)
            ]
            if len(self._offerings) >= _KEPT_NODE_CLASSES:
                self._offerings.clear()
            self._offerings[key] = known
        return known

    # -- launch -----------------------------------------------------------------------------------

    def _quota_left(self, source: CloudSource) -> int | None:
        quota = (source.quota or {}).get(GPU_RESOURCE)
        if quota is None:
            return None
        account = source.account or ""
        used = sum(
            m.instance_type.gpus
            for m in self.machines.values()
            if m.instance.offering.cloud == source.name and m.account == account
        )
        return quota - used

    def _candidates(self, request: LaunchRequest) -> list[tuple[int, Offering, InstanceType]]:
        order = {name: index for index, name in enumerate(request.instance_types)}
        found = []
        for shape in self.instance_types(request.node_class):
            if shape.name not in order:
                continue
            for offering in shape.offerings:
                if offering.capacity_type not in request.capacity_types:
                    continue
                if request.regions and offering.region not in request.regions:
                    continue
                if request.zones and offering.zone not in request.zones:
                    continue
                found.append((order[shape.name], offering, shape))
        found.sort(key=lambda item: (item[1].price_per_hour, item[0], item[1].zone))
        return found

    async def create(self, request: LaunchRequest) -> Instance:
        for machine in self.machines.values():
            if machine.instance.node_name == request.nodeclaim:
                return machine.instance  # idempotent: a retried launch finds its instance (cloud tags)
        if self.faults.take_launch_failure():
            raise CloudError(f"simulated launch failure for NodeClaim {request.nodeclaim}")
        sources = {source.name: source for source in request.node_class.clouds}
        refused: list[str] = []
        for _, offering, shape in self._candidates(request):
            where = f"{shape.name} {offering.capacity_type} in {offering.cloud}/{offering.zone}"
            if not offering.available:
                refused.append(f"{where}: stockout")
                continue
            left = self._quota_left(sources[offering.cloud])
            if left is not None and left < shape.gpus:
                refused.append(f"{where}: quota ({left} GPUs left)")
                continue
            return self._launch(request, offering, shape, sources[offering.cloud].account or "")
        detail = "; ".join(dict.fromkeys(refused)) or "no offering matches the request"
        raise CloudError(
            f"insufficient capacity for NodeClaim {request.nodeclaim}: {detail[:400]}",
            insufficient_capacity=True,
        )

    def _launch(
        self, request: LaunchRequest, offering: Offering, shape: InstanceType, account: str
    ) -> Instance:
        self.launches += 1
        provider_id = f"{PROVIDER_ID_SCHEME}{offering.cloud}/{offering.region}/{request.nodeclaim}"
        instance = Instance(provider_id, shape.name, offering, request.nodeclaim)
        machine = _Machine(instance, shape, account)
        self.machines[provider_id] = machine
        boot = self.clouds[offering.cloud].boot_seconds * self.time_scale
        machine.boot = asyncio.ensure_future(self._boot(request, machine, boot))
        return instance

    async def _boot(self, request: LaunchRequest, machine: _Machine, seconds: float) -> None:
        await self.clock.sleep(seconds)
        manifest = node_manifest(self.catalog, request, machine.instance_type, machine.instance)
        status = node_status(machine.instance_type)
        if self.on_node is not None:
            self.on_node({**manifest, "status": status})
            return
        if self.client is None:
            return
        try:
            node = await self.client.create(NODE, manifest)
            # The lifecycle may label the Node between the two writes: on a conflict, re-read and retry,
            # or the machine would stay without capacity and nothing could ever bind to it.
            await patch_status(self.client, NODE, node, lambda current: current.update(status))
        except KubeAPIError as error:
            log.warning("simulated machine %s could not register: %s", machine.instance.provider_id, error)

    # -- find, delete, interrupt ------------------------------------------------------------------

    async def get(self, provider_id: str) -> Instance:
        machine = self.machines.get(provider_id)
        if machine is None:
            raise NotFoundError(f"no simulated instance {provider_id}")
        return machine.instance

    async def list(self) -> list[Instance]:
        return [machine.instance for machine in self.machines.values()]

    async def delete(self, provider_id: str) -> None:
        machine = self.machines.pop(provider_id, None)
        self.notices.pop(provider_id, None)
        if machine is None:
            raise NotFoundError(f"no simulated instance {provider_id}")
        if machine.boot is not None and not machine.boot.done():
            machine.boot.cancel()
        if self.client is not None:
            # The machine is gone, so its kubelet is too: the Node goes with it (as kwok's Delete does).
            with contextlib.suppress(KubeAPIError):
                await self.client.delete(NODE, machine.instance.node_name)

    def interrupt(self, provider_id: str, in_seconds: float) -> Interruption:
        """Announce a spot reclaim of ``provider_id`` ``in_seconds`` (simulated time) from now."""
        if provider_id not in self.machines:
            raise NotFoundError(f"no simulated instance {provider_id}")
        notice = Interruption(provider_id, self.clock.wall() + in_seconds * self.time_scale)
        self.notices[provider_id] = notice
        return notice

    async def interruptions(self) -> builtins.list[Interruption]:
        return sorted(self.notices.values(), key=lambda notice: notice.deadline)
