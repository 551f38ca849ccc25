"""Jobs on a simulated cluster: pods up to parallelism until completions succeed, backoffLimit, and
what ``kubectl create job`` / ``kubectl wait`` see."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from infleet.api.kubernetes import JOB
from tests.apiserver_harness import Kubectl, kubectl_binaries
from tests.sim.conftest import RunningSim

pytestmark = pytest.mark.timeout(180)


def job(name: str, restart: str = "Never", exit_code: int = 0, **spec: Any) -> dict[str, Any]:
    annotations = {"sim.infleet.io/run-seconds": "5", "sim.infleet.io/exit-code": str(exit_code)}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {"restartPolicy": restart, "containers": [{"name": "work", "image": "busybox"}]},
            },
            **spec,
        },
    }


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_ and c["status"] == "True"), None)


async def finished(sim: RunningSim, name: str, type_: str) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            current = await sim.client.get(JOB, name, "default")
            if condition(current, type_) is not None:
                return current
            await asyncio.sleep(0.05)


def job_pods(sim: RunningSim, name: str) -> list[dict[str, Any]]:
    return sim.pods(f"batch.kubernetes.io/job-name={name}")


async def test_completions_run_at_most_parallelism_pods_at_once(sim: RunningSim) -> None:
    await sim.client.create(JOB, job("batch", completions=3, parallelism=2))
    most_active = 0
    async with asyncio.timeout(60):
        while (current := await sim.client.get(JOB, "batch", "default")) and not condition(
            current, "Complete"
        ):
            running = [
                p for p in job_pods(sim, "batch") if p["status"].get("phase") not in ("Succeeded", "Failed")
            ]
            most_active = max(most_active, len(running))
            await asyncio.sleep(0.01)
    assert most_active <= 2
    status = current["status"]
    assert status["succeeded"] == 3
    assert "active" not in status
    assert status["startTime"] <= status["completionTime"]
    assert condition(current, "SuccessCriteriaMet") is not None
    pods = job_pods(sim, "batch")
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Succeeded"
        (container,) = pod["status"]["containerStatuses"]
        assert container["state"]["terminated"]["reason"] == "Completed"
        assert container["state"]["terminated"]["exitCode"] == 0


async def test_failures_past_the_backoff_limit_fail_the_job(sim: RunningSim) -> None:
    await sim.client.create(JOB, job("broken", exit_code=3, backoffLimit=1))
    current = await finished(sim, "broken", "Failed")
    failed = condition(current, "Failed")
    assert failed is not None
    assert failed["reason"] == "BackoffLimitExceeded"
    assert current["status"]["failed"] == 2
    assert "completionTime" not in current["status"]
    pods = job_pods(sim, "broken")
    assert len(pods) == 2
    assert {p["status"]["phase"] for p in pods} == {"Failed"}
    terminated = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")


async def test_on_failure_restarts_count_against_the_limit(sim: RunningSim) -> None:
    await sim.client.create(JOB, job("flaky", restart="OnFailure", exit_code=1, backoffLimit=2))
    current = await finished(sim, "flaky", "Failed")
    assert condition(current, "FailureTarget") is not None
    # One pod restarted in place until the limit; the Job then stopped it.
    async with asyncio.timeout(30):
        while job_pods(sim, "flaky"):  # noqa: ASYNC110 (polls the cache)
            await asyncio.sleep(0.05)


async def test_kubectl_create_job_and_wait(sim: RunningSim, tmp_path: Path) -> None:
    binaries = kubectl_binaries()
    if not binaries:
        pytest.skip("no kubectl binary")
    kubeconfig = sim.server.settings.kubeconfig_out
    assert kubeconfig is not None
    kubectl = Kubectl(binaries[0], kubeconfig, tmp_path / "kube-cache", context="infleet-member")

    def run(*args: str) -> Any:
        return kubectl.run(*args, timeout=90)

    await asyncio.to_thread(run, "create", "job", "hello", "--image=busybox", "--", "echo", "hi")
    waited = await asyncio.to_thread(run, "wait", "--for=condition=complete", "job/hello", "--timeout=60s")
    assert "job.batch/hello condition met" in waited.stdout
    listed = await asyncio.to_thread(run, "get", "job", "hello")
    assert "Complete" in listed.stdout
    assert "1/1" in listed.stdout
