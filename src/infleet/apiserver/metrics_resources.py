"""The resource types of ``metrics.k8s.io/v1beta1`` (served by :mod:`infleet.apiserver.metrics_api`).

Read-only and never stored: ``NodeMetrics`` and ``PodMetrics`` are computed from the kubelets on each
request, as metrics-server computes them.
"""

from __future__ import annotations

from infleet.apiserver.resources import ResourceType

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"

_USAGE_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string", "x-kubernetes-int-or-string": True},
}
NODE_METRICS = ResourceType(
    group=GROUP,
    version=VERSION,
    kind="NodeMetrics",
    plural="nodes",
    singular="",
    namespaced=False,
    verbs=("get", "list"),
    has_status=False,
    builtin=False,
    schema={
        "type": "object",
        "properties": {"timestamp": {"type": "string"}, "window": {"type": "string"}, "usage": _USAGE_SCHEMA},
    },
)
POD_METRICS = ResourceType(
    group=GROUP,
    version=VERSION,
    kind="PodMetrics",
    plural="pods",
    singular="",
    namespaced=True,
    verbs=("get", "list"),
    has_status=False,
    builtin=False,
    schema={
        "type": "object",
        "properties": {
            "timestamp": {"type": "string"},
            "window": {"type": "string"},
            "containers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "usage": _USAGE_SCHEMA},
                },
            },
        },
    },
)
METRICS_RESOURCES = (NODE_METRICS, POD_METRICS)
