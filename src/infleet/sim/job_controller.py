"""The simulated Job controller: pods from the template up to ``parallelism`` until ``completions`` succeed.

Succeeded and failed pods are counted from pod phases (a Job's pods are kept when they end, as kube
keeps them); for ``restartPolicy: OnFailure`` container restarts count as failures too. More failures
than ``backoffLimit`` fail the Job (``BackoffLimitExceeded``) and stop its running pods; enough
successes complete it (``SuccessCriteriaMet`` then ``Complete``, with ``completionTime``). A suspended
Job stops its pods and creates none. Not simulated: Indexed completion, pod failure policies,
``activeDeadlineSeconds``, ``ttlSecondsAfterFinished`` and pod-tracking finalizers (a pod deleted by
hand is forgotten, so its success or failure is not counted). How long a Job's containers run and how
they exit comes from :mod:`~infleet.sim.pod_timing` (``sim.infleet.io/run-seconds``, ``exit-code``).
"""

from __future__ import annotations

from typing import Any

from infleet.api.kubernetes import JOB, POD
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import is_true, set_condition, timestamp
from infleet.kube.events import NORMAL, WARNING, EventRecorder
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status
from infleet.sim.event_sink import EventSink
from infleet.sim.pod_expectations import PodExpectations
from infleet.sim.workload_pods import is_ready, is_terminal, pod_from_template


def _finished(job: dict[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions")
    return is_true(conditions, "Complete") or is_true(conditions, "Failed")


class JobController:
    def __init__(self, client: ClusterClient, jobs: Informer, pods: Informer) -> None:
        self.client, self.jobs, self.pods = client, jobs, pods
        self.events = EventSink(EventRecorder(client, "job-controller"))
        self.expectations = PodExpectations(pods)

    async def reconcile(self, request: Request) -> Result:
        job = self.jobs.store.get(request.name, request.namespace)
        if job is None or job["metadata"].get("deletionTimestamp") or _finished(job):
            self.expectations.forget(request.key)
            return Result()
        if self.expectations.waiting(request.key, request.namespace):
            return Result(requeue_after=0.2)
        spec = job.get("spec") or {}
        pods = self.pods.store.owned_by(job["metadata"]["uid"])
        active = [p for p in pods if not is_terminal(p) and not p["metadata"].get("deletionTimestamp")]
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        restarts = sum(
            int(s.get("restartCount", 0))
            for p in active
            for s in (p.get("status") or {}).get("containerStatuses") or []
        )
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        outcome = ""
        if failed + restarts > int(spec.get("backoffLimit", 6)):
            outcome = "Failed"
        elif (completions is not None and succeeded >= int(completions)) or (
            completions is None and succeeded > 0 and not active
        ):
            outcome = "Complete"
        if outcome or spec.get("suspend"):
            for pod in active:
                await self._delete(pod)
            active = []
        else:
            wanted = parallelism if completions is None else min(parallelism, int(completions) - succeeded)
            if completions is None and succeeded > 0:
                wanted = 0  # a work queue: once one pod succeeded, no new ones start
            active = await self._scale(request, job, active, wanted)
        await self._write_status(job, active, succeeded, failed, outcome)
        if outcome:
            reason, message, type_ = (
                ("Completed", "Job completed", NORMAL)
                if outcome == "Complete"
                else ("BackoffLimitExceeded", BACKOFF_LIMIT, WARNING)
            )
            self.events.emit(job, type_, reason, message)
        return Result()

    async def _scale(
        self, request: Request, job: dict[str, Any], active: list[dict[str, Any]], wanted: int
    ) -> list[dict[str, Any]]:
        """Create or delete pods so ``wanted`` are active; returns the active pods after."""
        if len(active) > wanted:
            surplus = sorted(active, key=lambda p: (is_ready(p), p["metadata"].get("creationTimestamp", "")))
            for pod in surplus[: len(active) - wanted]:
                await self._delete(pod)
                active = [p for p in active if p is not pod]
            return active
        created: set[str] = set()
        template = (job.get("spec") or {}).get("template") or {}
        body = pod_from_template(job, template, {}, generate_name=f"{request.name}-")
        for _ in range(wanted - len(active)):
            pod = await self.client.create(POD, body)
            created.add(pod["metadata"]["name"])
            active = [*active, pod]
            self.events.emit(job, NORMAL, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
        self.expectations.expect(request.key, created)
        return active

    async def _delete(self, pod: dict[str, Any]) -> None:
        await self.client.delete(POD, pod["metadata"]["name"], pod["metadata"]["namespace"], missing_ok=True)

    async def _write_status(
        self, job: dict[str, Any], active: list[dict[str, Any]], succeeded: int, failed: int, outcome: str
    ) -> None:
        suspended = bool((job.get("spec") or {}).get("suspend"))
        now = timestamp()

        def mutate(status: dict[str, Any]) -> None:
            if not suspended:
                status.setdefault("startTime", now)
            status["active"] = len(active)
            status["ready"] = sum(1 for p in active if is_ready(p))
            status["succeeded"] = succeeded
            status["failed"] = failed
            status["terminating"] = 0
            for key in ("active", "succeeded", "failed"):
                if status[key] == 0:
                    del status[key]  # the API omits zero counts
            _set_conditions(status, suspended, outcome, now)

        try:
            await patch_status(self.client, JOB, job, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise


COMPLETED = "Reached expected number of succeeded pods"
BACKOFF_LIMIT = "Job has reached the specified backoff limit"


def _set_conditions(status: dict[str, Any], suspended: bool, outcome: str, now: str) -> None:
    """Suspended while suspended (and resumed after), then the outcome and its target condition."""
    conditions = status.setdefault("conditions", [])
    if suspended or any(c.get("type") == "Suspended" for c in conditions):
        reason, message = ("JobSuspended", "Job suspended") if suspended else ("JobResumed", "Job resumed")
        set_condition(conditions, "Suspended", suspended, reason, message)
    if outcome == "Complete":
        set_condition(conditions, "SuccessCriteriaMet", True, "CompletionsReached", COMPLETED)
        set_condition(conditions, "Complete", True, "CompletionsReached", COMPLETED)
        status["completionTime"] = now
    elif outcome == "Failed":
        set_condition(conditions, "FailureTarget", True, "BackoffLimitExceeded", BACKOFF_LIMIT)
        set_condition(conditions, "Failed", True, "BackoffLimitExceeded", BACKOFF_LIMIT)
    if not conditions:
        del status["conditions"]
