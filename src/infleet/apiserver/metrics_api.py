"""``metrics.k8s.io/v1beta1``: what nodes and pods use now, so ``kubectl top`` works.

A real cluster serves this group from metrics-server through API aggregation; metrics-server scrapes
every kubelet's ``/metrics/resource`` and turns the cumulative CPU counters into rates. This server does
the same work in-process on each request: it scrapes the kubelets of the cluster's nodes (the address
``pods/log`` already uses), and computes CPU from the counters' growth since this server's previous
scrape of that kubelet (taking a second sample half a second later when it has none recent). Nothing is
stored, so the group is read-only: get and list, no watch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import Response

from infleet.apiserver.cluster import Cluster
from infleet.apiserver.errors import StatusError, method_not_allowed, not_found
from infleet.apiserver.http_responses import json_response
from infleet.apiserver.metrics_resources import API_VERSION, GROUP, VERSION
from infleet.apiserver.object_meta import format_timestamp
from infleet.apiserver.pod_location import kubelet_address
from infleet.apiserver.routes import ResourcePath
from infleet.apiserver.selectors import LabelSelector

FIRST_WINDOW_SECONDS = 0.5  # between the two samples taken when there is no recent one
MIN_WINDOW_SECONDS = 0.2
MAX_WINDOW_SECONDS = 120.0
SCRAPE_TIMEOUT_SECONDS = 3.0


@dataclass
class KubeletSample:
    """One scrape of a kubelet's ``/metrics/resource``."""

    at: float
    wall: datetime
    node_cpu_seconds: dict[str, float] = field(default_factory=dict)  # "" when the kubelet names no node
    node_memory: dict[str, float] = field(default_factory=dict)
    container_cpu_seconds: dict[tuple[str, str, str], float] = field(default_factory=dict)
    container_memory: dict[tuple[str, str, str], float] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    cpu_cores: float
    memory_bytes: float
    timestamp: datetime
    window_seconds: float


def parse_sample(text: str, at: float, wall: datetime) -> KubeletSample:
    sample = KubeletSample(at, wall)
    stamped = False
    for family in text_string_to_metric_families(text):
        for metric in family.samples:
            if metric.timestamp is not None and not stamped:
                # The kubelet's own time of the scrape: rates between two scrapes do not depend on how
                # long the requests took (metrics-server uses it the same way).
                sample.at, sample.wall = (
                    float(metric.timestamp),
                    datetime.fromtimestamp(float(metric.timestamp), UTC),
                )
                stamped = True
            labels = metric.labels
            container = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
            if metric.name == "node_cpu_usage_seconds_total":
                sample.node_cpu_seconds[labels.get("node", "")] = metric.value
            elif metric.name == "node_memory_working_set_bytes":
                sample.node_memory[labels.get("node", "")] = metric.value
            elif metric.name == "container_cpu_usage_seconds_total":
                sample.container_cpu_seconds[container] = metric.value
            elif metric.name == "container_memory_working_set_bytes":
                sample.container_memory[container] = metric.value
    return sample


def _rate(now: float | None, before: float | None, seconds: float) -> float:
    if now is None or before is None or seconds <= 0:
        return 0.0
    return max(0.0, (now - before) / seconds)


def cpu_quantity(cores: float) -> str:
    return f"{round(cores * 1e9)}n"


def memory_quantity(size: float) -> str:
    return f"{int(size) // 1024}Ki"


