"""The simulated DaemonSet controller: one pod on every node that should run it, updated node by node.

Each node that matches the DaemonSet (:mod:`~infleet.sim.daemonset_pods`) gets one pod pinned to it;
pods on nodes that no longer match, surplus pods and failed pods are deleted (and so replaced). Every
template is a ControllerRevision whose hash labels the pods made from it. ``RollingUpdate`` replaces
old pods at most ``maxUnavailable`` nodes at a time (an old pod that is not Ready goes at once), or with
``maxSurge`` starts the new pod beside the old one and deletes the old one once the new one is Ready;
``OnDelete`` replaces a pod only when someone deletes it. The status carries kube's counts, so
``kubectl rollout status ds/<name>`` follows an update. Not simulated: ``minReadySeconds`` (ready means
available).
"""

from __future__ import annotations

from typing import Any

from infleet.api.kubernetes import DAEMONSET, POD
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.events import NORMAL, EventRecorder
from infleet.kube.informer import Informer, InformerEvent
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim.controller_revisions import REVISION_HASH_LABEL, RevisionHistory
from infleet.sim.daemonset_pods import daemon_pod, placement, target_node
from infleet.sim.event_sink import EventSink
from infleet.sim.pod_expectations import PodExpectations
from infleet.sim.workload_pods import is_ready, is_terminal, resolve_int_or_percent

Pod = dict[str, Any]


def _hash_of(pod: Pod) -> str:
    return str((pod["metadata"].get("labels") or {}).get(REVISION_HASH_LABEL, ""))


