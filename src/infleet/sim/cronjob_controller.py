"""The simulated CronJob controller: a Job for each start time of the schedule, as kube's controller
makes them.

The Job is named ``<cronjob>-<minutes since the epoch>`` of its start time, carries the job template's
labels and annotations plus ``batch.kubernetes.io/cronjob-scheduled-timestamp``, and is controlled by
the CronJob. ``suspend`` stops new Jobs; ``concurrencyPolicy`` Forbid skips a start while a Job runs
and Replace deletes the running ones first; a start later than ``startingDeadlineSeconds`` is missed;
only the latest of many missed starts runs. Finished Jobs past ``successfulJobsHistoryLimit`` /
``failedJobsHistoryLimit`` are deleted, oldest first. The status lists the active Jobs and the last
schedule and success times. The clock is injected, so tests move time by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from infleet.api.kubernetes import CRONJOB, JOB
from infleet.api.labels import CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import is_true, parse_timestamp, timestamp
from infleet.kube.events import NORMAL, WARNING, EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.owner_references import set_controller_reference
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim.cron_schedule import TOO_MANY_MISSED, Due, ScheduleError, due
from infleet.sim.event_sink import EventSink

SCHEDULED_TIMESTAMP_ANNOTATION = CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION
FORBIDDEN_MESSAGE = "Not starting job because prior execution is running and concurrency policy is Forbid"
TOO_MANY_MISSED_MESSAGE = (
    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
)
Job = dict[str, Any]


def _finished(job: Job) -> str:
    """``Complete``, ``Failed`` or empty while the Job runs."""
    conditions = (job.get("status") or {}).get("conditions")
    for outcome in ("Complete", "Failed"):
        if is_true(conditions, outcome):
            return outcome
    return ""


def _moment(value: Any) -> datetime | None:
    seconds = parse_timestamp(value if isinstance(value, str) else None)
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def job_name(cronjob_name: str, scheduled: datetime) -> str:
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"


class CronJobController:
    """Reconciles CronJobs of one cluster; ``clock.wall()`` is "now"."""

    def __init__(
        self, client: ClusterClient, cronjobs: Informer, jobs: Informer, clock: Clock | None = None
    ) -> None:
        self.client, self.cronjobs, self.jobs = client, cronjobs, jobs
        self.clock: Clock = clock or SystemClock()
        self.events = EventSink(EventRecorder(client, "cronjob-controller", self.clock))

    async def reconcile(self, request: Request) -> Result:
        cronjob = self.cronjobs.store.get(request.name, request.namespace)
        if cronjob is None or cronjob["metadata"].get("deletionTimestamp"):
            return Result()
        now = datetime.fromtimestamp(self.clock.wall(), UTC)
        children = await self._with_uncached(cronjob, self.jobs.store.owned_by(cronjob["metadata"]["uid"]))
        children = await self._clean_history(cronjob, children)
        active = [j for j in children if not _finished(j) and not j["metadata"].get("deletionTimestamp")]
        update: dict[str, Any] = {}
        requeue = await self._maybe_start(cronjob, active, now, update)
        await self._write_status(cronjob, children, active, update)
        return Result(requeue_after=requeue) if requeue is not None else Result()

    async def _with_uncached(self, cronjob: dict[str, Any], children: list[Job]) -> list[Job]:
        """``children`` plus the Jobs the status lists that the cache does not show yet (just created),
        read from the server; a listed Job that is gone drops out."""
        known = {j["metadata"]["uid"] for j in children}
        for ref in (cronjob.get("status") or {}).get("active") or []:
            if ref.get("uid") in known:
                continue
            try:
                job = await self.client.get(JOB, str(ref.get("name")), cronjob["metadata"]["namespace"])
            except KubeAPIError as error:
                if error.not_found:
                    continue
                raise
            if job["metadata"].get("uid") == ref.get("uid"):
                children = [*children, job]
        return children

    def _due(self, cronjob: dict[str, Any], now: datetime) -> Due | None:
        """The CronJob's start times up to ``now`` (None when it cannot be read: an Event says why)."""
        spec = cronjob.get("spec") or {}
        status = cronjob.get("status") or {}
        earliest = _moment(status.get("lastScheduleTime")) or _moment(
            cronjob["metadata"]["creationTimestamp"]
        )
        earliest = earliest or now
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int):
            earliest = max(earliest, now - timedelta(seconds=deadline))  # older starts are missed
        try:
            found = due(str(spec.get("schedule", "")), spec.get("timeZone"), earliest, now)
        except ScheduleError as error:
            reason = "UnknownTimeZone" if "timeZone" in str(error) else "UnparseableSchedule"
            self.events.emit(cronjob, WARNING, reason, str(error))
            return None
        if found.missed > TOO_MANY_MISSED:
            self.events.emit(cronjob, WARNING, "TooManyMissedTimes", TOO_MANY_MISSED_MESSAGE)
        return found

    async def _maybe_start(
        self, cronjob: dict[str, Any], active: list[Job], now: datetime, update: dict[str, Any]
    ) -> float | None:
        """Start the Job that is due, if any; returns seconds until the next start time."""
        spec = cronjob.get("spec") or {}
        found = None if spec.get("suspend") else self._due(cronjob, now)
        if found is None:
            return None
        wait = max(0.0, (found.next_time - now).total_seconds()) + 0.1
        if found.scheduled is None:
            return wait
        name = job_name(cronjob["metadata"]["name"], found.scheduled)
        started = timestamp(found.scheduled.timestamp())
        if self.jobs.store.get(name, cronjob["metadata"]["namespace"]) or any(
            j["metadata"]["name"] == name for j in active
        ):
            update["lastScheduleTime"] = started
            return wait
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            self.events.emit(cronjob, NORMAL, "JobAlreadyActive", FORBIDDEN_MESSAGE)
            return wait
        if policy == "Replace":
            for running in active:
                await self._delete(cronjob, running)
            active.clear()
        created = await self._create(cronjob, name, found.scheduled)
        if created is not None:
            active.append(created)
        update["lastScheduleTime"] = started
        return wait

    async def _create(self, cronjob: dict[str, Any], name: str, scheduled: datetime) -> Job | None:
        template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
        template_meta = template.get("metadata") or {}
        annotations = {
            **(template_meta.get("annotations") or {}),
            # RFC 3339 in the CronJob's time zone, as kube writes it.
            SCHEDULED_TIMESTAMP_ANNOTATION: scheduled.isoformat().replace("+00:00", "Z"),
        }
        body: Job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": cronjob["metadata"]["namespace"],
                "labels": dict(template_meta.get("labels") or {}),
                "annotations": annotations,
            },
            "spec": template.get("spec") or {},
        }
        set_controller_reference(cronjob, body)
        try:
            job = await self.client.create(JOB, body)
        except KubeAPIError as error:
            if error.conflict:
                return None  # made by an earlier pass the cache has not shown yet
            self.events.emit(cronjob, WARNING, "FailedCreate", f"Error creating job: {error}")
            raise
        self.events.emit(cronjob, NORMAL, "SuccessfulCreate", f"Created job {name}")
        return job

    async def _delete(self, cronjob: dict[str, Any], job: Job) -> None:
        name = job["metadata"]["name"]
        await self.client.delete(
            JOB,
            name,
            job["metadata"]["namespace"],
            missing_ok=True,
            options={"propagationPolicy": "Background"},
        )
        self.events.emit(cronjob, NORMAL, "SuccessfulDelete", f"Deleted job {name}")

    async def _clean_history(self, cronjob: dict[str, Any], children: list[Job]) -> list[Job]:
        """Delete the oldest finished Jobs past the history limits; returns the Jobs left."""
        spec = cronjob.get("spec") or {}
        limits = {
            "Complete": int(spec.get("successfulJobsHistoryLimit", 3)),
            "Failed": int(spec.get("failedJobsHistoryLimit", 1)),
        }
        gone: set[str] = set()
        for outcome, limit in limits.items():
            done = sorted(
                (
                    j
                    for j in children
                    if _finished(j) == outcome and not j["metadata"].get("deletionTimestamp")
                ),
                key=lambda j: ((j.get("status") or {}).get("startTime") or "", j["metadata"]["name"]),
            )
            for job in done[: max(0, len(done) - limit)]:
                await self._delete(cronjob, job)
                gone.add(job["metadata"]["name"])
        return [j for j in children if j["metadata"]["name"] not in gone]

    async def _write_status(
        self, cronjob: dict[str, Any], children: list[Job], active: list[Job], update: dict[str, Any]
    ) -> None:
        completions = [
            str((j.get("status") or {}).get("completionTime"))
            for j in children
            if _finished(j) == "Complete" and (j.get("status") or {}).get("completionTime")
        ]
        # A Job keeps the reference it was listed with (its resourceVersion then), as kube keeps it.
        listed = {ref.get("uid"): ref for ref in (cronjob.get("status") or {}).get("active") or []}
        refs = [
            listed.get(j["metadata"]["uid"])
            or {
                "kind": "Job",
                "namespace": j["metadata"]["namespace"],
                "name": j["metadata"]["name"],
                "uid": j["metadata"]["uid"],
                "apiVersion": "batch/v1",
                "resourceVersion": j["metadata"].get("resourceVersion", ""),
            }
            for j in sorted(active, key=lambda j: j["metadata"]["name"])
        ]

        def mutate(status: dict[str, Any]) -> None:
            if refs:
                status["active"] = refs
            else:
                status.pop("active", None)
            status.update(update)
            if completions:
                status["lastSuccessfulTime"] = max([*completions, status.get("lastSuccessfulTime") or ""])

        try:
            await patch_status(self.client, CRONJOB, cronjob, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise
