"""The hub's placement pipeline against an embedded hub whose members are played by the test (it writes
their InternalMemberCluster status as agents do): KubeFleet's documented manifests applied unchanged and
placed as its docs say, GPU fit refusing a cluster with the reason in status, invalid selectors, Works
written per cluster, ResourcePlacements, and deletion cleaning up."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    INTERNAL_MEMBER_CLUSTER,
    MEMBER_AGENT,
    MEMBER_CLUSTER,
)
from infleet.api.fleet_properties import NODE_COUNT, REGION
from infleet.api.kubernetes import CONFIGMAP, NAMESPACE
from infleet.api.placement_kubernetes_fleet_io.v1beta1.binding import (
    CLUSTER_RESOURCE_BINDING,
    RESOURCE_BINDING,
)
from infleet.api.placement_kubernetes_fleet_io.v1beta1.placement import (
    CLUSTER_RESOURCE_PLACEMENT,
    RESOURCE_PLACEMENT,
)
from infleet.api.placement_kubernetes_fleet_io.v1beta1.snapshots import (
    CLUSTER_RESOURCE_SNAPSHOT,
    CLUSTER_SCHEDULING_POLICY_SNAPSHOT,
)
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import WORK
from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.conditions import get_condition
from tests.fleet.hub.conftest import FleetHub, rfc3339_now, until
from tests.scheduling.placement.fleet import gpu_properties


async def join(hub: FleetHub, name: str, labels: dict[str, str], properties: dict[str, str]) -> None:
    """A MemberCluster that joins, with the properties its agent reports (60 s heartbeats: it stays fresh)."""
    member = {
        "apiVersion": MEMBER_CLUSTER.api_version,
        "kind": MEMBER_CLUSTER.kind,
        "metadata": {"name": name, "labels": labels},
        "spec": {"heartbeatPeriodSeconds": 60},
    }
    await hub.client.create(MEMBER_CLUSTER, member)
    await until(lambda: hub.get(INTERNAL_MEMBER_CLUSTER, name, f"fleet-member-{name}"), what="IMC")
    conditions = [
        {"type": kind, "status": "True", "reason": "Test", "message": "", "lastTransitionTime": rfc3339_now()}
        for kind in ("Joined", "Healthy")
    ]
    status = {
        "agentStatus": [
            {"type": MEMBER_AGENT, "lastReceivedHeartbeat": rfc3339_now(), "conditions": conditions}
        ],
        "properties": {key: {"value": value} for key, value in properties.items()},
    }
    await hub.client.patch(
        INTERNAL_MEMBER_CLUSTER, name, {"status": status}, f"fleet-member-{name}", subresource="status"
    )

    async def ready() -> bool:
        obj = await hub.get(MEMBER_CLUSTER, name) or {}
        conditions = (obj.get("status") or {}).get("conditions")
        return all(
            (get_condition(conditions, c) or {}).get("status") == "True" for c in ("Joined", "Healthy")
        )

    await until(ready, what=f"{name} joined and healthy")


async def namespace_with(hub: FleetHub, name: str, *objects: dict[str, Any]) -> None:
    await hub.client.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for obj in objects:
        kind = MODEL_DEPLOYMENT if obj["kind"] == MODEL_DEPLOYMENT.kind else CONFIGMAP
        await hub.client.create(kind, {**obj, "metadata": {**obj["metadata"], "namespace": name}}, name)


def config_map(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def model(name: str, model_name: str, replicas: int, gpu: int) -> dict[str, Any]:
    return {
        "apiVersion": MODEL_DEPLOYMENT.api_version,
        "kind": MODEL_DEPLOYMENT.kind,
        "metadata": {"name": name},
        "spec": {"model": model_name, "replicas": replicas, "resources": {"gpu": gpu}},
    }


async def bound_clusters(
    hub: FleetHub, placement: str, kind: ResourceKind = CLUSTER_RESOURCE_BINDING
) -> list[str]:
    bindings = (
        await hub.client.list(kind, label_selector=f"kubernetes-fleet.io/parent-CRP={placement}")
    ).items
    return sorted(b["spec"]["targetCluster"] for b in bindings if b["spec"]["state"] == "Bound")


async def scheduled(hub: FleetHub, name: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        crp = await hub.get(CLUSTER_RESOURCE_PLACEMENT, name) or {}
        condition = get_condition(
            (crp.get("status") or {}).get("conditions"), "ClusterResourcePlacementScheduled"
        )
        if condition is None or condition.get("status") == "Unknown":  # the scheduler has not decided yet
            return None
        return crp if condition.get("observedGeneration") == crp["metadata"]["generation"] else None

    placement: dict[str, Any] = await until(done, what=f"{name} scheduled")
    return placement


KUBEFLEET_DOCS = """
# From KubeFleet's documentation (concepts/crp, howtos/affinities, howtos/property-based-scheduling),
# unchanged but for the namespace's name.
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourcePlacement
metadata:
  name: crp-critical
