"""The disruption loop (Karpenter's singleton disruption controller): every ``poll_interval_seconds`` on
the injected clock it snapshots the caches, acts on spot interruptions, advances pending replacements,
marks ``Consolidatable`` and ``Drifted``, and runs the first method that finds work, in Karpenter's
order: Emptiness, Drift, (Infleet's) Expiration, MultiNodeConsolidation, SingleNodeConsolidation. One
method acts per pass, so each pass re-reads what the last one changed. Emptiness and consolidation
commands are held for the validation period and carried out on a later pass only if still valid; while
one is held no other method starts (as Karpenter's loop waits), but interruptions and replacements go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from infleet.api.compute_aitoolchain_io.v1alpha1.flex_node_class import FlexNodeClassSpec
from infleet.compute import workload_pods
from infleet.compute.cloudprovider.provider import CloudProvider
from infleet.compute.disruption import consolidatable
from infleet.compute.disruption import drifted as drift_detection
from infleet.compute.disruption.budgets import BudgetLedger
from infleet.compute.disruption.candidates import screen
from infleet.compute.disruption.command import Command
from infleet.compute.disruption.drift import drift
from infleet.compute.disruption.emptiness import emptiness
from infleet.compute.disruption.expiration import expiration
from infleet.compute.disruption.interruption import InterruptionHandler
from infleet.compute.disruption.multi_node import multi_node_consolidation
from infleet.compute.disruption.orchestrator import Orchestrator
from infleet.compute.disruption.packing import FreeCapacity
from infleet.compute.disruption.pass_context import PassContext
from infleet.compute.disruption.pricing import PriceBook, annotate_prices
from infleet.compute.disruption.serving_guard import ServingGuard
from infleet.compute.disruption.single_node import single_node_consolidation
from infleet.compute.disruption.state import Snapshot, take_snapshot
from infleet.compute.disruption.validation import Held, hold, revalidate
from infleet.compute.disruption.warm_buffer import WarmBufferGuard
from infleet.compute.disruption_settings import DisruptionSettings
from infleet.compute.pod_disruption_budgets import list_budgets
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.events import NORMAL, EventRecorder
from infleet.kube.finalizers import is_being_deleted
from infleet.kube.informer import Informer

log = logging.getLogger(__name__)

Method = Callable[[PassContext], Command | None]
METHODS: tuple[Method, ...] = (
    emptiness,
    drift,
    expiration,
    multi_node_consolidation,
    single_node_consolidation,
)
#: Methods whose commands wait out the validation period (Karpenter validates these, not Drift).
VALIDATED = frozenset({"Emptiness", "MultiNodeConsolidation", "SingleNodeConsolidation"})


@dataclass
class DisruptionInformers:
    claims: Informer
    nodes: Informer
    pods: Informer
    pools: Informer
    node_classes: Informer
    deployments: Informer

    def all(self) -> list[Informer]:
        return [self.claims, self.nodes, self.pods, self.pools, self.node_classes, self.deployments]


class DisruptionLoop:
    """A Runnable (leader only); tests call :meth:`run_pass` directly on a manual clock."""

    def __init__(
        self,
        client: ClusterClient,
        provider: CloudProvider,
        informers: DisruptionInformers,
        clock: Clock,
        settings: DisruptionSettings,
    ) -> None:
        self.client = client
        self.provider = provider
        self.informers = informers
        self.clock = clock
        self.settings = settings
        self.recorder = EventRecorder(client, "disruption", clock)
        self.orchestrator = Orchestrator(client, self.recorder, clock, settings)
        self.interruptions = InterruptionHandler(client, provider, self.orchestrator)
        self.quiet = consolidatable.QuietTimes(clock)
        self.passes = 0
        #: A command waiting for its validation period before it is checked again and carried out.
        self.validating: Held | None = None
        self._lock = asyncio.Lock()
        self._reported: dict[str, str] = {}

    async def run(self, stop: asyncio.Event) -> None:
        for informer in self.informers.all():
            await informer.wait_synced()
        while not stop.is_set():
            sleeper = asyncio.ensure_future(self.clock.sleep(self.settings.poll_interval_seconds))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sleeper, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if stop.is_set():
                return
            try:
                await self.run_pass()
            except Exception:
                # A failed pass (the API away) must not end the loop: the next pass starts afresh.
                log.exception("disruption pass failed; retrying next period")

    def snapshot(self) -> Snapshot:
        i = self.informers
        return take_snapshot(i.claims.store, i.nodes.store, i.pods.store, i.pools.store)

    async def run_pass(self) -> Command | None:
        """One pass; the command it carried out, if any (a command held for validation is not yet)."""
        async with self._lock:
            self.passes += 1
            snapshot = self.snapshot()
            prices = PriceBook(self.provider, self.informers.node_classes.store)
            annotate_prices(snapshot.nodes, snapshot.pools, prices)
            if await self.interruptions.handle(snapshot):
                snapshot = self.snapshot()  # the interrupted nodes are disrupting now
                annotate_prices(snapshot.nodes, snapshot.pools, prices)
            await self.orchestrator.progress(snapshot)
            self.quiet.observe(snapshot)
            ctx = await self._context(snapshot, prices)
            await self._mark(ctx)
            if self.validating is not None:
                if self.clock.now() < self.validating.due:
                    return None
                command = await self._validated(ctx, self.validating)
                self.validating = None
                if command is not None:
                    await self.orchestrator.execute(command)
                    return command
                ctx = await self._context(snapshot, prices)  # the check charged the guards
            for method in METHODS:
                command = method(ctx)
                if command is None:
                    continue
                period = self.settings.consolidation_validation_seconds
                if command.method in VALIDATED and period > 0:
                    self.validating = hold(command, self.clock.now() + period)
                    return None
                await self.orchestrator.execute(command)
                return command
            await self._report(ctx)
            return None

    async def _validated(self, ctx: PassContext, held: Held) -> Command | None:
        command, why = revalidate(ctx, held, emptiness=held.command.method == "Emptiness")
        if command is None:
            log.info("disruption: %s command dropped: %s", held.command.method, why)
            for state in held.command.candidates:
                await self.recorder.record(
                    state.claim, NORMAL, "DisruptionInvalidated", f"{held.command.method} dropped: {why}"
                )
        return command

    async def _context(self, snapshot: Snapshot, prices: PriceBook) -> PassContext:
        counts: dict[str, tuple[int, int]] = {}
        for pool, states in snapshot.by_pool().items():
            counts[pool] = (len(states), sum(1 for s in states if s.disrupting))
        screened = screen(snapshot)
        targets = [s for s in snapshot.nodes if s.initialized and not s.disrupting]
        capacity = FreeCapacity(targets)
        # Pods leaving disrupting nodes, and pending pods, will take room first: a replacement's free
        # GPUs belong to the pods of the node it replaces.
        moving = [p for s in snapshot.nodes if s.disrupting for p in s.reschedulable]
        pending = [p for p in snapshot.pods if workload_pods.is_pending(p)]
        capacity.reserve(moving + pending)
        node_classes = {
            str(c["metadata"]["name"]): FlexNodeClassSpec.model_validate(c.get("spec") or {})
            for c in self.informers.node_classes.store.list()
        }
        drifted = {}
        for state in snapshot.nodes:
            reason = drift_detection.drift_reason(state, snapshot.pools.get(state.pool_name), node_classes)
            if reason is not None:
                drifted[state.name] = reason
        return PassContext(
            snapshot=snapshot,
            screened=screened,
            budgets=BudgetLedger(snapshot.pools, counts, self.clock.wall()),
            serving=ServingGuard(snapshot, self.informers.deployments.store, await list_budgets(self.client)),
            warm=WarmBufferGuard(snapshot),
            capacity=capacity,
            prices=prices,
            quiet=self.quiet,
            now_wall=self.clock.wall(),
            settings=self.settings,
            skipped={},
            node_classes=node_classes,
            drifted=drifted,
        )

    async def _mark(self, ctx: PassContext) -> None:
        """``Consolidatable`` on candidates and ``Drifted`` on live claims, in one patch when either flips."""
        candidates = {state.name for state in ctx.screened.candidates}
        for state in ctx.snapshot.nodes:
            if not state.initialized or is_being_deleted(state.claim):
                continue
            conditions = [dict(c) for c in (state.claim.get("status") or {}).get("conditions") or []]
            changed = drift_detection.apply(conditions, ctx.drifted.get(state.name), ctx.now_wall)
            if state.name in candidates:
                pool = ctx.snapshot.pools.get(state.pool_name)
                consolidatable_now = self.quiet.consolidatable(state, pool)
                changed = consolidatable.apply(conditions, consolidatable_now, ctx.now_wall) or changed
            if changed:
                await consolidatable.patch_conditions(self.client, state, conditions)

    async def _report(self, ctx: PassContext) -> None:
        """An event when the reason a node is kept changes (not every pass: events are API writes)."""
        states = {state.name: state for state in ctx.snapshot.nodes}
        for name, why in {**ctx.screened.refused, **ctx.skipped}.items():
            state = states.get(name)
            if state is None or not state.initialized or state.disrupting or self._reported.get(name) == why:
                continue
            self._reported[name] = why
            await self.recorder.record(state.claim, NORMAL, "DisruptionBlocked", why)
