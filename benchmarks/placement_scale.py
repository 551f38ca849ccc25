"""Fleet placement at KubeFleet's scale: 1,000 members (generated properties and heartbeats, no kubelets)
and 1,000 ClusterResourcePlacements. Measures create -> Scheduled p50/p90, hub restart re-sync time, hub
and API server CPU and memory, and what a heartbeat costs.

Three processes: the embedded API server (one cluster, ``hub``), the hub controllers
(``placement_scale_fleet.py hub``), and this driver, which creates the objects and writes every member
agent's heartbeat. Run: ``PYTHONPATH=src python benchmarks/placement_scale.py [--members 1000]``. Prints
the figures and writes ``benchmarks/results/placement_scale.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apiserver_harness import ServerProcess, paced, percentile, run_concurrently
from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.catalog import load_catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import (
    CONDITION_HEALTHY,
    CONDITION_JOINED,
    INTERNAL_MEMBER_CLUSTER,
    MEMBER_CLUSTER,
)
from infleet.api.crds import all_crds
from infleet.api.kubernetes import CONFIGMAP, CUSTOM_RESOURCE_DEFINITION, NAMESPACE
from infleet.api.labels import PARENT_PLACEMENT_LABEL, REGION_LABEL
from infleet.api.placement_kubernetes_fleet_io.v1beta1.binding import CLUSTER_RESOURCE_BINDING
from infleet.api.placement_kubernetes_fleet_io.v1beta1.placement import CLUSTER_RESOURCE_PLACEMENT
from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import WORK
from infleet.fleet.hub.hub_settings import HubSettings
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.conditions import is_true
from infleet.kube.informer import Informer, InformerEvent
from placement_scale_fleet import (
    REGIONS,
    Agents,
    GeneratedMember,
    HubProcess,
    generate_fleet,
    member_cluster,
)
from proc_stats import cpu_seconds, rss_mib

RESULTS = Path(__file__).resolve().parent / "results" / "placement_scale.md"
SCHEDULED = f"{CLUSTER_RESOURCE_PLACEMENT.kind}Scheduled"
PLACEMENT_CONTROLLERS = ("placement", "scheduler", "rollout")
PREFIX = "hub/clusterresourceplacements/"
CONCURRENCY = 16
_DEFAULTS = HubSettings()
_WORKERS = (
    f"{_DEFAULTS.placement_workers} workers per placement controller, {_DEFAULTS.membership_workers} "
    f"membership, {_DEFAULTS.status_mirror_workers} status mirror"
)


# -- measuring ----------------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    hub_pid: int
    hub_cpu: float
    hub_rss: float
    server_cpu: float
    server_rss: float
    driver_cpu: float


@dataclass
class Usage:
    """CPU in cores and peak RSS (MiB) of each process over one phase."""

    seconds: float
    hub_cores: float
    hub_peak: float
    server_cores: float
    server_peak: float
    driver_cores: float


class Meter:
    """Samples the hub's and the API server's CPU and RSS (from /proc) twice a second."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.hub: HubProcess | None = None
        self.samples: list[Sample] = []

    def sample(self) -> Sample:
        own = os.times()
        hub = self.hub.pid if self.hub else 0
        sample = Sample(
            time.perf_counter(),
            hub,
            cpu_seconds(hub) if hub else 0.0,
            rss_mib(hub) if hub else 0.0,
            cpu_seconds(self.server.process.pid),
            rss_mib(self.server.process.pid),
            own.user + own.system,
        )
        self.samples.append(sample)
        return sample

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    def usage(self, first: Sample, last: Sample) -> Usage:
        """Between two samples; a hub that changed process between them counts from its start."""
        within = [s for s in self.samples if first.at <= s.at <= last.at] + [last]
        seconds = last.at - first.at
        hub_cpu = last.hub_cpu - (first.hub_cpu if first.hub_pid == last.hub_pid else 0.0)
        return Usage(
            seconds,
            hub_cpu / seconds,
            max(s.hub_rss for s in within if s.hub_pid == last.hub_pid),
            (last.server_cpu - first.server_cpu) / seconds,
            max(s.server_rss for s in within),
            (last.driver_cpu - first.driver_cpu) / seconds,
        )


