"""The ``/scale`` subresource: reading and writing replica counts as ``autoscaling/v1 Scale``.

HPA and KEDA drive workloads through it; paths come from the CRD's ``subresources.scale`` (or the
Deployment/StatefulSet layout for built-ins).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infleet.apiserver.errors import Cause, bad_request, invalid
from infleet.apiserver.jsonpath import compile_jsonpath
from infleet.apiserver.resources import ResourceType
from infleet.apiserver.selectors import LabelSelector


def _read(obj: Mapping[str, Any], path: str | None) -> Any:
    if not path:
        return None
    found = compile_jsonpath(path).find(obj)
    return found[0] if found else None


def _segments(path: str) -> list[str]:
    if not path.startswith("."):
        raise bad_request(f"scale path {path!r} must start with '.'")
    return path[1:].split(".")


def to_scale(resource: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
    assert resource.scale is not None
    metadata = obj["metadata"]
    selector = _read(obj, resource.scale.label_selector_path)
    if isinstance(selector, Mapping):
        selector = str(LabelSelector.from_dict(selector))
    status: dict[str, Any] = {"replicas": int(_read(obj, resource.scale.status_replicas_path) or 0)}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": metadata["name"],
            "namespace": metadata.get("namespace", ""),
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
            "creationTimestamp": metadata.get("creationTimestamp"),
        },
        "spec": {"replicas": int(_read(obj, resource.scale.spec_replicas_path) or 0)},
        "status": status,
    }


def with_replicas(resource: ResourceType, obj: dict[str, Any], scale: Any) -> dict[str, Any]:
    """Write a Scale's ``spec.replicas`` back into the object (mutates and returns ``obj``)."""
    assert resource.scale is not None
    replicas = (scale.get("spec") or {}).get("replicas") if isinstance(scale, Mapping) else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid(
            "Scale",
            obj["metadata"]["name"],
            [Cause("FieldValueInvalid", "must be a non-negative integer", "spec.replicas")],
            group="autoscaling",
        )
    node = obj
    segments = _segments(resource.scale.spec_replicas_path)
    for segment in segments[:-1]:
        node = node.setdefault(segment, {})
    node[segments[-1]] = replicas
    return obj
