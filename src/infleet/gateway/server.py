"""Runs the gateway under uvicorn with httptools and uvloop, one process. Called by `infleet gateway`."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

from infleet.gateway.app import GatewayApp
from infleet.gateway.config import GatewayConfig, load_config
from infleet.gateway.fleet_discovery import FleetDiscovery
from infleet.gateway.http_protocol import guarded_protocol
from infleet.gateway.limits import Limiter
from infleet.gateway.waker import Waker
from infleet.kube.clock import SystemClock


def build_app(
    config_path: str | Path | None,
    redis_url: str | None = None,
    discovery: FleetDiscovery | None = None,
    waker: Waker | None = None,
) -> GatewayApp:
    """The app from a file, from fleet discovery, or both (the file's models win where both name one)."""
    config = load_config(config_path, discovery is not None) if config_path else GatewayConfig()
    clock = SystemClock()
    limiter: Limiter | None = None
    if redis_url:
        from infleet.gateway.redis_limits import RedisLimiter

        limiter = RedisLimiter(redis_url, clock.wall)
    return GatewayApp(
        config, limiter=limiter, config_path=config_path, clock=clock, discovery=discovery, waker=waker
    )


def serve(
    config_path: str | Path | None,
    host: str,
    port: int,
    redis_url: str | None,
    log_level: str,
    discovery: FleetDiscovery | None = None,
    waker: Waker | None = None,
) -> None:
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = build_app(config_path, redis_url, discovery, waker)
    bounds = app.proxy.config.server  # read once: a reload does not reopen the listening socket
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=guarded_protocol(bounds.header_timeout, bounds.max_connections),
        lifespan="on",
        access_log=False,  # the gateway writes its own structured access log
        log_level=log_level,
        backlog=4096,
        timeout_keep_alive=int(bounds.idle_timeout),
        # Per-request costs that buy nothing here: X-Forwarded-* rewriting and a Server header.
        proxy_headers=False,
        server_header=False,
    )
