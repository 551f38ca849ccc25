"""What the API server benchmark drives and measures with: the server process, an HTTP client, watchers.

``benchmarks/apiserver.py`` uses it. The server runs as its own process so the client's CPU is not
charged to it; its memory and CPU are read from /proc.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
GROUP = "bench.infleet.io"
SENT = f"{GROUP}/sent"
JSON = {"content-type": "application/json"}
MERGE = {"content-type": "application/merge-patch+json"}


# -- the server process ------------------------------------------------------------------------------


def stop_child(process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    """SIGTERM, 20 s to exit cleanly (profiles and stats get written), then SIGKILL; close its log."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    log.close()


class ServerProcess:
    """``infleet apiserver`` in a child process, with its RSS and CPU read from /proc."""

    def __init__(self, workdir: Path, profile: Path | None) -> None:
        self.workdir = workdir
        self.kubeconfig = workdir / "kubeconfig"
        command = [sys.executable]
        if profile is not None:
            command += ["-m", "cProfile", "-o", str(profile)]
        command += ["-m", "infleet", "apiserver", "--port", "0", "--no-tls", "--cluster", "hub"]
        command += ["--data-dir", str(workdir / "data"), "--kubeconfig-out", str(self.kubeconfig)]
        self.command = command
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self.log = (workdir / "server.log").open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = self._wait_for_kubeconfig(timeout=30.0)

    def _wait_for_kubeconfig(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API server exited early; see {self.workdir / 'server.log'}")
            if self.kubeconfig.exists():
                config = yaml.safe_load(self.kubeconfig.read_text(encoding="utf-8"))
                if config:
                    server: str = config["clusters"][0]["cluster"]["server"]
                    return server
            time.sleep(0.05)
        raise RuntimeError(f"the API server wrote no kubeconfig within {timeout:.0f} s")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmRSS missing from /proc status")

    def cpu_seconds(self) -> float:
        """User plus system CPU of every thread of the server so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        stop_child(self.process, self.log)


class CpuMeter:
    """CPU in cores over an interval: the server's, this client's, and everything else on the machine."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.started = time.perf_counter()
        self.marks = self._read()

    def _read(self) -> tuple[float, float, float]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle, iowait
        own = os.times()
        return busy, self.server.cpu_seconds(), own.user + own.system

    def cores(self) -> tuple[float, float, float]:
        """(server, client, others) since construction."""
        elapsed = time.perf_counter() - self.started
        now = self._read()
        busy, server, client = (b - a for a, b in zip(self.marks, now, strict=True))
        return server / elapsed, client / elapsed, max(0.0, busy - server - client) / elapsed


# -- measuring helpers --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Report:
    sections: list[str] = field(default_factory=list)
    summary: list[list[str]] = field(default_factory=list)

    def target(self, what: str, target: str, figure: str, ok: bool) -> None:
        self.summary.append([what, target, figure, verdict(ok)])

    def table(self, title: str, header: list[str], rows: list[list[str]], note: str = "") -> None:
        lines = [f"## {title}", ""]
        if note:
            lines += [note, ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        text = "\n".join(lines)
        print(text + "\n", flush=True)
        self.sections.append(text)


def verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


async def run_concurrently(count: int, concurrency: int, op: Callable[[int], Awaitable[None]]) -> list[float]:
    """Run ``op(0..count-1)`` with ``concurrency`` requests in flight; returns per-request seconds."""
    counter = itertools.count()
    latencies: list[float] = []

    async def worker() -> None:
        for index in counter:
            if index >= count:
                return
            started = time.perf_counter()
            await op(index)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def paced(rate: float, count: int, in_flight: int, op: Callable[[int], Awaitable[None]]) -> float:
    """Start ``op(i)`` at ``start + i / rate`` (at most ``in_flight`` at once); returns seconds taken."""
    gate = asyncio.Semaphore(in_flight)
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []

    async def one(index: int) -> None:
        try:
            await op(index)
        finally:
            gate.release()

    for index in range(count):
        delay = start + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await gate.acquire()
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return loop.time() - start


# -- the API used ---------------------------------------------------------------------------------------


def crd(kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer", "minimum": 0},
                                        "color": {"type": "string"},
                                    },
                                },
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }


