"""A StatefulSet's ControllerRevisions on a simulated cluster, through real kubectl: ``rollout status``,
``rollout history`` (with ``--revision``), ``rollout undo`` back to the first template, the revision
label on pods, ``currentRevision`` / ``updateRevision`` and a partitioned rolling update."""

from __future__ import annotations

from typing import Any

import pytest

from infleet.api.kubernetes import CONTROLLER_REVISION, STATEFULSET
from tests.sim.conftest import RunningSim, eventually
from tests.sim.test_kubectl_rollout import kubectl

pytestmark = pytest.mark.timeout(240)


def statefulset(name: str, replicas: int = 2, image: str = "nginx:1.27", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }


def pod_revisions(sim: RunningSim, app: str) -> dict[str, tuple[str, str]]:
    """Each live pod's (image, controller-revision-hash) by name."""
    return {
        p["metadata"]["name"]: (
            p["spec"]["containers"][0]["image"],
            p["metadata"]["labels"]["controller-revision-hash"],
        )
        for p in sim.pods(f"app={app}")
        if not p["metadata"].get("deletionTimestamp")
    }


async def revisions(sim: RunningSim, app: str) -> dict[str, int]:
    listed = await sim.client.list(CONTROLLER_REVISION, "default", label_selector=f"app={app}")
    return {r["metadata"]["name"]: r["revision"] for r in listed.items}


async def test_rollout_history_and_undo_of_a_statefulset(sim: RunningSim) -> None:
    await sim.client.create(STATEFULSET, statefulset("db"))
    await kubectl(sim, "rollout", "status", "sts/db", "--timeout=60s")
    (first,) = await revisions(sim, "db")
    status = (await sim.client.get(STATEFULSET, "db", "default"))["status"]
    assert status["currentRevision"] == status["updateRevision"] == first
    assert {label for _, label in pod_revisions(sim, "db").values()} == {first}

    # kube copies the set's annotations into a revision when it makes it: the cause goes first.
    await kubectl(sim, "annotate", "sts/db", "kubernetes.io/change-cause=move to 1.28")
    await kubectl(sim, "set", "image", "sts/db", "main=nginx:1.28")
    await kubectl(sim, "rollout", "status", "sts/db", "--timeout=90s")
    await eventually(lambda: {i for i, _ in pod_revisions(sim, "db").values()} == {"nginx:1.28"}, 30)
    found = await revisions(sim, "db")
    second = next(name for name in found if name != first)
    assert found == {first: 1, second: 2}
    history = await kubectl(sim, "rollout", "history", "sts/db")
    rows = [line.split() for line in history.splitlines()[1:] if line.strip()]
    assert rows == [["REVISION", "CHANGE-CAUSE"], ["1", "<none>"], ["2", "move", "to", "1.28"]]
    assert "nginx:1.27" in await kubectl(sim, "rollout", "history", "sts/db", "--revision=1")

    assert "rolled back" in await kubectl(sim, "rollout", "undo", "sts/db")
    await eventually(lambda: set(pod_revisions(sim, "db").values()) == {("nginx:1.27", first)}, 60)
    await kubectl(sim, "rollout", "status", "sts/db", "--timeout=90s")
    assert await revisions(sim, "db") == {first: 3, second: 2}, "undo renumbers the first revision"
    status = (await sim.client.get(STATEFULSET, "db", "default"))["status"]
    assert status["currentRevision"] == status["updateRevision"] == first


async def test_a_partition_keeps_lower_ordinals_on_the_old_revision(sim: RunningSim) -> None:
    body = statefulset(
        "part", replicas=3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    )
    await sim.client.create(STATEFULSET, body)
    await kubectl(sim, "rollout", "status", "sts/part", "--timeout=60s")
    await sim.client.patch(
        STATEFULSET,
        "part",
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}},
        "default",
    )

    def images() -> dict[str, str]:
        return {name: image for name, (image, _) in pod_revisions(sim, "part").items()}

    await eventually(
        lambda: images() == {"part-0": "nginx:1.27", "part-1": "nginx:1.27", "part-2": "nginx:1.28"}, 60
    )
    status = (await sim.client.get(STATEFULSET, "part", "default"))["status"]
    assert status["currentRevision"] != status["updateRevision"]
