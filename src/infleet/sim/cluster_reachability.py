"""Applies the "cluster unreachable" fault: follows the hub's ``infleet-system/sim-faults`` ConfigMap and
calls a switch for each cluster whose reachability changed. ``infleet up`` passes the embedded API
server's switch; with a real cluster a network fault proxy would take its place. A reconciler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.sim.faults import FAULTS_CONFIGMAP, FAULTS_NAMESPACE, unreachable_clusters

ReachabilitySwitch = Callable[[str, bool], None]


class ClusterReachability:
    def __init__(self, configmaps: Informer, clusters: Iterable[str], switch: ReachabilitySwitch) -> None:
        self.configmaps = configmaps
        self.clusters = set(clusters)
        self.switch = switch
        self.unreachable: set[str] = set()

    async def reconcile(self, request: Request) -> Result:
        if request.name != FAULTS_CONFIGMAP:
            return Result()
        wanted = (
            unreachable_clusters(self.configmaps.store.get(FAULTS_CONFIGMAP, FAULTS_NAMESPACE))
            & self.clusters
        )
        for cluster in sorted(self.unreachable - wanted):
            self.switch(cluster, True)
        for cluster in sorted(wanted - self.unreachable):
            self.switch(cluster, False)
        self.unreachable = wanted
        return Result()
