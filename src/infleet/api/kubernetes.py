"""The built-in Kubernetes kinds Infleet reads and writes, by API group and version.

Identity only (group, version, kind, plural, scope): Infleet does not model their schemas. The embedded
API server serves these same kinds, built from these constants.
"""

from __future__ import annotations

from infleet.api.resource_kind import ResourceKind

# core/v1
POD = ResourceKind("", "v1", "Pod", "pods")
NODE = ResourceKind("", "v1", "Node", "nodes", namespaced=False)
NAMESPACE = ResourceKind("", "v1", "Namespace", "namespaces", namespaced=False)
SERVICE = ResourceKind("", "v1", "Service", "services")
ENDPOINTS = ResourceKind("", "v1", "Endpoints", "endpoints")
CONFIGMAP = ResourceKind("", "v1", "ConfigMap", "configmaps")
SECRET = ResourceKind("", "v1", "Secret", "secrets")
EVENT = ResourceKind("", "v1", "Event", "events")

# apps/v1
DEPLOYMENT = ResourceKind("apps", "v1", "Deployment", "deployments")
STATEFULSET = ResourceKind("apps", "v1", "StatefulSet", "statefulsets")

# policy/v1 (read where served: the embedded API server does not serve it, so readers allow its absence)
POD_DISRUPTION_BUDGET = ResourceKind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets")

# coordination.k8s.io/v1
LEASE = ResourceKind("coordination.k8s.io", "v1", "Lease", "leases")

# apiextensions.k8s.io/v1
CUSTOM_RESOURCE_DEFINITION = ResourceKind(
    "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False
)

#: The namespace node heartbeat Leases live in.
NODE_LEASE_NAMESPACE = "kube-node-lease"

# metrics.k8s.io/v1beta1: read-only, computed from the kubelets (metrics-server's API, behind `kubectl top`)
NODE_METRICS = ResourceKind("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", namespaced=False)
POD_METRICS = ResourceKind("metrics.k8s.io", "v1beta1", "PodMetrics", "pods")
