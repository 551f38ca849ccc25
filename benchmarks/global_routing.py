"""Global routing over three regions with uneven load and GPU mix: Infleet's default profile (locality
preferred, load decides) vs round-robin across every cluster vs "nearest region only" (region-allow with
request_region_only). Simulated vLLM engines (infleet.sim.engine) in one engine-host process, the gateway
in its own, an open-loop (Poisson) client per region sending x-infleet-region. Streaming; TTFT at the
client. Writes benchmarks/results/global_routing.md.
Usage: python benchmarks/global_routing.py [--seconds 30]; `--serve-engines` is the engine-host role.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvloop
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gateway_vs_litellm import MASTER, free_port, start_infleet_gateway, wait_ready  # noqa: E402
from infleet.api.catalog import load_catalog  # noqa: E402
from infleet.api.engine_metrics import VLLM  # noqa: E402
from infleet.gateway.http_pool import HttpPool  # noqa: E402
from infleet.gateway.transport import Origin, UpstreamError  # noqa: E402
from infleet.scheduling.routing import BUILTIN_PROFILES  # noqa: E402
from load_client import percentile  # noqa: E402
from routing import start_engine_host, start_port_server, stop, words  # noqa: E402

MODEL = "Qwen/Qwen3-32B"
SERVED = "qwen3-32b"
# (replica, region, GPU SKU, GPUs per engine): tensor parallel where one GPU cannot hold the model.
ENGINES = [
    ("us-east/h100-0", "us-east", "H100", 1),
    ("us-east/h100-1", "us-east", "H100", 1),
    ("eu-west/a100-0", "eu-west", "A100-80GB", 1),
    ("eu-west/l40s-0", "eu-west", "L40S", 2),
    ("ap-southeast/l4-0", "ap-southeast", "L4", 4),
    ("ap-southeast/l4-1", "ap-southeast", "L4", 4),
]
REGIONS = ("us-east", "eu-west", "ap-southeast")
# Most traffic comes from the region with the least capacity.
SHARES = {"us-east": 0.2, "eu-west": 0.3, "ap-southeast": 0.5}
# Modelled round trip between regions (ms), added at the client to cross-region answers in one column only:
# loopback has no WAN, and a first token pays one round trip.
RTT_MS = {
    frozenset({"us-east", "eu-west"}): 75.0,
    frozenset({"us-east", "ap-southeast"}): 210.0,
    frozenset({"eu-west", "ap-southeast"}): 160.0,
}
NEAREST_ONLY = {
    "name": "nearest-only",
    "filters": [
        {"name": "healthy"},
        {"name": "serves-model"},
        {"name": "region-allow", "args": {"request_region_only": True}},
        {"name": "not-cooling-down"},
        {"name": "below-concurrency-cap"},
    ],
    # The default profile's scorers (locality is moot inside one region), so only the spill differs.
    "scorers": [ref.model_dump() for ref in BUILTIN_PROFILES["default"].scorers if ref.name != "locality"],
    "picker": BUILTIN_PROFILES["default"].picker.model_dump(),
}
# The default profile before it had expected-ttft, for a side run (`--only "previous default"`).
PREVIOUS_DEFAULT = {
    "name": "previous-default",
    "filters": [ref.model_dump() for ref in BUILTIN_PROFILES["default"].filters],
    "scorers": [
        {"name": n, "weight": w}
        for n, w in (("prefix-cache", 3), ("outstanding", 2), ("queue", 1), ("kv-cache", 1), ("locality", 1))
    ],
    "picker": {"name": "max-score"},
}
STRATEGIES = {"default": "default", "round-robin": "round-robin", "nearest region only": "nearest-only"}
SIDE_STRATEGIES = {"previous default": "previous-default"}


def rtt(a: str, b: str) -> float:
    return 0.0 if a == b else RTT_MS[frozenset({a, b})] / 1000


async def serve_engines() -> None:
    """Engine-host role: start the engines in this process, print their ports, run until stdin closes."""
    from infleet.sim.engine import EngineHost, EngineSpec

    async with EngineHost(tune_gc=True) as host:
        ports = []
        for _, _, gpu, gpus in ENGINES:
            address = await host.start(
                EngineSpec(model=MODEL, gpu=gpu, gpus=gpus, enable_prompt_tokens_details=True)
            )
            ports.append(address.port)
        print(orjson.dumps({"ports": ports}).decode(), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@dataclass
class Arrival:
    at: float
    region: str
    body: bytes


def arrivals(seed: int, seconds: float, rate: float, workload: str = "unique") -> list[Arrival]:
    """The requests of ``workload`` at ``rate`` req/s in all, in arrival order."""
    if workload == "conversations":
        return conversations(seed, seconds, rate)
    return unique_prompts(seed, seconds, rate)


def unique_prompts(seed: int, seconds: float, rate: float) -> list[Arrival]:
    """One Poisson stream per client region, merged: unique 1,000-3,000-token prompts, 16-32 tokens out."""
    rng = random.Random(seed)
    out: list[Arrival] = []
    for region in REGIONS:
        at = 0.0
        while (at := at + rng.expovariate(rate * SHARES[region])) < seconds:
            body = {
                "model": "qwen",
                "stream": True,
                "max_tokens": rng.randint(16, 32),
                "messages": [
                    {"role": "user", "content": f"{region} {at:.6f} " + words(rng, rng.randint(1000, 3000))}
                ],
            }
            out.append(Arrival(at, region, orjson.dumps(body)))
    return sorted(out, key=lambda a: a.at)


# Conversations: tenants' system prompts, sessions of several turns that resend the whole history.
TENANTS = 12
SYSTEM_TOKENS = 1500
TURNS = (3, 8)
USER_TOKENS = (50, 200)
ASSISTANT_TOKENS = 24  # the history carries a fixed answer: the client's text, not the engine's
THINK_S = 4.0  # mean pause between a turn and the next, from the turn's arrival


def conversations(seed: int, seconds: float, rate: float) -> list[Arrival]:
    """Multi-turn chat: sessions start Poisson per region, pick one of the tenants' 1,500-token system
    prompts, and send 3-8 turns, each the whole history so far plus a 50-200-token question, 16-32 tokens
    out; turns follow each other after an exponential pause (mean 4 s) from the previous turn's arrival;
    sessions begin before the run so it opens in steady state.
    Prompts grow from about 1,600 to 2,800 tokens: the unique workload's sizes, with a cacheable prefix."""
    rng = random.Random(seed)
    tenants = [f"Tenant {t} assistant policy. " + words(rng, SYSTEM_TOKENS) for t in range(TENANTS)]
    mean_turns = (TURNS[0] + TURNS[1]) / 2
    out: list[Arrival] = []
    for region in REGIONS:
        # Sessions start before the run too, so it opens in steady state: turns before 0 are not sent.
        start = -THINK_S * TURNS[1]
        while (start := start + rng.expovariate(rate * SHARES[region] / mean_turns)) < seconds:
            messages: list[dict[str, str]] = [{"role": "system", "content": rng.choice(tenants)}]
            at = start
            for turn in range(rng.randint(*TURNS)):
                if at >= seconds:
                    break
                question = f"{region} {start:.6f} turn {turn} " + words(rng, rng.randint(*USER_TOKENS))
                messages.append({"role": "user", "content": question})
                body = {"model": "qwen", "stream": True, "max_tokens": rng.randint(16, 32)}
                if at >= 0:
                    out.append(Arrival(at, region, orjson.dumps({**body, "messages": messages})))
                messages.append({"role": "assistant", "content": words(rng, ASSISTANT_TOKENS)})
                at += rng.expovariate(1 / THINK_S)
    return sorted(out, key=lambda a: a.at)


