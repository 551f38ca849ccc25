"""The ReplicaSet controller and the Deployment controller's ReplicaSets against the embedded API server:
pods owned by the set, its status, scale-down order, Recreate, the revision history limit, and
garbage collection through both levels."""

from __future__ import annotations

import asyncio
from typing import Any

from infleet.api.kubernetes import DEPLOYMENT, POD, REPLICASET
from infleet.kube.informer import InformerEvent
from infleet.kube.owner_references import controller_of
from infleet.sim.deployment_replicasets import (
    equal_ignoring_hash,
    history_to_delete,
    pod_template_hash,
    split_new_and_old,
)
from infleet.sim.proportional_scaling import is_scaling_event, proportional_sizes
from infleet.sim.replicaset_controller import surplus_first
from tests.sim.conftest import RunningSim, deployment, eventually


def replicaset(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
            },
        },
    }


def live(sim: RunningSim, app: str) -> list[dict[str, Any]]:
    return [p for p in sim.pods(f"app={app}") if not p["metadata"].get("deletionTimestamp")]


async def settled_status(sim: RunningSim, kind: Any, name: str, **wanted: int) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            obj = await sim.client.get(kind, name, "default")
            status = obj.get("status") or {}
            if all(status.get(k, 0) == v for k, v in wanted.items()) and status.get(
                "observedGeneration"
            ) == obj["metadata"].get("generation"):
                return dict(status)
            await asyncio.sleep(0.05)


async def test_a_replicaset_keeps_its_pods_and_reports_them(sim: RunningSim) -> None:
    created = await sim.client.create(REPLICASET, replicaset("cache", 3))
    status = await settled_status(sim, REPLICASET, "cache", replicas=3, readyReplicas=3)
    assert status["fullyLabeledReplicas"] == status["availableReplicas"] == 3
    for pod in live(sim, "cache"):
        owner = controller_of(pod)
        assert owner is not None
        assert (owner["kind"], owner["uid"]) == ("ReplicaSet", created["metadata"]["uid"])
        assert pod["metadata"]["name"].startswith("cache-")

    victim = live(sim, "cache")[0]["metadata"]["name"]
    await sim.client.delete(POD, victim, "default")
    await eventually(
        lambda: (
            len(live(sim, "cache")) == 3 and victim not in {p["metadata"]["name"] for p in live(sim, "cache")}
        )
    )

    await sim.client.patch(REPLICASET, "cache", {"spec": {"replicas": 1}}, "default")
    await settled_status(sim, REPLICASET, "cache", replicas=1, readyReplicas=1)
    await eventually(lambda: len(live(sim, "cache")) == 1)


def test_scale_down_removes_unscheduled_then_unready_then_newest_pods() -> None:
    def pod(name: str, node: str | None, ready: bool, created: str) -> dict[str, Any]:
        conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
        spec = {"nodeName": node} if node else {}
        return {
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": spec,
            "status": {"conditions": conditions},
        }

    pods = [
        pod("old-ready", "n1", True, "2026-01-01T00:00:00Z"),
        pod("new-ready", "n1", True, "2026-01-02T00:00:00Z"),
        pod("unready", "n1", False, "2026-01-01T00:00:00Z"),
        pod("pending", None, False, "2026-01-01T00:00:00Z"),
    ]
    order = [p["metadata"]["name"] for p in surplus_first(pods)]
    assert order == ["pending", "unready", "new-ready", "old-ready"]


def test_templates_compare_as_kube_compares_them() -> None:
    ours = {"metadata": {"labels": {"app": "a"}, "annotations": {}}, "spec": {"containers": [{"name": "c"}]}}
    from_kubectl = {
        "metadata": {"creationTimestamp": None, "labels": {"app": "a", "pod-template-hash": "x"}},
        "spec": {"containers": [{"name": "c", "resources": {}}]},
    }
    assert equal_ignoring_hash(ours, from_kubectl)
    assert pod_template_hash(ours) == pod_template_hash(from_kubectl)
    changed = {**ours, "spec": {"containers": [{"name": "c", "image": "b"}]}}
    assert not equal_ignoring_hash(ours, changed)
    assert pod_template_hash(ours) != pod_template_hash(changed)


def test_the_new_replicaset_is_the_one_with_the_template_and_history_goes_oldest_first() -> None:
    def rs(name: str, image: str, revision: int, replicas: int) -> dict[str, Any]:
        template = {
            "metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": image}]},
        }
        return {
            "metadata": {
                "name": name,
                "creationTimestamp": f"2026-01-0{revision}T00:00:00Z",
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            },
            "spec": {"replicas": replicas, "template": template},
            "status": {"replicas": replicas},
        }

    sets = [rs("a-1", "v1", 1, 0), rs("a-2", "v2", 2, 0), rs("a-3", "v3", 3, 2), rs("a-4", "v4", 4, 0)]
    owner = {"spec": {"template": sets[2]["spec"]["template"]}}
    new, old = split_new_and_old(owner, sets)
    assert new is sets[2]
    assert [r["metadata"]["name"] for r in old] == ["a-1", "a-2", "a-4"]
    assert [r["metadata"]["name"] for r in history_to_delete(old, 1)] == ["a-1", "a-2"]
    assert history_to_delete(old, 10) == []


