"""Pod expectations: what a workload controller created or deleted and waits to see in its pod cache.

A controller that counts pods from an informer must not act again on a count the cache has not caught up
with, or it creates (or deletes) twice; kube's controllers keep "expectations" for this. Here each owner
key holds the names it created and deleted and a deadline after which it stops waiting, so a lost watch
event costs a delay, never a stuck owner.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from infleet.kube.informer import Informer

EXPECTATION_TIMEOUT = 30.0


@dataclass
class _Pending:
    created: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    deadline: float = 0.0


class PodExpectations:
    """Per owner key: pods created and not yet cached, pods deleted and still cached as running."""

    def __init__(self, pods: Informer) -> None:
        self.pods = pods
        self._pending: dict[str, _Pending] = {}

    def expect(self, key: str, created: Iterable[str], deleted: Iterable[str] = ()) -> None:
        """Remember what one reconcile of ``key`` wrote, when it wrote anything."""
        pending = _Pending(set(created), set(deleted), time.monotonic() + EXPECTATION_TIMEOUT)
        if pending.created or pending.deleted:
            self._pending[key] = pending

    def waiting(self, key: str, namespace: str) -> bool:
        """Whether the cache still lags what ``key`` wrote (and the deadline has not passed)."""
        pending = self._pending.get(key)
        if pending is None:
            return False
        pending.created = {n for n in pending.created if self.pods.store.get(n, namespace) is None}
        pending.deleted = {
            n for n in pending.deleted if not _gone_or_going(self.pods.store.get(n, namespace))
        }
        if (pending.created or pending.deleted) and time.monotonic() < pending.deadline:
            return True
        del self._pending[key]
        return False

    def forget(self, key: str) -> None:
        """The owner is gone or done: nothing to wait for."""
        self._pending.pop(key, None)


def _gone_or_going(pod: dict[str, Any] | None) -> bool:
    return pod is None or bool(pod["metadata"].get("deletionTimestamp"))