@dataclass
class Tracker:
    """Create -> Scheduled and create -> every Work written, per placement, from the driver's watches."""

    created: dict[str, float] = field(default_factory=dict)
    scheduled: dict[str, float] = field(default_factory=dict)
    expected_works: dict[str, int] = field(default_factory=dict)
    works: dict[str, int] = field(default_factory=dict)
    all_works: dict[str, float] = field(default_factory=dict)

    def on_placement(self, event: InformerEvent) -> None:
        name = event.obj["metadata"]["name"]
        if name not in self.scheduled and is_true(
            (event.obj.get("status") or {}).get("conditions"), SCHEDULED
        ):
            self.scheduled[name] = time.perf_counter()

    def on_work(self, event: InformerEvent) -> None:
        if event.type != "ADDED":
            return
        name = (event.obj["metadata"].get("labels") or {}).get(PARENT_PLACEMENT_LABEL, "")
        self.works[name] = self.works.get(name, 0) + 1
        if self.works[name] == self.expected_works.get(name):
            self.all_works[name] = time.perf_counter()

    def latencies(self, names: list[str], done: dict[str, float]) -> list[float]:
        return [done[n] - self.created[n] for n in names if n in done]

    async def wait(self, names: list[str], done: dict[str, float], within: float) -> None:
        deadline = time.perf_counter() + within
        while time.perf_counter() < deadline and any(n not in done for n in names):  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # (filled by the watches' handlers)


def summary(values: list[float], wanted: int) -> dict[str, float]:
    return {
        "count": len(values),
        "missing": wanted - len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "max": max(values, default=float("nan")),
    }


# -- the objects --------------------------------------------------------------------------------------


def namespace_objects(name: str) -> list[tuple[Any, dict[str, Any]]]:
    """A Namespace holding a 1 KB ConfigMap and a small ModelDeployment (so GPU fit has work to do)."""
    return [
        (NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        (
            CONFIGMAP,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": name},
                "data": {"payload": "x" * 1024},
            },
        ),
        (
            MODEL_DEPLOYMENT,
            {
                "apiVersion": MODEL_DEPLOYMENT.api_version,
                "kind": MODEL_DEPLOYMENT.kind,
                "metadata": {"name": "qwen2-7b", "namespace": name},
                "spec": {"model": "qwen2-7b", "engine": "vllm", "replicas": 1, "resources": {"gpu": 1}},
            },
        ),
    ]


def placement(name: str, policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": CLUSTER_RESOURCE_PLACEMENT.api_version,
        "kind": CLUSTER_RESOURCE_PLACEMENT.kind,
        "metadata": {"name": name},
        "spec": {
            "resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": name}],
            "policy": policy,
        },
    }


PICK_3 = {"placementType": "PickN", "numberOfClusters": 3}


def pick_all_region(region: str) -> dict[str, Any]:
    """PickAll over one region's members (a tenth of the fleet: 100 of 1,000)."""
    term = {"labelSelector": {"matchLabels": {REGION_LABEL: region}}}
    return {
        "placementType": "PickAll",
        "affinity": {
            "clusterAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"clusterSelectorTerms": [term]}
            }
        },
    }