WORKLOADS = {
    "unique": "unique prompts of 1,000-3,000 tokens (no reuse), 16-32 output tokens",
    "conversations": (
        f"multi-turn conversations: sessions over {TENANTS} tenants' {SYSTEM_TOKENS:,}-token system "
        f"prompts, {TURNS[0]}-{TURNS[1]} turns each resending the whole history plus a "
        f"{USER_TOKENS[0]}-{USER_TOKENS[1]}-token question (prompts of about 1,600-2,800 tokens), turns "
        f"{THINK_S:g} s apart on average, 16-32 output tokens"
    ),
}


@dataclass
class Sample:
    at: float
    waiting: list[float]
    running: list[float]


@dataclass
class RunResult:
    ttft: list[float] = field(default_factory=list)
    ttft_wan: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)  # completion times since the first arrival, all
    errors: Counter[str] = field(default_factory=Counter)
    served: Counter[tuple[str, str]] = field(default_factory=Counter)  # (client region, replica region)
    by_replica: dict[str, list[float]] = field(default_factory=dict)  # measured TTFTs per replica
    # Every answered request: (arrival, the region that served it, TTFT).
    first_tokens: list[tuple[float, str, float]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)


def load_of(text: str) -> tuple[float, float]:
    """Waiting and running requests in one engine's vLLM exposition (summed over label sets)."""
    sums = {VLLM.waiting: 0.0, VLLM.running: 0.0}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in sums:
            sums[name] += float(line.rsplit(" ", 1)[1])
    return sums[VLLM.waiting], sums[VLLM.running]