spec:
  resourceSelectors:
    - group: ""
      kind: Namespace
      version: v1
      name: work
  policy:
    placementType: PickAll
    affinity:
      clusterAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          clusterSelectorTerms:
            - labelSelector:
                matchLabels:
                  system: critical
---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourcePlacement
metadata:
  name: crp-big-nodes
spec:
  resourceSelectors:
    - group: ""
      kind: Namespace
      version: v1
      name: work
  policy:
    placementType: PickN
    numberOfClusters: 1
    affinity:
      clusterAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          clusterSelectorTerms:
          - propertySelector:
              matchExpressions:
              - name: "kubernetes-fleet.io/node-count"
                operator: Ge
                values:
                - "5"
        preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 20
          preference:
            propertySorter:
              name: kubernetes-fleet.io/node-count
              sortOrder: Descending
---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourcePlacement
metadata:
  name: crp-fixed
spec:
  resourceSelectors:
    - group: ""
      kind: Namespace
      version: v1
      name: work
  policy:
    placementType: PickFixed
    clusterNames:
    - member1
    - member3
"""


async def test_kubefleet_documentation_manifests_place_as_its_docs_say(fleet_hub: FleetHub) -> None:
    await join(fleet_hub, "member1", {"system": "critical"}, {NODE_COUNT: "3"})
    await join(fleet_hub, "member2", {"system": "critical"}, {NODE_COUNT: "8"})
    await join(fleet_hub, "member3", {}, {NODE_COUNT: "6"})
    await namespace_with(fleet_hub, "work", config_map("settings"))
    for manifest in yaml.safe_load_all(KUBEFLEET_DOCS):
        await fleet_hub.client.create(CLUSTER_RESOURCE_PLACEMENT, manifest)
    expected = {
        "crp-critical": ["member1", "member2"],  # every cluster labelled system=critical
        "crp-big-nodes": ["member2"],  # node-count >= 5, the most nodes first
        "crp-fixed": ["member1", "member3"],
    }
    for name, clusters in expected.items():
        await until(
            lambda n=name, c=clusters: _bound_equals(fleet_hub, n, c), what=f"{name} bound to {clusters}"
        )
    big = await scheduled(fleet_hub, "crp-big-nodes")
    unselected = {u["clusterName"]: u["reason"] for u in big["status"]["unselectedClusters"]}
    assert "kubernetes-fleet.io/node-count" in unselected["member1"]  # 3 < 5, said so
    work = await until(lambda: fleet_hub.get(WORK, "crp-fixed-work", "fleet-member-member3"), what="Work")
    kinds = [(m["kind"], m["metadata"]["name"]) for m in work["spec"]["workload"]["manifests"]]
    assert kinds == [("Namespace", "work"), ("ConfigMap", "settings")]
    assert "uid" not in work["spec"]["workload"]["manifests"][1]["metadata"]


async def _bound_equals(hub: FleetHub, placement: str, clusters: list[str]) -> bool:
    return await bound_clusters(hub, placement) == clusters


async def test_gpu_fit_refuses_a_cluster_that_cannot_hold_the_model_and_says_why(fleet_hub: FleetHub) -> None:
    # Llama-3.1-70B at 2 replicas x 4 GPUs: "small" has only 2 free L4s, "big" has a free 8 x H100 node.
    await join(fleet_hub, "small", {}, gpu_properties("L4", nodes=2, per_node=1, free_nodes=2, price=0.8))
    await join(fleet_hub, "big", {}, gpu_properties("H100", nodes=2, per_node=8, free_nodes=1, price=3.0))
    await namespace_with(fleet_hub, "llm", model("llama", "meta-llama/Llama-3.1-70B-Instruct", 2, 4))
    await fleet_hub.client.create(CLUSTER_RESOURCE_PLACEMENT, placement("llama", "llm", n=2))
    crp = await scheduled(fleet_hub, "llama")
    scheduled_condition = get_condition(crp["status"]["conditions"], "ClusterResourcePlacementScheduled")
    assert scheduled_condition is not None
    assert scheduled_condition["status"] == "False"
    assert scheduled_condition["reason"] == "SchedulingPolicyUnfulfilled"
    assert "PickN wanted 2 clusters, found 1" in scheduled_condition["message"]
    reasons = {u["clusterName"]: u["reason"] for u in crp["status"]["unselectedClusters"]}
    assert reasons["small"].startswith("GpuFit: llm/llama")
    assert "L4" in reasons["small"]
    assert await until(lambda: _bound_equals(fleet_hub, "llama", ["big"]), what="bound to big")
    statuses = crp["status"]["placementStatuses"]
    assert [s["clusterName"] for s in statuses] == ["big", ""]  # an empty slot for the missing cluster


def placement(name: str, namespace: str, n: int) -> dict[str, Any]:
    return {
        "apiVersion": CLUSTER_RESOURCE_PLACEMENT.api_version,
        "kind": CLUSTER_RESOURCE_PLACEMENT.kind,
        "metadata": {"name": name},
        "spec": {
            "resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": namespace}],
            "policy": {"placementType": "PickN", "numberOfClusters": n},
        },
    }


async def test_a_selector_that_cannot_select_is_refused_in_status(fleet_hub: FleetHub) -> None:
    await fleet_hub.client.create(
        CLUSTER_RESOURCE_PLACEMENT,
        {
            **placement("bad", "x", 1),
            "spec": {
                "resourceSelectors": [{"group": "apps", "version": "v1", "kind": "Deployment", "name": "web"}]
            },
        },
    )
    crp = await scheduled(fleet_hub, "bad")
    condition = get_condition(crp["status"]["conditions"], "ClusterResourcePlacementScheduled")
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "InvalidResourceSelectors")
    assert condition["message"].startswith("spec.resourceSelectors[0]: a ClusterResourcePlacement selects")
    assert "use a ResourcePlacement" in condition["message"]


async def test_an_object_added_to_a_placed_namespace_reaches_the_work_without_waiting_for_resync(
    fleet_hub: FleetHub,
) -> None:
    # The placement controller reads a Namespace's objects from informer caches: a cache that missed a
    # change would leave the Work stale until the 60 s re-selection; the object's own event must redo it.
    await join(fleet_hub, "a", {}, {REGION: "east"})
    await namespace_with(fleet_hub, "grow", config_map("first"))
    await fleet_hub.client.create(CLUSTER_RESOURCE_PLACEMENT, placement("grow", "grow", n=1))
    await until(lambda: fleet_hub.get(WORK, "grow-work", "fleet-member-a"), what="Work written")
    await fleet_hub.client.create(CONFIGMAP, {**config_map("second"), "metadata": {"name": "second"}}, "grow")
    await fleet_hub.client.create(
        CONFIGMAP, {**config_map("third"), "metadata": {"name": "third", "namespace": "grow"}}, "grow"
    )

    async def has_all() -> bool:
        work = await fleet_hub.get(WORK, "grow-work", "fleet-member-a") or {}
        manifests = ((work.get("spec") or {}).get("workload") or {}).get("manifests") or []
        return [m["metadata"]["name"] for m in manifests] == ["grow", "first", "second", "third"]

    await until(has_all, within=10, what="the new ConfigMaps in the Work")
    await fleet_hub.client.delete(CONFIGMAP, "first", "grow")

    async def without_first() -> bool:
        work = await fleet_hub.get(WORK, "grow-work", "fleet-member-a") or {}
        manifests = ((work.get("spec") or {}).get("workload") or {}).get("manifests") or []
        return [m["metadata"]["name"] for m in manifests] == ["grow", "second", "third"]

    await until(without_first, within=10, what="the deleted ConfigMap gone from the Work")


async def test_deleting_a_placement_removes_its_bindings_works_and_snapshots(fleet_hub: FleetHub) -> None:
    await join(fleet_hub, "a", {}, {REGION: "east"})
    await namespace_with(fleet_hub, "app", config_map("c"))
    await fleet_hub.client.create(CLUSTER_RESOURCE_PLACEMENT, placement("app", "app", n=1))
    await until(lambda: fleet_hub.get(WORK, "app-work", "fleet-member-a"), what="Work written")
    await fleet_hub.client.delete(CLUSTER_RESOURCE_PLACEMENT, "app")

    async def all_gone() -> bool:
        leftovers = [
            await fleet_hub.get(CLUSTER_RESOURCE_PLACEMENT, "app"),
            await fleet_hub.get(WORK, "app-work", "fleet-member-a"),
            *(await fleet_hub.client.list(CLUSTER_RESOURCE_BINDING)).items,
            *(await fleet_hub.client.list(CLUSTER_SCHEDULING_POLICY_SNAPSHOT)).items,
            *(await fleet_hub.client.list(CLUSTER_RESOURCE_SNAPSHOT)).items,
        ]
        return not any(leftovers)

    await until(all_gone, within=10, what="placement, Work, bindings and snapshots deleted")


async def test_a_resource_placement_places_objects_of_its_own_namespace(fleet_hub: FleetHub) -> None:
    await join(fleet_hub, "a", {}, {})
    await namespace_with(fleet_hub, "team", config_map("one"), config_map("two"))
    await fleet_hub.client.create(
        RESOURCE_PLACEMENT,
        {
            "apiVersion": RESOURCE_PLACEMENT.api_version,
            "kind": RESOURCE_PLACEMENT.kind,
            "metadata": {"name": "ones", "namespace": "team"},
            "spec": {
                "resourceSelectors": [{"group": "", "version": "v1", "kind": "ConfigMap", "name": "one"}]
            },
        },
        "team",
    )
    work = await until(lambda: fleet_hub.get(WORK, "team.ones-work", "fleet-member-a"), what="Work")
    assert [m["metadata"]["name"] for m in work["spec"]["workload"]["manifests"]] == ["one"]
    bindings = (await fleet_hub.client.list(RESOURCE_BINDING, "team")).items
    assert [b["spec"]["targetCluster"] for b in bindings] == ["a"]


async def test_a_binding_the_rollout_holds_back_says_so_and_one_bound_at_once_never_waits(
    fleet_hub: FleetHub,
) -> None:
    await join(fleet_hub, "a", {}, {})
    await namespace_with(fleet_hub, "held", config_map("one"))
    await namespace_with(fleet_hub, "free", config_map("one"))
    for name, strategy in (("held", {"type": "External"}), ("free", {})):
        spec: dict[str, Any] = {
            "resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": name}]
        }
        if strategy:
            spec["strategy"] = strategy
        crp = {"apiVersion": CLUSTER_RESOURCE_PLACEMENT.api_version, "kind": CLUSTER_RESOURCE_PLACEMENT.kind}
        await fleet_hub.client.create(
            CLUSTER_RESOURCE_PLACEMENT, {**crp, "metadata": {"name": name}, "spec": spec}
        )

    async def rollout_started(binding: str) -> dict[str, Any] | None:
        obj = await fleet_hub.get(CLUSTER_RESOURCE_BINDING, binding) or {}
        return get_condition((obj.get("status") or {}).get("conditions"), "RolloutStarted")

    held = await until(lambda: rollout_started("held-a"), what="held-a's RolloutStarted")
    assert (held["status"], held["reason"]) == ("False", "RolloutNotStartedYet")
    assert "External" in held["message"]
    await until(lambda: fleet_hub.get(WORK, "free-work", "fleet-member-a"), what="free's Work")
    free = await until(lambda: rollout_started("free-a"), what="free-a's RolloutStarted")
    assert free["status"] == "True"
    assert await fleet_hub.get(WORK, "held-work", "fleet-member-a") is None


async def test_the_api_refuses_a_bad_policy_naming_the_field_and_the_fix(fleet_hub: FleetHub) -> None:
    refusals = {
        "fixed-affinity": (
            {"placementType": "PickFixed", "clusterNames": ["a"], "affinity": {"clusterAffinity": {}}},
            'spec.policy.affinity: Invalid value: "object": placementType PickFixed takes no affinity',
        ),
        "n-missing": (
            {"placementType": "PickN"},
            "spec.policy.numberOfClusters: Required value: placementType PickN needs "
            "spec.policy.numberOfClusters",
        ),
        "names-for-pick-all": (
            {"placementType": "PickAll", "clusterNames": ["a"]},
            "clusterNames is only for placementType PickFixed",
        ),
        "bad-operator": (
            {
                "placementType": "PickAll",
                "affinity": {
                    "clusterAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "clusterSelectorTerms": [
                                {
                                    "propertySelector": {
                                        "matchExpressions": [
                                            {"name": "x", "operator": "Bigger", "values": ["1"]}
                                        ]
                                    }
                                }
                            ]
                        }
                    }
                },
            },
            'Unsupported value: "Bigger"',
        ),
    }
    for name, (policy, message) in refusals.items():
        body = {**placement(name, "x", 1), "spec": {**placement(name, "x", 1)["spec"], "policy": policy}}
        with pytest.raises(KubeAPIError) as refused:
            await fleet_hub.client.create(CLUSTER_RESOURCE_PLACEMENT, body)
        assert refused.value.code == 422, name
        assert message in refused.value.message, f"{name}: {refused.value.message}"
    await fleet_hub.client.create(CLUSTER_RESOURCE_PLACEMENT, placement("ok", "x", 2))
    with pytest.raises(KubeAPIError) as changed:
        await fleet_hub.client.patch(
            CLUSTER_RESOURCE_PLACEMENT,
            "ok",
            {"spec": {"policy": {"placementType": "PickAll", "numberOfClusters": None}}},
        )
    assert "spec.policy.placementType cannot be changed" in changed.value.message
    tolerating = {"spec": {"policy": {"tolerations": [{"key": "gpu", "operator": "Exists"}]}}}
    await fleet_hub.client.patch(CLUSTER_RESOURCE_PLACEMENT, "ok", tolerating)
    with pytest.raises(KubeAPIError) as removed:
        await fleet_hub.client.patch(
            CLUSTER_RESOURCE_PLACEMENT, "ok", {"spec": {"policy": {"tolerations": []}}}
        )
    assert "tolerations can only be added to" in removed.value.message