# -- the run ------------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    server: ServerProcess
    client: ClusterClient
    meter: Meter
    tracker: Tracker = field(default_factory=Tracker)
    figures: dict[str, Any] = field(default_factory=dict)
    members: list[GeneratedMember] = field(default_factory=list)
    agents: Agents | None = None
    hub: HubProcess | None = None

    def start_hub(self, tag: str) -> HubProcess:
        self.hub = HubProcess(self.workdir, self.server.kubeconfig, tag, profile=self.args.profile)
        self.meter.hub = self.hub
        return self.hub

    async def phase(self, name: str, body: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``body``; record its wall time and every process's CPU and memory under ``name``."""
        first = self.meter.sample()
        print(f"-- {name}", flush=True)
        value = await body()
        usage = self.meter.usage(first, self.meter.sample())
        self.figures.setdefault("usage", {})[name] = usage
        print(f"   {usage}", flush=True)
        if self.hub is not None:  # the hub's collector pauses so far: generation -> count, seconds, longest
            print(f"   hub gc {(self.hub.read() or {}).get('gc')}", flush=True)
        return value

    async def create_all(self, *batches: list[tuple[Any, dict[str, Any]]]) -> None:
        """Create each batch (concurrently within it) before the next."""
        for items in batches:

            async def one(index: int, items: list[tuple[Any, dict[str, Any]]] = items) -> None:
                kind, body = items[index]
                await self.client.create(kind, body)

            await run_concurrently(len(items), CONCURRENCY, one)


async def install_crds(client: ClusterClient) -> None:
    for crd in all_crds():
        await client.create(CUSTOM_RESOURCE_DEFINITION, crd)
    async with asyncio.timeout(30):
        while True:
            try:
                await client.list(CLUSTER_RESOURCE_PLACEMENT)
                return
            except Exception:
                await asyncio.sleep(0.1)


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> float:
    """Poll ``check`` every half second; the seconds it took (raises after ``within``)."""
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > within:
            raise TimeoutError(f"{what} not within {within:.0f} s")
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def join(bench: Bench) -> None:
    """Create the MemberClusters; once the hub made each InternalMemberCluster, every agent's first beat."""
    client, members = bench.client, bench.members
    started = time.perf_counter()
    await bench.create_all([(MEMBER_CLUSTER, member_cluster(m, bench.args.heartbeat)) for m in members])

    async def imcs_made() -> bool:
        return len((await client.list(INTERNAL_MEMBER_CLUSTER)).items) >= len(members)

    await until(imcs_made, 300, "every InternalMemberCluster")
    assert bench.agents is not None
    agents = bench.agents
    await run_concurrently(len(members), CONCURRENCY, lambda i: agents.beat(members[i]))

    async def all_joined() -> bool:
        items = (await client.list(MEMBER_CLUSTER)).items
        ready = [
            m
            for m in items
            if is_true((m.get("status") or {}).get("conditions"), CONDITION_JOINED)
            and is_true((m.get("status") or {}).get("conditions"), CONDITION_HEALTHY)
        ]
        return len(ready) >= len(members)

    await until(all_joined, 300, "every member Joined and Healthy")
    bench.figures["join_s"] = time.perf_counter() - started


async def heartbeat_window(bench: Bench, key: str) -> None:
    """Nothing but heartbeats (and the hub's periodic work) for ``--window`` seconds."""
    assert bench.agents is not None
    assert bench.hub is not None
    beats = bench.agents.beats
    before = bench.hub.read() or {}
    await asyncio.sleep(bench.args.window)
    after = bench.hub.read() or {}
    member_reconciles = after.get("reconciles", {}).get("membercluster", 0) - before.get(
        "reconciles", {}
    ).get("membercluster", 0)
    bench.figures[key] = {"beats": bench.agents.beats - beats, "member_reconciles": member_reconciles}


async def create_placements(
    bench: Bench, names: list[str], policy: dict[str, Any], rate: float | None
) -> None:
    """Create placements at ``rate`` per second (None: as fast as ``CONCURRENCY`` requests go)."""
    tracker = bench.tracker

    async def one(index: int) -> None:
        name = names[index]
        tracker.created[name] = time.perf_counter()
        await bench.client.create(CLUSTER_RESOURCE_PLACEMENT, placement(name, policy))

    if rate is None:
        await run_concurrently(len(names), CONCURRENCY, one)
    else:
        await paced(rate, len(names), CONCURRENCY, one)
    await tracker.wait(names, tracker.scheduled, bench.args.wait)


def record_latency(bench: Bench, key: str, names: list[str]) -> None:
    tracker = bench.tracker
    bench.figures[key] = summary(tracker.latencies(names, tracker.scheduled), len(names))
    print(f"   {key}: {bench.figures[key]}", flush=True)


def resynced(stats: dict[str, Any] | None, placements: int, bindings: int, members: int) -> bool:
    """Every placement through placement, scheduler and rollout, every binding through the work
    generator, every member through membership, and no queue with a key waiting."""
    if not stats or not stats["synced"]:
        return False
    counts = stats["reconciles"]
    wanted = {f"{PREFIX}{c}": placements for c in PLACEMENT_CONTROLLERS}
    wanted[f"{PREFIX}work-generator"] = bindings
    wanted["membercluster"] = members
    if any(counts.get(name, 0) < n for name, n in wanted.items()):
        return False
    return not any(stats["depth"].values())


async def bindings_state(client: ClusterClient) -> dict[str, str]:
    items = (await client.list(CLUSTER_RESOURCE_BINDING)).items
    return {b["metadata"]["name"]: b["metadata"]["resourceVersion"] for b in items}


async def restart(bench: Bench, placements: int) -> None:
    """Kill the hub (SIGKILL, as a crashed pod) and time its successor until it has re-synced."""
    before = await bindings_state(bench.client)
    assert bench.hub is not None
    bench.hub.stop(kill=True)
    hub = bench.start_hub("restarted")
    quiet = 0
    while quiet < 2:  # two reads 0.25 s apart with every threshold met and every queue empty
        await asyncio.sleep(0.25)
        ok = resynced(hub.read(), placements, len(before), len(bench.members))
        quiet = quiet + 1 if ok else 0
        if time.perf_counter() - hub.started > bench.args.wait:
            raise TimeoutError("the restarted hub did not re-sync")
    bench.figures["resync_s"] = time.perf_counter() - hub.started - 0.25
    after = await bindings_state(bench.client)
    bench.figures["resync_bindings"] = len(before)
    bench.figures["resync_rewritten"] = sum(1 for k, v in before.items() if after.get(k) != v)
    bench.figures["resync_reconciles"] = (hub.read() or {}).get("reconciles", {})


async def run(bench: Bench) -> None:
    args = bench.args
    await bench.phase("join", lambda: join(bench))
    await bench.phase("heartbeats only", lambda: heartbeat_window(bench, "heartbeats_idle"))
    names = [f"crp-{i:04d}" for i in range(args.placements + 1 + args.burst)]
    spread = [f"all-{i:03d}" for i in range(args.pick_all)]
    objects = [o for name in names + spread for o in namespace_objects(name)]
    namespaces = [o for o in objects if o[0] is NAMESPACE]
    contents = [o for o in objects if o[0] is not NAMESPACE]
    await bench.phase("placed objects", lambda: bench.create_all(namespaces, contents))
    for name in names:
        bench.tracker.expected_works[name] = PICK_3["numberOfClusters"]
    steady = names[: args.placements]
    await bench.phase(
        "placements at a steady rate", lambda: create_placements(bench, steady, PICK_3, args.rate)
    )
    record_latency(bench, "steady", steady)
    one_more = names[args.placements : args.placements + 1]
    await bench.phase("one more placement", lambda: create_placements(bench, one_more, PICK_3, None))
    record_latency(bench, "one_more", one_more)
    burst = names[args.placements + 1 :]
    await bench.phase("burst", lambda: create_placements(bench, burst, PICK_3, None))
    record_latency(bench, "burst", burst)
    await bench.tracker.wait(names, bench.tracker.all_works, args.wait)
    bench.figures["works"] = summary(bench.tracker.latencies(names, bench.tracker.all_works), len(names))
    if spread:
        for name in spread:
            bench.tracker.expected_works[name] = len(bench.members) // len(REGIONS)
        await bench.phase(
            "PickAll placements",
            lambda: _pick_all(bench, spread),
        )
    await bench.phase("steady state", lambda: heartbeat_window(bench, "heartbeats_placed"))
    await bench.phase("hub restart", lambda: restart(bench, len(names) + len(spread)))


async def _pick_all(bench: Bench, spread: list[str]) -> None:
    for index, name in enumerate(spread):
        await create_placements(bench, [name], pick_all_region(REGIONS[index % len(REGIONS)]), None)
    record_latency(bench, "pick_all", spread)
    await bench.tracker.wait(spread, bench.tracker.all_works, bench.args.wait)
    bench.figures["pick_all_works"] = summary(
        bench.tracker.latencies(spread, bench.tracker.all_works), len(spread)
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    catalog = load_catalog()
    with tempfile.TemporaryDirectory(prefix="placement-scale-") as directory:
        workdir = Path(directory)
        server = ServerProcess(workdir, args.profile / "server.prof" if args.profile else None)
        factory = ClientFactory(server.kubeconfig)
        client = factory.client("infleet-hub", "hub")
        meter = Meter(server)
        bench = Bench(args, workdir, server, client, meter, members=generate_fleet(args.members, catalog))
        bench.agents = Agents(factory.client("infleet-hub", "agents"), bench.members, args.heartbeat)
        stop = asyncio.Event()
        tasks = []
        try:
            await install_crds(client)
            bench.start_hub("first")
            watches = [
                Informer(client, CLUSTER_RESOURCE_PLACEMENT),
                Informer(client, WORK),
            ]
            watches[0].add_handler(bench.tracker.on_placement)
            watches[1].add_handler(bench.tracker.on_work)
            tasks = [asyncio.ensure_future(w.run(stop)) for w in watches]
            tasks.append(asyncio.ensure_future(meter.run(stop)))
            tasks.append(asyncio.ensure_future(bench.agents.run(stop)))
            await run(bench)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            if bench.hub is not None:
                bench.hub.stop()
            await factory.close()
            server.stop()
        bench.figures["agents"] = {
            "beats": bench.agents.beats,
            "failures": bench.agents.failures,
            "last_error": bench.agents.last_error,
            "write_p50_ms": percentile(bench.agents.write_seconds, 50) * 1000,
            "write_p90_ms": percentile(bench.agents.write_seconds, 90) * 1000,
        }
        return bench.figures


# -- the report ---------------------------------------------------------------------------------------


def _s(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.0f} s"


def _latency_row(what: str, figures: dict[str, float]) -> list[str]:
    missing = f" ({int(figures['missing'])} not scheduled)" if figures["missing"] else ""
    return [
        what,
        f"{int(figures['count'])}{missing}",
        _s(figures["p50"]),
        _s(figures["p90"]),
        _s(figures["max"]),
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _usage_rows(usage: dict[str, Usage]) -> list[list[str]]:
    return [
        [
            name,
            _s(u.seconds),
            f"{u.hub_cores:.2f}",
            f"{u.hub_peak:.0f} MiB",
            f"{u.server_cores:.2f}",
            f"{u.server_peak:.0f} MiB",
            f"{u.driver_cores:.2f}",
        ]
        for name, u in usage.items()
    ]


def heartbeat_cost(figures: dict[str, Any], key: str, phase: str) -> list[str]:
    window = figures[key]
    usage: Usage = figures["usage"][phase]
    beats = max(1, window["beats"])
    return [
        phase,
        f"{window['beats'] / usage.seconds:.1f}/s",
        f"{window['member_reconciles'] / beats:.2f}",
        f"{usage.hub_cores * usage.seconds / beats * 1000:.1f} ms",
        f"{usage.server_cores * usage.seconds / beats * 1000:.1f} ms",
    ]


def verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def report(args: argparse.Namespace, figures: dict[str, Any]) -> str:
    steady, resync = figures["steady"], figures["resync_s"]
    placed = args.placements + 1 + args.burst
    usage: dict[str, Usage] = figures["usage"]
    restart_usage = usage["hub restart"]
    lines = [
        "# Placement at fleet scale",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} when",
        f"written), Python {platform.python_version()}. Three processes share the cores: the embedded API",
        "server (one cluster, `hub`, plain HTTP on loopback, SQLite in a temp dir), the hub controllers",
        f"(`add_hub_controllers` on uvloop, no leader election, default `HubSettings`: {_WORKERS}) and the",
        "driver, which creates the objects and writes every member agent's heartbeat.",
        "",
        f"Fleet: {args.members} MemberClusters without kubelets, over {len(REGIONS)} regions, heartbeat",
        f"period {args.heartbeat} s with ±5% jitter, phases spread evenly",
        f"(~{args.members * 60 // args.heartbeat} heartbeats/min, as KubeFleet's setup). Each heartbeat is",
        "the member agent's own InternalMemberCluster status",
        "(`apply_report` over `cluster_properties` of generated GPU nodes: node count, cpu/memory, GPUs per",
        "SKU with slots, free nodes and cost, region, cloud), Joined and Healthy. Properties do not change",
        "between beats (nothing runs on the members), so placements never consume capacity.",
        "",
        f"Placements: {args.placements} ClusterResourcePlacements at {args.rate:g}/s, then one more",
        f'(KubeFleet\'s "placement #1,001"), then a burst of {args.burst} created as fast as',
        f"{CONCURRENCY} concurrent requests go. Each selects its own Namespace holding a 1 KB ConfigMap",
        "and a ModelDeployment",
        "(qwen2-7b, 1 GPU, 1 replica, so GPU fit runs) and is PickN with numberOfClusters 3. **KubeFleet's",
        "test placed each of its 1,000 placements on 100 clusters** (~100K bindings and Works); here that",
        f"shape is the PickAll row: {args.pick_all} placements, each PickAll over a region label that",
        f"selects {args.members // len(REGIONS)} members. Latency is create request sent -> the driver's",
        f"watch sees `{SCHEDULED}` True; Works is create -> every Work of the placement seen.",
        "",
        "## Against the targets",
        "",
    ]
    lines += _table(
        ["figure", "target", "Infleet here", "verdict", "KubeFleet (2x D16s_v3 hub, 100 clusters each)"],
        [
            [f"create -> Scheduled p90, {args.placements} placements", "<= 1 s", _s(steady["p90"]),
             verdict(steady["p90"] <= 1 and not steady["missing"]), "p90 20 s (first placement)"],
            ["placement #1,001 (p90 = its latency)", "<= 1 s", _s(figures["one_more"]["p90"]),
             verdict(figures["one_more"]["p90"] <= 1), "p90 21 s"],
            ["hub restart re-sync", "<= 60 s", _s(resync), verdict(resync <= 60),
             "p90 11 min 15 s, max 13 min 41 s"],
            ["hub CPU / memory during re-sync", "", f"{restart_usage.hub_cores:.2f} cores / "
             f"{restart_usage.hub_peak:.0f} MiB", "", "~3.5 cores / >8 GB"],
            ["API server CPU / memory during re-sync", "", f"{restart_usage.server_cores:.2f} cores / "
             f"{restart_usage.server_peak:.0f} MiB", "", "~13 cores / 47 GB"],
        ],
    )  # fmt: skip
    lines += ["", "## Create -> Scheduled", ""]
    rows = [
        _latency_row(f"{args.rate:g}/s steady, PickN 3", steady),
        _latency_row("placement #1,001", figures["one_more"]),
        _latency_row(f"burst of {args.burst}, PickN 3", figures["burst"]),
        _latency_row(f"create -> all Works, the {placed} above", figures["works"]),
    ]
    if "pick_all" in figures:
        rows.append(_latency_row("PickAll, 100 clusters each (one at a time)", figures["pick_all"]))
        rows.append(_latency_row("PickAll: create -> all 100 Works", figures["pick_all_works"]))
    lines += _table(["placements", "count", "p50", "p90", "max"], rows)
    lines += [
        "",
        "## Hub restart",
        "",
        f"With everything placed ({figures['resync_bindings']} bindings), the hub process is killed",
        "(SIGKILL) and a new one started. Re-synced means: its caches synced, every placement reconciled",
        "by the placement, scheduler and rollout controllers, every binding by the work generator, every",
        "member by the membership controller (successful reconciles, from the controllers' own metrics,",
        "which the hub process writes to a file four times a second), and every work queue empty in two",
        "reads a quarter second apart. Time runs from the process's start (interpreter start-up included).",
        f"Bindings rewritten by the new hub: {figures['resync_rewritten']} (a re-sync should move nothing).",
        "",
        "## CPU and memory by phase",
        "",
        "CPU in cores averaged over the phase; memory is the peak RSS sampled twice a second. The driver",
        "is this script (object creation, the agents' heartbeats, two watches).",
        "",
    ]
    lines += _table(
        ["phase", "wall", "hub CPU", "hub peak RSS", "API server CPU", "API server peak RSS", "driver CPU"],
        _usage_rows(usage),
    )
    lines += [
        "",
        "## Heartbeat cost",
        "",
        "CPU per heartbeat is the process's CPU over the window divided by the heartbeats written in it;",
        "it includes whatever else the process did then (with placements: each placement's 60 s",
        "re-selection of its Namespace). Each heartbeat is one agent write (the IMC status) and one hub",
        "write (the MemberCluster status the membership controller copies it into).",
        "",
    ]
    lines += _table(
        ["window", "heartbeats", "hub reconciles per beat", "hub CPU per beat", "API server CPU per beat"],
        [
            heartbeat_cost(figures, "heartbeats_idle", "heartbeats only"),
            heartbeat_cost(figures, "heartbeats_placed", "steady state"),
        ],
    )
    agents = figures["agents"]
    lines += [
        "",
        f"Agent writes: {agents['beats']} heartbeats, {agents['failures']} failed, write latency p50",
        f"{agents['write_p50_ms']:.1f} ms, p90 {agents['write_p90_ms']:.1f} ms. Join ({args.members}",
        f"MemberClusters created -> all Joined and Healthy): {_s(figures['join_s'])}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--placements", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--pick-all", type=int, default=20, help="PickAll placements of 100 clusters each")
    parser.add_argument("--rate", type=float, default=20.0, help="placements created per second")
    parser.add_argument("--heartbeat", type=int, default=60, help="heartbeatPeriodSeconds of every member")
    parser.add_argument("--window", type=float, default=45.0, help="seconds of each steady-state window")
    parser.add_argument("--wait", type=float, default=240.0, help="the longest wait for any phase")
    parser.add_argument("--profile", type=Path, help="run the hub under cProfile, profiles in this folder")
    parser.add_argument("--no-write", action="store_true", help="print only (for smaller trial runs)")
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    text = report(args, figures)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
