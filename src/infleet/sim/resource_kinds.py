"""The built-in kinds the simulated cluster reads and writes, and the label and annotation keys it uses.

Every sim controller names resources through these constants, so a kind is spelled once.
"""

from __future__ import annotations

from infleet.kube.resource_kind import ResourceKind

POD = ResourceKind("", "v1", "Pod", "pods")
NODE = ResourceKind("", "v1", "Node", "nodes", namespaced=False)
SERVICE = ResourceKind("", "v1", "Service", "services")
ENDPOINTS = ResourceKind("", "v1", "Endpoints", "endpoints")
CONFIGMAP = ResourceKind("", "v1", "ConfigMap", "configmaps")
LEASE = ResourceKind("coordination.k8s.io", "v1", "Lease", "leases")
DEPLOYMENT = ResourceKind("apps", "v1", "Deployment", "deployments")
STATEFULSET = ResourceKind("apps", "v1", "StatefulSet", "statefulsets")

GPU_RESOURCE = "nvidia.com/gpu"
NODE_LEASE_NAMESPACE = "kube-node-lease"
POD_TEMPLATE_HASH = "pod-template-hash"
EVENT_KIND = ResourceKind("", "v1", "Event", "events")