async def scrape(pool: HttpPool, origin: Origin, deadline: float) -> str:
    """One engine's /metrics text; empty when it did not answer (a sample of no load, not a crash)."""
    text = b""
    try:
        response = await pool.send(origin, b"GET", b"/metrics", [], [], deadline, deadline)
        while chunk := await response.next_chunk(deadline):
            text += chunk
        response.close()
    except UpstreamError:
        return ""
    return text.decode()


async def sample_engines(ports: list[int], result: RunResult, start: float, stop_at: float) -> None:
    """Every engine's queue and batch size twice a second, until ``stop_at``."""
    pool = HttpPool()
    loop = asyncio.get_running_loop()
    origins = [Origin.parse(f"http://127.0.0.1:{p}") for p in ports]
    while (now := time.perf_counter()) < stop_at:
        deadline = loop.time() + 2
        loads = []
        for origin in origins:
            loads.append(load_of(await scrape(pool, origin, deadline)))
        result.samples.append(Sample(now - start, [w for w, _ in loads], [r for _, r in loads]))
        await asyncio.sleep(max(0.0, 0.5 - (time.perf_counter() - now)))
    await pool.close()


async def one_request(
    pool: HttpPool,
    url: Origin,
    arrival: Arrival,
    measured: bool,
    result: RunResult,
    start: float,
    wan: bool,
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {MASTER}".encode()),
        (b"x-infleet-region", arrival.region.encode()),
    ]
    t0 = time.perf_counter()
    deadline = asyncio.get_running_loop().time() + 120
    first = None
    try:
        response = await pool.send(
            url, b"POST", b"/v1/chat/completions", headers, [arrival.body], deadline, deadline
        )
        while chunk := await response.next_chunk(deadline):
            if first is None and chunk.lstrip().startswith(b"data:"):
                first = time.perf_counter() - t0
        response.close()
        if chunk is None:
            raise UpstreamError("client deadline")
    except UpstreamError:
        result.errors["upstream"] += 1
        return
    if response.status != 200 or first is None:
        result.errors[str(response.status)] += 1
        return
    result.finished.append(time.perf_counter() - start)
    backend = dict(response.headers).get(b"x-infleet-backend", b"").decode()
    served_in = backend.split("/", 1)[0]
    result.first_tokens.append((arrival.at, served_in, first))
    if measured:
        result.ttft.append(first)
        # Over real WAN links the round trip is in `first` already.
        result.ttft_wan.append(first if wan else first + rtt(arrival.region, served_in))
        result.served[(arrival.region, served_in)] += 1
        result.by_replica.setdefault(backend, []).append(first)


async def drive(
    urls: dict[str, str], ports: list[int], plan: list[Arrival], seconds: float, warmup: float, wan: bool
) -> RunResult:
    """Send ``plan`` on time, each arrival to its region's gateway (``urls``), and sample the engines."""
    pool = HttpPool()
    origins = {r: Origin.parse(u) for r, u in urls.items()}
    result = RunResult()
    start = time.perf_counter()
    sampler = asyncio.create_task(sample_engines(ports, result, start, start + seconds))
    tasks = []
    for arrival in plan:
        delay = start + arrival.at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(
            asyncio.create_task(
                one_request(pool, origins[arrival.region], arrival, arrival.at >= warmup, result, start, wan)
            )
        )
    await asyncio.gather(*tasks, sampler)
    await pool.close()
    return result