class DaemonSetController:
    """Reconciles DaemonSets of one cluster."""

    def __init__(
        self,
        client: ClusterClient,
        daemonsets: Informer,
        pods: Informer,
        nodes: Informer,
        revisions: Informer,
    ) -> None:
        self.client, self.daemonsets, self.pods, self.nodes = client, daemonsets, pods, nodes
        self.history = RevisionHistory(client, revisions)
        self.events = EventSink(EventRecorder(client, "daemonset-controller"))
        self.expectations = PodExpectations(pods)

    def daemonsets_for_node(self, event: InformerEvent) -> list[Request]:
        """Every DaemonSet, when a node comes, goes, or changes what decides where daemons run."""
        if (
            event.type == "MODIFIED"
            and event.old is not None
            and _placement(event.old) == _placement(event.obj)
        ):
            return []
        return [
            Request(event.cluster, ds["metadata"]["namespace"], ds["metadata"]["name"])
            for ds in self.daemonsets.store.list()
        ]

    async def reconcile(self, request: Request) -> Result:
        daemonset = self.daemonsets.store.get(request.name, request.namespace)
        if daemonset is None or daemonset["metadata"].get("deletionTimestamp"):
            self.expectations.forget(request.key)
            return Result()
        if self.expectations.waiting(request.key, request.namespace):
            return Result(requeue_after=0.2)
        revision, template_hash = await self.history.current(daemonset)
        placements = {n["metadata"]["name"]: placement(daemonset, n) for n in self.nodes.store.list()}
        by_node: dict[str, list[Pod]] = {name: [] for name, (run, _) in placements.items() if run}
        created: set[str] = set()
        deleted: set[str] = set()
        misscheduled = 0
        for pod in self.pods.store.owned_by(daemonset["metadata"]["uid"]):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            node = target_node(pod)
            run, keep = placements.get(node, (False, False))
            if not keep or is_terminal(pod):
                await self._delete(daemonset, pod, deleted)  # misplaced or ended: replaced below
            elif run:
                by_node[node].append(pod)
            else:
                misscheduled += 1  # left on a node tainted NoSchedule since it started
        for node, pods in sorted(by_node.items()):
            await self._keep_one_per_node(daemonset, node, pods, template_hash, created, deleted)
        if _strategy(daemonset).get("type", "RollingUpdate") == "RollingUpdate":
            await self._roll(daemonset, by_node, template_hash, created, deleted)
        self.expectations.expect(request.key, created, deleted)
        live = {
            node: [p for p in pods if p["metadata"]["name"] not in deleted] for node, pods in by_node.items()
        }
        await self._write_status(daemonset, live, template_hash, len(created), misscheduled)
        in_use = {revision, *(f"{request.name}-{_hash_of(p)}" for pods in live.values() for p in pods)}
        await self.history.prune(daemonset, in_use)
        return Result()

    async def _keep_one_per_node(
        self,
        daemonset: dict[str, Any],
        node: str,
        pods: list[Pod],
        template_hash: str,
        created: set[str],
        deleted: set[str],
    ) -> None:
        """Create the node's pod when it has none; of several, keep one new and one old at most (a
        surge), preferring Ready ones."""
        if not pods:
            await self._create(daemonset, node, template_hash, created)
            return
        ranked = sorted(pods, key=lambda p: (not is_ready(p), _age(p)))
        new = [p for p in ranked if _hash_of(p) == template_hash]
        old = [p for p in ranked if _hash_of(p) != template_hash]
        keep = new[:1] + (old[:1] if not new or not is_ready(new[0]) else [])
        for pod in pods:
            if pod not in keep:
                await self._delete(daemonset, pod, deleted)
        pods[:] = keep

    async def _roll(
        self,
        daemonset: dict[str, Any],
        by_node: dict[str, list[Pod]],
        template_hash: str,
        created: set[str],
        deleted: set[str],
    ) -> None:
        """Move nodes on old pods to the new template within the unavailability and surge budgets."""
        rolling = _strategy(daemonset).get("rollingUpdate") or {}
        desired = len(by_node)
        max_surge = resolve_int_or_percent(rolling.get("maxSurge"), desired, True, "0")
        max_unavailable = resolve_int_or_percent(rolling.get("maxUnavailable"), desired, True, "1")
        if max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1  # the API forbids both zero; never stall
        unavailable = sum(1 for pods in by_node.values() if not any(is_ready(p) for p in pods))
        surging = sum(1 for pods in by_node.values() if len(pods) > 1)
        for node, pods in sorted(by_node.items()):
            old = [p for p in pods if _hash_of(p) != template_hash]
            if not old:
                continue
            if len(pods) > 1:
                continue  # a surge under way: the new pod replaces the old one once Ready
            (pod,) = old
            if max_surge > 0 and is_ready(pod):
                if surging < max_surge:
                    await self._create(daemonset, node, template_hash, created)
                    surging += 1
            elif not is_ready(pod):
                await self._delete(daemonset, pod, deleted)
            elif unavailable < max_unavailable:
                await self._delete(daemonset, pod, deleted)
                unavailable += 1

    async def _create(
        self, daemonset: dict[str, Any], node: str, template_hash: str, created: set[str]
    ) -> None:
        pod = await self.client.create(POD, daemon_pod(daemonset, node, template_hash))
        name = pod["metadata"]["name"]
        created.add(name)
        self.events.emit(daemonset, NORMAL, "SuccessfulCreate", f"Created pod: {name}")

    async def _delete(self, daemonset: dict[str, Any], pod: Pod, deleted: set[str]) -> None:
        name = pod["metadata"]["name"]
        if name in deleted:
            return
        await self.client.delete(POD, name, pod["metadata"]["namespace"], missing_ok=True)
        deleted.add(name)
        self.events.emit(daemonset, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")

    async def _write_status(
        self,
        daemonset: dict[str, Any],
        by_node: dict[str, list[Pod]],
        template_hash: str,
        created: int,
        misscheduled: int,
    ) -> None:
        """kube's counts, each node judged by its oldest pod (so a surging node counts as updated only
        once its old pod is gone); pods just created count as scheduled and updated."""
        oldest = [min(pods, key=_age) for pods in by_node.values() if pods]
        desired = len(by_node)
        ready = sum(1 for p in oldest if is_ready(p))
        counts = {
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": min(desired, len(oldest) + created),
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "updatedNumberScheduled": sum(1 for p in oldest if _hash_of(p) == template_hash) + created,
            "numberAvailable": ready,
            "numberUnavailable": max(0, desired - ready),
        }
        always = ("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled", "numberReady")

        def mutate(status: dict[str, Any]) -> None:
            status["observedGeneration"] = daemonset["metadata"].get("generation", 1)
            for key, value in counts.items():
                if value or key in always:
                    status[key] = value  # the API omits the optional counts when zero
                else:
                    status.pop(key, None)

        try:
            await patch_status(self.client, DAEMONSET, daemonset, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise


def _age(pod: Pod) -> str:
    return str(pod["metadata"].get("creationTimestamp", ""))


def _strategy(daemonset: dict[str, Any]) -> dict[str, Any]:
    strategy = (daemonset.get("spec") or {}).get("updateStrategy") or {}
    return strategy if isinstance(strategy, dict) else {}


def _placement(node: dict[str, Any]) -> tuple[Any, ...]:
    """What of a node decides which daemons it runs (a heartbeat changes none of it)."""
    return ((node.get("metadata") or {}).get("labels"), (node.get("spec") or {}).get("taints"))
