"""Rendering a sized ModelDeployment into Kubernetes objects: engine Deployment (or one StatefulSet per
multi-node replica group, leader pod 0 plus workers) and Services.

Pods get the engine container, GPU requests, node selection and tolerations for the chosen SKU, probes
whose startup budget grows with model size, a weights volume, the HF token, LoRA adapters and owner
references. Rolling updates surge before they take a pod away, so serving never drops to zero. The
workload phase of the reconciler calls :func:`render`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import ModelDeploymentSpec, Sizing
from infleet.api.labels import (
    APP_COMPONENT_LABEL,
    APP_INSTANCE_LABEL,
    APP_MANAGED_BY_LABEL,
    APP_NAME_LABEL,
    GPU_COUNT_LABEL,
    GPU_RESOURCE,
    GPU_SKU_ANNOTATION,
    MODEL_ANNOTATION,
    MODEL_DEPLOYMENT_LABEL,
    MODEL_LABEL,
    POD_INDEX_LABEL,
    PROMETHEUS_PATH_ANNOTATION,
    PROMETHEUS_PORT_ANNOTATION,
    PROMETHEUS_SCRAPE_ANNOTATION,
    RENDERED_HASH_ANNOTATION,
    REPLICA_GROUP_LABEL,
    WEIGHTS_ANNOTATION,
)
from infleet.kube.owner_references import set_controller_reference
from infleet.models import engines

DISK_OVERHEAD_GIB = 80


@dataclass(frozen=True)
class WorkloadInput:
    owner: dict[str, Any]
    spec: ModelDeploymentSpec
    sizing: Sizing
    model_id: str
    served_name: str
    weights_gib: float | None
    replicas: int


@dataclass
class Rendered:
    deployments: list[dict[str, Any]] = field(default_factory=list)
    statefulsets: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)

    def all(self) -> list[dict[str, Any]]:
        return [*self.deployments, *self.statefulsets, *self.services]


def selector(name: str) -> dict[str, str]:
    return {MODEL_DEPLOYMENT_LABEL: name}


def selector_string(name: str) -> str:
    return f"{MODEL_DEPLOYMENT_LABEL}={name}"


def startup_budget_seconds(weights_gib: float | None) -> int:
    """KAITO's rule: 15 min + 18 s per GiB of weights, clamped to [30, 180] min."""
    seconds = 15 * 60 + 18 * (weights_gib or 0.0)
    return int(min(max(seconds, 30 * 60), 180 * 60))


def _label_value(text: str) -> str:
    value = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:63]
    return value.strip("-_.") or "model"


def _probe(path: str, period: int, failures: int, multi_node: bool) -> dict[str, Any]:
    if multi_node:
        # Workers serve no HTTP; only the leader (pod index 0) is probed.
        check = f'[ "$POD_INDEX" != "0" ] || curl -sf localhost:{engines.PORT}{path}'
        return {
            "exec": {"command": ["sh", "-c", check]},
            "periodSeconds": period,
            "failureThreshold": failures,
        }
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def _volumes(spec: ModelDeploymentSpec, weights_gib: float | None) -> tuple[list[Any], list[Any]]:
    cache = spec.weights_cache
    if cache is not None and cache.persistent_volume_claim:
        weights: dict[str, Any] = {"persistentVolumeClaim": {"claimName": cache.persistent_volume_claim}}
    elif cache is not None and cache.node_local_path:
        weights = {"hostPath": {"path": cache.node_local_path, "type": "DirectoryOrCreate"}}
    else:
        size = math.ceil((weights_gib or 0.0) + DISK_OVERHEAD_GIB)
        weights = {"emptyDir": {"sizeLimit": f"{size}Gi"}}
    volumes = [{"name": "weights", **weights}, {"name": "dshm", "emptyDir": {"medium": "Memory"}}]
    mounts = [{"name": "weights", "mountPath": engines.MODEL_DIR}, {"name": "dshm", "mountPath": "/dev/shm"}]
    if any(adapter.image for adapter in spec.adapters or []):
        volumes.append({"name": "adapters", "emptyDir": {}})
        mounts.append({"name": "adapters", "mountPath": engines.ADAPTER_DIR})
    return volumes, mounts


