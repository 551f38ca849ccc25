"""Benchmark of the embedded API server: writes, lists, watch delivery, memory and heartbeat CPU.

Run from the repository root with ``python benchmarks/apiserver.py`` (``make bench``). The server runs as
its own process (``python -m infleet apiserver --no-tls``) so the client's CPU is not charged to it; the
figures are printed and written to ``benchmarks/results/apiserver.md``. Every phase is bounded by a
count or a duration; ``--scale 0.2`` makes a quick run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "apiserver.md"
GROUP = "bench.infleet.io"
SENT = f"{GROUP}/sent"
JSON = {"content-type": "application/json"}
MERGE = {"content-type": "application/merge-patch+json"}
WRITES_TARGET = 1_000.0
WATCH_P99_TARGET_MS = 50.0
HEARTBEAT_CPU_TARGET = 1 / 3


# -- the server process ------------------------------------------------------------------------------


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
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


# -- measuring helpers --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Report:
    sections: list[str] = field(default_factory=list)

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
            await self.call("POST", f"{self.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd(kind, plural))
            for _ in range(200):
                async with self.session.get(self.path(plural, namespaces[0])) as response:
                    if response.status == 200:
                        break
                await asyncio.sleep(0.05)

    def body(self, resource: str, namespace: str, name: str, value: int) -> dict[str, Any]:
        metadata = {"name": name, "namespace": namespace, "labels": {"app": "bench"}}
        if resource == "configmaps":
            return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"value": str(value)}}
        return {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Widget",
            "metadata": metadata,
            "spec": {"size": value, "color": "blue"},
        }

    async def create(self, resource: str, namespace: str, name: str, value: int = 0) -> None:
        await self.call("POST", self.path(resource, namespace), self.body(resource, namespace, name, value))

    async def replace(self, resource: str, namespace: str, name: str, value: int) -> None:
        await self.call("PUT", self.path(resource, namespace, name), self.body(resource, namespace, name, value))

    async def list_rv(self, resource: str, namespace: str) -> str:
        raw = await self.call("GET", self.path(resource, namespace) + "?limit=1")
        return str(orjson.loads(raw)["metadata"]["resourceVersion"])


# -- phases ---------------------------------------------------------------------------------------------


async def write_throughput(client: Client, report: Report, scale: float) -> None:
    levels = {1: int(400 * scale), 16: int(2000 * scale), 64: int(3000 * scale)}
    rows = []
    for resource, namespace in (("widgets", "bench-cr"), ("configmaps", "bench-cm")):
        for concurrency, count in levels.items():
            names = [f"o-c{concurrency}-{i}" for i in range(count)]
            for verb in ("create", "update"):

                async def op(i: int, verb: str = verb, names: list[str] = names) -> None:
                    if verb == "create":
                        await client.create(resource, namespace, names[i])
                    else:
                        await client.replace(resource, namespace, names[i], i + 1)

                started = time.perf_counter()
                latencies = await run_concurrently(count, concurrency, op)
                rate = count / (time.perf_counter() - started)
                target = f">= {WRITES_TARGET:,.0f}/s" if concurrency > 1 else "(one at a time: info)"
                rows.append(
                    [
                        resource,
                        verb if verb == "create" else "update (PUT)",
                        str(concurrency),
                        f"{count:,}",
                        f"{rate:,.0f}",
                        f"{percentile(latencies, 50) * 1000:.1f}",
                        f"{percentile(latencies, 99) * 1000:.1f}",
                        target,
                        verdict(rate >= WRITES_TARGET) if concurrency > 1 else "-",
                    ]
                )
    report.table(
        "1. Write throughput",
        ["resource", "verb", "in flight", "objects", "objects/s", "p50 ms", "p99 ms", "target", "result"],
        rows,
        "Each write returns only after its SQLite commit (WAL, synchronous=FULL). Widgets are a small CRD "
        "with a structural schema.",
    )


async def list_latency(client: Client, report: Report, scale: float) -> None:
    total = int(10_000 * scale)
    namespace = "bench-list"
    started = time.perf_counter()
    await run_concurrently(total, 64, lambda i: client.create("configmaps", namespace, f"cm-{i:05d}", i))
    fill_rate = total / (time.perf_counter() - started)
    rounds = 20
    rows = []
    path = client.path("configmaps", namespace)
    for label, query in (("full list", ""), ("limit=500 (first page)", "?limit=500")):
        latencies = []
        for _ in range(rounds):
            began = time.perf_counter()
            raw = await client.call("GET", path + query)
            latencies.append(time.perf_counter() - began)
        count = len(orjson.loads(raw)["items"])
        rows.append(
            [label, f"{count:,}", str(rounds), f"{percentile(latencies, 50) * 1000:.1f}"]
            + [f"{percentile(latencies, 99) * 1000:.1f}", f"{len(raw) / 1e6:.1f}"]
        )
    latencies = []
    for _ in range(5):
        began = time.perf_counter()
        token = ""
        pages = 0
        while pages < 1000:
            raw = await client.call("GET", path + "?limit=500" + (f"&continue={token}" if token else ""))
            pages += 1
            token = orjson.loads(raw)["metadata"].get("continue", "")
            if not token:
                break
        latencies.append(time.perf_counter() - began)
    rows.append(
        [f"all pages of 500 ({pages} requests)", f"{total:,}", "5", f"{percentile(latencies, 50) * 1000:.1f}"]
        + [f"{percentile(latencies, 99) * 1000:.1f}", "-"]
    )
    report.table(
        f"2. List latency, {total:,} ConfigMaps in one namespace",
        ["request", "items", "rounds", "p50 ms", "p99 ms", "response MB"],
        rows,
        f"Filled at {fill_rate:,.0f} creates/s (64 in flight). Latency is until the whole body is received.",
    )


async def watch_stream(
    client: Client, url: str, received: list[float], counts: list[int], slot: int, stop: asyncio.Event
) -> None:
    """One watcher: stamps each chunk on arrival and computes arrival minus the embedded send time."""
    async with client.session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as response:
        if response.status != 200:
            raise RuntimeError(f"watch {url}: {response.status}")
        buffer = b""
        async for chunk in response.content.iter_any():
            arrived = time.time()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                event = orjson.loads(line)
                obj = event["object"]
                sent = (obj["metadata"].get("annotations") or {}).get(SENT) or (obj.get("status") or {}).get("sent")
                if sent is not None:
                    received.append(arrived - float(sent))
                    counts[slot] += 1
            if stop.is_set():
                return


async def watch_latency(client: Client, report: Report, scale: float, watchers: int, rates: list[int]) -> None:
    namespace = "bench-watch"
    objects = 50
    await run_concurrently(objects, 16, lambda i: client.create("widgets", namespace, f"w-{i}"))
    rows = []
    for rate in rates:
        rv = await client.list_rv("widgets", namespace)
        url = client.path("widgets", namespace) + f"?watch=1&resourceVersion={rv}&timeoutSeconds=300"
        received: list[float] = []
        counts = [0] * watchers
        stop = asyncio.Event()
        streams = [
            asyncio.create_task(watch_stream(client, url, received, counts, slot, stop)) for slot in range(watchers)
        ]

        async def touch(i: int) -> None:
            body = {"metadata": {"annotations": {SENT: repr(time.time())}}}
            url = client.path("widgets", namespace, f"w-{i % objects}")
            await client.call("PATCH", url, body, MERGE)

        # Warm up until every watcher has seen an event, so all are subscribed before measuring.
        for attempt in range(100):
            await touch(attempt)
            await asyncio.sleep(0.1)
            if all(counts):
                break
        if not all(counts):
            raise RuntimeError(f"only {sum(1 for c in counts if c)} of {watchers} watchers are receiving")
        await asyncio.sleep(0.5)
        received.clear()
        counts[:] = [0] * watchers
        writes = max(50, int(rate * 15 * scale))
        cpu_before = client_cpu = time.process_time()
        elapsed = await paced(rate, writes, 32, touch)
        for _ in range(100):  # let the last events arrive
            if sum(counts) >= writes * watchers:
                break
            await asyncio.sleep(0.05)
        client_cpu = (time.process_time() - cpu_before) / elapsed
        stop.set()
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        p50, p99 = percentile(received, 50) * 1000, percentile(received, 99) * 1000
        target_applies = rate <= 200
        rows.append(
            [
                str(watchers),
                f"{writes / elapsed:,.0f}",
                f"{writes:,}",
                f"{len(received):,} / {writes * watchers:,}",
                f"{p50:.1f}",
                f"{p99:.1f}",
                f"{max(received) * 1000:.1f}" if received else "-",
                f"{client_cpu:.2f}",
                f"p99 <= {WATCH_P99_TARGET_MS:.0f} ms" if target_applies else "(info)",
                verdict(p99 <= WATCH_P99_TARGET_MS and len(received) == writes * watchers)
                if target_applies
                else "-",
            ]
        )
    report.table(
        "3. Watch delivery latency",
        ["watchers", "writes/s", "writes", "events received", "p50 ms", "p99 ms", "max ms", "client CPU"]
        + ["target", "result"],
        rows,
        "Each write is a merge PATCH carrying its client send time (time.time()) in an annotation; every "
        "watcher records its arrival time minus that send time on the same host clock, so a figure includes "
        "the request, the durable commit and the fan-out. Client CPU (cores) is the benchmark's own load, "
        "which shares the 2 cores with the server.",
    )


async def memory_growth(server: ServerProcess, client: Client, report: Report, scale: float) -> None:
    total = int(10_000 * scale)
    updates = int(50_000 * scale)
    step = updates // 5
    samples = [(0, server.rss_mib())]
    started = time.perf_counter()
    for done in range(step, updates + 1, step):
        base = done - step
        await run_concurrently(
            step, 64, lambda i, base=base: client.replace("configmaps", "bench-list", f"cm-{(base + i) % total:05d}", base + i)
        )
        samples.append((done, server.rss_mib()))
    rate = updates / (time.perf_counter() - started)
    # The watch window keeps the last 20,000 events; past it, memory must stay flat.
    tail = [rss for count, rss in samples if count >= min(30_000, updates * 3 // 5)]
    growth = tail[-1] - tail[0]
    ok = growth <= max(5.0, 0.05 * tail[0])
    rows = [[f"{count:,}", f"{rss:.1f}", f"{rss - samples[0][1]:+.1f}"] for count, rss in samples]
    report.table(
        f"4. Server memory during {updates:,} ConfigMap updates",
        ["updates done", "RSS MiB", "vs start MiB"],
        rows,
        f"Updates ran at {rate:,.0f}/s (64 in flight) over the {total:,} ConfigMaps of section 2. The watch "
        f"window holds 20,000 events. Growth over the last samples: {growth:+.1f} MiB; target: flat "
        f"(<= 5 MiB or 5%) once the window is full: {verdict(ok)}.",
    )


async def heartbeat_cpu(server: ServerProcess, client: Client, report: Report, scale: float) -> None:
    namespace = "bench-hb"
    members = 1_000
    period = 10.0
    duration = max(10.0, 60.0 * scale)
    await run_concurrently(
        members,
        32,
        lambda i: client.call(
            "POST",
            client.path("memberclusters", namespace),
            {"apiVersion": f"{GROUP}/v1", "kind": "MemberCluster", "metadata": {"name": f"member-{i:04d}"}},
        ),
    )
    # Two watchers stand for the hub controllers that follow MemberClusters.
    rv = await client.list_rv("memberclusters", namespace)
    url = client.path("memberclusters", namespace) + f"?watch=1&resourceVersion={rv}&timeoutSeconds=300"
    stop = asyncio.Event()
    received: list[float] = []
    counts = [0, 0]
    streams = [asyncio.create_task(watch_stream(client, url, received, counts, slot, stop)) for slot in (0, 1)]
    await asyncio.sleep(1.0)
    rate = members / period
    count = int(rate * duration)

    async def heartbeat(i: int) -> None:
        name = f"member-{i % members:04d}"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "status": {
                "sent": repr(time.time()),
                "lastHeartbeat": now,
                "conditions": [{"type": "Joined", "status": "True", "lastTransitionTime": now, "reason": "Heartbeat"}],
                "properties": {"gpus": {"H100": {"total": 8, "available": i % 8}}},
            },
        }
        await client.call("PATCH", client.path("memberclusters", namespace, name) + "/status", body, MERGE)

    cpu_before = server.cpu_seconds()
    elapsed = await paced(rate, count, 32, heartbeat)
    cores = (server.cpu_seconds() - cpu_before) / elapsed
    stop.set()
    for stream in streams:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    report.table(
        "5. Heartbeat load",
        ["objects", "period s", "updates/s", "duration s", "server CPU (cores)", "watch p99 ms", "target", "result"],
        [
            [
                f"{members:,}",
                f"{period:.0f}",
                f"{count / elapsed:,.0f}",
                f"{elapsed:.0f}",
                f"{cores:.3f}",
                f"{percentile(received, 99) * 1000:.1f}",
                "< 0.33 core",
                verdict(cores < HEARTBEAT_CPU_TARGET),
            ]
        ],
        "Each heartbeat is a merge PATCH of /status of a MemberCluster-like custom resource (condition, "
        "timestamp, GPU counts), spread evenly; two watchers follow the kind. CPU is user+system of the "
        "server process from /proc/<pid>/stat over the run.",
    )


# -- main -----------------------------------------------------------------------------------------------


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


async def run(args: argparse.Namespace, workdir: Path) -> Report:
    server = ServerProcess(workdir, args.profile)
    report = Report()
    try:
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = Client(session, server.url)
            await client.setup(["bench-cr", "bench-cm", "bench-list", "bench-watch", "bench-hb"])
            phases = set(args.phases.split(","))
            if "writes" in phases:
                await write_throughput(client, report, args.scale)
            if "list" in phases or "memory" in phases:
                await list_latency(client, report, args.scale)
            if "watch" in phases:
                await watch_latency(client, report, args.scale, args.watchers, args.rates)
            if "memory" in phases:
                await memory_growth(server, client, report, args.scale)
            if "heartbeat" in phases:
                await heartbeat_cpu(server, client, report, args.scale)
    finally:
        server.stop()
    header = ["# Embedded API server benchmark", "", *machine()]
    header.append(f"- server: `{' '.join(['python', *server.command[1:]])}` (own process, plain http, loopback)")
    header.append(f"- data dir on {filesystem(workdir)}; scale {args.scale}")
    report.sections.insert(0, "\n".join(header))
    return report


def filesystem(path: Path) -> str:
    best = ("", "unknown")
    for line in Path("/proc/mounts").read_text().splitlines():
        parts = line.split()
        if str(path.resolve()).startswith(parts[1]) and len(parts[1]) >= len(best[0]):
            best = (parts[1], parts[2])
    return best[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply counts and durations (0.2: quick)")
    parser.add_argument("--phases", default="writes,list,watch,memory,heartbeat")
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--rates", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--profile", type=Path, default=None, help="run the server under cProfile into FILE")
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown results file")
    args = parser.parse_args()
    try:
        import uvloop

        runner: Callable[[Awaitable[Report]], Report] = uvloop.run  # type: ignore[assignment]
    except ImportError:
        runner = asyncio.run  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="infleet-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        report = runner(run(args, Path(tmp)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n\n".join(report.sections) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
