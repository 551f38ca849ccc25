"""The ``infleet engine-sim`` sub-command: serve one simulated vLLM-compatible engine over HTTP.

Flags follow ``vllm serve`` where they overlap. The fault spec grammar is documented in
``infleet.sim.engine.runtime.faults`` and in ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from infleet.api.catalog import CatalogError
from infleet.sim.engine import EngineSpec, FaultSpec, FaultSpecError, ModelDoesNotFitError, SimEngine
from infleet.sim.engine.runtime.http_server import HttpServer
from infleet.sim.engine.runtime.openai_app import OpenAIApp

_FAULTS_HELP = (
    "faults, comma-separated: error_rate=0.1, spike=RATE@SECONDS, hang, crash, crash_after=S, slow_start=S, "
    "degrade=FACTOR (0-1], seed=N; changeable at run time with POST /admin/faults "
    '{"spec": "..."} (needs --admin-token)'
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "engine-sim",
        help="serve a simulated vLLM-compatible engine",
        description="Serve a simulated vLLM engine whose timing follows the model and GPU SKU.",
    )
    parser.add_argument("--model", required=True, help="catalog model (Hugging Face id or served name)")
    parser.add_argument("--gpu", default="H100", help="catalog GPU SKU (default H100)")
    parser.add_argument("--gpus", type=int, default=1, help="tensor-parallel GPU count (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="listen port (default 5000, as KAITO)")
    parser.add_argument("--served-model-name", default=None)
    parser.add_argument("--max-num-seqs", type=int, default=256)
    parser.add_argument("--max-model-len", type=int, default=None)
    parser.add_argument("--max-num-batched-tokens", type=int, default=8192)
    parser.add_argument("--quantization", choices=["fp8"], default=None)
    parser.add_argument(
        "--kv-cache-dtype",
        choices=["auto", "fp8", "fp8_e4m3", "fp8_e5m2"],
        default="auto",
        help="KV-cache element type (default auto: 16-bit activations; fp8 holds twice the tokens)",
    )
    parser.add_argument(
        "--enable-chunked-prefill",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="split prompts over steps next to decodes (default on; off: prefill-only steps stall decodes)",
    )
    parser.add_argument(
        "--async-scheduling", action="store_true", help="overlap the per-step host work with the GPU"
    )
    parser.add_argument(
        "--num-scheduler-steps", type=int, default=1, help="multi-step scheduling, vLLM V0 (default 1)"
    )
    parser.add_argument(
        "--enable-expert-parallel", action="store_true", help="MoE: split experts over the GPUs"
    )
    parser.add_argument(
        "--engine-version",
        default="0.11.0",
        help="vLLM version imitated (default 0.11.0; <0.8: V0 host costs)",
    )
    parser.add_argument(
        "--max-waiting",
        type=int,
        default=None,
        help="answer 429 once this many requests wait (default: queue without bound, as vLLM)",
    )
    parser.add_argument("--stream-interval", type=int, default=1, help="tokens per SSE chunk (default 1)")
    parser.add_argument(
        "--stream-flush-interval",
        type=float,
        default=0.0,
        help="seconds between a stream's chunks; tokens in between are coalesced (default 0)",
    )
    parser.add_argument("--no-prefix-caching", action="store_true")
    parser.add_argument(
        "--enable-prompt-tokens-details",
        action="store_true",
        help="report usage.prompt_tokens_details.cached_tokens (prompt tokens served from the prefix cache)",
    )
    parser.add_argument("--faults", default="", help=_FAULTS_HELP)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("INFLEET_ENGINE_ADMIN_TOKEN"),
        help="bearer token for /admin/faults (default: $INFLEET_ENGINE_ADMIN_TOKEN; none: /admin is off)",
    )
    parser.set_defaults(run=run)


def spec_from_args(args: argparse.Namespace) -> EngineSpec:
    return EngineSpec(
        model=args.model,
        gpu=args.gpu,
        gpus=args.gpus,
        served_model_name=args.served_model_name,
        max_num_seqs=args.max_num_seqs,
        max_model_len=args.max_model_len,
        max_num_batched_tokens=args.max_num_batched_tokens,
        quantization=args.quantization,
        kv_cache_dtype=args.kv_cache_dtype,
        enable_chunked_prefill=args.enable_chunked_prefill,
        async_scheduling=args.async_scheduling,
        num_scheduler_steps=args.num_scheduler_steps,
        enable_expert_parallel=args.enable_expert_parallel,
        version=args.engine_version,
        max_waiting=args.max_waiting,
        stream_interval=args.stream_interval,
        stream_flush_interval_s=args.stream_flush_interval,
        enable_prefix_caching=not args.no_prefix_caching,
        enable_prompt_tokens_details=args.enable_prompt_tokens_details,
        faults=args.faults,
        seed=args.seed,
    )


async def _serve(engine: SimEngine, host: str, port: int, admin_token: str | None) -> int:
    """Serve until SIGINT or SIGTERM; in-flight requests then end with an error."""
    await engine.start()
    server = HttpServer(OpenAIApp(engine, admin_token))
    try:
        bound = await server.listen(host, port)
    except OSError as exc:
        await engine.stop()
        print(f"engine-sim: cannot listen on {host}:{port}: {exc}; pick another --port", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"engine-sim: {engine.served_model_name} on {engine.spec.gpus} x {engine.gpu.name}, "
        f"{engine.scheduler.blocks.num_blocks} KV blocks, max_model_len {engine.max_model_len}, "
        f"listening on http://{host}:{bound}",
        flush=True,
    )
    try:
        await stop.wait()
        return 0
    finally:
        await engine.stop()
        await server.close()


def run(args: argparse.Namespace) -> int:
    try:
        FaultSpec.parse(args.faults)
        engine = SimEngine(spec_from_args(args))
    except (CatalogError, FaultSpecError, ModelDoesNotFitError, ValueError) as exc:
        print(f"engine-sim: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(engine, args.host, args.port, args.admin_token))
