"""The work applier against an embedded hub and member: a Work's manifests applied in the member with
owner references and the apply annotations, status reported, removals pruned, deletion cleaned up, a bad
manifest reported on its own, an unreachable hub deleting nothing, ModelDeployment status mirrored."""

from __future__ import annotations

import asyncio
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import INTERNAL_MEMBER_CLUSTER
from infleet.api.kubernetes import CONFIGMAP, DEPLOYMENT, NAMESPACE
from infleet.api.labels import LAST_APPLIED_ANNOTATION, MANIFEST_HASH_ANNOTATION, WORK_CLEANUP_FINALIZER
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import APPLIED_WORK, WORK
from infleet.kube.api_error import KubeAPIError
from infleet.kube.conditions import get_condition
from tests.fleet.member.conftest import MEMBER, NS, Fleet, until

APP_NS = "team-a"
NAMESPACE_MANIFEST = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP_NS}}
CONFIGMAP_MANIFEST = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings", "namespace": APP_NS},
    "data": {"mode": "fast"},
}
DEPLOYMENT_MANIFEST = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": APP_NS},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        },
    },
}


def work(name: str, *manifests: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": WORK.api_version,
        "kind": WORK.kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": {"workload": {"manifests": list(manifests)}},
    }


async def join(fleet: Fleet) -> None:
    body = {
        "apiVersion": INTERNAL_MEMBER_CLUSTER.api_version,
        "kind": INTERNAL_MEMBER_CLUSTER.kind,
        "metadata": {"name": MEMBER, "namespace": NS},
        "spec": {"state": "Join", "heartbeatPeriodSeconds": 1},
    }
    await fleet.hub.create(INTERNAL_MEMBER_CLUSTER, body)


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    """A condition of a Work (in its status) or of a manifest entry (at its top level)."""
    obj = obj or {}
    conditions = obj["conditions"] if "identifier" in obj else (obj.get("status") or {}).get("conditions")
    return get_condition(conditions, type_) or {}


async def applied(fleet: Fleet, name: str) -> dict[str, Any] | None:
    got = await fleet.hub.get(WORK, name, NS)
    return got if condition(got, "Applied").get("status") == "True" else None


async def gone(fleet: Fleet, kind: Any, name: str, namespace: str | None = None) -> bool:
    try:
        obj = await fleet.member.get(kind, name, namespace)
    except KubeAPIError as error:
        return error.not_found
    return bool(obj["metadata"].get("deletionTimestamp"))  # a namespace finishing its deletion


async def test_a_work_is_applied_pruned_and_cleaned_up(fleet: Fleet) -> None:
    await join(fleet)
    await fleet.hub.create(WORK, work("app", DEPLOYMENT_MANIFEST, CONFIGMAP_MANIFEST, NAMESPACE_MANIFEST))
    got = await until(lambda: applied(fleet, "app"), what="Work Applied=True")
    assert WORK_CLEANUP_FINALIZER in got["metadata"]["finalizers"]
    entries = got["status"]["manifestConditions"]
    assert [e["identifier"]["kind"] for e in entries] == ["Deployment", "ConfigMap", "Namespace"]
    assert entries[0]["identifier"] == {
        "ordinal": 0,
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
        "resource": "deployments",
        "namespace": APP_NS,
        "name": "web",
    }
    assert all(condition(e, "Applied").get("status") == "True" for e in entries)
    # No Deployment controller runs in this member: the Deployment is applied but not available.
    assert condition(entries[0], "Available")["status"] == "False"
    assert condition(entries[1], "Available")["status"] == "True"
    assert condition(got, "Available")["status"] == "False"

    applied_work = await fleet.member.get(APPLIED_WORK, "app")
    assert applied_work["spec"] == {"workName": "app", "workNamespace": NS}
    assert len(applied_work["status"]["appliedResources"]) == 3
    deployment = await fleet.member.get(DEPLOYMENT, "web", APP_NS)
    (owner,) = deployment["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("AppliedWork", applied_work["metadata"]["uid"])
    assert LAST_APPLIED_ANNOTATION in deployment["metadata"]["annotations"]
    assert MANIFEST_HASH_ANNOTATION in deployment["metadata"]["annotations"]

    # An edit on the hub: the ConfigMap leaves the Work, the Deployment changes replicas.
    edited = {**DEPLOYMENT_MANIFEST, "spec": {**DEPLOYMENT_MANIFEST["spec"], "replicas": 3}}
    manifests = {"spec": {"workload": {"manifests": [NAMESPACE_MANIFEST, edited]}}}
    await fleet.hub.patch(WORK, "app", manifests, NS)
    await until(lambda: gone(fleet, CONFIGMAP, "settings", APP_NS), what="the ConfigMap pruned")

    async def scaled() -> bool:
        return bool((await fleet.member.get(DEPLOYMENT, "web", APP_NS))["spec"]["replicas"] == 3)

    await until(scaled, what="the Deployment updated")

    await fleet.hub.delete(WORK, "app", NS)
    await until(lambda: gone(fleet, DEPLOYMENT, "web", APP_NS), what="the Deployment deleted")
    await until(lambda: gone(fleet, NAMESPACE, APP_NS), what="the Namespace deleted")
    await until(lambda: gone(fleet, APPLIED_WORK, "app"), what="the AppliedWork deleted")

    async def work_gone() -> bool:
        try:
            await fleet.hub.get(WORK, "app", NS)
        except KubeAPIError as error:
            return error.not_found
        return False

    await until(work_gone, what="the finalizer removed and the Work gone")


async def test_a_bad_manifest_fails_alone(fleet: Fleet) -> None:
    await join(fleet)
    unknown = {
        "apiVersion": "example.com/v1",
        "kind": "Gizmo",
        "metadata": {"name": "g", "namespace": "default"},
    }
    bad_name = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "Not_A_Name", "namespace": "default"},
    }
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fine", "namespace": "default"}}
    await fleet.hub.create(WORK, work("mixed", unknown, bad_name, good))

    async def reported() -> dict[str, Any] | None:
        got = await fleet.hub.get(WORK, "mixed", NS)
        return got if condition(got, "Applied").get("status") == "False" else None

    got = await until(reported, what="Applied=False on the Work")
    gizmo, invalid, fine = got["status"]["manifestConditions"]
    assert condition(gizmo, "Applied")["reason"] == "ManifestApplyFailed"
    assert "Gizmo" in condition(gizmo, "Applied")["message"]
    assert condition(invalid, "Applied")["reason"] == "ManifestApplyFailed"
    assert "Not_A_Name" in condition(invalid, "Applied")["message"]
    assert condition(fine, "Applied")["status"] == "True"
    assert (await fleet.member.get(CONFIGMAP, "fine", "default"))["metadata"]["name"] == "fine"
    assert condition(got, "Applied")["message"] == "1/3 manifests applied"


