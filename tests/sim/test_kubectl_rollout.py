"""Real kubectl against a simulated cluster's Deployments: ``get rs``, ``rollout history``, ``set image``
and ``rollout undo``, ``rollout pause``/``resume``, ``rollout status``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from infleet.api.kubernetes import DEPLOYMENT, REPLICASET
from infleet.kube.conditions import get_condition, is_true
from tests.sim.conftest import RunningSim, deployment, eventually

KUBECTL = Path(sys.executable).parent / "kubectl"
REVISION = "deployment.kubernetes.io/revision"


async def kubectl(sim: RunningSim, *args: str) -> str:
    kubeconfig = sim.server.settings.kubeconfig_out
    process = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        f"--kubeconfig={kubeconfig}",
        "--context=infleet-member",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 90)
    text = out.decode()
    assert process.returncode == 0, f"kubectl {' '.join(args)}: {text}"
    return text


def images(sim: RunningSim, app: str) -> set[str]:
    """The images of the app's pods not going away."""
    return {
        p["spec"]["containers"][0]["image"]
        for p in sim.pods(f"app={app}")
        if not p["metadata"].get("deletionTimestamp")
    }


def ready_pods(sim: RunningSim, app: str) -> int:
    return sum(
        1
        for p in sim.pods(f"app={app}")
        if is_true((p.get("status") or {}).get("conditions"), "Ready")
        and not p["metadata"].get("deletionTimestamp")
    )


async def replicasets(sim: RunningSim, app: str) -> list[dict[str, Any]]:
    return (await sim.client.list(REPLICASET, "default", label_selector=f"app={app}")).items


async def test_rollout_history_set_image_and_undo_back_to_the_first_image(sim: RunningSim) -> None:
    await sim.client.create(DEPLOYMENT, deployment("web", replicas=2))
    await kubectl(sim, "rollout", "status", "deployment/web", "--timeout=60s")
    table = await kubectl(sim, "get", "rs")
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert row.split()[:4][1:] == ["2", "2", "2"]
    assert row.startswith("web-")

    await kubectl(sim, "set", "image", "deployment/web", "main=nginx:1.28")
    # As kube's docs do it: the cause is recorded after the change, on the revision the change made.
    await kubectl(sim, "annotate", "deployment/web", "kubernetes.io/change-cause=move to 1.28")
    await kubectl(sim, "rollout", "status", "deployment/web", "--timeout=60s")
    await eventually(lambda: images(sim, "web") == {"nginx:1.28"} and ready_pods(sim, "web") == 2, 30)
    history = await kubectl(sim, "rollout", "history", "deployment/web")
    lines = [line.split(None, 1) for line in history.splitlines()[1:] if line.strip()]
    assert lines[0] == ["REVISION", "CHANGE-CAUSE"]
    assert lines[1] == ["1", "<none>"]
    assert lines[2] == ["2", "move to 1.28"]
    detail = await kubectl(sim, "rollout", "history", "deployment/web", "--revision=1")
    assert "nginx:1.27" in detail

    undone = await kubectl(sim, "rollout", "undo", "deployment/web")
    assert "rolled back" in undone
    await kubectl(sim, "rollout", "status", "deployment/web", "--timeout=60s")
    await eventually(lambda: images(sim, "web") == {"nginx:1.27"} and ready_pods(sim, "web") == 2, 30)
    found = await replicasets(sim, "web")
    assert len(found) == 2, "undo brings the first ReplicaSet back rather than making a third"
    sets = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in found}
    first, second = sets["nginx:1.27"], sets["nginx:1.28"]
    assert first["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert second["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert (first["spec"]["replicas"], second["spec"]["replicas"]) == (2, 0)
    history = await kubectl(sim, "rollout", "history", "deployment/web")
    revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert revisions == ["2", "3"]
    described = await kubectl(sim, "describe", "deployment/web")
    name = first["metadata"]["name"]
    assert f"NewReplicaSet:   {name} (2/2 replicas created)" in described
    assert f"OldReplicaSets:  {second['metadata']['name']} (0/0 replicas created)" in described


async def test_a_paused_deployment_makes_no_new_replicaset_until_resumed(sim: RunningSim) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await sim.client.create(DEPLOYMENT, deployment("api", replicas=2, strategy=strategy))
    await kubectl(sim, "rollout", "status", "deployment/api", "--timeout=60s")
    await kubectl(sim, "rollout", "pause", "deployment/api")
    await kubectl(sim, "set", "image", "deployment/api", "main=nginx:1.28")
    await kubectl(sim, "scale", "deployment/api", "--replicas=3")

    async def paused_status() -> dict[str, Any]:
        current = await sim.client.get(DEPLOYMENT, "api", "default")
        status = current.get("status") or {}
        if (
            status.get("observedGeneration") == current["metadata"]["generation"]
            and status.get("availableReplicas") == 3
        ):
            return dict(status)
        return {}

    status: dict[str, Any] = {}
    async with asyncio.timeout(30):
        while not status:
            status = await paused_status()
            await asyncio.sleep(0.1)
    progressing = get_condition(status["conditions"], "Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    sets = await replicasets(sim, "api")
    assert len(sets) == 1, "a template change while paused makes no ReplicaSet"
    assert sets[0]["spec"]["replicas"] == 3, "scaling applies while paused"
    assert images(sim, "api") == {"nginx:1.27"}

    await kubectl(sim, "rollout", "resume", "deployment/api")
    await kubectl(sim, "rollout", "status", "deployment/api", "--timeout=60s")
    await eventually(lambda: images(sim, "api") == {"nginx:1.28"} and ready_pods(sim, "api") == 3, 30)
    sets = await replicasets(sim, "api")
    assert sorted(rs["spec"]["replicas"] for rs in sets) == [0, 3]
    history = await kubectl(sim, "rollout", "history", "deployment/api")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]


async def test_scaling_a_deployment_paused_mid_rollout_grows_both_replicasets_in_proportion(
    sim: RunningSim,
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await sim.client.create(DEPLOYMENT, deployment("stuck", replicas=2, strategy=strategy))
    await kubectl(sim, "rollout", "status", "deployment/stuck", "--timeout=60s")
    # The new template's pods crash, so the rollout stops with one new pod beside the two old ones.
    patch = {"spec": {"template": {"metadata": {"annotations": {"sim.infleet.io/fail": "true"}}}}}
    await sim.client.patch(DEPLOYMENT, "stuck", patch, "default")

    async def sizes() -> list[int]:
        sets = await replicasets(sim, "stuck")
        by_revision = sorted(sets, key=lambda rs: int(rs["metadata"]["annotations"][REVISION]))
        return [rs["spec"]["replicas"] for rs in by_revision]

    async with asyncio.timeout(30):
        while await sizes() != [2, 1]:  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.05)
    await kubectl(sim, "rollout", "pause", "deployment/stuck")
    await kubectl(sim, "scale", "deployment/stuck", "--replicas=4")
    async with asyncio.timeout(30):
        while await sizes() != [3, 2]:  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.05)
    await kubectl(sim, "scale", "deployment/stuck", "--replicas=2")
    async with asyncio.timeout(30):
        while await sizes() != [2, 1]:  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.05)
