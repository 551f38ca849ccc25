"""EngineHost: many simulated engines in one process and one event loop, each on its own loopback port.

The simulated kubelet calls ``start(spec)`` when a pod with an engine container starts and ``stop``
when it goes away; tests and benchmarks use it the same way. Each engine gets its own listening
socket served by ``http_server``; all of them share the loop, one wake-up pacer and one flush governor.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass
from types import TracebackType

from infleet.api.catalog import Catalog
from infleet.sim.engine.model.spec import EngineSpec
from infleet.sim.engine.runtime.engine import SimEngine
from infleet.sim.engine.runtime.flush_governor import FlushGovernor
from infleet.sim.engine.runtime.http_server import HttpServer
from infleet.sim.engine.runtime.openai_app import OpenAIApp
from infleet.sim.engine.runtime.pacing import WakePacer


@dataclass(frozen=True)
class EngineAddress:
    """Where a started engine listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``."""
        return f"{self.url}/v1"


@dataclass
class HostedEngine:
    spec: EngineSpec
    engine: SimEngine
    server: HttpServer
    address: EngineAddress


class EngineHost:
    """Starts and stops simulated engines inside the running event loop."""

    def __init__(
        self,
        *,
        catalog: Catalog | None = None,
        host: str = "127.0.0.1",
        tune_gc: bool = False,
        admin_token: str | None = None,
    ) -> None:
        """``tune_gc``: for a process that mostly hosts engines. CPython's cyclic collector then walks every
        live stream and sequence many times a second (hundreds of ms of pauses at 2,000 streams); with it,
        objects alive after each start are frozen out of collection and collections run less often."""
        self._catalog = catalog
        self._host = host
        self._admin_token = admin_token  # for every engine's /admin endpoints; None turns them off
        self._tune_gc = tune_gc
        self._engines: dict[EngineAddress, HostedEngine] = {}
        self._pacer = WakePacer()  # one for all engines: it bounds the loop's bulk work per iteration
        self._governor = FlushGovernor()
        if tune_gc:
            gc.set_threshold(50_000, 50, 100)

    async def start(self, spec: EngineSpec, port: int = 0, host: str | None = None) -> EngineAddress:
        """Start an engine for ``spec`` on ``port`` (0: any free port); returns once it listens.

        ``host`` overrides the host's address for this engine (the simulated kubelet binds each engine
        to its pod's own loopback IP, so many engines can share one port number)."""
        bind = host or self._host
        engine = SimEngine(spec, self._catalog, pacer=self._pacer, governor=self._governor)
        await engine.start()
        server = HttpServer(OpenAIApp(engine, self._admin_token))
        try:
            address = EngineAddress(bind, await server.listen(bind, port))
        except OSError:
            await engine.stop()
            raise
        self._engines[address] = HostedEngine(spec, engine, server, address)
        if self._tune_gc:
            gc.freeze()
        return address

    async def stop(self, address: EngineAddress | int) -> None:
        """Stop one engine: in-flight requests end with an error, then the port closes."""
        hosted = self._engines.pop(self._key(address), None)
        if hosted is None:
            return
        await hosted.engine.stop()
        await hosted.server.close()
        if self._tune_gc:
            # Frozen objects are never collected: thaw, drop the stopped engine's cycles, freeze again.
            del hosted
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    def engine(self, address: EngineAddress | int) -> SimEngine:
        """The engine behind an address (for fault injection or inspection in tests)."""
        return self._engines[self._key(address)].engine

    def _key(self, address: EngineAddress | int) -> EngineAddress:
        """An address as given, or the engine on that port of the host's own address."""
        return address if isinstance(address, EngineAddress) else EngineAddress(self._host, address)

    @property
    def addresses(self) -> list[EngineAddress]:
        return [hosted.address for hosted in self._engines.values()]

    async def close(self) -> None:
        await asyncio.gather(*(self.stop(address) for address in list(self._engines)))

    async def __aenter__(self) -> EngineHost:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
