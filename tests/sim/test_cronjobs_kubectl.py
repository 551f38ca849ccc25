"""CronJobs on a simulated cluster in real time, through real kubectl: ``create cronjob``, a Job each
minute run to completion with the status kube keeps, and ``create job --from=cronjob/<name>``."""

from __future__ import annotations

import asyncio
import json

import pytest

from infleet.api.kubernetes import CRONJOB
from tests.sim.conftest import RunningSim
from tests.sim.test_kubectl_rollout import kubectl

pytestmark = pytest.mark.timeout(240)


async def test_create_job_from_a_cronjob_runs_it_now(sim: RunningSim) -> None:
    await kubectl(sim, "create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *")
    await kubectl(sim, "create", "job", "nightly-now", "--from=cronjob/nightly")
    await kubectl(sim, "wait", "--for=condition=complete", "job/nightly-now", "--timeout=60s")
    job = json.loads(await kubectl(sim, "get", "job", "nightly-now", "-o", "json"))
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["name"] == "nightly"
    cronjob = await sim.client.get(CRONJOB, "nightly", "default")
    assert "lastScheduleTime" not in cronjob.get("status", {}), "a manual run is not a scheduled one"


async def test_every_minute_a_job_runs_and_the_status_follows(sim: RunningSim) -> None:
    await kubectl(sim, "create", "cronjob", "tick", "--image=busybox", "--schedule=* * * * *")
    async with asyncio.timeout(150):  # the first start is up to a minute away
        while True:
            status = (await sim.client.get(CRONJOB, "tick", "default")).get("status") or {}
            if status.get("lastSuccessfulTime"):
                break
            await asyncio.sleep(0.5)
    assert status["lastScheduleTime"].endswith(":00Z")
    assert status["lastSuccessfulTime"] >= status["lastScheduleTime"]
    jobs = json.loads(await kubectl(sim, "get", "jobs", "-o", "json"))["items"]
    scheduled = [j for j in jobs if j["metadata"]["name"].startswith("tick-")]
    assert scheduled
    assert all(j["metadata"]["ownerReferences"][0]["kind"] == "CronJob" for j in scheduled)
    row = (await kubectl(sim, "get", "cronjob", "tick", "--no-headers")).split()
    assert row[1:6] == ["*", "*", "*", "*", "*"]
    assert row[-2] != "<none>"  # LAST SCHEDULE
    described = await kubectl(sim, "describe", "cronjob", "tick")
    assert "Last Schedule Time:" in described
    assert "SuccessfulCreate" in described  # the controller's Events