class MetricsAPI:
    """Answers ``metrics.k8s.io`` requests of every cluster of one server."""

    def __init__(self) -> None:
        self._previous: dict[tuple[str, str], KubeletSample] = {}

    async def handle(self, cluster: Cluster, path: ResourcePath, request: Request) -> Response:
        if request.method != "GET":
            raise method_not_allowed(f"{request.method} is not supported by {API_VERSION}: it is read-only")
        if request.query_params.get("watch") in ("1", "true"):
            raise method_not_allowed(f"watch is not supported by {API_VERSION}; list or get instead")
        if path.version != VERSION or path.plural not in ("nodes", "pods") or path.subresource is not None:
            raise StatusError(404, "NotFound", f"the server could not find the requested resource ({path})")
        selector = LabelSelector.parse(request.query_params.get("labelSelector", ""))  # a 400 when bad
        samples = await self._usage_by_kubelet(cluster)
        if path.plural == "nodes":
            items = self._node_items(cluster, samples, selector, path.name)
            kind = "NodeMetrics"
        else:
            items = self._pod_items(cluster, samples, selector, path.namespace, path.name)
            kind = "PodMetrics"
        if path.name is None:
            return json_response(
                {"kind": f"{kind}List", "apiVersion": API_VERSION, "metadata": {}, "items": items}
            )
        if not items:
            raise not_found(path.plural, path.name, GROUP)
        return json_response(items[0])

    # -- scraping ---------------------------------------------------------------------------------

    async def _usage_by_kubelet(self, cluster: Cluster) -> dict[str, tuple[KubeletSample, KubeletSample]]:
        """For each kubelet address of the cluster's nodes: (earlier, latest) samples to rate between."""
        addresses = {
            address for node in cluster.store.items("nodes") if (address := kubelet_address(node)) is not None
        }
        headers = {"Authorization": f"Bearer {cluster.kubelet_token}"} if cluster.kubelet_token else {}
        async with httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_SECONDS, headers=headers) as http:
            ordered = sorted(addresses)
            pairs = await asyncio.gather(*(self._sample_pair(http, cluster.name, a) for a in ordered))
        return {address: pair for address, pair in zip(ordered, pairs, strict=True) if pair}

    async def _sample_pair(
        self, http: httpx.AsyncClient, cluster: str, address: str
    ) -> tuple[KubeletSample, KubeletSample] | None:
        key = (cluster, address)
        latest = await _scrape(http, address)
        if latest is None:
            return None  # as metrics-server: a kubelet that does not answer has no metrics
        earlier = self._previous.get(key)
        if earlier is None or latest.at - earlier.at > MAX_WINDOW_SECONDS:
            earlier = latest
            await asyncio.sleep(FIRST_WINDOW_SECONDS)
            latest = await _scrape(http, address) or earlier
        elif latest.at - earlier.at < MIN_WINDOW_SECONDS:
            await asyncio.sleep(MIN_WINDOW_SECONDS - (latest.at - earlier.at))
            latest = await _scrape(http, address) or latest
        self._previous[key] = latest
        return earlier, latest

    # -- objects ----------------------------------------------------------------------------------

    def _node_items(
        self,
        cluster: Cluster,
        samples: Mapping[str, tuple[KubeletSample, KubeletSample]],
        selector: LabelSelector,
        name: str | None,
    ) -> list[dict[str, Any]]:
        items = []
        for node in cluster.store.items("nodes"):
            metadata = node["metadata"]
            if not _selected(metadata, name, selector):
                continue
            pair = samples.get(kubelet_address(node) or "")
            usage = _node_usage(pair, metadata["name"]) if pair else None
            if usage is None:
                continue
            items.append(
                {
                    "kind": "NodeMetrics",
                    "apiVersion": API_VERSION,
                    "metadata": _metadata(metadata, usage.timestamp, namespaced=False),
                    "timestamp": format_timestamp(usage.timestamp),
                    "window": f"{usage.window_seconds:.3f}s",
                    "usage": _usage(usage),
                }
            )
        return items

    def _pod_items(
        self,
        cluster: Cluster,
        samples: Mapping[str, tuple[KubeletSample, KubeletSample]],
        selector: LabelSelector,
        namespace: str | None,
        name: str | None,
    ) -> list[dict[str, Any]]:
        containers: dict[tuple[str, str], list[tuple[str, Usage]]] = {}
        for earlier, latest in samples.values():
            window = latest.at - earlier.at
            for key, memory in latest.container_memory.items():
                before = earlier.container_cpu_seconds.get(key)
                cores = _rate(latest.container_cpu_seconds.get(key), before, window)
                usage = Usage(cores, memory, latest.wall, window)
                containers.setdefault((key[0], key[1]), []).append((key[2], usage))
        items = []
        for pod in cluster.store.items("pods", namespace):
            metadata = pod["metadata"]
            if not _selected(metadata, name, selector):
                continue
            measured = containers.get((metadata["namespace"], metadata["name"]))
            if not measured:
                continue
            first = measured[0][1]
            items.append(
                {
                    "kind": "PodMetrics",
                    "apiVersion": API_VERSION,
                    "metadata": _metadata(metadata, first.timestamp, namespaced=True),
                    "timestamp": format_timestamp(first.timestamp),
                    "window": f"{first.window_seconds:.3f}s",
                    "containers": [
                        {"name": container, "usage": _usage(usage)}
                        for container, usage in sorted(measured, key=lambda entry: entry[0])
                    ],
                }
            )
        return items


def _node_usage(pair: tuple[KubeletSample, KubeletSample], node: str) -> Usage | None:
    earlier, latest = pair
    # A kubelet serves one node and names none; a simulated cluster's serves all of its nodes by name.
    key = node if node in latest.node_memory else ""
    if key not in latest.node_memory:
        return None
    window = latest.at - earlier.at
    cores = _rate(latest.node_cpu_seconds.get(key), earlier.node_cpu_seconds.get(key), window)
    return Usage(cores, latest.node_memory[key], latest.wall, window)


def _selected(metadata: Mapping[str, Any], name: str | None, selector: LabelSelector) -> bool:
    return (name is None or metadata["name"] == name) and selector.matches(metadata.get("labels") or {})


def _usage(usage: Usage) -> dict[str, str]:
    return {"cpu": cpu_quantity(usage.cpu_cores), "memory": memory_quantity(usage.memory_bytes)}


def _metadata(source: Mapping[str, Any], at: datetime, namespaced: bool) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": source["name"], "creationTimestamp": format_timestamp(at)}
    if namespaced:
        metadata["namespace"] = source["namespace"]
    if source.get("labels"):
        metadata["labels"] = dict(source["labels"])
    return metadata


async def _scrape(http: httpx.AsyncClient, address: str) -> KubeletSample | None:
    try:
        response = await http.get(f"http://{address}/metrics/resource")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return parse_sample(response.text, time.monotonic(), datetime.now(UTC))
    except ValueError:
        return None
