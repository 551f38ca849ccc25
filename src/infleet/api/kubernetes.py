"""The built-in Kubernetes kinds Infleet reads and writes, by API group and version.

Identity only (group, version, kind, plural, scope): Infleet does not model their schemas. The embedded
API server serves these same kinds, built from these constants.
"""

from __future__ import annotations

from dataclasses import replace

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
SERVICE_ACCOUNT = ResourceKind("", "v1", "ServiceAccount", "serviceaccounts")
PERSISTENT_VOLUME_CLAIM = ResourceKind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
PERSISTENT_VOLUME = ResourceKind("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False)
REPLICATION_CONTROLLER = ResourceKind("", "v1", "ReplicationController", "replicationcontrollers")
RESOURCE_QUOTA = ResourceKind("", "v1", "ResourceQuota", "resourcequotas")
LIMIT_RANGE = ResourceKind("", "v1", "LimitRange", "limitranges")

# apps/v1
DEPLOYMENT = ResourceKind("apps", "v1", "Deployment", "deployments")
STATEFULSET = ResourceKind("apps", "v1", "StatefulSet", "statefulsets")
REPLICASET = ResourceKind("apps", "v1", "ReplicaSet", "replicasets")
DAEMONSET = ResourceKind("apps", "v1", "DaemonSet", "daemonsets")
CONTROLLER_REVISION = ResourceKind("apps", "v1", "ControllerRevision", "controllerrevisions")

# batch/v1
JOB = ResourceKind("batch", "v1", "Job", "jobs")
CRONJOB = ResourceKind("batch", "v1", "CronJob", "cronjobs")

# policy/v1 (read where served: a real cluster may not serve it, so readers allow its absence)
POD_DISRUPTION_BUDGET = ResourceKind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets")

# autoscaling/v2, and autoscaling/v1 for older clients (one object, two shapes)
HORIZONTAL_POD_AUTOSCALER = ResourceKind(
    "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"
)
HORIZONTAL_POD_AUTOSCALER_V1 = replace(HORIZONTAL_POD_AUTOSCALER, version="v1")

# networking.k8s.io/v1
INGRESS = ResourceKind("networking.k8s.io", "v1", "Ingress", "ingresses")
INGRESS_CLASS = ResourceKind("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False)
NETWORK_POLICY = ResourceKind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies")

# discovery.k8s.io/v1
ENDPOINT_SLICE = ResourceKind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices")

# storage.k8s.io/v1
STORAGE_CLASS = ResourceKind("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False)

# scheduling.k8s.io/v1
PRIORITY_CLASS = ResourceKind("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False)

# rbac.authorization.k8s.io/v1 (stored; the embedded clusters' single user is cluster-admin)
ROLE = ResourceKind("rbac.authorization.k8s.io", "v1", "Role", "roles")
CLUSTER_ROLE = ResourceKind(
    "rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False
)
ROLE_BINDING = ResourceKind("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings")
CLUSTER_ROLE_BINDING = ResourceKind(
    "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False
)

# authorization.k8s.io/v1 and authentication.k8s.io/v1: reviews, answered and never stored
SELF_SUBJECT_ACCESS_REVIEW = ResourceKind(
    "authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", namespaced=False
)
SELF_SUBJECT_RULES_REVIEW = ResourceKind(
    "authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", namespaced=False
)
SELF_SUBJECT_REVIEW = ResourceKind(
    "authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False
)

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
