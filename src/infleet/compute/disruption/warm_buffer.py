"""Infleet's warm buffer: a pool's ``warmBuffer`` keeps that many spare GPUs of a SKU provisioned for
bursts. Taking a node away (its pods moving onto others' free GPUs) lowers the spare GPUs of its SKU by
the node's allocatable GPUs, and a replacement adds its own free GPUs back; a command that would leave
fewer spare GPUs than the buffer is refused. Karpenter's CapacityBuffer protects headroom the same way.
"""

from __future__ import annotations

import copy
from collections import defaultdict

from infleet.compute.disruption.state import Snapshot, StateNode


class WarmBufferGuard:
    def __init__(self, snapshot: Snapshot) -> None:
        self.wanted: dict[tuple[str, str], int] = {}
        for name, pool in snapshot.pools.items():
            for buffer in pool.warm_buffer or []:
                self.wanted[(name, buffer.sku)] = buffer.gpus
        self.spare: dict[tuple[str, str], float] = defaultdict(float)
        for state in snapshot.nodes:
            if state.initialized and not state.disrupting and state.gpu_sku:
                self.spare[(state.pool_name, state.gpu_sku)] += max(0.0, state.free.gpus)

    def _after(self, state: StateNode, replacement_spare: float | None) -> tuple[tuple[str, str], float]:
        key = (state.pool_name, state.gpu_sku or "")
        if replacement_spare is None:
            # Deleted: its pods take others' free GPUs, and its own free GPUs go with it.
            return key, self.spare[key] - state.allocatable.gpus
        return key, self.spare[key] - max(0.0, state.free.gpus) + replacement_spare

    def admit(self, state: StateNode, replacement_spare: float | None = None) -> str | None:
        """Why removing ``state`` (for a replacement with ``replacement_spare`` free GPUs) is refused."""
        key, spare = self._after(state, replacement_spare)
        wanted = self.wanted.get(key)
        if wanted is None or spare + 1e-9 >= wanted:
            return None
        return f"pool {key[0]} keeps {wanted} spare {key[1]} GPUs (warmBuffer); {spare:g} would remain"

    def fork(self) -> WarmBufferGuard:
        copied = copy.copy(self)
        copied.spare = defaultdict(float, self.spare)
        return copied

    def charge(self, state: StateNode, replacement_spare: float | None = None) -> None:
        key, spare = self._after(state, replacement_spare)
        self.spare[key] = spare
