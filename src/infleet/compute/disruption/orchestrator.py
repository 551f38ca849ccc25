"""Carrying out disruption commands. Deletions: taint the node, then delete its NodeClaim (termination
drains it). Replacements: create the new NodeClaim and taint the old nodes (one, or several for a
multi-node consolidation), then on later passes delete the old claims once the new one is Initialized,
or give up (untaint, delete the replacement) when it was deleted or missed the replacement timeout.
Interruptions reuse the same steps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.compute.disruption.command import Command
from infleet.compute.disruption.state import Snapshot, StateNode
from infleet.compute.disruption_settings import DisruptionSettings
from infleet.compute.termination import taints
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.events import NORMAL, WARNING, EventRecorder
from infleet.kube.finalizers import is_being_deleted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    """A replacement launched for ``olds``; the old nodes go once it is Initialized."""

    olds: tuple[str, ...]
    method: str
    started: float


class Orchestrator:
    def __init__(
        self, client: ClusterClient, recorder: EventRecorder, clock: Clock, settings: DisruptionSettings
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.settings = settings
        #: replacement NodeClaim name -> what it replaces
        self.pending: dict[str, Pending] = {}

    async def execute(self, command: Command) -> None:
        for replacement in command.replace:
            await self.replace(list(replacement.old), command, replacement.manifest)
        for state in command.delete:
            await self.delete(state, f"{command.method}/{command.reason}: {command.message}")

    async def replace(self, olds: list[StateNode], command: Command, new_claim: dict[str, Any]) -> str:
        created = await self.client.create(NODE_CLAIM, new_claim)
        name = str(created["metadata"]["name"])
        for old in olds:
            if old.node is not None:
                await taints.taint(self.client, old.node)
        self.pending[name] = Pending(tuple(old.name for old in olds), command.method, self.clock.now())
        for old in olds:
            await self.recorder.record(
                old.claim,
                NORMAL,
                "DisruptionLaunching",
                f"{command.method}/{command.reason}: launching {name}; {command.message}",
            )
        return name

    async def delete(self, state: StateNode, why: str) -> None:
        if state.node is not None:
            await taints.taint(self.client, state.node)
        await self.recorder.record(state.claim, NORMAL, "DisruptionTerminating", why)
        await _delete_claim(self.client, state.name)

    async def progress(self, snapshot: Snapshot) -> None:
        """Finish replacements that initialized; abandon those that failed or timed out."""
        states = {state.name: state for state in snapshot.nodes}
        for name, pending in list(self.pending.items()):
            new = states.get(name)
            olds = [
                old
                for old in (states.get(n) for n in pending.olds)
                if old is not None and not is_being_deleted(old.claim)
            ]
            if not olds:
                del self.pending[name]
            elif new is not None and new.initialized and not new.disrupting:
                del self.pending[name]
                for old in olds:
                    await self.delete(old, f"{pending.method}: replacement {name} is initialized")
            elif new is None or is_being_deleted(new.claim) or self._timed_out(pending):
                del self.pending[name]
                await self._abandon(name, olds)

    def _timed_out(self, pending: Pending) -> bool:
        return self.clock.now() - pending.started >= self.settings.replacement_timeout_seconds

    async def _abandon(self, name: str, olds: list[StateNode]) -> None:
        await _delete_claim(self.client, name)
        for old in olds:
            if old.node is not None:
                await taints.untaint(self.client, old.node)
            await self.recorder.record(
                old.claim,
                WARNING,
                "DisruptionAbandoned",
                f"replacement {name} did not initialize; the node stays",
            )

    def replacing(self) -> set[str]:
        return {old for pending in self.pending.values() for old in pending.olds}


async def _delete_claim(client: ClusterClient, name: str) -> None:
    await client.delete(NODE_CLAIM, name, missing_ok=True)
    log.info("disruption: deleted NodeClaim %s", name)
