"""The resource types of ``metrics.k8s.io/v1beta1`` (served by :mod:`infleet.apiserver.metrics_api`).

Read-only and never stored: ``NodeMetrics`` and ``PodMetrics`` are computed from the kubelets on each
request, as metrics-server computes them.
"""

from __future__ import annotations

from infleet.api.kubernetes import NODE_METRICS as NODE_METRICS_KIND
from infleet.api.kubernetes import POD_METRICS as POD_METRICS_KIND
from infleet.apiserver.resources import ResourceType

GROUP, VERSION = NODE_METRICS_KIND.group, NODE_METRICS_KIND.version
API_VERSION = NODE_METRICS_KIND.api_version

_USAGE_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string", "x-kubernetes-int-or-string": True},
}
NODE_METRICS = ResourceType(
    group=NODE_METRICS_KIND.group,
    version=NODE_METRICS_KIND.version,
    kind=NODE_METRICS_KIND.kind,
    plural=NODE_METRICS_KIND.plural,
    singular="",
    namespaced=NODE_METRICS_KIND.namespaced,
    verbs=("get", "list"),
    has_status=False,
    builtin=False,
    schema={
        "type": "object",
        "properties": {"timestamp": {"type": "string"}, "window": {"type": "string"}, "usage": _USAGE_SCHEMA},
    },
)
POD_METRICS = ResourceType(
    group=POD_METRICS_KIND.group,
    version=POD_METRICS_KIND.version,
    kind=POD_METRICS_KIND.kind,
    plural=POD_METRICS_KIND.plural,
    singular="",
    namespaced=POD_METRICS_KIND.namespaced,
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
