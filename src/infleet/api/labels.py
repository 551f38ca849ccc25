"""Every well-known label, annotation, taint and extended-resource name Infleet reads or writes.

One home for each key, below every layer: the models controller, the simulated clusters, the gateway
and (later) the fleet and compute layers read the same constants, so a key is spelled once. A test
checks that no other module spells a key of this form.
"""

from __future__ import annotations

# -- Kubernetes (kubernetes.io, k8s.io) ------------------------------------------------------------
HOSTNAME_LABEL = "kubernetes.io/hostname"
OS_LABEL = "kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
#: ``node-role.kubernetes.io/<role>``: the roles ``kubectl get nodes`` shows.
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
#: The older single-label form of a node's role (``kubernetes.io/role=<role>``).
NODE_ROLE_LABEL = "kubernetes.io/role"
#: On a Job's pods and in its generated selector: the Job's uid and name.
JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
#: The storage class a claim or volume names in the annotation that predates ``storageClassName``.
STORAGE_CLASS_BETA_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
#: On an autoscaling/v1 HorizontalPodAutoscaler: what its v2 form says that v1 cannot.
HPA_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
HPA_BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
#: The taint the node lifecycle controller puts on a node whose heartbeat stopped.
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
#: Taints kube puts on cordoned and not-ready nodes; DaemonSet pods tolerate every ``node.kubernetes.io/``
#: condition taint.
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
NODE_CONDITION_TAINT_PREFIX = "node.kubernetes.io/"
#: On a Job a CronJob started: the start time it was scheduled for, in the CronJob's time zone.
CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
#: On the default RBAC objects kube-apiserver bootstraps (cluster-admin and its binding).
RBAC_AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING_LABEL = "kubernetes.io/bootstrapping"
#: Free-text description kube sets on objects it creates (the kube-root-ca.crt ConfigMap).
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
STATEFULSET_POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
#: Annotation on the BOOKMARK that ends a watch's initial events (``sendInitialEvents``).
INITIAL_EVENTS_END_ANNOTATION = "k8s.io/initial-events-end"
#: What ``kubectl apply`` records on an object; never copied into a member.
KUBECTL_LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
APP_NAME_LABEL = "app.kubernetes.io/name"
APP_INSTANCE_LABEL = "app.kubernetes.io/instance"
APP_COMPONENT_LABEL = "app.kubernetes.io/component"
APP_MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# An EndpointSlice's Service and the controller that writes it (discovery.k8s.io/v1).
ENDPOINT_SLICE_SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ENDPOINT_SLICE_MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
# What kube's Deployment controller writes on Deployments and their ReplicaSets (rollout history, undo).
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"

# -- GPUs: the extended resource and GPU Feature Discovery's node labels ---------------------------
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_COUNT_LABEL = "nvidia.com/gpu.count"
GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"
# Karpenter's AWS and Azure providers name an instance type's GPU with these (values such as h100).
AWS_INSTANCE_GPU_NAME_LABEL = "karpenter.k8s.aws/instance-gpu-name"
AZURE_SKU_GPU_NAME_LABEL = "karpenter.azure.com/sku-gpu-name"

# -- Karpenter ----------------------------------------------------------------------------------------
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"

# -- Prometheus scrape annotations ----------------------------------------------------------------
PROMETHEUS_SCRAPE_ANNOTATION = "prometheus.io/scrape"
PROMETHEUS_PORT_ANNOTATION = "prometheus.io/port"
PROMETHEUS_PATH_ANNOTATION = "prometheus.io/path"

# -- Infleet: nodes ------------------------------------------------------------------------------------
#: The catalog SKU of the GPUs on a node the compute layer provisioned.
GPU_SKU_LABEL = "aitoolchain.io/gpu-sku"
CLOUD_LABEL = "infleet.io/cloud"
NODE_POOL_LABEL = "infleet.io/node-pool"
#: Hourly price of a whole node, where the provider (or the simulated cluster) labels it.
PRICE_LABEL = "infleet.io/price-per-hour"

# -- Infleet: workloads the models controller renders -------------------------------------------------
MODEL_DEPLOYMENT_LABEL = "aitoolchain.io/model-deployment"
REPLICA_GROUP_LABEL = "aitoolchain.io/replica-group"
RENDERED_HASH_ANNOTATION = "aitoolchain.io/rendered-hash"
#: The served model name, as a pod label and (unshortened) as an annotation.
MODEL_LABEL = "aitoolchain.io/model"
MODEL_ANNOTATION = MODEL_LABEL
GPU_SKU_ANNOTATION = GPU_SKU_LABEL
WEIGHTS_ANNOTATION = "aitoolchain.io/weights-gib"
#: A pod's serving endpoint (``host:port``) where it differs from the pod IP and container port.
ENDPOINT_ANNOTATION = "aitoolchain.io/endpoint"
#: Set on a ModelDeployment (by the gateway) to wake it from zero replicas.
WAKE_ANNOTATION = "aitoolchain.io/wake-requested-at"