def _adapters(spec: ModelDeploymentSpec) -> tuple[tuple[tuple[str, str], ...], list[dict[str, Any]]]:
    pairs, init = [], []
    for adapter in spec.adapters or []:
        if adapter.image:
            path = f"{engines.ADAPTER_DIR}/{adapter.name}"
            init.append(
                {
                    "name": f"adapter-{adapter.name}"[:63],
                    "image": adapter.image,
                    "command": ["sh", "-c", f"mkdir -p {path} && cp -r /data/. {path}/"],
                    "volumeMounts": [{"name": "adapters", "mountPath": engines.ADAPTER_DIR}],
                }
            )
            pairs.append((adapter.name, path))
        else:
            pairs.append((adapter.name, (adapter.source or "").removeprefix("hf:")))
    return tuple(pairs), init


def _env(spec: ModelDeploymentSpec, multi_node: bool) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "HF_HOME", "value": engines.MODEL_DIR}]
    if spec.hf_token_secret is not None:
        ref = {"name": spec.hf_token_secret.name, "key": spec.hf_token_secret.key}
        env += [
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": ref}},
            {"name": "HUGGING_FACE_HUB_TOKEN", "valueFrom": {"secretKeyRef": ref}},
        ]
    if multi_node:
        path = f"metadata.labels['{POD_INDEX_LABEL}']"
        env.append({"name": "POD_INDEX", "valueFrom": {"fieldRef": {"fieldPath": path}}})
    return env