def start_engines(log: Any) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A fresh engine-host process (empty queues, cold caches) running every engine of ``ENGINES``."""
    return start_engine_host(Path(__file__), log)


def gateway_config(
    ports: list[int], profile: str, path: Path, extra: dict[str, Any] | None = None, region: str = ""
) -> None:
    """A global gateway listing every replica with its region, cluster and cost; ``ports`` are where it
    reaches each replica (the engine, or a WAN link to it); ``region`` its own (none by default)."""
    catalog = load_catalog()
    backends = [
        {
            "url": f"http://127.0.0.1:{port}",
            "model": SERVED,
            "name": name,
            "region": region,
            "cluster": f"{region}-1",
            "gpu": gpu,
            "cost": round(catalog.gpu(gpu).price_per_gpu_hour * gpus, 2),
        }
        for port, (name, region, gpu, gpus) in zip(ports, ENGINES, strict=True)
    ]
    config = {
        "region": region,
        "access_log": {"enabled": False},
        "master_key": MASTER,
        "profiles": {
            "nearest-only": NEAREST_ONLY,
            "previous-default": PREVIOUS_DEFAULT,
            **({extra["name"]: extra} if extra else {}),
        },
        "models": [{"name": "qwen", "profile": profile, "backends": backends}],
    }
    path.write_bytes(orjson.dumps(config))  # JSON is YAML


def run_one(
    profile: str,
    plan: list[Arrival],
    seconds: float,
    warmup: float,
    work: Path,
    log: Any,
    extra: dict[str, Any] | None = None,
    wan: bool = False,
) -> RunResult:
    """One strategy over fresh engines: one global gateway for every client region or, with ``wan``,
    one gateway per region (its clients' nearest) reaching other regions' replicas over WAN links."""
    engines, ports = start_engines(log)
    procs = [engines]
    try:
        gateway_regions = REGIONS if wan else ("",)
        reach = {r: list(ports) for r in gateway_regions}
        if wan:
            links, link_ports = start_wan_links(ports, log)
            procs.append(links)
            for r in REGIONS:
                reach[r] = [
                    port if r == region else next(link_ports)
                    for port, (_, region, _, _) in zip(ports, ENGINES, strict=True)
                ]
        urls = {}
        for r in gateway_regions:
            port = free_port()
            cfg = work / f"global_routing{'-' + r if r else ''}.yaml"
            gateway_config(reach[r], profile, cfg, extra, region=r)
            gateway = start_infleet_gateway(cfg, port, log)
            procs.append(gateway)
            wait_ready(port, gateway, 180)
            urls[r] = f"http://127.0.0.1:{port}"
        time.sleep(0.5)
        by_region = {r: urls[r if wan else ""] for r in REGIONS}
        return uvloop.run(drive(by_region, ports, plan, seconds, warmup, wan))
    finally:
        stop(procs)


def start_wan_links(ports: list[int], log: Any) -> tuple[subprocess.Popen[bytes], Iterator[int]]:
    """A WAN-links process with one link per (gateway region, replica elsewhere), in that order, each
    holding traffic for half the regions' round trip each way; its listening ports, in the same order."""
    spec = [
        [port, rtt(r, region) * 1000 / 2]
        for r in REGIONS
        for port, (_, region, _, _) in zip(ports, ENGINES, strict=True)
        if region != r
    ]
    script = str(Path(__file__).with_name("wan_links.py"))
    proc, link_ports = start_port_server([script, orjson.dumps(spec).decode()], log, "WAN links")
    return proc, iter(link_ports)


@dataclass
class RegionLoad:
    busy: float  # share of samples in which a replica had a request running, mean over the region's replicas
    running: float  # mean running requests per replica
    waiting: float  # mean waiting requests, region total
    # Requests in the region's engines (running + waiting; a prefill-bound engine batches its backlog
    # as running): mean of the window's last quarter minus its first quarter.
    growth: float
    # Mean TTFT of the requests it answered that arrived in the window's last quarter over those of its
    # first quarter.
    slowdown: float
    served: int  # measured requests its replicas answered
    utilisation: float  # measured requests answered per second / the region's prefill roofline

    @property
    def saturated(self) -> bool:
        """Past saturation: more requests in its engines and each new one waiting longer for its first
        token. A backlog that grows while first tokens keep their pace is a burst of arrivals (Little's
        law: more arrivals, the same time each), which every strategy sees alike; a region that cannot
        keep up makes each request wait longer (engines take prompts first come, first served)."""
        return self.growth >= 3.0 and self.slowdown >= 1.5

    @property
    def idle(self) -> bool:
        return self.utilisation < 0.5 and not self.saturated


def mean_ttft(res: RunResult, region: str, start: float, end: float) -> float:
    seconds = [ttft for at, where, ttft in res.first_tokens if where == region and start <= at < end]
    return sum(seconds) / len(seconds) if seconds else 0.0


def region_loads(res: RunResult, warmup: float, seconds: float) -> dict[str, RegionLoad]:
    cap = capacity()
    window = [s for s in res.samples if warmup <= s.at <= seconds]
    quarter = max(1, len(window) // 4)
    span = (seconds - warmup) / 4
    out = {}
    for region in REGIONS:
        idx = [i for i, e in enumerate(ENGINES) if e[1] == region]

        def mean_waiting(samples: list[Sample], idx: list[int] = idx) -> float:
            return sum(sum(s.waiting[i] for i in idx) for s in samples) / max(1, len(samples))

        def mean_in_engines(samples: list[Sample], idx: list[int] = idx) -> float:
            return sum(sum(s.waiting[i] + s.running[i] for i in idx) for s in samples) / max(1, len(samples))

        n = max(1, len(window) * len(idx))
        served = sum(c for (_, where), c in res.served.items() if where == region)
        first = mean_ttft(res, region, warmup, warmup + span)
        last = mean_ttft(res, region, seconds - span, seconds)
        out[region] = RegionLoad(
            busy=sum(1 for s in window for i in idx if s.running[i] > 0) / n,
            running=sum(s.running[i] for s in window for i in idx) / n,
            waiting=mean_waiting(window),
            growth=mean_in_engines(window[-quarter:]) - mean_in_engines(window[:quarter]),
            slowdown=last / first if first > 0 else 1.0,
            served=served,
            utilisation=served / (seconds - warmup) / cap[region],
        )
    return out


def capacity() -> dict[str, float]:
    """Rough req/s each region prefills, from the engine's roofline at the mean 2,000-token prompt."""
    from infleet.sim.engine.model.performance import PerformanceModel, StepShape

    catalog = load_catalog()
    out = dict.fromkeys(REGIONS, 0.0)
    for _, region, gpu, gpus in ENGINES:
        perf = PerformanceModel(catalog.model(MODEL), catalog.gpu(gpu), gpus)
        out[region] += 1 / perf.step_time(StepShape(prefill_tokens=2000, attention_pairs=2000 * 2000 / 2))
    return out


def row_of(name: str, res: RunResult, args: argparse.Namespace) -> dict[str, Any]:
    total = args.seconds + args.warmup
    loads = region_loads(res, args.warmup, total)
    saturated = [r for r, x in loads.items() if x.saturated]
    idle = [r for r, x in loads.items() if x.idle]
    local = sum(c for (a, b), c in res.served.items() if a == b) / max(1, sum(res.served.values()))
    return {
        "strategy": name,
        "rps": sum(1 for t in res.finished if args.warmup <= t <= total) / args.seconds,
        "p50": percentile(res.ttft, 50),
        "p90": percentile(res.ttft, 90),
        "p99": percentile(res.ttft, 99),
        "p90_wan": percentile(res.ttft_wan, 90),
        "completed": len(res.ttft),
        "errors": sum(res.errors.values()),
        "error_kinds": dict(res.errors),
        "local": local,
        "loads": loads,
        "by_replica": res.by_replica,
        "imbalance": bool(saturated and set(idle) - set(saturated)),
        "saturated": saturated,
        "idle": idle,
    }


def describe(profile: str) -> str:
    spec = BUILTIN_PROFILES[profile]
    return ", ".join(f"{ref.name} {ref.weight:g}" for ref in spec.scorers) + f"; {spec.picker.name}"


def header(args: argparse.Namespace, load_avg: tuple[float, ...]) -> list[str]:
    cap = capacity()
    return [
        "# Global routing: three regions, uneven load and GPU mix "
        f"({args.workload} workload{', WAN links' if args.wan else ''})",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores (shared machine; "
        f"load average before the runs {load_avg[0]:.2f} / {load_avg[1]:.2f} / {load_avg[2]:.2f}, after "
        "{after}). Six simulated vLLM engines (infleet.sim.engine, one `EngineHost` process, restarted "
        f"before each run so no queue or cache carries over) serving {MODEL}, in three regions: "
        + "; ".join(
            f"{r}: "
            + ", ".join(f"{g}x{n}" for _, reg, g, n in ENGINES if reg == r)
            + f" (prefill roofline about {cap[r]:.1f} req/s at a 2,000-token prompt)"
            for r in REGIONS
        )
        + f"; about {sum(cap.values()):.1f} req/s in all. "
        + (
            "One Infleet gateway per region (its `region` set; scrapes engine /metrics every 200 ms), each "
            "listing all six as backends with region, cluster, GPU and cost (catalog $/GPU-hour x GPUs); "
            "replicas in other regions are reached over simulated WAN links (`benchmarks/wan_links.py`: "
            "loopback relays that hold every chunk for half the round trip each way: us-east-eu-west 75 ms, "
            "us-east-ap-southeast 210 ms, eu-west-ap-southeast 160 ms), so scrapes, health checks and "
            "answers from there pay it."
            if args.wan
            else "One global Infleet gateway (no home region; scrapes engine /metrics every 200 ms) lists "
            "the six as backends with region, cluster, GPU and cost (catalog $/GPU-hour x GPUs)."
        ),
        "",
        "Clients: open-loop Poisson per region, "
        + ", ".join(f"{r} {SHARES[r]:.0%}" for r in REGIONS)
        + " of the offered load (most from the region with the least capacity), each request with "
        f"`x-infleet-region: <client region>`; {WORKLOADS[args.workload]}, "
        f"streaming. Same arrivals (seed {args.seed}) for every strategy at a rate; {args.warmup:g} s of "
        f"unmeasured warm-up arrivals, then {args.seconds:g} s measured. "
        + (
            "Each client sends to its own region's gateway. TTFT = first data event at the client, WAN "
            "round trip included where the answer came from another region (the `+WAN` column is the "
            "same figure)."
            if args.wan
            else "TTFT = first data event at the client over loopback; the `+WAN` column adds a modelled "
            "round trip when the answer came from another region (us-east-eu-west 75 ms, "
            "us-east-ap-southeast 210 ms, eu-west-ap-southeast 160 ms); it is added after the fact and "
            "does not change what the gateway sees."
        ),
        "",
        f"Strategies (gateway profiles): `default` (the built-in: {describe('default')}); `round-robin` "
        "across all six replicas; `nearest region only` (the default's scorers but locality, behind "
        "`region-allow` with `request_region_only: true`: a request never leaves its region).",
        "",
        "| offered req/s | strategy | completed req/s | TTFT p50 s | TTFT p90 s | TTFT p99 s "
        "| TTFT p90 s +WAN | errors | served in own region | requests served us / eu / ap "
        "| served / roofline us / eu / ap | busy share us / eu / ap | mean waiting us / eu / ap "
        "| backlog growth us / eu / ap | TTFT last / first quarter us / eu / ap "
        "| saturated while another idled |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|---|---|",
    ]


def table_row(r: dict[str, Any]) -> str:
    loads = r["loads"]
    spare = sorted(set(r["idle"]) - set(r["saturated"]))
    flag = f"yes: {', '.join(r['saturated'])} saturated, {', '.join(spare)} idle" if r["imbalance"] else "no"
    errors = f"{r['errors']}" + (f" ({r['error_kinds']})" if r["errors"] else "")
    return (
        f"| {r['rate']:g} | {r['strategy']} | {r['rps']:.2f} | {r['p50']:.3f} | {r['p90']:.3f} | "
        f"{r['p99']:.3f} | {r['p90_wan']:.3f} | {errors} | {r['local']:.0%} | "
        + " / ".join(str(loads[x].served) for x in REGIONS)
        + " | "
        + " / ".join(f"{loads[x].utilisation:.0%}" for x in REGIONS)
        + " | "
        + " / ".join(f"{loads[x].busy:.0%}" for x in REGIONS)
        + " | "
        + " / ".join(f"{loads[x].waiting:.1f}" for x in REGIONS)
        + " | "
        + " / ".join(f"{loads[x].growth:+.1f}" for x in REGIONS)
        + " | "
        + " / ".join(f"{loads[x].slowdown:.2f}" for x in REGIONS)
        + f" | {flag} |"
    )


def per_replica(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "",
        "Per replica: measured requests answered: TTFT p50 / p90 s.",
        "",
        "| offered req/s | strategy | " + " | ".join(e[0] for e in ENGINES) + " |",
        "|---:|---|" + "---|" * len(ENGINES),
    ]
    for r in rows:
        cells = []
        for name, *_ in ENGINES:
            t = r["by_replica"].get(name, [])
            cells.append(f"{len(t)}: {percentile(t, 50):.2f} / {percentile(t, 90):.2f}" if t else "0")
        out.append(f"| {r['rate']:g} | {r['strategy']} | " + " | ".join(cells) + " |")
    return out


def targets(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "",
        "Completed req/s: requests finished while arrivals were measured, per second; below the offered "
        "rate, a backlog grows. Served / roofline: measured requests a region answered per second over its "
        "prefill roofline (above). Busy share: samples (every 0.5 s, engines' `/metrics`) in which a replica "
        "had a request running, mean over the region's replicas. Backlog growth: requests in the region's "
        "engines (running + waiting: a prefill-bound engine batches its backlog as running), mean of the "
        "measured window's last quarter minus its first. TTFT last / first quarter: mean TTFT of the "
        "requests the region answered that arrived in the measured window's last quarter, over those that "
        "arrived in its first. A region is saturated when its backlog grows by 3 or more and its TTFT by "
        "1.5x or more (a backlog that grows while first tokens keep their pace is a burst of arrivals, which "
        "every strategy sees alike: by Little's law more requests, each there as long), idle when it served "
        "under 50% of its roofline without being saturated. The time to last byte would not do: a "
        "prefill-bound engine interleaves decode steps with other prompts' prefill, so answers in flight "
        "when arrivals stop finish fast and the last quarter looks quicker than the first.",
        "",
        "Targets, per offered load: p90 TTFT of round-robin / default (at least 3x), at equal throughput "
        "(default / round-robin completed req/s), and no region saturated while another idled.",
        "",
    ]
    by = {(r["rate"], r["strategy"]): r for r in rows}
    for rate in sorted({r["rate"] for r in rows}):
        dflt, rr = by.get((rate, "default")), by.get((rate, "round-robin"))
        if not (dflt and rr):
            continue
        equal = abs(dflt["rps"] / rr["rps"] - 1) <= 0.05
        out.append(
            f"- {rate:g} req/s: p90 round-robin / default **{rr['p90'] / dflt['p90']:.1f}x** (with modelled "
            f"WAN {rr['p90_wan'] / dflt['p90_wan']:.1f}x), throughput default / round-robin "
            f"{dflt['rps'] / rr['rps']:.2f} ({'equal' if equal else 'not equal'} within 5%); default "
            f"saturated a region while another idled: {'yes' if dflt['imbalance'] else 'no'}."
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of measured arrivals")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of arrivals not measured")
    parser.add_argument(
        "--rates", default="7,10", help="total requests/s over the three regions, comma-separated"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workload",
        choices=("unique", "conversations"),
        default="unique",
        help="unique prompts (no reuse) or multi-turn conversations over tenants' system prompts",
    )
    parser.add_argument("--only", default="", help="comma-separated strategies to run")
    parser.add_argument(
        "--wan",
        action="store_true",
        help="one gateway per region, other regions' replicas behind simulated WAN links (real round trips)",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="a routing profile file (YAML, as in the gateway config's `profiles`, with its `name`) to "
        "run as one more strategy, e.g. to compare your own scorer weights with the default",
    )
    parser.add_argument("--serve-engines", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "global_routing.md"))
    args = parser.parse_args()
    if args.serve_engines:
        uvloop.run(serve_engines())
        return
    work = ROOT / ".bench-venvs" / "run"
    work.mkdir(parents=True, exist_ok=True)
    total = args.seconds + args.warmup
    everything = {**STRATEGIES, **SIDE_STRATEGIES}
    extra: dict[str, Any] | None = None
    if args.profile:
        extra = yaml.safe_load(Path(args.profile).read_text())
        everything[f"profile {extra['name']}"] = extra["name"]
    chosen = [s for s in everything if s in args.only.split(",")] if args.only else list(STRATEGIES)
    if extra and not args.only:
        chosen.append(f"profile {extra['name']}")
    load_before = os.getloadavg()
    rows = []
    with open(work / "global_routing.log", "wb") as log:
        for rate in (float(x) for x in args.rates.split(",")):
            plan = arrivals(args.seed, total, rate, args.workload)
            for name in chosen:
                res = run_one(everything[name], plan, total, args.warmup, work, log, extra, args.wan)
                row = {"rate": rate, **row_of(name, res, args)}
                rows.append(row)
                print(table_row(row), flush=True)
    lines = header(args, load_before) + [table_row(r) for r in rows] + targets(rows) + per_replica(rows)
    lines[2] = lines[2].replace("{after}", " / ".join(f"{x:.2f}" for x in os.getloadavg()))
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
