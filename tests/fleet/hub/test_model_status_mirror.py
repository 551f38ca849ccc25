"""Status back-reporting: a hub ModelDeployment shows per member cluster what its agent reported in the
Work that carries it; sums, state and Ready follow; a cluster whose Work goes away drops out."""

from __future__ import annotations

import asyncio
from typing import Any

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.kubernetes import NAMESPACE
from infleet.api.labels import PARENT_PLACEMENT_LABEL
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import WORK
from infleet.fleet.hub.cluster_serving import cluster_serving, hub_state, keep_observed_times
from infleet.fleet.hub.model_status_mirror import WorkIndex, carried_models
from infleet.kube.conditions import get_condition
from infleet.kube.informer import ADDED, DELETED, MODIFIED, InformerEvent
from tests.fleet.hub.conftest import Hub, until

MODEL = {
    "apiVersion": MODEL_DEPLOYMENT.api_version,
    "kind": MODEL_DEPLOYMENT.kind,
    "metadata": {"name": "qwen", "namespace": "default"},
    "spec": {"model": "qwen2-7b", "replicas": 2, "resources": {"gpu": 1}},
}


def reported(ready: int, replicas: int = 2, endpoint_prefix: str = "10.0.0") -> dict[str, Any]:
    """A trimmed ModelDeployment status, as the member agent back-reports it."""
    return {
        "state": "Ready" if ready else "Progressing",
        "replicas": replicas,
        "readyReplicas": ready,
        "ready": f"{ready}/{replicas}",
        "gpu": "1xH100",
        "replicaStatus": [
            {
                "name": f"qwen-{i}",
                "ready": i < ready,
                "node": "n1",
                "sku": "H100",
                "endpoint": f"{endpoint_prefix}.{i}:8000",
            }
            for i in range(replicas)
        ],
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "Serving" if ready else "Starting",
                "message": f"{ready}/{replicas} replicas ready",
            }
        ],
    }


def work(
    cluster: str, status: dict[str, Any] | None, manifests: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": WORK.api_version,
        "kind": WORK.kind,
        "metadata": {
            "name": "qwen-crp",
            "namespace": f"fleet-member-{cluster}",
            "labels": {PARENT_PLACEMENT_LABEL: "qwen-crp"},
        },
        "spec": {"workload": {"manifests": [MODEL] if manifests is None else manifests}},
    }
    if status is not None:
        obj["status"] = {
            "manifestConditions": [
                {
                    "identifier": {
                        "ordinal": 0,
                        "group": "aitoolchain.io",
                        "version": "v1",
                        "kind": "ModelDeployment",
                        "resource": "modeldeployments",
                        "namespace": "default",
                        "name": "qwen",
                    },
                    "backReportedStatus": status,
                }
            ]
        }
    return obj


# -- pure parts ---------------------------------------------------------------------------------------


def test_a_report_becomes_one_cluster_entry_with_the_ready_endpoints() -> None:
    entry = cluster_serving("a", reported(1))
    assert entry.ready
    assert (entry.replicas, entry.ready_replicas, entry.gpu) == (2, 1, "1xH100")
    assert entry.endpoints == ["10.0.0.0:8000"]
    assert entry.message == "1/2 replicas ready"
    assert cluster_serving("b", None).state == "Pending"
    # What a gateway routes to: the ready replicas with their SKU, and the price of one there.
    assert [(r.name, r.endpoint, r.sku) for r in entry.serving_replicas or []] == [
        ("qwen-0", "10.0.0.0:8000", "H100")
    ]
    assert entry.cost_per_replica_hour is None
    priced = cluster_serving("a", {**reported(2), "sizing": {"sku": "H100", "costPerHour": 6.2}})
    assert priced.cost_per_replica_hour == 6.2
    assert len(priced.serving_replicas or []) == 2


def test_the_hub_state_is_ready_when_any_cluster_serves() -> None:
    assert hub_state([]) == "Pending"
    assert hub_state([cluster_serving("a", reported(0)), cluster_serving("b", reported(1))]) == "Ready"
    assert hub_state([cluster_serving("a", reported(0))]) == "Progressing"
    failed = {**reported(0), "state": "Failed"}
    assert hub_state([cluster_serving("a", failed), cluster_serving("b", failed)]) == "Failed"


def test_observed_time_moves_only_when_the_entry_changes() -> None:
    first = [cluster_serving("a", reported(1))]
    keep_observed_times(first, None, "t1")
    previous = [entry.to_wire() for entry in first]
    same = [cluster_serving("a", reported(1))]
    keep_observed_times(same, previous, "t2")
    changed = [cluster_serving("a", reported(2))]
    keep_observed_times(changed, previous, "t2")
    assert (same[0].observed_time, changed[0].observed_time) == ("t1", "t2")


