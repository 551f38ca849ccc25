"""The global gateway of ``infleet up``: ``infleet gateway --context infleet-hub`` in a child process, so
it has a core of its own beside the simulated clusters, discovering every placed model from the hub.
``up_command`` starts it on a fixed, printed port and stops it with everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

DEFAULT_GATEWAY_PORT = 8000
READY_WITHIN_SECONDS = 20.0


def gateway_port(args: argparse.Namespace) -> int:
    """``--gateway-port``; with ``--port-base 0`` (free ports for everything) a free one."""
    if args.gateway_port is not None:
        return int(args.gateway_port)
    if args.port_base == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    return DEFAULT_GATEWAY_PORT


def check_port_free(port: int) -> None:
    """Refuse a taken gateway port before anything starts, rather than after the clusters are up."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                message = f"127.0.0.1:{port}, the global gateway's port (--gateway-port), is already in use"
                raise OSError(errno.EADDRINUSE, message) from None
            raise


@dataclass
class GatewayProcess:
    process: asyncio.subprocess.Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_gateway(kubeconfig: Path, port: int, hub_context: str = "infleet-hub") -> GatewayProcess:
    """Start the gateway and wait until it answers its liveness probe."""
    command = [sys.executable, "-m", "infleet", "gateway", "--context", hub_context]
    command += ["--kubeconfig", str(kubeconfig), "--host", "127.0.0.1", "--port", str(port)]
    process = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.DEVNULL)
    gateway = GatewayProcess(process, port)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_WITHIN_SECONDS
    async with httpx.AsyncClient(timeout=1.0) as http:
        while loop.time() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the gateway exited with code {process.returncode}; is port {port} free?")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"http://127.0.0.1:{port}/health/liveness")).status_code == 200:
                    return gateway
            await asyncio.sleep(0.1)
    await gateway.stop()
    raise RuntimeError(f"the gateway did not answer on port {port} within {READY_WITHIN_SECONDS:.0f}s")