async def test_an_unreachable_hub_deletes_nothing(fleet: Fleet) -> None:
    await join(fleet)
    await fleet.hub.create(WORK, work("keep", NAMESPACE_MANIFEST, CONFIGMAP_MANIFEST))
    await until(lambda: applied(fleet, "keep"), what="Work applied")
    fleet.server.set_cluster_reachable("hub", False)
    await asyncio.sleep(2.0)
    assert (await fleet.member.get(CONFIGMAP, "settings", APP_NS))["data"] == {"mode": "fast"}
    assert (await fleet.member.get(APPLIED_WORK, "keep"))["metadata"]["name"] == "keep"
    fleet.server.set_cluster_reachable("hub", True)
    await asyncio.sleep(1.0)
    assert (await fleet.member.get(CONFIGMAP, "settings", APP_NS))["data"] == {"mode": "fast"}


async def test_leave_stops_applying_and_releases_works(fleet: Fleet) -> None:
    await join(fleet)
    await fleet.hub.create(WORK, work("placed", NAMESPACE_MANIFEST, CONFIGMAP_MANIFEST))
    await until(lambda: applied(fleet, "placed"), what="Work applied")
    await fleet.hub.patch(INTERNAL_MEMBER_CLUSTER, MEMBER, {"spec": {"state": "Leave"}}, NS)

    async def released() -> bool:
        got = await fleet.hub.get(WORK, "placed", NS)
        return WORK_CLEANUP_FINALIZER not in (got["metadata"].get("finalizers") or [])

    await until(released, what="the finalizer stripped on Leave")
    await fleet.hub.delete(WORK, "placed", NS)
    await asyncio.sleep(1.0)
    assert (await fleet.member.get(CONFIGMAP, "settings", APP_NS))["data"] == {"mode": "fast"}


async def test_model_deployment_status_is_reported_back(fleet: Fleet) -> None:
    await join(fleet)
    manifest = {
        "apiVersion": MODEL_DEPLOYMENT.api_version,
        "kind": MODEL_DEPLOYMENT.kind,
        "metadata": {"name": "qwen", "namespace": "default"},
        "spec": {"model": "qwen2-7b", "engine": "vllm", "replicas": 1, "resources": {"gpu": 1}},
    }
    await fleet.hub.create(WORK, work("model", manifest))
    got = await until(lambda: applied(fleet, "model"), what="the ModelDeployment applied")
    (entry,) = got["status"]["manifestConditions"]
    assert condition(entry, "Available")["status"] == "False"
    status = {
        "observedGeneration": 1,
        "state": "Ready",
        "replicas": 1,
        "readyReplicas": 1,
        "ready": "1/1",
        "endpoint": "http://qwen.default:8000",
        "selector": "aitoolchain.io/model-deployment=qwen",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Serving",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
    }
    await fleet.member.patch(MODEL_DEPLOYMENT, "qwen", {"status": status}, "default", subresource="status")

    async def mirrored() -> dict[str, Any] | None:
        got = await fleet.hub.get(WORK, "model", NS)
        (entry,) = got["status"]["manifestConditions"]
        return entry if (entry.get("backReportedStatus") or {}).get("state") == "Ready" else None

    entry = await until(mirrored, what="the ModelDeployment status mirrored into the Work")
    assert entry["backReportedStatus"]["endpoint"] == "http://qwen.default:8000"
    assert "selector" not in entry["backReportedStatus"]
    assert condition(entry, "Available")["status"] == "True"