def test_the_work_index_names_the_deployments_a_work_carried_and_carries() -> None:
    index = WorkIndex("hub")
    carrying = work("a", None)
    assert carried_models(carrying) == {("default", "qwen")}
    assert [r.name for r in index.requests(InformerEvent(ADDED, carrying, None, "hub"))] == ["qwen"]
    emptied = work("a", None, manifests=[])
    # The manifest left the Work: its deployment is reconciled once more, to drop the cluster.
    assert [r.name for r in index.requests(InformerEvent(MODIFIED, emptied, carrying, "hub"))] == ["qwen"]
    assert index.works_of(("default", "qwen")) == set()
    assert list(index.requests(InformerEvent(DELETED, emptied, emptied, "hub"))) == []
    elsewhere = {**carrying, "metadata": {"name": "w", "namespace": "default"}}
    assert carried_models(elsewhere) == set()
    # A Work being deleted (its cluster failed over, the member still holds the finalizer) carries nothing.
    leaving = {**carrying, "metadata": {**carrying["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert carried_models(leaving) == set()
    index.requests(InformerEvent(ADDED, carrying, None, "hub"))
    assert [r.name for r in index.requests(InformerEvent(MODIFIED, leaving, carrying, "hub"))] == ["qwen"]
    assert index.works_of(("default", "qwen")) == set()


# -- against an embedded hub ------------------------------------------------------------------------


async def put_work(hub: Hub, cluster: str, status: dict[str, Any]) -> None:
    """Create the Work as the work generator does, then report on it as the member agent does."""
    body = work(cluster, status)
    reported_status = body.pop("status")
    await hub.client.create(WORK, body)
    await hub.client.patch(
        WORK, "qwen-crp", {"status": reported_status}, f"fleet-member-{cluster}", subresource="status"
    )


async def hub_status(hub: Hub) -> dict[str, Any]:
    return (await hub.client.get(MODEL_DEPLOYMENT, "qwen", "default")).get("status") or {}


async def test_member_reports_show_on_the_hub_deployment_and_leave_with_their_work(hub: Hub) -> None:
    await hub.client.create(MODEL_DEPLOYMENT, MODEL)
    for cluster in ("a", "b"):
        await hub.client.create(
            NAMESPACE,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"fleet-member-{cluster}"}},
        )

    await put_work(hub, "a", reported(1))

    async def clusters(count: int) -> dict[str, Any] | None:
        status = await hub_status(hub)
        entries = status.get("clusters")
        settled = entries is not None and all(entry["state"] != "Pending" for entry in entries)
        return status if settled and len(entries) == count else None

    status = await until(lambda: clusters(1), what="one cluster entry")
    (entry,) = status["clusters"]
    assert entry["clusterName"] == "a"
    assert entry["ready"]
    assert entry["endpoints"] == ["10.0.0.0:8000"]
    assert entry["observedTime"]
    assert (status["state"], status["ready"], status["readyReplicas"], status["replicas"]) == (
        "Ready",
        "1/2",
        1,
        2,
    )
    ready = get_condition(status["conditions"], "Ready") or {}
    assert ready["status"] == "True"
    assert "a (1/2)" in ready["message"]

    await put_work(hub, "b", reported(2, endpoint_prefix="10.1.0"))
    status = await until(lambda: clusters(2), what="two cluster entries")
    assert [c["clusterName"] for c in status["clusters"]] == ["a", "b"]
    assert status["ready"] == "3/4"

    await hub.client.delete(WORK, "qwen-crp", "fleet-member-a")

    async def only_b() -> dict[str, Any] | None:
        status = await hub_status(hub)
        return status if [c["clusterName"] for c in status.get("clusters") or []] == ["b"] else None

    status = await until(only_b, what="cluster a dropped")
    assert status["ready"] == "2/2"

    await hub.client.delete(WORK, "qwen-crp", "fleet-member-b")
    status = await until(lambda: clusters(0), what="no clusters")
    assert status["clusters"] == []
    assert status["state"] == "Pending"
    assert (get_condition(status["conditions"], "Ready") or {}).get("reason") == "NotPlaced"


async def test_a_deployment_is_described_only_once_a_work_carries_it(hub: Hub) -> None:
    await hub.client.create(MODEL_DEPLOYMENT, MODEL)
    await hub.client.create(
        NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fleet-member-a"}}
    )
    await hub.client.create(WORK, work("a", None, manifests=[]))

    async def reconciled() -> bool:
        return hub.controllers.status_mirror.models.store.get("qwen", "default") is not None

    await until(reconciled)
    await asyncio.sleep(0.3)
    assert await hub_status(hub) == {}  # never placed: a member's own models controller may own it
    await hub.client.create(
        WORK, {**work("a", None), "metadata": {"name": "other", "namespace": "fleet-member-a"}}
    )
    # The second Work holds it without a report yet: the cluster is listed as Pending.
    status = await until(lambda: hub_status(hub))
    assert status["clusters"][0]["state"] == "Pending"
    assert status["state"] == "Progressing"
