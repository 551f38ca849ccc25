"""Fault injection for the simulated clusters: annotations the sim honours (kubectl-friendly) and
:class:`Faults`, the Python API. Node ``sim.infleet.io/fail=true``: dead node; node
``sim.infleet.io/image-pull-factor=N``: slow pulls; pod ``sim.infleet.io/fail=true``: crash loop; hub
ConfigMap ``infleet-system/sim-faults`` key ``unreachable-clusters``: those clusters' APIs answer 503;
key ``down-clusters``: a whole-cluster (region) outage, the API unreachable and every node powered off,
so its engines are gone too; when the entry is removed the nodes boot and the engines start again.
"""

from __future__ import annotations

from typing import Any

from infleet.api.kubernetes import CONFIGMAP, NODE, POD
from infleet.api.labels import FAIL_ANNOTATION, IMAGE_PULL_FACTOR_ANNOTATION
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient

FAULTS_NAMESPACE = "infleet-system"
FAULTS_CONFIGMAP = "sim-faults"
UNREACHABLE_KEY = "unreachable-clusters"
DOWN_KEY = "down-clusters"


def is_failed(obj: dict[str, Any] | None) -> bool:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(FAIL_ANNOTATION, "")).lower() == "true"


def image_pull_factor(node: dict[str, Any] | None) -> float:
    annotations = ((node or {}).get("metadata") or {}).get("annotations") or {}
    try:
        return max(0.0, float(annotations.get(IMAGE_PULL_FACTOR_ANNOTATION, 1.0)))
    except ValueError:
        return 1.0


def _names(configmap: dict[str, Any] | None, key: str) -> set[str]:
    text = str(((configmap or {}).get("data") or {}).get(key, ""))
    return {name.strip() for name in text.split(",") if name.strip()}


def unreachable_clusters(configmap: dict[str, Any] | None) -> set[str]:
    """Clusters whose API answers 503: those listed unreachable, and those that are down altogether."""
    return _names(configmap, UNREACHABLE_KEY) | _names(configmap, DOWN_KEY)


def down_clusters(configmap: dict[str, Any] | None) -> set[str]:
    return _names(configmap, DOWN_KEY)


class Faults:
    """Inject and clear faults in one cluster (``client``); the hub client sets cluster reachability."""

    def __init__(self, client: ClusterClient) -> None:
        self.client = client

    async def _annotate(
        self, kind: Any, name: str, key: str, value: str | None, namespace: str | None = None
    ) -> None:
        await self.client.patch(kind, name, {"metadata": {"annotations": {key: value}}}, namespace)

    async def fail_node(self, node: str, failed: bool = True) -> None:
        await self._annotate(NODE, node, FAIL_ANNOTATION, "true" if failed else None)

    async def fail_pod(self, namespace: str, pod: str, failed: bool = True) -> None:
        await self._annotate(POD, pod, FAIL_ANNOTATION, "true" if failed else None, namespace)

    async def slow_image_pulls(self, node: str, factor: float | None) -> None:
        """Multiply the node's image pull times by ``factor``; None restores normal pulls."""
        await self._annotate(
            NODE, node, IMAGE_PULL_FACTOR_ANNOTATION, None if factor is None else f"{factor:g}"
        )

    async def set_cluster_unreachable(self, cluster: str, unreachable: bool = True) -> None:
        """(hub client) Add or remove ``cluster`` in the hub's ``sim-faults`` ConfigMap."""
        await self._set_listed(UNREACHABLE_KEY, cluster, unreachable)

    async def set_cluster_down(self, cluster: str, down: bool = True) -> None:
        """(hub client) A region outage of ``cluster``: its API unreachable and its nodes off, or back."""
        await self._set_listed(DOWN_KEY, cluster, down)

    async def _set_listed(self, key: str, cluster: str, listed: bool) -> None:
        try:
            current = await self.client.get(CONFIGMAP, FAULTS_CONFIGMAP, FAULTS_NAMESPACE)
        except KubeAPIError as error:
            if not error.not_found:
                raise
            current = None
        names = _names(current, key)
        names = names | {cluster} if listed else names - {cluster}
        data = {key: ",".join(sorted(names))}
        if current is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": FAULTS_CONFIGMAP, "namespace": FAULTS_NAMESPACE},
                "data": data,
            }
            await self.client.create(CONFIGMAP, body)
        else:
            await self.client.patch(CONFIGMAP, FAULTS_CONFIGMAP, {"data": data}, FAULTS_NAMESPACE)
