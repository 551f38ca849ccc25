"""Routes from the fleet: a hub ModelDeployment's members become backends with their cluster, region, SKU
and price; an unhealthy member's replicas are left out; a member's own copy routes its ready replicas."""

from __future__ import annotations

from typing import Any

from infleet.api.catalog import load_catalog
from infleet.gateway.fleet_routes import MemberFacts, member_facts, model_configs

CATALOG = load_catalog()


def hub_copy(*clusters: dict[str, Any], served: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"model": "qwen2-7b"}
    if served:
        spec["servedModelName"] = served
    return {
        "metadata": {"name": "qwen", "namespace": "llm"},
        "spec": spec,
        "status": {"clusters": list(clusters)},
    }


def entry(cluster: str, *endpoints: str, cost: float | None = 1.2) -> dict[str, Any]:
    return {
        "clusterName": cluster,
        "ready": True,
        "servingReplicas": [{"name": f"r{i}", "endpoint": e, "sku": "L4"} for i, e in enumerate(endpoints)],
        "costPerReplicaHour": cost,
    }


def test_each_ready_replica_of_each_member_is_a_backend_with_its_facts() -> None:
    members = {"eu": MemberFacts(region="westeurope", cloud="azure"), "us": MemberFacts(region="us-east-1")}
    [model] = model_configs(
        [hub_copy(entry("eu", "http://10.0.0.1:5000", "10.0.0.2:5000"), entry("us", "http://10.1.0.1:5000"))],
        members,
        CATALOG,
    )
    assert model.name == CATALOG.model("qwen2-7b").served_name  # what clients send as "model"
    assert [(b.name, b.url, b.region, b.cluster, b.gpu, b.cost) for b in model.backends] == [
        ("eu/r0", "http://10.0.0.1:5000", "westeurope", "eu", "L4", 1.2),
        ("eu/r1", "http://10.0.0.2:5000", "westeurope", "eu", "L4", 1.2),
        ("us/r0", "http://10.1.0.1:5000", "us-east-1", "us", "L4", 1.2),
    ]
    assert {b.model for b in model.backends} == {model.name}


def test_an_unhealthy_member_is_drained_and_a_model_without_replicas_stays_routable() -> None:
    members = member_facts(
        [
            {
                "metadata": {"name": "eu", "labels": {}},
                "status": {"conditions": [{"type": "Healthy", "status": "False"}]},
            },
            {"metadata": {"name": "us", "labels": {}}, "status": {}},  # not judged yet: kept
        ]
    )
    [model] = model_configs(
        [hub_copy(entry("eu", "http://e:1"), entry("us", "http://u:1"), served="chat")], members, CATALOG
    )
    assert model.name == "chat"
    assert [b.cluster for b in model.backends] == ["us"]
    [empty] = model_configs([hub_copy(served="chat")], members, CATALOG)
    assert empty.backends == []  # scaled to zero or starting: the route exists, with nothing to send to


def test_a_members_own_copy_routes_its_ready_replicas() -> None:
    own = {
        "metadata": {"name": "qwen", "namespace": "default"},
        "spec": {"model": "qwen2-7b"},
        "status": {
            "replicaStatus": [
                {"name": "a", "ready": True, "endpoint": "http://127.0.0.1:5001", "sku": "A10G"},
                {"name": "b", "ready": False, "endpoint": "http://127.0.0.1:5002"},
            ],
            "sizing": {"costPerHour": 1.0},
        },
    }
    [model] = model_configs([own], {"local": MemberFacts(region="r")}, CATALOG, local_cluster="local")
    assert [(b.name, b.cluster, b.region, b.cost) for b in model.backends] == [("local/a", "local", "r", 1.0)]


def test_a_model_with_no_ready_replica_names_the_deployments_to_wake_in_healthy_members() -> None:
    members = {"eu": MemberFacts(healthy=False), "us": MemberFacts(), "ap": MemberFacts()}
    asleep = {**entry("us"), "ready": False}
    [model] = model_configs([hub_copy(asleep, entry("eu"), entry("ap"))], members, CATALOG)
    assert model.backends == []
    assert [(w.namespace, w.name, w.clusters) for w in model.wake] == [("llm", "qwen", ["us", "ap"])]
    # Placed only on an unhealthy member: waking cannot help, so nothing to wake (the usual 503).
    [stranded] = model_configs([hub_copy(entry("eu"))], members, CATALOG)
    assert stranded.wake == []
    # Not placed anywhere yet: the hub's own copy is the one to wake.
    [unplaced] = model_configs([hub_copy()], members, CATALOG)
    assert [(w.name, w.clusters) for w in unplaced.wake] == [("qwen", [])]
    # A ready replica anywhere: nothing to wake.
    [serving] = model_configs([hub_copy(asleep, entry("ap", "http://a:1"))], members, CATALOG)
    assert serving.wake == []
    assert len(serving.backends) == 1


def test_a_members_own_copy_scaled_to_zero_wakes_itself() -> None:
    own = {
        "metadata": {"name": "qwen", "namespace": "default"},
        "spec": {"model": "qwen2-7b"},
        "status": {"state": "ScaledToZero", "replicaStatus": []},
    }
    [model] = model_configs([own], {}, CATALOG, local_cluster="local")
    assert model.backends == []
    assert [(w.namespace, w.name, w.clusters) for w in model.wake] == [("default", "qwen", [])]
