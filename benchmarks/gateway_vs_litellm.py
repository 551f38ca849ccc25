"""Infleet gateway vs LiteLLM proxy, side by side in one run, each as one process in front of the same
fast fake upstream, loaded by the same closed-loop client. Both read the same LiteLLM config file.

Writes benchmarks/results/gateway_vs_litellm.md. Installs litellm[proxy] into .bench-venvs/litellm on
first use. Usage: python benchmarks/gateway_vs_litellm.py [--duration 8] [--memory-requests 100000]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from load_client import LoadResult, percentile, run_load  # noqa: E402
from proc_stats import cpu_seconds, rss_mib  # noqa: E402

LITELLM_VERSION = "1.106.0"  # 1.106.10 needs a certifi newer than the index had; 1.107.0 was pulled
VENV = ROOT / ".bench-venvs" / "litellm"
MASTER = "sk-bench-master"
AUTH = [(b"authorization", f"Bearer {MASTER}".encode())]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ensure_litellm() -> Path:
    exe = VENV / "bin" / "litellm"
    if not exe.exists():
        print(f"installing litellm[proxy]=={LITELLM_VERSION} into {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], check=True
        )
    return exe


def start_infleet_gateway(config: Path, port: int, log: Any) -> subprocess.Popen[bytes]:
    """``infleet gateway --config config --port port`` from this checkout's sources, logging to ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "infleet", "gateway", "--config", str(config), "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=log,
        stderr=log,
    )


def wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port} not ready")


