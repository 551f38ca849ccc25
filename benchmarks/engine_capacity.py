"""How many simulated engines and concurrent streams one Python process sustains.

A host process runs N engines in one event loop (``EngineHost``, uvloop when available); this process
drives streaming chat requests over raw keep-alive connections (``engine_capacity_client``: S streams in
a closed loop, or with ``--arrivals`` new requests at a fixed rate in an open loop) and measures time to
first token as the client sees it. The host's cost is the client TTFT over the engines' own
TTFT (from their vllm:time_to_first_token_seconds histograms over the same window). Writes
benchmarks/results/engine_capacity.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from engine_capacity_client import OpenLoop, Window, stream_client
from infleet.api import engine_metrics
from infleet.api.engine_metrics import VLLM

RESULTS = Path(__file__).parent / "results" / "engine_capacity.md"


def event_loop_policy() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def runqueue_wait() -> float:
    """Seconds this process has waited for a CPU while runnable (Linux schedstat; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class LagProbe:
    """How late a 10 ms timer fires: the loop's own queueing delay, sampled all along a run."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append(loop.time() - before - 0.01)

    def stop(self) -> tuple[float, float]:
        """Median and p99 lag in seconds."""
        self._task.cancel()
        lags = sorted(self.lags) or [0.0]
        return statistics.median(lags), lags[int(len(lags) * 0.99)]


# -- host role ---------------------------------------------------------------------------------------------


async def host_main(args: argparse.Namespace) -> None:
    from infleet.sim.engine import EngineHost, EngineSpec
    from infleet.sim.engine.model.sequence import Sequence

    engines, model, gpu, gpus = args.engines, args.model, args.gpu, args.gpus
    async with EngineHost(tune_gc=not args.default_gc) as host:
        addrs = [
            await host.start(
                EngineSpec(
                    model=model,
                    gpu=gpu,
                    gpus=gpus,
                    served_model_name=f"m{i}",
                    stream_interval=args.stream_interval,
                    stream_flush_interval_s=args.flush_interval,
                    adaptive_streaming=not args.fixed_streaming,
                )
            )
            for i in range(engines)
        ]
        engine_ttft: dict[str, float] = {}

        def record(seq: Sequence) -> None:
            if seq.first_token_time is not None:
                engine_ttft[seq.request_id] = seq.first_token_time - seq.arrival

        for addr in addrs:
            host.engine(addr).finish_observers.append(record)
        print(json.dumps({"ports": [a.port for a in addrs]}), flush=True)
        loop = asyncio.get_running_loop()
        profile_to = os.environ.get("ENGINE_CAPACITY_PROFILE")
        profiler = None
        if profile_to:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        probe = LagProbe()
        gc_pauses: list[float] = []
        gc_started = [0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            else:
                gc_pauses.append(time.perf_counter() - gc_started[0])

        gc.callbacks.append(on_gc)
        cpu0, wall0, wait0 = time.process_time(), time.monotonic(), runqueue_wait()
        await loop.run_in_executor(None, sys.stdin.readline)
        lag_p50, lag_p99 = probe.stop()
        stats = {
            "cpu_s": time.process_time() - cpu0,
            "runqueue_s": runqueue_wait() - wait0,
            "wall_s": time.monotonic() - wall0,
            "steps": 0,
            "late_steps": 0,
            "flush_gap_max": 0.0,
            "gc_s": sum(gc_pauses),
            "gc_max": max(gc_pauses, default=0.0),
            "gc_n": len(gc_pauses),
            "lag_p50": lag_p50,
            "lag_p99": lag_p99,
        }
        if profiler is not None and profile_to:
            profiler.disable()
            profiler.dump_stats(profile_to)
        for addr in addrs:
            eng = host.engine(addr)
            stats["steps"] += eng.step_loop.steps
            stats["late_steps"] += eng.step_loop.late_steps
            stats["flush_gap_max"] = max(stats["flush_gap_max"], eng.step_loop.flush_gap)
        print(json.dumps(stats), flush=True)
        print(json.dumps(engine_ttft), flush=True)


# -- client role -------------------------------------------------------------------------------------------


async def scrape_ttft(ports: list[int]) -> tuple[float, float, float]:
    """Sum and count of the engines' TTFT histograms, and their generation-token total."""
    total = count = tokens = 0.0
    async with httpx.AsyncClient(timeout=120) as http:
        for port in ports:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            for line in text.splitlines():
                if line.startswith(f"{VLLM.time_to_first_token}_sum"):
                    total += float(line.rsplit(" ", 1)[1])
                elif line.startswith(f"{VLLM.time_to_first_token}_count"):
                    count += float(line.rsplit(" ", 1)[1])
                elif line.startswith(engine_metrics.total(VLLM.generation_tokens)):
                    tokens += float(line.rsplit(" ", 1)[1])
    return total, count, tokens


@dataclass
class Result:
    engines: int
    streams: int
    matched: int
    client_ttft_mean: float
    client_ttft_p50: float
    client_ttft_p99: float
    engine_ttft_mean: float
    requests_per_s: float
    tokens_per_s: float
    chunks_per_s: float
    host_cpu: float
    client_cpu: float
    header_mean: float
    lag_p50: float
    lag_p99: float
    client_lag_p50: float
    client_lag_p99: float
    gc_s: float
    runqueue: float
    load: float
    late_steps: float
    errors: int

    @property
    def inflation(self) -> float:
        return self.client_ttft_mean / self.engine_ttft_mean - 1

    def row(self) -> dict[str, str]:
        def ms(x: float) -> str:
            return f"{x * 1000:.1f}"

        return {
            "engines": str(self.engines),
            "streams": str(self.streams),
            "requests compared": str(self.matched),
            "engine TTFT ms": ms(self.engine_ttft_mean),
            "client TTFT ms mean/p50/p99": f"{ms(self.client_ttft_mean)} / {ms(self.client_ttft_p50)} / "
            f"{ms(self.client_ttft_p99)}",
            "host adds ms": ms(self.client_ttft_mean - self.engine_ttft_mean),
            "headers ms": ms(self.header_mean),
            "inflation": f"{self.inflation:+.1%}",
            "requests/s": f"{self.requests_per_s:,.0f}",
            "tokens/s": f"{self.tokens_per_s:,.0f}",
            "SSE events/s": f"{self.chunks_per_s:,.0f}",
            "host CPU": f"{self.host_cpu:.0%}",
            "host GC": f"{self.gc_s:.1%}",
            "host waits for CPU": f"{self.runqueue:.0%}",
            "lag p50/p99 ms": f"{ms(self.lag_p50)} / {ms(self.lag_p99)}",
            "client CPU": f"{self.client_cpu:.0%}",
            "client lag p50/p99 ms": f"{ms(self.client_lag_p50)} / {ms(self.client_lag_p99)}",
            "load": f"{self.load:.1f}",
            "errors": str(self.errors),
        }


def start_host(args: argparse.Namespace) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    command = [
        sys.executable,
        __file__,
        "--role",
        "host",
        "--engines",
        str(args.engines),
        "--model",
        args.model,
        "--gpu",
        args.gpu,
        "--gpus",
        str(args.gpus),
        "--stream-interval",
        str(args.stream_interval),
        "--flush-interval",
        str(args.flush_interval),
    ]
    if args.default_gc:
        command.append("--default-gc")
    if args.fixed_streaming:
        command.append("--fixed-streaming")
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


async def run_point(args: argparse.Namespace, streams: int) -> Result:
    host = start_host(args)
    try:
        return await drive(args, streams, host)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait(timeout=30)


async def drive(args: argparse.Namespace, streams: int, host: subprocess.Popen[str]) -> Result:
    assert host.stdin is not None
    assert host.stdout is not None
    ports = json.loads(host.stdout.readline())["ports"]
    window = Window()
    start = time.perf_counter()
    client_cpu0 = time.process_time()
    client_probe = LagProbe()
    open_loop = OpenLoop(ports, window, args) if args.arrivals else None
    if open_loop is not None:
        tasks = [asyncio.create_task(open_loop.run(args.arrivals))]
    else:
        tasks = [
            asyncio.create_task(stream_client(ports[i % len(ports)], f"m{i % len(ports)}", window, i, args))
            for i in range(streams)
        ]
    await asyncio.sleep(args.ramp)
    scraped0 = time.perf_counter()
    before = await scrape_ttft(ports)
    window.open_at = time.perf_counter()
    await asyncio.sleep(args.duration)
    window.close_at = time.perf_counter()
    after = await scrape_ttft(ports)
    scraped1 = time.perf_counter()
    client_cpu = (time.process_time() - client_cpu0) / (scraped1 - start)
    client_lag = client_probe.stop()
    window.stop = True
    host.stdin.write("stop\n")
    host.stdin.flush()
    stats = json.loads(host.stdout.readline())
    engine_ttft: dict[str, float] = json.loads(host.stdout.readline())
    host.wait(timeout=30)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if open_loop is not None:
        await open_loop.close()
    span = window.close_at - window.open_at
    token_span = (scraped1 + window.close_at) / 2 - (scraped0 + window.open_at) / 2
    # The same requests on both sides: what the engine simulated against what the client saw.
    matched = [rid for rid in window.ttfts if rid in engine_ttft]
    ttfts = sorted(window.ttfts[rid] for rid in matched)
    nan = float("nan")
    return Result(
        engines=args.engines,
        streams=round(window.busy_s / span) if open_loop is not None else streams,
        matched=len(matched),
        client_ttft_mean=statistics.fmean(ttfts) if ttfts else nan,
        client_ttft_p50=ttfts[len(ttfts) // 2] if ttfts else nan,
        client_ttft_p99=ttfts[int(len(ttfts) * 0.99)] if ttfts else nan,
        engine_ttft_mean=statistics.fmean(engine_ttft[rid] for rid in matched) if matched else nan,
        requests_per_s=window.completed / span,
        tokens_per_s=(after[2] - before[2]) / token_span,
        chunks_per_s=window.chunks / (scraped1 - start),
        host_cpu=stats["cpu_s"] / stats["wall_s"],
        client_cpu=client_cpu,
        header_mean=statistics.fmean(window.header_times) if window.header_times else float("nan"),
        lag_p50=stats["lag_p50"],
        lag_p99=stats["lag_p99"],
        client_lag_p50=client_lag[0],
        client_lag_p99=client_lag[1],
        gc_s=stats["gc_s"] / stats["wall_s"],
        runqueue=stats["runqueue_s"] / stats["wall_s"],
        load=os.getloadavg()[0],
        late_steps=stats["late_steps"] / max(1, stats["steps"]),
        errors=window.errors,
    )


async def client_main(args: argparse.Namespace) -> None:
    results = []
    for streams in [0] if args.arrivals else args.streams:
        result = await run_point(args, streams)
        results.append(result)
        print(" ".join(f"{k}={v}" for k, v in result.row().items()), flush=True)
    write_results(args, results)


def load_shape(args: argparse.Namespace) -> str:
    if not args.arrivals:
        return "staggered closed loop"
    return (
        f"open loop: Poisson arrivals at {args.arrivals:,.0f} new requests/s in total, round-robin over the "
        "engines, streams = mean requests in flight"
    )


def write_results(args: argparse.Namespace, results: list[Result]) -> None:
    rows = [r.row() for r in results]
    section = [
        f"## {args.engines} x {args.model} on {args.gpus}x {args.gpu}, "
        f"stream interval {args.stream_interval}, flush interval {args.flush_interval * 1000:g} ms"
        f"{' (fixed: no flush governor)' if args.fixed_streaming else ''}",
        "",
        f"Prompt ~{args.prompt_words} words, {args.max_tokens // 2}-{args.max_tokens * 3 // 2} output tokens "
        f"(ignore_eos), streaming, {load_shape(args)}; {args.ramp:g} s ramp, then a "
        f"{args.duration:g} s window. "
        "Host: one process, one event loop (uvloop), "
        f"{'default GC' if args.default_gc else 'EngineHost(tune_gc=True)'}; client: a second process. "
        "TTFT compares the same requests: the engine's simulated TTFT (arrival to first token) and the "
        "client's (request sent to first SSE byte); inflation = client mean / engine mean - 1; "
        "headers = request sent to response headers (the request path alone); "
        "lag = how late a 10 ms timer fires in the host; waits for CPU = share of the time the host was "
        "runnable but not running (other processes had the cores); "
        "load = the machine's 1-minute load average (other work shares its 2 cores).",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    section += ["| " + " | ".join(str(v) for v in row.values()) + " |" for row in rows]
    header = [
        "# Engine capacity",
        "",
        "Generated by `benchmarks/engine_capacity.py` on this machine "
        f"({os.cpu_count()} CPUs, shared with other work).",
        "",
    ]
    out: Path = args.out
    existing = out.read_text(encoding="utf-8") if out.exists() and args.append else ""
    body = existing.rstrip() + "\n\n" if existing else "\n".join(header) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body + "\n".join(section) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", choices=["client", "host"], default="client")
    parser.add_argument("--engines", type=int, default=20)
    parser.add_argument("--streams", type=int, nargs="+", default=[200, 1000, 2000])
    parser.add_argument("--model", default="meta-llama/Llama-3.1-8B-Instruct")
    parser.add_argument("--gpu", default="H100")
    parser.add_argument("--gpus", type=int, default=1)
    parser.add_argument("--stream-interval", type=int, default=1, help="EngineSpec.stream_interval (tokens)")
    parser.add_argument(
        "--flush-interval", type=float, default=0.0, help="EngineSpec.stream_flush_interval_s"
    )
    parser.add_argument("--default-gc", action="store_true", help="keep CPython's default GC thresholds")
    parser.add_argument(
        "--fixed-streaming",
        action="store_true",
        help="engines never widen the flush gap (adaptive_streaming off): the same chunks whatever the "
        "host's load, so host CPU compares like with like",
    )
    parser.add_argument(
        "--arrivals",
        type=float,
        default=0.0,
        help="open loop: new requests per second in total (instead of --streams closed-loop streams)",
    )
    parser.add_argument("--prompt-words", type=int, default=400)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--ramp", type=float, default=6.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--append", action="store_true", help="add a section to the results file")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the markdown file to write")
    args = parser.parse_args()
    event_loop_policy()
    if args.role == "host":
        asyncio.run(host_main(args))
    else:
        asyncio.run(client_main(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
