"""Every Infleet CustomResourceDefinition, generated from the API types, and the files under deploy/crds.

``infleet crds`` (and ``make crds``) call :func:`write_crds`; a test checks the committed files equal
:func:`all_crds`. Each layer adds its kind to :func:`all_crds`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from infleet.api.aitoolchain_io.v1 import model_deployment
from infleet.api.cluster_kubernetes_fleet_io.v1beta1 import member_cluster
from infleet.api.compute_aitoolchain_io.v1alpha1 import flex_node_class
from infleet.api.crd import CRDInfo, custom_resource_definition, to_yaml
from infleet.api.gateway_aitoolchain_io.v1alpha1 import gateway_key, model_route
from infleet.api.inference_networking_k8s_io.v1 import inference_pool
from infleet.api.karpenter_sh.v1 import node_claim, node_pool
from infleet.api.placement_kubernetes_fleet_io.v1beta1 import binding, placement, snapshots, work

_KINDS: tuple[tuple[CRDInfo, type[BaseModel], type[BaseModel] | None], ...] = (
    (model_deployment.CRD_INFO, model_deployment.ModelDeploymentSpec, model_deployment.ModelDeploymentStatus),
    (member_cluster.MEMBER_CLUSTER_CRD, member_cluster.MemberClusterSpec, member_cluster.MemberClusterStatus),
    (
        member_cluster.INTERNAL_MEMBER_CLUSTER_CRD,
        member_cluster.InternalMemberClusterSpec,
        member_cluster.InternalMemberClusterStatus,
    ),
    (placement.CLUSTER_RESOURCE_PLACEMENT_CRD, placement.PlacementSpec, placement.PlacementStatus),
    (placement.RESOURCE_PLACEMENT_CRD, placement.PlacementSpec, placement.PlacementStatus),
    (
        snapshots.CLUSTER_SCHEDULING_POLICY_SNAPSHOT_CRD,
        snapshots.SchedulingPolicySnapshotSpec,
        snapshots.SchedulingPolicySnapshotStatus,
    ),
    (
        snapshots.SCHEDULING_POLICY_SNAPSHOT_CRD,
        snapshots.SchedulingPolicySnapshotSpec,
        snapshots.SchedulingPolicySnapshotStatus,
    ),
    (
        snapshots.CLUSTER_RESOURCE_SNAPSHOT_CRD,
        snapshots.ResourceSnapshotSpec,
        snapshots.ResourceSnapshotStatus,
    ),
    (snapshots.RESOURCE_SNAPSHOT_CRD, snapshots.ResourceSnapshotSpec, snapshots.ResourceSnapshotStatus),
    (binding.CLUSTER_RESOURCE_BINDING_CRD, binding.ResourceBindingSpec, binding.ResourceBindingStatus),
    (binding.RESOURCE_BINDING_CRD, binding.ResourceBindingSpec, binding.ResourceBindingStatus),
    (work.WORK_CRD, work.WorkSpec, work.WorkStatus),
    (work.APPLIED_WORK_CRD, work.AppliedWorkSpec, work.AppliedWorkStatus),
    (node_pool.NODE_POOL_CRD, node_pool.NodePoolSpec, node_pool.NodePoolStatus),
    (node_claim.NODE_CLAIM_CRD, node_claim.NodeClaimSpec, node_claim.NodeClaimStatus),
    (
        flex_node_class.FLEX_NODE_CLASS_CRD,
        flex_node_class.FlexNodeClassSpec,
        flex_node_class.FlexNodeClassStatus,
    ),
    (model_route.MODEL_ROUTE_CRD, model_route.ModelRouteSpec, model_route.ModelRouteStatus),
    (gateway_key.GATEWAY_KEY_CRD, gateway_key.GatewayKeySpec, gateway_key.GatewayKeyStatus),
    (
        inference_pool.INFERENCE_POOL_CRD,
        inference_pool.InferencePoolSpec,
        inference_pool.InferencePoolStatus,
    ),
)


def all_crds() -> list[dict[str, Any]]:
    """The CRDs of all kinds, in a stable order."""
    return [custom_resource_definition(info, spec, status) for info, spec, status in _KINDS]


def crd_files() -> dict[str, str]:
    """File name (``<group>_<plural>.yaml``, as controller-gen names them) to YAML text."""
    files = {}
    for crd in all_crds():
        spec = crd["spec"]
        files[f"{spec['group']}_{spec['names']['plural']}.yaml"] = to_yaml(crd)
    return files


def write_crds(directory: Path) -> list[Path]:
    """Write every CRD into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in crd_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
