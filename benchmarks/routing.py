"""Routing strategies over simulated engines of mixed speed (SKUs), near saturation: round-robin,
least-outstanding, Infleet's default load+prefix profile, and LiteLLM's least-busy in front of the same
engines. Two open-loop (Poisson) workloads: shared prefixes (many tenants, long system prompts, cache
demand above one engine's KV capacity) and chat-like (unique prompts). Streaming; TTFT measured at the
client. Writes benchmarks/results/routing.md. Usage: python benchmarks/routing.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gateway_vs_litellm import MASTER, ensure_litellm, free_port, wait_ready  # noqa: E402
from infleet.gateway.http_pool import HttpPool  # noqa: E402
from infleet.gateway.transport import Origin, UpstreamError  # noqa: E402
from load_client import percentile  # noqa: E402

# Two fast engines and two at 0.6x (an H100/A100-like mix). Prefill 20k tok/s at speed 1 (llm-d's
# calibration for Qwen3-32B TP2), 10 ms per output token, 32 sequences, 2,500 cached blocks of 16 tokens
# (40k tokens) per engine.
ENGINES = [("h100-a", 1.0), ("h100-b", 1.0), ("a100-a", 0.6), ("a100-b", 0.6)]
ENGINE_ARGS = [
    "--simulate",
    "--prefill-tps",
    "20000",
    "--decode-ms",
    "10",
    "--max-num-seqs",
    "32",
    "--output-tokens",
    "64",
    "--cache-blocks",
    "2500",
]


@dataclass
class Workload:
    name: str
    rate: float  # requests per second, Poisson
    requests: list[bytes] = field(default_factory=list)


def words(rng: random.Random, n_tokens: int) -> str:
    vocab = ["alpha", "bravo", "delta", "kilo", "lima", "oscar", "sierra", "tango", "zulu", "metric", "pod"]
    return " ".join(rng.choice(vocab) for _ in range(n_tokens * 4 // 6))


def shared_prefix(rng: random.Random, seconds: float) -> Workload:
    """16 tenants x 6,000-token system prompt (96k tokens of prefixes, more than one engine's 40k KV),
    each request adds a ~100-token question. ~9 req/s: uncached, the fleet prefills ~10 req/s at most."""
    tenants = [f"Tenant {t} runbook. " + words(rng, 6000) for t in range(16)]
    w = Workload("shared-prefix", 9.0)
    for _ in range(int(w.rate * seconds * 1.5)):
        system = rng.choice(tenants)
        body = {
            "model": "llama",
            "stream": True,
            "max_tokens": 16,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": words(rng, 100)}],
        }
        w.requests.append(orjson.dumps(body))
    return w


def chat_like(rng: random.Random, seconds: float) -> Workload:
    """Unique prompts of 300-1,500 tokens, 16-64 output tokens, ~50 req/s (the fleet prefills ~70 req/s)."""
    w = Workload("chat-like", 50.0)
    for i in range(int(w.rate * seconds * 1.5)):
        body = {
            "model": "llama",
            "stream": True,
            "max_tokens": rng.randint(16, 64),
            "messages": [{"role": "user", "content": f"{i} " + words(rng, rng.randint(300, 1500))}],
        }
        w.requests.append(orjson.dumps(body))
    return w


@dataclass
class RunResult:
    ttft: list[float] = field(default_factory=list)
    completed: int = 0
    errors: int = 0
    seconds: float = 0.0


async def drive(url: str, workload: Workload, seconds: float, seed: int, warmup: float) -> RunResult:
    rng = random.Random(seed)
    pool = HttpPool()
    origin = Origin.parse(url)
    loop = asyncio.get_running_loop()
    result = RunResult()
    headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {MASTER}".encode())]

    async def one(body: bytes, measured: bool) -> None:
        t0 = time.perf_counter()
        deadline = loop.time() + 120
        try:
            response = await pool.send(
                origin, b"POST", b"/v1/chat/completions", headers, [body], deadline, deadline
            )
            first = None
            while True:
                chunk = await response.next_chunk(deadline)
                if chunk is None:
                    raise UpstreamError("client deadline")
                if not chunk:
                    break
                if first is None and chunk.lstrip().startswith(b"data:"):
                    first = time.perf_counter() - t0
            response.close()
        except UpstreamError:
            result.errors += 1
            return
        if response.status != 200 or first is None:
            result.errors += 1
            return
        if measured:
            result.ttft.append(first)
            result.completed += 1

    tasks = []
    start = time.perf_counter()
    at = 0.0
    for body in workload.requests:
        at += rng.expovariate(workload.rate)
        if at > seconds:
            break
        delay = start + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body, at >= warmup)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - start - warmup
    await pool.close()
    return result


def start_engines(log: Any) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    procs, ports = [], []
    for name, speed in ENGINES:
        port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "benchmarks" / "fake_engine.py"),
                    "--port",
                    str(port),
                    "--model",
                    "m",
                    "--name",
                    name,
                    "--speed",
                    str(speed),
                    *ENGINE_ARGS,
                ],
                stdout=log,
                stderr=log,
            )
        )
        ports.append(port)
    for proc, port in zip(procs, ports, strict=True):
        wait_ready(port, proc)
    return procs, ports


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def infleet_config(ports: list[int], profile: str, path: Path) -> None:
    backends = "".join(
        f"      - {{url: 'http://127.0.0.1:{p}', model: m, name: {n}}}\n"
        for p, (n, _) in zip(ports, ENGINES, strict=True)
    )
    path.write_text(
        f"access_log: {{enabled: false}}\nmaster_key: {MASTER}\nmodels:\n  - name: llama\n"
        f"    profile: {profile}\n    backends:\n{backends}"
    )


def litellm_config(ports: list[int], path: Path) -> None:
    entries = "".join(
        f"  - model_name: llama\n    litellm_params:\n      model: hosted_vllm/m\n"
        f"      api_base: http://127.0.0.1:{p}/v1\n"
        for p in ports
    )
    path.write_text(
        f"model_list:\n{entries}router_settings:\n  routing_strategy: least-busy\n"
        f"general_settings:\n  master_key: {MASTER}\n"
    )


def run_one(
    router: str, workload: Workload, seconds: float, work: Path, log: Any, litellm: Path | None, warmup: float
) -> RunResult:
    engines, ports = start_engines(log)
    procs = list(engines)
    try:
        port = free_port()
        if router == "litellm least-busy":
            assert litellm is not None
            cfg = work / "routing_litellm.yaml"
            litellm_config(ports, cfg)
            proxy = subprocess.Popen(
                [str(litellm), "--config", str(cfg), "--port", str(port), "--num_workers", "1"],
                stdout=log,
                stderr=log,
                cwd=work,
            )
        else:
            cfg = work / "routing_infleet.yaml"
            infleet_config(ports, router, cfg)
            env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
            proxy = subprocess.Popen(
                [sys.executable, "-m", "infleet", "gateway", "--config", str(cfg), "--port", str(port)],
                env=env,
                stdout=log,
                stderr=log,
            )
        procs.append(proxy)
        wait_ready(port, proxy, 180)
        time.sleep(0.5)
        return uvloop.run(drive(f"http://127.0.0.1:{port}", workload, seconds, 11, warmup))
    finally:
        stop(procs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of arrivals not measured")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "routing.md"))
    args = parser.parse_args()
    litellm = None if args.skip_litellm else ensure_litellm()
    work = ROOT / ".bench-venvs" / "run"
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    total = args.seconds + args.warmup
    workloads = [shared_prefix(rng, total), chat_like(rng, total)]
    routers = ["round-robin", "least-outstanding", "default"] + (
        [] if litellm is None else ["litellm least-busy"]
    )
    rows = []
    with open(work / "routing.log", "wb") as log:
        for workload in workloads:
            for router in routers:
                res = run_one(router, workload, args.seconds + args.warmup, work, log, litellm, args.warmup)
                row = {
                    "workload": workload.name,
                    "rate": workload.rate,
                    "router": router,
                    "p50": percentile(res.ttft, 50),
                    "p90": percentile(res.ttft, 90),
                    "p99": percentile(res.ttft, 99),
                    "rps": res.completed / res.seconds,
                    "completed": res.completed,
                    "errors": res.errors,
                }
                rows.append(row)
                print(
                    f"{workload.name:14s} {router:20s} TTFT p50 {row['p50']:.3f} p90 {row['p90']:.3f} "
                    f"p99 {row['p99']:.3f} s  {row['rps']:.2f} req/s  errors {res.errors}",
                    flush=True,
                )
    lines = [
        "# Routing strategies near saturation",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores (shared machine). "
        "Four simulated vLLM-compatible engines (benchmarks/fake_engine.py `--simulate`): two at speed 1.0 "
        "and two at 0.6; prefill 20k tokens/s x speed through one prefill lane, 10 ms per output token, 32 "
        "sequences, a prefix cache of 40k tokens (2,500 blocks of 16 tokens) per engine whose hits skip "
        "prefill. Engines restart between runs (cold caches). Open-loop Poisson arrivals for "
        f"{args.seconds:.0f} s after {args.warmup:.0f} s of unmeasured warm-up arrivals, streaming,"
        " TTFT = first data event at the client. Infleet gateway and "
        "LiteLLM 1.106.0 (`least-busy`) each as one process in front of the same engines.",
        "",
        "- shared-prefix: 16 tenants x 6,000-token system prompt + ~100-token question, 16 output tokens, "
        "9 req/s. Prefix demand (96k tokens) exceeds one engine's cache but fits the fleet's.",
        "- chat-like: unique prompts of 300-1,500 tokens, 16-64 output tokens, 50 req/s.",
        "",
        "| workload | req/s offered | router | TTFT p50 s | TTFT p90 s | TTFT p99 s | completed req/s"
        " | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['rate']:.0f} | {r['router']} | {r['p50']:.3f} | {r['p90']:.3f} | "
            f"{r['p99']:.3f} | {r['rps']:.2f} | {r['errors']} |"
        )
    by = {(r["workload"], r["router"]): r for r in rows}
    rr, dflt = by.get(("shared-prefix", "round-robin")), by.get(("shared-prefix", "default"))
    if rr and dflt:
        lines += [
            "",
            f"Shared-prefix p90 TTFT, round-robin / default: **{rr['p90'] / dflt['p90']:.1f}x**; "
            f"throughput default / round-robin: {dflt['rps'] / rr['rps']:.2f}.",
        ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
