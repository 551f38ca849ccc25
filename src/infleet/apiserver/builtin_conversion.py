"""Conversion between the served versions of a built-in kind stored in one of them.

HorizontalPodAutoscaler is served as ``autoscaling/v2`` and ``autoscaling/v1`` and stored as v2, like
kube-apiserver does. v1 expresses only a CPU utilisation target; what v2 says beyond it (other
metrics, scaling behaviour) rides in annotations while an object is seen as v1, so a v1 client's
read-modify-write keeps it. ``cluster`` converts every write to the storage version before defaulting
and validation, and every read to the version the client asked for.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from infleet.api.labels import HPA_BEHAVIOR_ANNOTATION, HPA_METRICS_ANNOTATION

_HPA = ("autoscaling", "HorizontalPodAutoscaler")
STORAGE_VERSIONS = {_HPA: "autoscaling/v2"}
METRICS_ANNOTATION = HPA_METRICS_ANNOTATION
BEHAVIOR_ANNOTATION = HPA_BEHAVIOR_ANNOTATION

Converter = Callable[[dict[str, Any], str], dict[str, Any]]


def _group_kind(obj: dict[str, Any]) -> tuple[str, str]:
    return str(obj.get("apiVersion") or "").rpartition("/")[0], str(obj.get("kind") or "")


def storage_version(obj: dict[str, Any]) -> str | None:
    """The apiVersion objects of this kind are stored as, or None when any served version is kept."""
    return STORAGE_VERSIONS.get(_group_kind(obj))


def convert(obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    """``obj`` as ``api_version``: reshaped where the kind has a converter, relabelled otherwise."""
    if obj.get("apiVersion") == api_version:
        return obj
    converter = _CONVERTERS.get(_group_kind(obj))
    if converter is None:
        return {**obj, "apiVersion": api_version}
    return converter(obj, api_version)


def to_storage(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` in its kind's storage version (unchanged for kinds stored as written)."""
    wanted = storage_version(obj)
    return convert(obj, wanted) if wanted is not None else obj


def _hpa(obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    if api_version == "autoscaling/v1":
        return _hpa_v2_to_v1(obj)
    return _hpa_v1_to_v2(obj)


def _is_cpu_utilization(metric: Any) -> bool:
    if not isinstance(metric, dict) or metric.get("type") != "Resource":
        return False
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    return bool(resource.get("name") == "cpu" and target.get("type") == "Utilization")


def _hpa_v2_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    metadata = out.setdefault("metadata", {})
    spec = out.get("spec")
    if isinstance(spec, dict):
        metrics = spec.pop("metrics", None) or []
        others = [m for m in metrics if not _is_cpu_utilization(m)]
        cpu = [m for m in metrics if _is_cpu_utilization(m)]
        if cpu:
            spec["targetCPUUtilizationPercentage"] = cpu[0]["resource"]["target"].get("averageUtilization")
        annotations = dict(metadata.get("annotations") or {})
        if others:
            annotations[METRICS_ANNOTATION] = json.dumps(others, separators=(",", ":"))
        behavior = spec.pop("behavior", None)
        if behavior is not None:
            annotations[BEHAVIOR_ANNOTATION] = json.dumps(behavior, separators=(",", ":"))
        if annotations:
            metadata["annotations"] = annotations
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", None) or []
        status.pop("conditions", None)
        for metric in current:
            resource = (metric or {}).get("resource") or {}
            if resource.get("name") == "cpu" and "averageUtilization" in (resource.get("current") or {}):
                status["currentCPUUtilizationPercentage"] = resource["current"]["averageUtilization"]
    return out


def _hpa_v1_to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    metadata = out.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    spec = out.get("spec")
    if isinstance(spec, dict):
        metrics: list[Any] = []
        target = spec.pop("targetCPUUtilizationPercentage", None)
        if target is not None:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            )
        metrics += _from_annotation(annotations.pop(METRICS_ANNOTATION, None), [])
        if metrics:
            spec["metrics"] = metrics
        behavior = _from_annotation(annotations.pop(BEHAVIOR_ANNOTATION, None), None)
        if behavior is not None:
            spec["behavior"] = behavior
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentCPUUtilizationPercentage", None)
        if current is not None:
            status["currentMetrics"] = [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
            ]
    return out


def _from_annotation(text: Any, default: Any) -> Any:
    if not isinstance(text, str):
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


_CONVERTERS: dict[tuple[str, str], Converter] = {_HPA: _hpa}
