"""The resource types of ``metrics.k8s.io/v1beta1`` (served by :mod:`infleet.apiserver.metrics_api`).

Read-only and never stored: ``NodeMetrics`` and ``PodMetrics`` are computed from the kubelets on each
request, as metrics-server computes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infleet.api.kubernetes import NODE_METRICS as NODE_METRICS_KIND
from infleet.api.kubernetes import POD_METRICS as POD_METRICS_KIND
from infleet.api.resource_kind import ResourceKind
from infleet.apiserver.resources import ResourceType

GROUP, VERSION = NODE_METRICS_KIND.group, NODE_METRICS_KIND.version
API_VERSION = NODE_METRICS_KIND.api_version

_USAGE_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string", "x-kubernetes-int-or-string": True},
}
_MEASURED_AT = {"timestamp": {"type": "string"}, "window": {"type": "string"}}


def _read_only(kind: ResourceKind, measured: Mapping[str, Any]) -> ResourceType:
    """A computed kind: get and list only, never stored, described for OpenAPI by ``measured``."""
    return ResourceType(
        group=kind.group,
        version=kind.version,
        kind=kind.kind,
        plural=kind.plural,
        singular="",
        namespaced=kind.namespaced,
        verbs=("get", "list"),
        has_status=False,
        builtin=False,
        schema={"type": "object", "properties": {**_MEASURED_AT, **measured}},
    )


NODE_METRICS = _read_only(NODE_METRICS_KIND, {"usage": _USAGE_SCHEMA})
_CONTAINER_USAGE = {"type": "object", "properties": {"name": {"type": "string"}, "usage": _USAGE_SCHEMA}}
POD_METRICS = _read_only(POD_METRICS_KIND, {"containers": {"type": "array", "items": _CONTAINER_USAGE}})
METRICS_RESOURCES = (NODE_METRICS, POD_METRICS)
