"""The kubelet's ``/metrics/resource``: CPU and memory of the simulated nodes and containers.

metrics-server scrapes this endpoint of every kubelet and serves ``metrics.k8s.io`` from it; the
embedded API server does the same, so ``kubectl top`` works against simulated clusters. The series and
their units are the real kubelet's (``node_cpu_usage_seconds_total``, ``node_memory_working_set_bytes``,
``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes``). One endpoint serves
every node of a simulated cluster, so the node series carry a ``node`` label (a real kubelet's do not).

What a simulated container uses is a model, not a measurement:
- an engine container: about 0.2 cores idle (its scheduling loop), one core plus a little per sequence
  while it serves (vLLM's host loop), two cores while it loads weights; its working set is its memory
  request (4 GiB without one), reached as the weights load;
- any other running container: a millicore and 1% of its CPU request, 16 MiB or its memory request if
  smaller;
- each node: 0.08 cores and 600 MiB for the system.
CPU seconds are integrated from these rates at each scrape, so counters only grow, as a kubelet's do;
every sample carries the scrape's timestamp, as a kubelet's do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from infleet.api.engine_metrics import RUNNING
from infleet.api.quantity import parse_quantity
from infleet.sim.kubelet import LOADING, READY, Kubelet, PodRuntime, is_simulated

GIB = 1024**3
MIB = 1024**2
ENGINE_IDLE_CORES = 0.2
ENGINE_SERVING_CORES = 1.0
ENGINE_CORES_PER_SEQUENCE = 0.02
ENGINE_LOADING_CORES = 2.0
ENGINE_DEFAULT_MEMORY = 4 * GIB
SIDECAR_CORES = 0.001
SIDECAR_REQUEST_SHARE = 0.01
SIDECAR_MEMORY = 16 * MIB
SYSTEM_CORES = 0.08
SYSTEM_MEMORY = 600 * MIB


_HELP = {
    "node_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the node in core-seconds"),
    "node_memory_working_set_bytes": ("gauge", "Current working set of the node in bytes"),
    "container_cpu_usage_seconds_total": (
        "counter",
        "Cumulative cpu time consumed by the container in core-seconds",
    ),
    "container_memory_working_set_bytes": ("gauge", "Current working set of the container in bytes"),
}


@dataclass(frozen=True)
class ContainerUsage:
    namespace: str
    pod: str
    container: str
    node: str
    cores: float
    memory_bytes: int


def _requests(container: dict[str, Any]) -> dict[str, Any]:
    return ((container.get("resources") or {}).get("requests")) or {}


def _request(container: dict[str, Any], name: str) -> Decimal | None:
    value = _requests(container).get(name)
    try:
        return parse_quantity(value) if value is not None else None
    except ValueError:
        return None


def container_usage(
    runtime: PodRuntime, container: dict[str, Any], is_engine: bool, engine_running: int | None
) -> tuple[float, int]:
    """(cores, working-set bytes) of one running container under the model above."""
    cpu_request = _request(container, "cpu")
    memory_request = _request(container, "memory")
    if is_engine:
        memory = int(memory_request) if memory_request else ENGINE_DEFAULT_MEMORY
        if runtime.stage == LOADING:
            return ENGINE_LOADING_CORES, memory // 2
        running = engine_running or 0
        cores = (
            ENGINE_IDLE_CORES if running == 0 else ENGINE_SERVING_CORES + ENGINE_CORES_PER_SEQUENCE * running
        )
        if cpu_request:
            cores = min(cores, float(cpu_request))
        return cores, memory
    cores = SIDECAR_CORES + SIDECAR_REQUEST_SHARE * float(cpu_request or 0)
    memory = min(SIDECAR_MEMORY, int(memory_request)) if memory_request else SIDECAR_MEMORY
    return cores, memory


class ResourceMetrics:
    """Renders ``/metrics/resource`` for every node a :class:`Kubelet` runs."""

    def __init__(self, kubelet: Kubelet, wall: Callable[[], float] = time.time) -> None:
        self.kubelet = kubelet
        self.wall = wall
        self._cpu_seconds: dict[tuple[str, str], float] = {}  # (pod uid, container) -> seconds
        self._node_cpu_seconds: dict[str, float] = {}
        self._last_scrape: int | None = None  # milliseconds

    async def usage(self) -> list[ContainerUsage]:
        """What every running container uses now."""
        running = [r for r in self.kubelet.runtimes.values() if r.stage in (LOADING, READY)]
        sequences = await _engine_sequences(r for r in running if r.engine and r.endpoint is not None)
        usages = []
        for runtime in running:
            pod = self.kubelet.pods.store.get(runtime.name, runtime.namespace)
            if pod is None:
                continue
            # The kubelet runs a pod's engine as its first container (``Kubelet._start_container``).
            for index, container in enumerate((pod.get("spec") or {}).get("containers") or []):
                is_engine = runtime.engine and index == 0
                cores, memory = container_usage(runtime, container, is_engine, sequences.get(runtime.uid))
                name = str(container.get("name"))
                usages.append(
                    ContainerUsage(runtime.namespace, runtime.name, name, runtime.node, cores, memory)
                )
        return usages

    async def render(self) -> str:
        """The Prometheus text of one scrape, counters advanced to now."""
        # Each sample carries the scrape's time in milliseconds, as a kubelet's do: the rate a scraper
        # computes between two scrapes is then exact, whatever the request took.
        stamp = round(self.wall() * 1000)
        elapsed = 0.0 if self._last_scrape is None else max(0, stamp - self._last_scrape) / 1000
        self._last_scrape = stamp
        usages = await self.usage()
        series: dict[str, list[str]] = {name: [] for name in _HELP}
        node_cores: dict[str, float] = {}
        node_memory: dict[str, int] = {}
        live = set()
        for usage in usages:
            key = (self.kubelet.uid_of(usage.namespace, usage.pod) or usage.pod, usage.container)
            live.add(key)
            seconds = self._cpu_seconds[key] = self._cpu_seconds.get(key, 0.0) + usage.cores * elapsed
            labels = f'container="{usage.container}",namespace="{usage.namespace}",pod="{usage.pod}"'
            series["container_cpu_usage_seconds_total"].append(f"{{{labels}}} {seconds:.9f}")
            series["container_memory_working_set_bytes"].append(f"{{{labels}}} {usage.memory_bytes}")
            node_cores[usage.node] = node_cores.get(usage.node, 0.0) + usage.cores
            node_memory[usage.node] = node_memory.get(usage.node, 0) + usage.memory_bytes
        for gone in set(self._cpu_seconds) - live:
            del self._cpu_seconds[gone]
        for node in self._nodes():
            cores = SYSTEM_CORES + node_cores.get(node, 0.0)
            seconds = self._node_cpu_seconds[node] = self._node_cpu_seconds.get(node, 0.0) + cores * elapsed
            series["node_cpu_usage_seconds_total"].append(f'{{node="{node}"}} {seconds:.9f}')
            memory = SYSTEM_MEMORY + node_memory.get(node, 0)
            series["node_memory_working_set_bytes"].append(f'{{node="{node}"}} {memory}')
        lines = []
        for name, (kind, help_text) in _HELP.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            lines += [f"{name}{sample} {stamp}" for sample in series[name]]
        return "\n".join(lines) + "\n"

    def _nodes(self) -> list[str]:
        """The simulated nodes this kubelet runs (a powered-off cluster reports none)."""
        if not self.kubelet.powered:
            return []
        return sorted(
            str(node["metadata"]["name"]) for node in self.kubelet.nodes.store.list() if is_simulated(node)
        )


async def _engine_sequences(runtimes: Iterable[PodRuntime]) -> dict[str, int]:
    """Requests each engine is running, from its own ``/metrics`` (vLLM's or SGLang's running gauge);
    every engine asked at once, so one scrape costs one engine's answer time, not all of theirs."""

    async def running(http: httpx.AsyncClient, runtime: PodRuntime) -> int | None:
        endpoint = runtime.endpoint
        assert endpoint is not None
        try:
            response = await http.get(f"http://{endpoint.host}:{endpoint.port}/metrics")
        except httpx.HTTPError:
            return None  # an engine that does not answer counts as idle
        return _running_requests(response.text) if response.status_code == 200 else None

    engines = list(runtimes)
    async with httpx.AsyncClient(timeout=0.5) as http:
        counts = await asyncio.gather(*(running(http, runtime) for runtime in engines))
    return {runtime.uid: count for runtime, count in zip(engines, counts, strict=True) if count is not None}


def _running_requests(text: str) -> int:
    try:
        for family in text_string_to_metric_families(text):
            if family.name in RUNNING:
                return int(sum(sample.value for sample in family.samples))
    except ValueError:
        return 0
    return 0
