"""Reloads the configuration file on SIGHUP or when its modification time changes, handing each valid
new `GatewayConfig` to a callback; an invalid file is reported and the running config kept. Requests
in flight are untouched: they hold the snapshot they started with. Started by the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from infleet.gateway.config import ConfigError, GatewayConfig, load_config

log = logging.getLogger("infleet.gateway")


class ConfigReloader:
    def __init__(
        self,
        path: str | Path,
        apply: Callable[[GatewayConfig], None],
        interval: float = 1.0,
        discovery: bool = False,
    ) -> None:
        self.path = Path(path)
        self.discovery = discovery  # models may come from the fleet: the file need not list any
        self._apply = apply
        self._interval = interval
        self._mtime = self._stat()
        self._wake = asyncio.Event()
        self.reloads = 0

    def _stat(self) -> float:
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return 0.0

    def request(self) -> None:
        """Asks for a reload now (SIGHUP, or POST /admin/reload)."""
        self._wake.set()

    def reload(self) -> bool:
        try:
            config = load_config(self.path, self.discovery)
            self._apply(config)
        except ConfigError as exc:
            log.error("configuration not reloaded, keeping the running one: %s", exc)
            return False
        self.reloads += 1
        log.info("configuration reloaded from %s", self.path)
        return True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, self.request)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):
                        await self._wake.wait()
                forced = self._wake.is_set()
                self._wake.clear()
                mtime = self._stat()
                if forced or mtime != self._mtime:
                    self._mtime = mtime
                    self.reload()
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)