async def test_recreate_stops_every_old_pod_before_the_first_new_one(sim: RunningSim) -> None:
    body = deployment("batch", replicas=2, strategy={"type": "Recreate"})
    await sim.client.create(DEPLOYMENT, body)
    await settled_status(sim, DEPLOYMENT, "batch", updatedReplicas=2, availableReplicas=2)
    overlaps: list[set[str]] = []

    def sample(event: InformerEvent) -> None:
        present = {p["spec"]["containers"][0]["image"] for p in sim.pods("app=batch")}
        if len(present) > 1:
            overlaps.append(present)

    sim.sim.kubelet.pods.add_handler(sample)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}}
    await sim.client.patch(DEPLOYMENT, "batch", patch, "default")
    await eventually(
        lambda: (
            {p["spec"]["containers"][0]["image"] for p in live(sim, "batch")} == {"nginx:1.28"}
            and len(live(sim, "batch")) == 2
        ),
        30,
    )
    await settled_status(sim, DEPLOYMENT, "batch", updatedReplicas=2, availableReplicas=2, replicas=2)
    assert overlaps == [], "Recreate never runs old and new pods together, terminating ones included"


async def test_old_replicasets_beyond_the_history_limit_are_deleted(sim: RunningSim) -> None:
    await sim.client.create(DEPLOYMENT, deployment("hist", revisionHistoryLimit=1))
    for version in ("1.28", "1.29", "1.30"):
        await settled_status(sim, DEPLOYMENT, "hist", updatedReplicas=1, availableReplicas=1, replicas=1)
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "main", "image": f"nginx:{version}"}]}}}
        }
        await sim.client.patch(DEPLOYMENT, "hist", patch, "default")
    await settled_status(sim, DEPLOYMENT, "hist", updatedReplicas=1, availableReplicas=1, replicas=1)

    async def revisions() -> list[str]:
        sets = (await sim.client.list(REPLICASET, "default", label_selector="app=hist")).items
        return sorted(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in sets)

    async with asyncio.timeout(30):
        while await revisions() != ["3", "4"]:  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.05)
    current = await sim.client.get(DEPLOYMENT, "hist", "default")
    assert current["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"


async def test_deleting_a_deployment_collects_its_replicasets_and_their_pods(sim: RunningSim) -> None:
    await sim.client.create(DEPLOYMENT, deployment("gone", replicas=2))
    await eventually(lambda: len(live(sim, "gone")) == 2)
    await sim.client.delete(DEPLOYMENT, "gone", "default")

    async def remaining() -> int:
        sets = await sim.client.list(REPLICASET, "default", label_selector="app=gone")
        pods = await sim.client.list(POD, "default", label_selector="app=gone")
        return len(sets.items) + len(pods.items)

    async with asyncio.timeout(30):
        while await remaining():  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.05)


async def test_a_pod_the_deployment_controls_directly_is_replaced_by_one_of_its_replicaset(
    sim: RunningSim,
) -> None:
    created = await sim.client.create(DEPLOYMENT, deployment("legacy"))
    await eventually(lambda: len(live(sim, "legacy")) == 1)
    stray = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "legacy-direct",
            "namespace": "default",
            "labels": {"app": "legacy"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "legacy",
                    "uid": created["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
    }
    await sim.client.create(POD, stray)
    await sim.client.patch(DEPLOYMENT, "legacy", {"metadata": {"labels": {"touched": "yes"}}}, "default")
    await eventually(lambda: "legacy-direct" not in {p["metadata"]["name"] for p in live(sim, "legacy")}, 30)
    owners = {(controller_of(p) or {}).get("kind") for p in live(sim, "legacy")}
    assert owners == {"ReplicaSet"}


def test_a_scale_mid_rollout_is_shared_in_proportion() -> None:
    def rs(name: str, created: str, replicas: int, max_replicas: int) -> dict[str, Any]:
        annotations = {
            "deployment.kubernetes.io/desired-replicas": "2",
            "deployment.kubernetes.io/max-replicas": str(max_replicas),
        }
        return {
            "metadata": {"name": name, "creationTimestamp": created, "annotations": annotations},
            "spec": {"replicas": replicas},
        }

    old, new = rs("old", "2026-01-01T00:00:00Z", 2, 3), rs("new", "2026-01-02T00:00:00Z", 1, 3)
    assert is_scaling_event([old, new], 4)
    assert not is_scaling_event([old, new], 2)
    assert proportional_sizes([old, new], 5, 3) == {"old": 3, "new": 2}
    grown_old, grown_new = rs("old", "2026-01-01T00:00:00Z", 3, 5), rs("new", "2026-01-02T00:00:00Z", 2, 5)
    assert proportional_sizes([grown_old, grown_new], 3, 5) == {"old": 2, "new": 1}
    assert proportional_sizes([grown_old, grown_new], 0, 5) == {"old": 0, "new": 0}