class Client:
    """The few calls the benchmark makes, over one pooled aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    def path(self, resource: str, namespace: str, name: str = "") -> str:
        base = f"{self.url}/api/v1" if resource == "configmaps" else f"{self.url}/apis/{GROUP}/v1"
        return f"{base}/namespaces/{namespace}/{resource}" + (f"/{name}" if name else "")

    async def call(self, method: str, url: str, body: Any = None, headers: dict[str, str] = JSON) -> Any:
        data = orjson.dumps(body) if body is not None else None
        async with self.session.request(method, url, data=data, headers=headers) as response:
            raw = await response.read()
            if response.status >= 300:
                raise RuntimeError(f"{method} {url}: {response.status} {raw[:300]!r}")
            return raw

    async def setup(self, namespaces: list[str]) -> None:
        for namespace in namespaces:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            await self.call("POST", f"{self.url}/api/v1/namespaces", body)
        for kind, plural in (("Widget", "widgets"), ("MemberCluster", "memberclusters")):
            await self.call(
                "POST",
                f"{self.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                crd(kind, plural),
            )
            for _ in range(200):
                async with self.session.get(self.path(plural, namespaces[0])) as response:
                    if response.status == 200:
                        break
                await asyncio.sleep(0.05)

    def body(self, resource: str, namespace: str, name: str, value: int) -> dict[str, Any]:
        metadata = {"name": name, "namespace": namespace, "labels": {"app": "bench"}}
        if resource == "configmaps":
            return {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata,
                "data": {"value": str(value)},
            }
        return {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Widget",
            "metadata": metadata,
            "spec": {"size": value, "color": "blue"},
        }

    async def create(self, resource: str, namespace: str, name: str, value: int = 0) -> None:
        await self.call("POST", self.path(resource, namespace), self.body(resource, namespace, name, value))

    async def replace(self, resource: str, namespace: str, name: str, value: int) -> None:
        await self.call(
            "PUT", self.path(resource, namespace, name), self.body(resource, namespace, name, value)
        )

    async def list_rv(self, resource: str, namespace: str) -> str:
        raw = await self.call("GET", self.path(resource, namespace) + "?limit=1")
        return str(orjson.loads(raw)["metadata"]["resourceVersion"])


SENT_PATTERN = re.compile(rb'sent":"([0-9.]+)"')


class WatchProtocol(asyncio.Protocol):
    """A bare HTTP/1.1 watcher: stamps each read on arrival and finds the send times in it.

    A raw protocol rather than an HTTP client keeps the benchmark's own CPU low (it shares the cores with
    the server) and stamps arrival as soon as the bytes are read.
    """

    def __init__(self, request: bytes, received: list[float], counts: list[int], slot: int) -> None:
        self.request = request
        self.received = received
        self.counts = counts
        self.slot = slot
        self.buffer = b""
        self.status: bytes | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        self.buffer += data
        cut = self.buffer.rfind(b"\n")
        if cut < 0:
            return
        complete, self.buffer = self.buffer[:cut], self.buffer[cut + 1 :]
        if self.status is None:
            self.status = complete.split(b"\r\n", 1)[0]
        for sent in SENT_PATTERN.findall(complete):
            self.received.append(arrived - float(sent))
            self.counts[self.slot] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def watch_stream(
    url: str, received: list[float], counts: list[int], slot: int, stop: asyncio.Event
) -> None:
    """One watcher until ``stop``; fails unless the server answers 200."""
    parts = urlsplit(url)
    request = (
        f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: application/json\r\n\r\n"
    )
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        lambda: WatchProtocol(request.encode(), received, counts, slot),
        parts.hostname or "127.0.0.1",
        parts.port or 80,
    )
    try:
        stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        closed: asyncio.Future[Any] = protocol.closed
        await asyncio.wait([stopping, closed], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if protocol.status is not None and not protocol.status.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"watch {url}: {protocol.status!r}")
    finally:
        transport.close()


def machine() -> list[str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores (server and benchmark client share them)",
        f"- memory: {memory}; OS: Linux {platform.release()}; Python {platform.python_version()}",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def filesystem(path: Path) -> str:
    best = ("", "unknown")
    for line in Path("/proc/mounts").read_text().splitlines():
        parts = line.split()
        if str(path.resolve()).startswith(parts[1]) and len(parts[1]) >= len(best[0]):
            best = (parts[1], parts[2])
    return best[1]