# -- The simulated cluster: how a simulated pod runs --------------------------------------------------
#: The loopback port the simulated kubelet started a pod's engine on.
ENGINE_PORT_ANNOTATION = "sim.infleet.io/engine-port"
ENGINE_KIND_ANNOTATION = "sim.infleet.io/engine"
ENGINE_MODEL_ANNOTATION = "sim.infleet.io/model"
IMAGE_PULL_SECONDS_ANNOTATION = "sim.infleet.io/image-pull-seconds"
MODEL_LOAD_SECONDS_ANNOTATION = "sim.infleet.io/model-load-seconds"
READY_SECONDS_ANNOTATION = "sim.infleet.io/ready-seconds"
RUN_SECONDS_ANNOTATION = "sim.infleet.io/run-seconds"
EXIT_CODE_ANNOTATION = "sim.infleet.io/exit-code"
FAIL_ANNOTATION = "sim.infleet.io/fail"
IMAGE_PULL_FACTOR_ANNOTATION = "sim.infleet.io/image-pull-factor"

# -- KubeFleet (kubernetes-fleet.io): the labels and annotations its hub writes ---------------------
#: The hub labels each MemberCluster with its own name, so selectors can pick clusters by name.
MEMBER_NAME_LABEL = "kubernetes-fleet.io/member-name"
#: Snapshots, bindings and Works name the placement they belong to.
PARENT_PLACEMENT_LABEL = "kubernetes-fleet.io/parent-CRP"
PARENT_NAMESPACE_LABEL = "kubernetes-fleet.io/parent-namespace"
PARENT_BINDING_LABEL = "kubernetes-fleet.io/parent-resource-binding"
IS_LATEST_SNAPSHOT_LABEL = "kubernetes-fleet.io/is-latest-snapshot"
POLICY_INDEX_LABEL = "kubernetes-fleet.io/policy-index"
RESOURCE_INDEX_LABEL = "kubernetes-fleet.io/resource-index"
RESOURCE_HASH_ANNOTATION = "kubernetes-fleet.io/resource-hash"
NUMBER_OF_CLUSTERS_ANNOTATION = "kubernetes-fleet.io/number-of-clusters"
PLACEMENT_GENERATION_ANNOTATION = "kubernetes-fleet.io/CRP-generation"
#: What a Work applier stamps on each object it owns in a member cluster.
LAST_APPLIED_ANNOTATION = "kubernetes-fleet.io/last-applied-configuration"
MANIFEST_HASH_ANNOTATION = "kubernetes-fleet.io/spec-hash"
#: Finalizers: a placement keeps its bindings and Works until they are gone; a Work its applied objects;
#: a MemberCluster its hub namespace, InternalMemberCluster and Works until the member has left.
PLACEMENT_CLEANUP_FINALIZER = "kubernetes-fleet.io/crp-cleanup"
WORK_CLEANUP_FINALIZER = "kubernetes-fleet.io/work-cleanup"
MEMBER_CLUSTER_FINALIZER = "kubernetes-fleet.io/membercluster-finalizer"

# -- Infleet's fleet additions ------------------------------------------------------------------------
#: Placement annotation: "false" turns automatic failover off for that placement.
FAILOVER_ANNOTATION = "fleet.aitoolchain.io/failover"
#: MemberCluster annotation: the labels (comma-separated keys) the hub mirrored from reported properties
#: (region, cloud), so a later property change updates them while a label the user set is never touched.
MIRRORED_LABELS_ANNOTATION = "fleet.aitoolchain.io/mirrored-labels"
#: Placement annotation: seconds a member may be unhealthy before its bindings move (default 60).
FAILOVER_AFTER_ANNOTATION = "fleet.aitoolchain.io/failover-after-seconds"

# -- Karpenter (karpenter.sh): the keys its users' NodePools, nodes and pods already carry ---------
NODEPOOL_LABEL = "karpenter.sh/nodepool"
NODECLAIM_LABEL = "karpenter.sh/nodeclaim"
NODE_REGISTERED_LABEL = "karpenter.sh/registered"
NODE_INITIALIZED_LABEL = "karpenter.sh/initialized"
#: On a Node until its NodeClaim has registered it (NoExecute), as Karpenter does.
UNREGISTERED_TAINT = "karpenter.sh/unregistered"
#: On a Node the disruption controller is about to take away (NoSchedule).
DISRUPTION_TAINT = "karpenter.sh/disruption"
#: On a pod or node: never disrupt voluntarily.
DO_NOT_DISRUPT_ANNOTATION = "karpenter.sh/do-not-disrupt"
NODEPOOL_HASH_ANNOTATION = "karpenter.sh/nodepool-hash"
#: On a NodeClaim: which way of hashing wrote ``karpenter.sh/nodepool-hash`` (a new way is no drift).
NODEPOOL_HASH_VERSION_ANNOTATION = "karpenter.sh/nodepool-hash-version"
#: Infleet: on a NodeClaim, the hash of its FlexNodeClass's spec when it was created (node class drift).
NODECLASS_HASH_ANNOTATION = "compute.aitoolchain.io/flexnodeclass-hash"
TERMINATION_FINALIZER = "karpenter.sh/termination"
#: Infleet: the FlexNodeClass cloud a node came from, and its capacity type's price.
NODECLASS_LABEL = "compute.aitoolchain.io/flexnodeclass"
#: Infleet: on a NodeClaim whose instance the cloud takes back, the wall-clock second (epoch) the cloud
#: reclaims it; termination drains ahead of it, whatever PDBs or do-not-disrupt say.
INTERRUPTION_DEADLINE_ANNOTATION = "compute.aitoolchain.io/interruption-deadline"
#: Infleet: on a replacement NodeClaim, the NodeClaim it replaces (consolidation or a spot reclaim).
REPLACES_ANNOTATION = "compute.aitoolchain.io/replaces"
