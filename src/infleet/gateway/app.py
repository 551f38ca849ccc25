"""The gateway's raw ASGI application: one dict lookup by path, no middleware stack, so the request
path costs only what the proxy does. Owns the proxy, the routing table and the background loops
(health checks, engine scraping, config reload, fleet discovery and the status it reports). Built by
`server.serve` and by tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

from infleet.api.gateway_aitoolchain_io.v1alpha1.gateway_key import GATEWAY_KEY
from infleet.api.gateway_aitoolchain_io.v1alpha1.model_route import MODEL_ROUTE
from infleet.gateway.access_log import AccessLog
from infleet.gateway.auth import KeyStore, Principal
from infleet.gateway.config import GatewayConfig, KeyConfig, ModelConfig
from infleet.gateway.engine_metrics import EngineScraper
from infleet.gateway.errors import send_error
from infleet.gateway.fleet_config import merge_fleet
from infleet.gateway.fleet_discovery import FleetDiscovery
from infleet.gateway.health_check import HealthChecker
from infleet.gateway.http_pool import HttpPool
from infleet.gateway.limits import Limiter, LocalLimiter
from infleet.gateway.metrics import GatewayMetrics
from infleet.gateway.object_status import StatusMutation, key_mutation, route_mutation
from infleet.gateway.openapi import openapi_document
from infleet.gateway.proxy import Proxy
from infleet.gateway.reloader import ConfigReloader
from infleet.gateway.replica import Replica
from infleet.gateway.routing_table import RoutingTable, build_table
from infleet.gateway.status_writer import ObjectKey, StatusWriter
from infleet.gateway.tracing import Tracer
from infleet.gateway.transport import Transport
from infleet.gateway.wake_queue import WakeQueue
from infleet.gateway.waker import AnnotationWaker, Waker
from infleet.kube.clock import Clock, SystemClock
from infleet.scheduling import Environment
from infleet.scheduling.routing import BUILTIN_PROFILES, PrefixIndex, SaturationPolicy, build_routing_registry

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_INFERENCE = {
    "/v1/chat/completions": "/v1/chat/completions",
    "/v1/completions": "/v1/completions",
    "/v1/embeddings": "/v1/embeddings",
    "/chat/completions": "/v1/chat/completions",
    "/completions": "/v1/completions",
    "/embeddings": "/v1/embeddings",
}
_JSON = (b"content-type", b"application/json")
_ANY = "*"  # the method of a handler that answers every method
Handler = Callable[[dict[str, Any], Send], Awaitable[None]]


class GatewayApp:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        transport: Transport | None = None,
        probe_transport: Transport | None = None,
        limiter: Limiter | None = None,
        access_log: AccessLog | None = None,
        config_path: str | Path | None = None,
        env: Environment | None = None,
        background: bool = True,
        clock: Clock | None = None,
        discovery: FleetDiscovery | None = None,
        waker: Waker | None = None,
    ) -> None:
        # One clock for every time the gateway reads: routing, cooldowns, budgets, limits, timings.
        self.clock = clock or SystemClock()
        self.env = env or Environment(clock=self.clock.now)
        self.metrics = GatewayMetrics()
        self._replica_series: set[str] = set()  # replicas with per-backend gauge series exported
        self.transport = transport or HttpPool()
        self.probe_transport = probe_transport or (HttpPool() if transport is None else transport)
        self.limiter = limiter or LocalLimiter(self.clock.wall)
        if access_log is None and config.access_log.enabled:
            access_log = AccessLog.open(config.access_log.path)
        # What the file says, and what fleet discovery found: the table is built from both, the file winning.
        self._file_config = config
        self._discovered: list[ModelConfig] = []
        self._discovered_keys: list[KeyConfig] = []
        self.discovery = discovery
        # One prefix index for the gateway's life: what engines cached outlives a reload or discovery update.
        self.prefix_index = PrefixIndex()
        table = self._build(config, None)
        self.proxy = Proxy(
            config,
            table,
            self.transport,
            self.limiter,
            KeyStore.from_config(config),
            self.metrics,
            access_log,
            Tracer.from_config(config.tracing),
            self.clock,
        )
        # Models scaled to zero: their requests wait here while the waker wakes their ModelDeployments.
        if waker is None and discovery is not None:
            waker = AnnotationWaker(discovery.client, clock=self.clock)
        self.wakes = WakeQueue(config.scale_from_zero, waker, table, self.metrics, self.clock)
        # Status of the ModelRoutes and GatewayKeys discovery reads, written by one gateway per cluster.
        self.status = (
            StatusWriter(discovery, self.clock) if discovery is not None and discovery.write_status else None
        )
        self.proxy.wakes = self.wakes
        self.health = HealthChecker(
            self.probe_transport,
            self._replicas,
            config.health,
            self._health_changed,
            self.clock,
            on_late=lambda replica: self.metrics.health_late.inc(),
        )
        self.scraper = EngineScraper(self.probe_transport, self._replicas, config.scrape, self.clock)
        self.reloader = (
            ConfigReloader(config_path, self.apply_config, discovery=discovery is not None)
            if config_path
            else None
        )
        self._background = background
        self._handlers = self._gateway_handlers()
        self._tasks: list[asyncio.Task[None]] = []

    # configuration and routing table
    def _build(self, config: GatewayConfig, previous: RoutingTable | None) -> RoutingTable:
        saturation = SaturationPolicy(
            config.admission.queue_threshold, config.admission.kv_threshold, config.scrape.stale_after
        )
        registry = build_routing_registry(config.region, saturation, self.prefix_index)
        table = build_table(config, registry, self.env, previous)
        self.prefix_index.retain({replica.name for replica in table.replicas()})
        return table

    def apply_config(self, config: GatewayConfig) -> None:
        """Applies a new configuration file; raises ConfigError (and changes nothing) if it cannot build."""
        self._apply(merge_fleet(config, self._discovered, self._discovered_keys))
        self._file_config = config
        self._refresh_status()

    def apply_discovered(self, models: list[ModelConfig], keys: list[KeyConfig] | None = None) -> None:
        """Applies the models and keys the fleet declares or discovery found; the file wins where both
        name a model, and a file key wins over an API key with the same secret."""
        keys = keys or []
        self._apply(merge_fleet(self._file_config, models, keys))
        self._discovered = models
        self._discovered_keys = keys
        self._refresh_status()

    def _refresh_status(self) -> None:
        """Hands the status writer what each ModelRoute and GatewayKey should report now."""
        published = self.discovery.published if self.discovery is not None else None
        if self.status is None or published is None:
            return
        file = self._file_config
        file_names = {name for model in file.models for name in (model.name, *model.aliases)}
        profiles = {*BUILTIN_PROFILES, *file.profiles}
        now = self.clock.wall()
        desired: dict[ObjectKey, StatusMutation] = {}
        for route in published.route_verdicts:
            key = (MODEL_ROUTE.kind, route.namespace, route.name)
            desired[key] = route_mutation(route, file_names, profiles, now)
        for api_key in published.key_verdicts:
            desired[(GATEWAY_KEY.kind, api_key.namespace, api_key.name)] = key_mutation(api_key, now)
        self.status.update(desired)

    def _apply(self, config: GatewayConfig) -> None:
        table = self._build(config, self.proxy.table)
        keys = KeyStore.from_config(config)
        self.proxy.apply(config, table, keys)
        self.wakes.config = config.scale_from_zero
        self.wakes.table_changed(table)  # after the proxy's swap: released requests route on this table
        self.health.config = config.health
        self.scraper.config = config.scrape

    @property
    def table(self) -> RoutingTable:
        return self.proxy.table

    def _replicas(self) -> list[Any]:
        return self.proxy.table.replicas()

    def _health_changed(self, replica: Any) -> None:
        self.metrics.healthy.labels(replica.name).set(1 if replica.healthy else 0)
        self._replica_series.add(replica.name)  # so the next scrape drops it if it has left the table
        self.proxy.panic.evaluate(self.proxy.table)  # the gauge and log follow health without traffic

    # lifecycle
    async def startup(self) -> None:
        if not self._background:
            return
        config = self.proxy.config
        loops: list[Coroutine[Any, Any, None]] = []
        if config.health.enabled:
            loops.append(self.health.run())
        if config.scrape.enabled:
            loops.append(self.scraper.run())
        if self.reloader is not None:
            loops.append(self.reloader.run())
        if self.discovery is not None:
            loops.append(self.discovery.run(self.apply_discovered))
        if self.status is not None:
            loops.append(self.status.run())
        self._tasks = [asyncio.create_task(c) for c in loops]

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.wakes.close()
        if self.proxy.access_log is not None:
            self.proxy.access_log.flush()
        await self.transport.close()
        if self.probe_transport is not self.transport:
            await self.probe_transport.close()
        await self.limiter.close()

    # ASGI
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        upstream_path = _INFERENCE.get(path)
        if upstream_path is not None:  # the hot path: one dict lookup, then the proxy
            if method != "POST":
                await send_error(send, 405, f"{path} accepts POST only")
                return
            principal = self._authenticate(scope)
            if principal is None:
                await self._unauthorized(send)
                return
            await self.proxy.handle({**scope, "path": upstream_path}, receive, send, principal)
            return
        handler = self._handlers.get((method, path)) or self._handlers.get((_ANY, path))
        if handler is None:
            await send_error(send, 404, f"no route for {method} {path}")
            return
        await handler(scope, send)

    def _gateway_handlers(self) -> dict[tuple[str, str], Handler]:
        """Handlers of the gateway's own endpoints by (method, path); `_ANY` answers every method."""
        return {
            ("GET", "/v1/models"): self._models,
            ("GET", "/models"): self._models,
            (_ANY, "/health/liveness"): self._liveness,
            (_ANY, "/health/liveliness"): self._liveness,
            (_ANY, "/health/readiness"): self._readiness,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/openapi.json"): self._openapi,
            ("POST", "/admin/reload"): self._reload,
        }

    async def _openapi(self, scope: dict[str, Any], send: Send) -> None:
        body = openapi_document()
        await send({"type": "http.response.start", "status": 200, "headers": [_JSON]})
        await send({"type": "http.response.body", "body": body})

    async def _liveness(self, scope: dict[str, Any], send: Send) -> None:
        await self._json(send, 200, {"status": "ok"})

    async def _readiness(self, scope: dict[str, Any], send: Send) -> None:
        """Ready when some model has a replica the router may use now: healthy, not cooling down,
        and, when health checks run, confirmed by a probe (replicas start out presumed healthy); or,
        for a model in panic, any replica not cooling down, since the router sends to those; or when
        some model scaled to zero can be woken. A gateway that serves in panic must stay in its
        Service: dropping every gateway pod because the probes went wrong is the outage panic avoids."""
        now = self.proxy.clock.now()
        confirmed = not self.proxy.config.health.enabled
        routable: dict[int, Replica] = {}  # by identity: a replica serving two models counts once
        panicking = asleep = 0
        for route in self.proxy.table.models():
            # A model asleep at zero takes requests too: they wait for its wake, so a load balancer must
            # keep sending them here.
            asleep += bool(route.wake and not route.replicas)
            panic = self.proxy.panic.check(route)
            panicking += panic
            for r in route.replicas:
                if (panic and r.cooldown_until <= now) or (
                    r.routable(now) and (confirmed or r.external or r.health_successes)
                ):
                    routable[id(r)] = r
        if routable or asleep:
            payload = {
                "status": "ready",
                "routable_replicas": len(routable),
                "models_asleep": asleep,
                "models_in_panic": panicking,
            }
            await self._json(send, 200, payload)
            return
        await send_error(send, 503, "no replica can take a request now", "not_ready")

    async def _metrics(self, scope: dict[str, Any], send: Send) -> None:
        names: set[str] = set()
        for replica in self._replicas():  # gauges are set when read, not on every request
            names.add(replica.name)
            self.metrics.healthy.labels(replica.name).set(1 if replica.healthy else 0)
            self.metrics.outstanding.labels(replica.name).set(replica.outstanding)
        # A replica that left the table (scaled in, its cluster gone) drops its series rather than
        # reporting its last health for ever: a dashboard would count it as a replica still down.
        for gone in self._replica_series - names:
            for gauge in (self.metrics.healthy, self.metrics.outstanding):
                with contextlib.suppress(KeyError):
                    gauge.remove(gone)
        self._replica_series = names
        body = self.metrics.render()
        headers = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _reload(self, scope: dict[str, Any], send: Send) -> None:
        principal = self._authenticate(scope)
        if principal is None or not principal.admin or self.reloader is None:
            await send_error(send, 403, "reload needs the master key and a gateway started from a file")
            return
        ok = self.reloader.reload()
        await self._json(send, 200 if ok else 400, {"reloaded": ok})

    def _authenticate(self, scope: dict[str, Any]) -> Principal | None:
        return self.proxy.keys.authenticate(scope["headers"])

    async def _unauthorized(self, send: Send) -> None:
        self.metrics.rejections.labels("unauthorized").inc()
        await send_error(
            send, 401, "missing or unknown API key; send Authorization: Bearer <key>", "invalid_api_key"
        )

    async def _models(self, scope: dict[str, Any], send: Send) -> None:
        principal = self._authenticate(scope)
        if principal is None:
            await self._unauthorized(send)
            return
        names: list[str] = []
        for route in self.proxy.table.models():
            for name in (route.name, *route.aliases):
                if principal.admin or principal.may_use(name) or principal.may_use(route.name):
                    names.append(name)
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "infleet"} for n in names]
        await self._json(send, 200, {"object": "list", "data": data})

    @staticmethod
    async def _json(send: Send, status: int, payload: object) -> None:
        body = orjson.dumps(payload)
        await send({"type": "http.response.start", "status": status, "headers": [_JSON]})
        await send({"type": "http.response.body", "body": body})
