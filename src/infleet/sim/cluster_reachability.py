"""Applies the "cluster unreachable" and "cluster down" faults: follows the hub's
``infleet-system/sim-faults`` ConfigMap and calls a switch for each cluster whose reachability changed,
and a power switch for each cluster that went down or came back (its nodes off: engines gone).
``infleet up`` passes the embedded API server's switch and the simulated kubelets' power; with a real
cluster a network fault proxy would take their place. A reconciler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.sim.faults import FAULTS_CONFIGMAP, FAULTS_NAMESPACE, down_clusters, unreachable_clusters

ReachabilitySwitch = Callable[[str, bool], None]
PowerSwitch = Callable[[str, bool], Awaitable[None]]


async def _always_on(cluster: str, on: bool) -> None:
    return None


class ClusterReachability:
    def __init__(
        self,
        configmaps: Informer,
        clusters: Iterable[str],
        switch: ReachabilitySwitch,
        power: PowerSwitch = _always_on,
    ) -> None:
        self.configmaps = configmaps
        self.clusters = set(clusters)
        self.switch = switch
        self.power = power
        self.unreachable: set[str] = set()
        self.down: set[str] = set()

    async def reconcile(self, request: Request) -> Result:
        if request.name != FAULTS_CONFIGMAP:
            return Result()
        faults = self.configmaps.store.get(FAULTS_CONFIGMAP, FAULTS_NAMESPACE)
        wanted, down = unreachable_clusters(faults) & self.clusters, down_clusters(faults) & self.clusters
        for cluster in sorted(down - self.down):
            await self.power(cluster, False)  # nodes off first: nothing answers from the lost cluster
        for cluster in sorted(self.unreachable - wanted):
            self.switch(cluster, True)
        for cluster in sorted(wanted - self.unreachable):
            self.switch(cluster, False)
        for cluster in sorted(self.down - down):
            await self.power(cluster, True)  # reachable again first, so the kubelet can report the boot
        self.unreachable, self.down = wanted, down
        return Result()
