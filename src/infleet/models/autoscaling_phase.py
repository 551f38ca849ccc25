"""The autoscaling phase: the replica count to run, from the built-in autoscaler when the spec asks.

The decision is recorded on the outcome (the status phase writes it to ``status.autoscaling``); spec is
never patched (see :mod:`infleet.models.replica_ownership`). An Event marks every change of count.
"""

from __future__ import annotations

from infleet.api.labels import WAKE_ANNOTATION
from infleet.kube.clock import Clock
from infleet.kube.conditions import parse_timestamp
from infleet.kube.events import EventRecorder
from infleet.kube.reconciler import Result
from infleet.models.autoscaler import Autoscaler
from infleet.models.phases import Reconciling
from infleet.models.replica_ownership import running_replicas
from infleet.models.telemetry import TelemetryScraper


class AutoscalingPhase:
    def __init__(
        self,
        autoscaler: Autoscaler,
        scraper: TelemetryScraper,
        events: EventRecorder,
        clock: Clock,
        interval: float,
    ) -> None:
        self.autoscaler = autoscaler
        self.scraper = scraper
        self.events = events
        self.clock = clock
        self.interval = interval  # how often an autoscaled deployment is looked at again

    async def reconcile(self, run: Reconciling) -> Result:
        outcome, status = run.outcome, run.obj.get("status") or {}
        spec = outcome.spec
        if spec is None or outcome.sizing is None:
            return Result()  # nothing is applied this time; the observation phase reports what runs
        current = running_replicas(spec, status)
        outcome.desired = current
        if spec.autoscaling is None:
            return Result()
        moment = self.clock.now()
        decision = self.autoscaler.decide(
            run.key,
            spec.autoscaling,
            current,
            int(status.get("readyReplicas") or 0),
            self.scraper.serving.get(run.key),
            moment,
            self._wake_requested(run),
        )
        state = self.autoscaler.states[run.key]
        if state.last_active == moment:
            state.last_active_wall = self.clock.wall()
        outcome.decision, outcome.desired = decision, decision.replicas
        if decision.replicas != current:
            await self.events.record(run.obj, "Normal", decision.reason, decision.message)
        return Result(requeue_after=self.interval)

    @staticmethod
    def _wake_requested(run: Reconciling) -> bool:
        """The gateway's wake annotation, newer than the last scale to zero."""
        annotations = run.obj["metadata"].get("annotations") or {}
        wake_at = parse_timestamp(annotations.get(WAKE_ANNOTATION))
        auto = (run.obj.get("status") or {}).get("autoscaling") or {}
        slept_at = parse_timestamp(auto.get("lastScaleTime"))
        return wake_at is not None and (slept_at is None or wake_at >= slept_at)
