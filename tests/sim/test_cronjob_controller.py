"""The CronJob controller on a manual clock against the embedded API server: Jobs named and labelled
as kube makes them, concurrency policies, the starting deadline, history limits, suspend, time zones
and the status. No Job controller runs: the tests finish Jobs by writing their status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infleet.api.kubernetes import CRONJOB, JOB
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.kube.clock import ManualClock
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.informer import Informer
from infleet.kube.manager import Manager, ManagerSettings
from infleet.kube.reconciler import Request
from infleet.sim.cronjob_controller import SCHEDULED_TIMESTAMP_ANNOTATION, CronJobController
from tests.sim.conftest import eventually

pytestmark = pytest.mark.timeout(120)

# A Monday, 10:00:00 UTC; the CronJobs' last start is set to it, so every start time is known.
BASE = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class Harness:
    client: ClusterClient
    cronjobs: Informer
    jobs: Informer
    clock: ManualClock
    controller: CronJobController

    async def at(self, minutes: float) -> None:
        """Set the clock to ``minutes`` after BASE."""
        await self.clock.advance(BASE.timestamp() + minutes * 60 - self.clock.wall())

    async def reconcile(self, name: str) -> None:
        await self.controller.reconcile(Request("member", "default", name))

    async def synced(self, name: str, check: Callable[[dict[str, Any]], bool]) -> None:
        """Wait until the cached CronJob satisfies ``check`` (the controller reads the cache)."""
        await eventually(
            lambda: (cj := self.cronjobs.store.get(name, "default")) is not None and check(cj), 10
        )

    def job_names(self) -> list[str]:
        return sorted(j["metadata"]["name"] for j in self.jobs.store.list("default"))

    async def finish(self, name: str, outcome: str = "Complete", minutes: float = 0) -> None:
        moment = (BASE.timestamp() + minutes * 60) if minutes else self.clock.wall()
        when = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status: dict[str, Any] = {"startTime": when}
        conditions = [{"type": outcome, "status": "True", "lastTransitionTime": when}]
        if outcome == "Complete":
            status["completionTime"] = when
            conditions.insert(0, {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": when})
        else:
            conditions.insert(0, {"type": "FailureTarget", "status": "True", "lastTransitionTime": when})
        status["conditions"] = conditions
        status["succeeded" if outcome == "Complete" else "failed"] = 1
        await self.client.patch(JOB, name, {"status": status}, "default", subresource="status")
        await eventually(
            lambda: (
                (j := self.jobs.store.get(name, "default")) is not None
                and "conditions" in j.get("status", {})
            )
        )


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    server = EmbeddedAPIServer(
        APIServerSettings(
            port=0,
            data_dir=tmp_path / "data",
            clusters=("member",),
            kubeconfig_out=tmp_path / "kc",
            tls=False,
        )
    )
    await server.start()
    factory = ClientFactory(tmp_path / "kc")
    client = factory.client("infleet-member", "member")
    manager = Manager(ManagerSettings(handle_signals=False))
    cronjobs, jobs = manager.informer(client, CRONJOB), manager.informer(client, JOB)
    clock = ManualClock(wall_start=BASE.timestamp())
    task = asyncio.ensure_future(manager.run())
    await cronjobs.wait_synced()
    await jobs.wait_synced()
    yield Harness(client, cronjobs, jobs, clock, CronJobController(client, cronjobs, jobs, clock))
    manager.stop()
    await asyncio.wait_for(task, 15)
    await factory.close()
    await server.stop()


def minute_of(minutes: int) -> int:
    return int(BASE.timestamp()) // 60 + minutes


async def create(harness: Harness, name: str, schedule: str = "*/5 * * * *", **spec: Any) -> None:
    template = {
        "metadata": {"labels": {"team": "ops"}, "annotations": {"note": "nightly"}},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
            }
        },
    }
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"schedule": schedule, "jobTemplate": template, **spec},
    }
    await harness.client.create(CRONJOB, body)
    status = {"status": {"lastScheduleTime": BASE.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    await harness.client.patch(CRONJOB, name, status, "default", subresource="status")
    await harness.synced(name, lambda cj: bool(cj.get("status")))


async def test_a_job_per_start_time_named_labelled_and_owned_as_kube_makes_it(harness: Harness) -> None:
    await create(harness, "report")
    await harness.at(4)
    await harness.reconcile("report")
    assert harness.job_names() == []
    await harness.at(5.5)
    await harness.reconcile("report")
    name = f"report-{minute_of(5)}"
    job = await harness.client.get(JOB, name, "default")
    assert job["metadata"]["labels"]["team"] == "ops"
    assert job["metadata"]["annotations"]["note"] == "nightly"
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION] == "2026-03-02T10:05:00Z"
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "report", True)
    status = (await harness.client.get(CRONJOB, "report", "default"))["status"]
    assert status["lastScheduleTime"] == "2026-03-02T10:05:00Z"
    assert [ref["name"] for ref in status["active"]] == [name]

    await eventually(lambda: len(harness.job_names()) == 1)
    await harness.synced("report", lambda cj: cj["status"]["lastScheduleTime"] == "2026-03-02T10:05:00Z")
    await harness.at(10.2)
    await harness.reconcile("report")  # Allow: a second Job beside the running one
    await eventually(lambda: len(harness.job_names()) == 2)
    await harness.finish(name)
    await harness.reconcile("report")
    status = (await harness.client.get(CRONJOB, "report", "default"))["status"]
    assert [ref["name"] for ref in status["active"]] == [f"report-{minute_of(10)}"]
    assert status["lastSuccessfulTime"] == job_time(harness)


def job_time(harness: Harness) -> str:
    return datetime.fromtimestamp(harness.clock.wall(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_forbid_waits_for_the_running_job_and_replace_deletes_it(harness: Harness) -> None:
    await create(harness, "forbid", concurrencyPolicy="Forbid")
    await create(harness, "replace", concurrencyPolicy="Replace")
    await harness.at(5.1)
    for name in ("forbid", "replace"):
        await harness.reconcile(name)
    await eventually(lambda: len(harness.job_names()) == 2)
    for name in ("forbid", "replace"):
        await harness.synced(name, lambda cj: bool(cj["status"].get("active")))
    await harness.at(10.1)
    await harness.reconcile("forbid")
    await harness.reconcile("replace")
    await eventually(
        lambda: harness.job_names() == sorted([f"forbid-{minute_of(5)}", f"replace-{minute_of(10)}"])
    )
    # Once the running Job ends, Forbid starts the start time it skipped.
    await harness.finish(f"forbid-{minute_of(5)}")
    await harness.reconcile("forbid")
    await eventually(lambda: f"forbid-{minute_of(10)}" in harness.job_names())


async def test_a_start_later_than_the_deadline_is_missed(harness: Harness) -> None:
    await create(harness, "strict", startingDeadlineSeconds=30)
    await harness.at(5.75)  # 45 s after 10:05
    await harness.reconcile("strict")
    assert harness.job_names() == []
    await harness.at(10.25)
    await harness.reconcile("strict")
    await eventually(lambda: harness.job_names() == [f"strict-{minute_of(10)}"])


async def test_suspended_cronjobs_start_nothing(harness: Harness) -> None:
    await create(harness, "paused", suspend=True)
    await harness.at(30)
    await harness.reconcile("paused")
    await asyncio.sleep(0.2)
    assert harness.job_names() == []


async def test_history_limits_keep_the_newest_finished_jobs(harness: Harness) -> None:
    await create(harness, "tidy", successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0)
    for step, outcome in ((5, "Complete"), (10, "Complete"), (15, "Failed")):
        await harness.at(step + 0.1)
        await harness.reconcile("tidy")
        name, started = f"tidy-{minute_of(step)}", f"10:{step:02d}:00Z"
        await eventually(lambda: name in harness.job_names())  # noqa: B023 (awaited in this iteration)
        await harness.finish(name, outcome, minutes=step + 0.5)
        await harness.synced("tidy", lambda cj: cj["status"]["lastScheduleTime"].endswith(started))  # noqa: B023
    await harness.reconcile("tidy")
    await eventually(lambda: harness.job_names() == [f"tidy-{minute_of(10)}"])


async def test_the_schedule_is_read_in_the_time_zone(harness: Harness) -> None:
    # 19:00 in Tokyo is 10:00 UTC: BASE itself, already started; the next is a day later.
    await create(harness, "tokyo", schedule="30 19 * * *", timeZone="Asia/Tokyo")
    await harness.at(31)
    await harness.reconcile("tokyo")
    name = f"tokyo-{minute_of(30)}"
    await eventually(lambda: harness.job_names() == [name])
    job = harness.jobs.store.get(name, "default")
    assert job is not None
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION] == "2026-03-02T19:30:00+09:00"