def body(prompt_tokens: int, stream: bool) -> bytes:
    # About 4 characters per token; the fake upstream counts tokens the same way.
    text = ("The quick brown fox jumps over the lazy dog. " * (prompt_tokens * 4 // 45 + 1))[
        : prompt_tokens * 4
    ]
    payload: dict[str, Any] = {
        "model": "llama",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 16,
    }
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return orjson.dumps(payload)


def ms(v: float) -> str:
    return f"{v * 1000:.2f}"


async def measure(
    name: str,
    url: str,
    pid: int | None,
    payload: bytes,
    stream: bool,
    concurrency: int,
    duration: float,
    headers: list[tuple[bytes, bytes]],
) -> dict[str, Any]:
    await run_load(url, payload, min(concurrency, 8), 1.0, headers, stream)  # warm-up: connections, caches
    cpu0 = cpu_seconds(pid) if pid else 0.0
    res: LoadResult = await run_load(url, payload, concurrency, duration, headers, stream)
    cpu = (cpu_seconds(pid) - cpu0) if pid else 0.0
    row = {
        "proxy": name,
        "rps": res.rps,
        "requests": res.requests,
        "errors": res.errors,
        "p50": percentile(res.latencies, 50),
        "p95": percentile(res.latencies, 95),
        "p99": percentile(res.latencies, 99),
        "ttfb_p50": percentile(res.first_byte, 50) if stream else float("nan"),
        "ovh_p50": percentile(res.overheads_ms, 50),
        "ovh_p95": percentile(res.overheads_ms, 95),
        "ovh_p99": percentile(res.overheads_ms, 99),
        "cpu_us": cpu / res.requests * 1e6 if res.requests and pid else float("nan"),
        "rss": rss_mib(pid) if pid else float("nan"),
    }
    print(
        f"  {name:8s} c={concurrency:3d} {row['rps']:8.0f} req/s  p50 {ms(row['p50'])} ms"
        f"  p99 {ms(row['p99'])} ms  overhead p50 {row['ovh_p50']:.3f} ms  cpu {row['cpu_us']:.0f} us/req"
        f"  errors {res.errors}",
        flush=True,
    )
    return row


async def scenarios(
    procs: dict[str, tuple[str, int | None]], duration: float, concurrency: int, only: str = ""
) -> list[dict[str, Any]]:
    rows = []
    for label, tokens, stream in (
        ("short, non-streaming", 20, False),
        ("short, streaming", 20, True),
        ("100k-token prompt, non-streaming", 100_000, False),
        ("100k-token prompt, streaming", 100_000, True),
    ):
        if only and only not in label:
            continue
        payload = body(tokens, stream)
        print(f"{label} ({len(payload)} bytes), {concurrency} in flight", flush=True)
        for name, (url, pid) in procs.items():
            # LiteLLM serves large prompts too slowly for the full window to say more; keep runs short.
            d = duration if name != "litellm" or tokens < 1000 else max(4.0, duration / 2)
            row = await measure(name, url, pid, payload, stream, concurrency, d, AUTH)
            rows.append({"scenario": label, "concurrency": concurrency, **row})
    if only:
        return rows
    print("idle (1 in flight), short non-streaming", flush=True)
    for name, (url, pid) in procs.items():
        row = await measure(name, url, pid, body(20, False), False, 1, min(duration, 4.0), AUTH)
        rows.append({"scenario": "idle, short, non-streaming", "concurrency": 1, **row})
    return rows


async def memory_run(url: str, pid: int, total: int, concurrency: int) -> list[tuple[int, float]]:
    payload = body(20, False)
    points = [(0, rss_mib(pid))]
    done = 0
    step = max(1, total // 4)
    while done < total:
        res = await run_load(url, payload, concurrency, 600.0, AUTH, max_requests=min(step, total - done))
        done += res.requests + res.errors
        points.append((done, rss_mib(pid)))
        print(f"  {done} requests: RSS {points[-1][1]:.1f} MiB", flush=True)
    return points


def write_report(
    rows: list[dict[str, Any]], mem: dict[str, list[tuple[int, float]]], args: argparse.Namespace, out: Path
) -> None:
    lines = [
        "# Infleet gateway vs LiteLLM proxy",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
        f"{os.cpu_count()} cores (shared machine), Python {platform.python_version()}. "
        f"LiteLLM {LITELLM_VERSION} (`litellm[proxy]`), "
        "one process (`--num_workers 1`), master key, no database. Infleet gateway: one process, uvicorn + "
        "httptools + uvloop, access log on, health checks on. Both proxies loaded the **same LiteLLM config "
        "file** (one model, one upstream) and sat in front of the same fake vLLM-compatible upstream "
        "(benchmarks/fake_engine.py, no latency model). Closed-loop client (benchmarks/load_client.py), "
        f"{args.duration:.0f} s per cell after a 1 s warm-up; LiteLLM's 100k-token cells run half as long.",
        "",
        "`direct` is the upstream alone: proxy latency minus direct latency is what the proxy adds from the "
        "client's point of view. `overhead` is each proxy's own header (`x-infleet-overhead-ms`, "
        "`x-litellm-overhead-duration-ms`). CPU is the proxy process's user+system time per request.",
        "",
        "| scenario | in flight | proxy | req/s | p50 ms | p95 ms | p99 ms | TTFB p50 ms"
        " | overhead p50/p95/p99 ms | CPU us/req | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        ovh = (
            "-"
            if r["ovh_p50"] != r["ovh_p50"]
            else f"{r['ovh_p50']:.3f} / {r['ovh_p95']:.3f} / {r['ovh_p99']:.3f}"
        )
        ttfb = "-" if r["ttfb_p50"] != r["ttfb_p50"] else ms(r["ttfb_p50"])
        cpu = "-" if r["cpu_us"] != r["cpu_us"] else f"{r['cpu_us']:.0f}"
        lines.append(
            f"| {r['scenario']} | {r['concurrency']} | {r['proxy']} | {r['rps']:.0f} | {ms(r['p50'])}"
            f" | {ms(r['p95'])} | {ms(r['p99'])} | {ttfb} | {ovh} | {cpu} | {r['errors']} |"
        )
    lines += [
        "",
        "## Ratios (Infleet / LiteLLM)",
        "",
        "| scenario | in flight | req/s ratio | CPU per request ratio | added p99 (client) "
        "Infleet / LiteLLM ms | overhead p99 Infleet / LiteLLM ms |",
        "|---|---:|---:|---:|---|---|",
    ]
    by = {(r["scenario"], r["proxy"]): r for r in rows}
    for (scenario, proxy), r in by.items():
        if proxy != "infleet" or (scenario, "litellm") not in by:
            continue
        lite, direct = by[(scenario, "litellm")], by.get((scenario, "direct"))
        added_i = r["p99"] - direct["p99"] if direct else float("nan")
        added_l = lite["p99"] - direct["p99"] if direct else float("nan")
        lines.append(
            f"| {scenario} | {r['concurrency']} | {r['rps'] / lite['rps']:.1f}x"
            f" | {lite['cpu_us'] / r['cpu_us']:.1f}x"
            f" | {ms(added_i)} / {ms(added_l)} | {r['ovh_p99']:.3f} / {lite['ovh_p99']:.3f} |"
        )
    lines += [
        "",
        "## Memory (RSS of the proxy process)",
        "",
        "| proxy | requests served | RSS MiB |",
        "|---|---:|---:|",
    ]
    for name, points in mem.items():
        for n, rss in points:
            lines.append(f"| {name} | {n} | {rss:.1f} |")
    lines += [
        "",
        f"LiteLLM's memory rows stop at {mem.get('litellm', [(0, 0)])[-1][0]} requests, not 100k: "
        "at its rate 100k requests would take over 20 minutes, beyond this benchmark's few-minute budget.",
        "",
    ]
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--litellm-memory-requests", type=int, default=3000)
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--only", default="", help="run only the scenarios whose label contains this")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gateway_vs_litellm.md"))
    args = parser.parse_args()
    litellm = None if args.skip_litellm else ensure_litellm()
    work = ROOT / ".bench-venvs" / "run"
    work.mkdir(parents=True, exist_ok=True)
    up_port, gw_port, ll_port = free_port(), free_port(), free_port()
    config = work / "litellm_config.yaml"
    config.write_text(
        "model_list:\n  - model_name: llama\n    litellm_params:\n      model: openai/m\n"
        f"      api_base: http://127.0.0.1:{up_port}/v1\n      api_key: sk-upstream\n"
        f"general_settings:\n  master_key: {MASTER}\n"
    )
    procs: list[subprocess.Popen[bytes]] = []
    log = (work / "processes.log").open("wb")
    try:
        upstream = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "fake_engine.py"), "--port", str(up_port)],
            stdout=log,
            stderr=log,
        )
        procs.append(upstream)
        gateway = start_infleet_gateway(config, gw_port, log)
        procs.append(gateway)
        targets: dict[str, tuple[str, int | None]] = {"direct": (f"http://127.0.0.1:{up_port}", None)}
        wait_ready(up_port, upstream)
        wait_ready(gw_port, gateway)
        targets["infleet"] = (f"http://127.0.0.1:{gw_port}", gateway.pid)
        if litellm is not None:
            lite = subprocess.Popen(
                [str(litellm), "--config", str(config), "--port", str(ll_port), "--num_workers", "1"],
                stdout=log,
                stderr=log,
                cwd=work,
            )
            procs.append(lite)
            wait_ready(ll_port, lite, 180)
            targets["litellm"] = (f"http://127.0.0.1:{ll_port}", lite.pid)
        rows = uvloop.run(scenarios(targets, args.duration, args.concurrency, args.only))
        mem: dict[str, list[tuple[int, float]]] = {}
        print(f"memory: {args.memory_requests} requests through infleet", flush=True)
        mem["infleet"] = uvloop.run(
            memory_run(targets["infleet"][0], gateway.pid, args.memory_requests, args.concurrency)
        )
        if "litellm" in targets:
            print(f"memory: {args.litellm_memory_requests} more requests through litellm", flush=True)
            pid = targets["litellm"][1]
            assert pid is not None
            mem["litellm"] = uvloop.run(
                memory_run(targets["litellm"][0], pid, args.litellm_memory_requests, args.concurrency)
            )
        write_report(rows, mem, args, Path(args.out))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


if __name__ == "__main__":
    main()
