"""The Reconciler contract (controller-runtime's): a Request names an object, reconcile returns a Result.

Reconcilers are level-triggered: read current state, converge, patch status once. Raising any exception
means "back off and retry"; raising :class:`TerminalError` means "do not retry until the object changes".
Every controller in Infleet implements :class:`Reconciler`; :class:`infleet.kube.controller.Controller`
calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, order=True)
class Request:
    """The object to reconcile; ``namespace`` is empty for cluster-scoped kinds."""

    cluster: str
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def __str__(self) -> str:
        return f"{self.cluster}:{self.key}"


@dataclass(frozen=True)
class Result:
    """``requeue_after`` (seconds) asks for another reconcile later even if nothing changes."""

    requeue_after: float | None = None


class TerminalError(Exception):
    """A failure retrying cannot fix (bad spec): logged and counted, the key is not requeued."""


class Reconciler(Protocol):
    async def reconcile(self, request: Request) -> Result: ...