def pod_template(data: WorkloadInput, group: str | None = None) -> dict[str, Any]:
    """The engine pod template; ``group`` names the StatefulSet of a multi-node replica group."""
    spec, sizing = data.spec, data.sizing
    name = data.owner["metadata"]["name"]
    multi_node = sizing.nodes_per_replica > 1
    adapters, init_containers = _adapters(spec)
    engine_args = spec.engine_args
    launch = engines.EngineLaunch(
        engine=spec.engine,
        model=data.model_id,
        served_name=data.served_name,
        sku=sizing.sku,
        tensor_parallel=sizing.tensor_parallel,
        pipeline_parallel=sizing.pipeline_parallel,
        max_model_len=sizing.max_model_len or None,
        gpu_memory_utilization=engine_args.gpu_memory_utilization if engine_args else None,
        quantization=engine_args.quantization if engine_args else None,
        kv_cache_dtype=engine_args.kv_cache_dtype if engine_args else None,
        adapters=adapters,
        extra_args=tuple(engine_args.extra_args or ()) if engine_args else (),
        leader_address=f"{group}-0.{name}-workers" if group else None,
    )
    built = engines.container(launch, spec.engine_version, spec.image)
    command, args = built.command, built.args
    if multi_node and spec.engine == "vllm":
        command, args = engines.vllm_group_script(launch, args), []
    volumes, mounts = _volumes(spec, data.weights_gib)
    gpus = sizing.gpus_per_node if multi_node else sizing.gpus_per_replica
    resources = spec.resources
    requests = {
        "cpu": str(resources.cpu) if resources and resources.cpu else "1",
        "memory": str(resources.memory) if resources and resources.memory else "4Gi",
        GPU_RESOURCE: str(gpus),
    }
    health = engines.HEALTH_PATH[spec.engine]
    budget = startup_budget_seconds(data.weights_gib)
    ports = [{"name": "http", "containerPort": engines.PORT, "protocol": "TCP"}]
    if multi_node:
        port = engines.RAY_PORT if spec.engine == "vllm" else engines.SGLANG_DIST_PORT
        ports.append({"name": "dist", "containerPort": port, "protocol": "TCP"})
    container: dict[str, Any] = {
        "name": "engine",
        "image": built.image,
        "command": command,
        "ports": ports,
        "env": _env(spec, multi_node),
        "resources": {"requests": requests, "limits": {GPU_RESOURCE: str(gpus)}},
        "volumeMounts": mounts,
        "startupProbe": _probe(health, 10, math.ceil(budget / 10), multi_node),
        "readinessProbe": _probe(health, 5, 3, multi_node),
        "livenessProbe": _probe(health, 10, 3, multi_node),
    }
    if args:
        container["args"] = args
    labels = {
        **selector(name),
        APP_NAME_LABEL: spec.engine,
        APP_INSTANCE_LABEL: name,
        APP_COMPONENT_LABEL: "inference",
        APP_MANAGED_BY_LABEL: "infleet",
        MODEL_LABEL: _label_value(data.served_name),
    }
    if group:
        labels[REPLICA_GROUP_LABEL] = group
    annotations = {
        MODEL_ANNOTATION: data.model_id,
        GPU_SKU_ANNOTATION: sizing.sku,
        PROMETHEUS_SCRAPE_ANNOTATION: "true",
        PROMETHEUS_PORT_ANNOTATION: str(engines.PORT),
        PROMETHEUS_PATH_ANNOTATION: "/metrics",
    }
    if data.weights_gib is not None:
        annotations[WEIGHTS_ANNOTATION] = f"{data.weights_gib:.2f}"
    pod: dict[str, Any] = {
        "containers": [container],
        "volumes": volumes,
        "tolerations": [
            {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
            {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
        ],
        "terminationGracePeriodSeconds": 30,
    }
    node_selector = dict(sizing.node_selector or {})
    if multi_node:
        node_selector[GPU_COUNT_LABEL] = str(sizing.gpus_per_node)
    if node_selector:
        pod["nodeSelector"] = node_selector
    if init_containers:
        pod["initContainers"] = init_containers
    if group:
        pod["subdomain"] = f"{name}-workers"
    template = {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod}
    return merge_template(template, spec.template) if spec.template else template


def merge_template(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge; lists of named objects (containers, volumes, env) merge by name, others are replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = merge_template(current, value)
        elif isinstance(value, list) and isinstance(current, list) and _named(value) and _named(current):
            by_name = {item["name"]: item for item in current}
            for item in value:
                by_name[item["name"]] = merge_template(by_name.get(item["name"], {}), item)
            out[key] = list(by_name.values())
        else:
            out[key] = copy.deepcopy(value)
    return out


def _named(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def _strategy(spec: ModelDeploymentSpec) -> dict[str, Any]:
    rollout = spec.rollout
    surge = rollout.max_surge if rollout and rollout.max_surge is not None else 1
    unavailable = rollout.max_unavailable if rollout and rollout.max_unavailable is not None else 0
    if surge in (0, "0", "0%") and unavailable in (0, "0", "0%"):
        surge = 1  # both zero is invalid in Kubernetes; keep serving while rolling
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}


def _metadata(data: WorkloadInput, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": data.owner["metadata"].get("namespace", "default"), "labels": labels}


def _finish(data: WorkloadInput, obj: dict[str, Any]) -> dict[str, Any]:
    set_controller_reference(data.owner, obj)
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
    obj["metadata"].setdefault("annotations", {})[RENDERED_HASH_ANNOTATION] = digest
    return obj


def render(data: WorkloadInput) -> Rendered:
    """All objects of one ModelDeployment, each with an owner reference and a hash of its content."""
    name = data.owner["metadata"]["name"]
    labels = {**selector(name), APP_MANAGED_BY_LABEL: "infleet"}
    out = Rendered()
    budget = startup_budget_seconds(data.weights_gib)
    if data.sizing.nodes_per_replica <= 1:
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _metadata(data, name, labels),
            "spec": {
                "replicas": data.replicas,
                "selector": {"matchLabels": selector(name)},
                "strategy": _strategy(data.spec),
                "progressDeadlineSeconds": budget + 600,
                "revisionHistoryLimit": 3,
                "template": pod_template(data),
            },
        }
        out.deployments.append(_finish(data, deployment))
        service_selector = selector(name)
    else:
        for index in range(data.replicas):
            group = f"{name}-{index}"
            group_labels = {**labels, REPLICA_GROUP_LABEL: group}
            statefulset = {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": _metadata(data, group, group_labels),
                "spec": {
                    "replicas": data.sizing.nodes_per_replica,
                    "serviceName": f"{name}-workers",
                    "podManagementPolicy": "Parallel",
                    "selector": {"matchLabels": {**selector(name), REPLICA_GROUP_LABEL: group}},
                    "template": pod_template(data, group),
                },
            }
            out.statefulsets.append(_finish(data, statefulset))
        headless = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata(data, f"{name}-workers", labels),
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": selector(name),
                "ports": [{"name": "http", "port": engines.PORT, "targetPort": "http"}],
            },
        }
        out.services.append(_finish(data, headless))
        service_selector = {**selector(name), POD_INDEX_LABEL: "0"}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(data, name, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": service_selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    out.services.append(_finish(data, service))
    return out
