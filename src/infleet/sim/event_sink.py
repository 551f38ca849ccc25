"""Events sent without waiting: reconcilers of the sim post Events in the background.

An API write costs a durable commit (tens of milliseconds when alone); a scheduler or kubelet that
waited for each best-effort Event would move pods at a fraction of its speed. Tasks are kept until done.
"""

from __future__ import annotations

import asyncio
from typing import Any

from infleet.kube.events import EventRecorder


class EventSink:
    def __init__(self, recorder: EventRecorder) -> None:
        self.recorder = recorder
        self._tasks: set[asyncio.Future[Any]] = set()

    def emit(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        task = asyncio.ensure_future(self.recorder.record(obj, type_, reason, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
