"""The built-in Kubernetes kinds the server serves, as one table: identity, discovery facts, columns.

Identity comes from :mod:`infleet.api.kubernetes`; schemas from the upstream OpenAPI definitions
(``builtin_schemas``). Columns mirror kube-apiserver's table printers, including the priority-1
columns kubectl shows with ``-o wide``; a kind kube-apiserver prints with no printer of its own gets
its default NAME / CREATED AT table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infleet.api import kubernetes as k8s
from infleet.api.resource_kind import ResourceKind
from infleet.apiserver import resource_printers as rp
from infleet.apiserver import workload_printers as wp
from infleet.apiserver.printer_cells import dig, number
from infleet.apiserver.resources import ResourceType, ScaleSubresource
from infleet.apiserver.tables import ComputedColumn, PrinterColumn

Column = PrinterColumn | ComputedColumn
WIDE = 1  # kubectl shows priority-1 columns only with -o wide


def _path(name: str, type_: str, path: str, priority: int = 0) -> PrinterColumn:
    return PrinterColumn(name=name, type=type_, json_path=path, priority=priority)


def _cell(name: str, type_: str, render: Any, priority: int = 0) -> ComputedColumn:
    return ComputedColumn(name=name, type=type_, render=render, priority=priority)


def _count(name: str, path: str) -> ComputedColumn:
    """An integer column that reads 0 when the field is unset (kube-apiserver prints int64 zeroes)."""
    keys = tuple(path.split("."))
    return _cell(name, "integer", lambda obj, _now: number(dig(obj, *keys)))


AGE = _path("Age", "date", ".metadata.creationTimestamp")
CREATED_AT = _cell("Created At", "date", rp.created_at)
_TEMPLATE_WIDE = (
    _cell("Containers", "string", wp.template_containers, WIDE),
    _cell("Images", "string", wp.template_images, WIDE),
)
_WORKLOAD_WIDE = (*_TEMPLATE_WIDE, _cell("Selector", "string", wp.selector, WIDE))
_BINDING_COLUMNS = (
    _cell("Role", "string", rp.role_ref),
    AGE,
    _cell("Users", "string", rp.binding_subjects("User"), WIDE),
    _cell("Groups", "string", rp.binding_subjects("Group"), WIDE),
    _cell("ServiceAccounts", "string", rp.binding_subjects("ServiceAccount"), WIDE),
)
_EVENT_FIELDS = {
    f"involvedObject.{name}": f".involvedObject.{name}"
    for name in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
}


@dataclass(frozen=True)
class BuiltinKind:
    """One row of the table: a kind and how it is served."""

    kind: ResourceKind
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = True
    scale: bool = False
    columns: tuple[Column, ...] = (CREATED_AT,)
    selectable_fields: Mapping[str, str] = field(default_factory=dict)
    extra_subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] | None = None

    def resource(self) -> ResourceType:
        extra: dict[str, Any] = {"verbs": self.verbs} if self.verbs is not None else {}
        return ResourceType(
            group=self.kind.group,
            version=self.kind.version,
            kind=self.kind.kind,
            plural=self.kind.plural,
            singular=self.kind.kind.lower(),
            namespaced=self.kind.namespaced,
            short_names=self.short_names,
            categories=self.categories,
            has_status=self.has_status,
            scale=ScaleSubresource(label_selector_path=".spec.selector") if self.scale else None,
            columns=self.columns,
            selectable_fields=self.selectable_fields,
            extra_subresources=self.extra_subresources,
            **extra,
        )


_HPA_COLUMNS = (
    _cell("Reference", "string", rp.hpa_reference),
    _cell("Targets", "string", rp.hpa_targets),
    _cell("MinPods", "string", rp.hpa_min_pods),
    _cell("MaxPods", "integer", lambda obj, _now: (obj.get("spec") or {}).get("maxReplicas")),
    _cell("Replicas", "integer", rp.hpa_replicas),
    AGE,
)

BUILTIN_KINDS: tuple[BuiltinKind, ...] = (
    # core/v1
    BuiltinKind(k8s.NAMESPACE, ("ns",), columns=(_cell("Status", "string", rp.namespace_status), AGE)),
    BuiltinKind(
        k8s.NODE,
        ("no",),
        columns=(
            _cell("Status", "string", rp.node_status),
            _cell("Roles", "string", rp.node_roles),
            AGE,
            _path("Version", "string", ".status.nodeInfo.kubeletVersion"),
            _cell("Internal-IP", "string", rp.node_address("InternalIP"), WIDE),
            _cell("External-IP", "string", rp.node_address("ExternalIP"), WIDE),
            _cell("OS-Image", "string", rp.node_info("osImage"), WIDE),
            _cell("Kernel-Version", "string", rp.node_info("kernelVersion"), WIDE),
            _cell("Container-Runtime", "string", rp.node_info("containerRuntimeVersion"), WIDE),
        ),
    ),
    BuiltinKind(
        k8s.POD,
        ("po",),
        ("all",),
        columns=(
            _cell("Ready", "string", wp.pod_ready),
            _cell("Status", "string", wp.pod_status),
            _cell("Restarts", "string", wp.pod_restarts),
            AGE,
            _cell("IP", "string", wp.pod_ip, WIDE),
            _cell("Node", "string", wp.pod_node, WIDE),
            _cell("Nominated Node", "string", wp.pod_nominated_node, WIDE),
            _cell("Readiness Gates", "string", wp.pod_readiness_gates, WIDE),
        ),
        selectable_fields={"spec.nodeName": ".spec.nodeName", "status.phase": ".status.phase"},
        extra_subresources=("binding", "log", "exec", "attach", "portforward", "eviction"),
    ),
    BuiltinKind(
        k8s.SERVICE,
        ("svc",),
        ("all",),
        columns=(
            _path("Type", "string", ".spec.type"),
            _cell("Cluster-IP", "string", rp.service_cluster_ip),
            _cell("External-IP", "string", rp.service_external_ip),
            _cell("Port(s)", "string", rp.service_ports),
            AGE,
            _cell("Selector", "string", rp.service_selector, WIDE),
        ),
    ),
    BuiltinKind(
        k8s.ENDPOINTS, ("ep",), has_status=False, columns=(_cell("Endpoints", "string", rp.endpoints), AGE)
    ),
    BuiltinKind(
        k8s.CONFIGMAP, ("cm",), has_status=False, columns=(_cell("Data", "integer", rp.data_count), AGE)
    ),
    BuiltinKind(
        k8s.SECRET,
        has_status=False,
        columns=(_path("Type", "string", ".type"), _cell("Data", "integer", rp.data_count), AGE),
        selectable_fields={"type": ".type"},
    ),
    BuiltinKind(
        k8s.EVENT,
        ("ev",),
        has_status=False,
        columns=(
            _cell("Last Seen", "string", rp.event_last_seen),
            _path("Type", "string", ".type"),
            _path("Reason", "string", ".reason"),
            _cell("Object", "string", rp.event_object),
            _path("Subobject", "string", ".involvedObject.fieldPath", WIDE),
            _cell("Source", "string", rp.event_source, WIDE),
            _cell("Message", "string", rp.event_message),
            _cell("First Seen", "string", rp.event_first_seen, WIDE),
            _cell("Count", "integer", rp.event_count, WIDE),
            _cell("Name", "string", rp.event_name, WIDE),
        ),
        selectable_fields={
            **_EVENT_FIELDS,
            "reason": ".reason",
            "type": ".type",
            "source": ".source.component",
            "reportingComponent": ".reportingComponent",
        },
    ),
    BuiltinKind(
        k8s.SERVICE_ACCOUNT,
        ("sa",),
        has_status=False,
        columns=(_cell("Secrets", "integer", rp.service_account_secrets), AGE),
    ),
    BuiltinKind(
        k8s.PERSISTENT_VOLUME_CLAIM,
        ("pvc",),
        columns=(
            _cell("Status", "string", rp.claim_status),
            _path("Volume", "string", ".spec.volumeName"),
            _cell("Capacity", "string", rp.claim_capacity),
            _cell("Access Modes", "string", rp.claim_access_modes),
            _cell("StorageClass", "string", rp.storage_class_of),
            _cell("VolumeAttributesClass", "string", rp.volume_attributes_class),
            AGE,
            _cell("VolumeMode", "string", rp.volume_mode, WIDE),
        ),
    ),
    BuiltinKind(
        k8s.PERSISTENT_VOLUME,
        ("pv",),
        columns=(
            _cell("Capacity", "string", rp.volume_capacity),
            _cell("Access Modes", "string", rp.volume_access_modes),
            _path("Reclaim Policy", "string", ".spec.persistentVolumeReclaimPolicy"),
            _cell("Status", "string", rp.volume_status),
            _cell("Claim", "string", rp.volume_claim),
            _cell("StorageClass", "string", rp.storage_class_of),
            _cell("VolumeAttributesClass", "string", rp.volume_attributes_class),
            _path("Reason", "string", ".status.reason"),
            AGE,
            _cell("VolumeMode", "string", rp.volume_mode, WIDE),
        ),
    ),
    BuiltinKind(
        k8s.REPLICATION_CONTROLLER,
        ("rc",),
        ("all",),
        scale=True,
        columns=(
            _count("Desired", "spec.replicas"),
            _count("Current", "status.replicas"),
            _count("Ready", "status.readyReplicas"),
            AGE,
            *_TEMPLATE_WIDE,
            _cell("Selector", "string", wp.rc_selector, WIDE),
        ),
    ),
    BuiltinKind(
        k8s.RESOURCE_QUOTA,
        ("quota",),
        columns=(
            _cell("Request", "string", rp.quota_usage(limits=False)),
            _cell("Limit", "string", rp.quota_usage(limits=True)),
            AGE,
        ),
    ),
    BuiltinKind(k8s.LIMIT_RANGE, ("limits",), has_status=False),
    # apps/v1
    BuiltinKind(
        k8s.DEPLOYMENT,
        ("deploy",),
        ("all",),
        scale=True,
        columns=(
            _cell("Ready", "string", wp.ready_of_desired),
            _count("Up-to-date", "status.updatedReplicas"),
            _count("Available", "status.availableReplicas"),
            AGE,
            *_TEMPLATE_WIDE,
            _cell("Selector", "string", wp.deployment_selector, WIDE),
        ),
    ),
    BuiltinKind(
        k8s.STATEFULSET,
        ("sts",),
        ("all",),
        scale=True,
        columns=(_cell("Ready", "string", wp.ready_of_desired), AGE, *_TEMPLATE_WIDE),
    ),
    BuiltinKind(
        k8s.REPLICASET,
        ("rs",),
        ("all",),
        scale=True,
        columns=(
            _count("Desired", "spec.replicas"),
            _count("Current", "status.replicas"),
            _count("Ready", "status.readyReplicas"),
            AGE,
            *_WORKLOAD_WIDE,
        ),
    ),
    BuiltinKind(
        k8s.DAEMONSET,
        ("ds",),
        ("all",),
        columns=(
            _count("Desired", "status.desiredNumberScheduled"),
            _count("Current", "status.currentNumberScheduled"),
            _count("Ready", "status.numberReady"),
            _count("Up-to-date", "status.updatedNumberScheduled"),
            _count("Available", "status.numberAvailable"),
            _cell("Node Selector", "string", wp.daemonset_node_selector),
            AGE,
            *_WORKLOAD_WIDE,
        ),
    ),
    BuiltinKind(
        k8s.CONTROLLER_REVISION,
        has_status=False,
        columns=(
            _cell("Controller", "string", wp.controller_revision_controller),
            _path("Revision", "integer", ".revision"),
            AGE,
        ),
    ),
    # batch/v1
    BuiltinKind(
        k8s.JOB,
        categories=("all",),
        columns=(
            _cell("Status", "string", wp.job_status),
            _cell("Completions", "string", wp.job_completions),
            _cell("Duration", "string", wp.job_duration),
            AGE,
            *_WORKLOAD_WIDE,
        ),
    ),
    BuiltinKind(
        k8s.CRONJOB,
        ("cj",),
        ("all",),
        columns=(
            _path("Schedule", "string", ".spec.schedule"),
            _cell("Timezone", "string", wp.cronjob_timezone),
            _cell("Suspend", "boolean", wp.cronjob_suspend),
            _cell("Active", "integer", wp.cronjob_active),
            _cell("Last Schedule", "string", wp.cronjob_last_schedule),
            AGE,
            _cell("Containers", "string", wp.cronjob_containers, WIDE),
            _cell("Images", "string", wp.cronjob_images, WIDE),
            _cell("Selector", "string", wp.cronjob_selector, WIDE),
        ),
    ),
    # autoscaling/v2 and v1
    BuiltinKind(k8s.HORIZONTAL_POD_AUTOSCALER, ("hpa",), ("all",), columns=_HPA_COLUMNS),
    BuiltinKind(k8s.HORIZONTAL_POD_AUTOSCALER_V1, ("hpa",), ("all",), columns=_HPA_COLUMNS),
    # policy/v1
    BuiltinKind(
        k8s.POD_DISRUPTION_BUDGET,
        ("pdb",),
        columns=(
            _cell("Min Available", "string", wp.pdb_bound("minAvailable")),
            _cell("Max Unavailable", "string", wp.pdb_bound("maxUnavailable")),
            _cell("Allowed Disruptions", "integer", wp.pdb_allowed),
            AGE,
        ),
    ),
    # networking.k8s.io/v1
    BuiltinKind(
        k8s.INGRESS,
        ("ing",),
        columns=(
            _cell("Class", "string", rp.ingress_class),
            _cell("Hosts", "string", rp.ingress_hosts),
            _cell("Address", "string", rp.ingress_address),
            _cell("Ports", "string", rp.ingress_ports),
            AGE,
        ),
    ),
    BuiltinKind(
        k8s.INGRESS_CLASS,
        has_status=False,
        columns=(
            _path("Controller", "string", ".spec.controller"),
            _cell("Parameters", "string", rp.ingress_class_parameters),
            AGE,
        ),
    ),
    BuiltinKind(
        k8s.NETWORK_POLICY,
        ("netpol",),
        has_status=False,
        columns=(_cell("Pod-Selector", "string", rp.network_policy_pod_selector), AGE),
    ),
    # discovery.k8s.io/v1
    BuiltinKind(
        k8s.ENDPOINT_SLICE,
        has_status=False,
        columns=(
            _path("AddressType", "string", ".addressType"),
            _cell("Ports", "string", rp.endpoint_slice_ports),
            _cell("Endpoints", "string", rp.endpoint_slice_endpoints),
            AGE,
        ),
    ),
    # storage.k8s.io/v1
    BuiltinKind(
        k8s.STORAGE_CLASS,
        ("sc",),
        has_status=False,
        columns=(
            _path("Provisioner", "string", ".provisioner"),
            _cell("ReclaimPolicy", "string", rp.storage_class_reclaim_policy),
            _cell("VolumeBindingMode", "string", rp.storage_class_binding_mode),
            _cell("AllowVolumeExpansion", "boolean", rp.storage_class_expansion),
            AGE,
        ),
    ),
    # scheduling.k8s.io/v1
    BuiltinKind(
        k8s.PRIORITY_CLASS,
        ("pc",),
        has_status=False,
        columns=(
            _path("Value", "integer", ".value"),
            _path("Global-Default", "boolean", ".globalDefault"),
            AGE,
            _cell("PreemptionPolicy", "string", rp.priority_class_preemption),
        ),
    ),
    # rbac.authorization.k8s.io/v1
    BuiltinKind(k8s.ROLE, has_status=False),
    BuiltinKind(k8s.CLUSTER_ROLE, has_status=False),
    BuiltinKind(k8s.ROLE_BINDING, has_status=False, columns=_BINDING_COLUMNS),
    BuiltinKind(k8s.CLUSTER_ROLE_BINDING, has_status=False, columns=_BINDING_COLUMNS),
    # reviews: create-only, answered by ``access_reviews``
    BuiltinKind(k8s.SELF_SUBJECT_ACCESS_REVIEW, has_status=False, verbs=("create",), columns=()),
    BuiltinKind(k8s.SELF_SUBJECT_RULES_REVIEW, has_status=False, verbs=("create",), columns=()),
    BuiltinKind(k8s.SELF_SUBJECT_REVIEW, has_status=False, verbs=("create",), columns=()),
    # coordination.k8s.io/v1, apiextensions.k8s.io/v1
    BuiltinKind(
        k8s.LEASE, has_status=False, columns=(_path("Holder", "string", ".spec.holderIdentity"), AGE)
    ),
    BuiltinKind(k8s.CUSTOM_RESOURCE_DEFINITION, ("crd", "crds")),
)


def builtin_resources() -> list[ResourceType]:
    """Every built-in resource type, in discovery order."""
    return [row.resource() for row in BUILTIN_KINDS]
