"""Routes from GIE InferencePools in the gateway's own cluster: the ready pods a pool selects
(``spec.selector.matchLabels``, same namespace) at ``spec.targetPorts[0].number``, one backend each.

The model name: GIE leaves it to the request body, so the pool must say what its servers serve. It is
the pool's ``aitoolchain.io/model`` annotation, else that annotation on its pods (Infleet's engine pods
carry it), else the pool's name (then the engines' ``--served-model-name``); the pool's name is an
alias when it differs.

A pod's region, for locality and region pins: the pool's own ``topology.kubernetes.io/region`` label
(set it per cluster, e.g. with a placement override, to pin a pool), else that label on the Node the pod
runs on (where Kubernetes and cloud providers put it), else the gateway's member's region (its
MemberCluster's label, where the gateway can read it). Its cloud comes from its Node's ``infleet.io/cloud``
label, else the member's; its GPU SKU from the Node's ``aitoolchain.io/gpu-sku`` label. Pure:
``fleet_config`` feeds it the API's objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from infleet.api.inference_networking_k8s_io.v1.inference_pool import InferencePoolSpec
from infleet.api.labels import (
    CLOUD_LABEL,
    ENDPOINT_ANNOTATION,
    GPU_SKU_LABEL,
    MODEL_ANNOTATION,
    REGION_LABEL,
)
from infleet.gateway.config import BackendConfig, ModelConfig


def pool_models(
    pools: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    local_cluster: str = "",
    nodes: Iterable[Mapping[str, Any]] = (),
    cluster_region: str = "",
    cluster_cloud: str = "",
) -> list[ModelConfig]:
    """One model per pool; `nodes` give its pods' regions, clouds and GPUs, `cluster_region` and
    `cluster_cloud` those of a pod whose node does not say (the gateway's member's)."""
    node_labels = {str(_meta(node).get("name") or ""): _meta(node).get("labels") or {} for node in nodes}
    by_namespace: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        if _ready(pod):
            by_namespace.setdefault(_meta(pod).get("namespace") or "", []).append(pod)
    models = []
    for pool in sorted(pools, key=lambda p: (_meta(p).get("namespace") or "", _meta(p).get("name") or "")):
        try:
            spec = InferencePoolSpec.model_validate(pool.get("spec") or {})
        except ValidationError:
            continue  # the API server refuses such pools; one written before the CRD is skipped
        meta = _meta(pool)
        wanted = spec.selector.match_labels
        members = [
            pod
            for pod in by_namespace.get(meta.get("namespace") or "", ())
            if all((_meta(pod).get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]
        name = _model_name(meta, members)
        pool_name = str(meta.get("name") or "")
        port = spec.target_ports[0].number
        pinned = str((meta.get("labels") or {}).get(REGION_LABEL) or "")
        backends = []
        for pod in members:
            labels = node_labels.get(str((pod.get("spec") or {}).get("nodeName") or ""), {})
            where = {
                "cluster": local_cluster,
                "region": pinned or str(labels.get(REGION_LABEL) or "") or cluster_region,
                "cloud": str(labels.get(CLOUD_LABEL) or "") or cluster_cloud,
                "gpu": str(labels.get(GPU_SKU_LABEL) or ""),
            }
            backends.append(_backend(pod, port, name, where))
        models.append(
            ModelConfig(
                name=name, aliases=[pool_name] if pool_name and pool_name != name else [], backends=backends
            )
        )
    return models


def _model_name(pool_meta: Mapping[str, Any], pods: list[Mapping[str, Any]]) -> str:
    named = (pool_meta.get("annotations") or {}).get(MODEL_ANNOTATION)
    if named:
        return str(named)
    annotations = [_meta(p).get("annotations") or {} for p in pods]
    served = sorted({str(a[MODEL_ANNOTATION]) for a in annotations if a.get(MODEL_ANNOTATION)})
    return served[0] if served else str(pool_meta.get("name") or "")


def _backend(pod: Mapping[str, Any], port: int, model: str, where: Mapping[str, str]) -> BackendConfig:
    """One ready pod; ``where`` holds its cluster, region, cloud and GPU SKU."""
    meta = _meta(pod)
    endpoint = (meta.get("annotations") or {}).get(ENDPOINT_ANNOTATION)
    address = str(endpoint) if endpoint else f"{pod['status']['podIP']}:{port}"
    pod_name = str(meta.get("name") or "")
    return BackendConfig(
        url=f"http://{address}",
        name=f"{where['cluster']}/{pod_name}" if where["cluster"] else pod_name,
        model=model,
        **where,
    )


def _ready(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    if _meta(pod).get("deletionTimestamp") or not status.get("podIP"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}
