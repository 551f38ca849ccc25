"""Calibration of the simulated engine's performance model against physics and published figures.

Runs the real scheduler and roofline on a manual clock (no sockets, no sleeping) and writes
benchmarks/results/engine_calibration.md: batch-1 decode against the bandwidth roofline and the
published batch-1 figures, throughput and latency against concurrency (1..256) per (model, SKU),
and the published throughput points side by side with the model's figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from infleet.api.catalog import load_catalog
from infleet.sim.engine.model.clock import ManualClock
from infleet.sim.engine.model.performance import PerformanceModel, StepShape
from infleet.sim.engine.model.scheduler import Scheduler, SchedulerConfig
from infleet.sim.engine.model.sequence import Sequence

RESULTS = Path(__file__).parent / "results" / "engine_calibration.md"
TOLERANCE = 0.30


@dataclass(frozen=True)
class Pair:
    model: str
    gpu: str
    gpus: int = 1
    quantization: str | None = None
    published_bs1: float | None = None  # output tok/s at batch 1
    source: str = ""

    @property
    def label(self) -> str:
        quant = f" {self.quantization}" if self.quantization else ""
        return f"{self.model}{quant} on {self.gpus}x {self.gpu}"


# Llama-3.1-8B across the SKUs that hold it on one GPU: the bandwidth ladder, in both tables.
LLAMA_8B_PAIRS = [
    Pair("meta-llama/Llama-3.1-8B-Instruct", gpu)
    for gpu in ("L4", "A10", "L40S", "A100-80GB", "H100", "H200")
]

PAIRS = [
    Pair(
        "EleutherAI/gpt-j-6b",
        "H100",
        quantization="fp8",
        published_bs1=185,
        source="TRT-LLM blog, BS1 128 in",
    ),
    Pair("EleutherAI/gpt-j-6b", "A100-80GB", published_bs1=111, source="TRT-LLM blog, BS1 128 in"),
    Pair(
        "Qwen/Qwen2.5-Coder-32B-Instruct",
        "H100-NVL",
        quantization="fp8",
        published_bs1=46,
        source="vLLM on NC40ads_H100_v5 (ref §6.2)",
    ),
    *LLAMA_8B_PAIRS,
    Pair("microsoft/Phi-4-mini-instruct", "T4"),
    Pair("Qwen/Qwen3-32B", "H100", gpus=2),
    Pair("meta-llama/Llama-3.3-70B-Instruct", "H100", gpus=4),
    Pair("meta-llama/Llama-3.3-70B-Instruct", "H200", gpus=2),
    Pair("meta-llama/Llama-3.1-405B-Instruct", "H200", gpus=8),
]
# Where a step's memory time shrinks to ~2-3 ms, fixed per-step costs (scheduling, sampling, launches,
# MoE routing) dominate in real engines too; these rows are shown but not held to the roofline.
OVERHEAD_BOUND = [
    Pair("meta-llama/Llama-3.1-8B-Instruct", "B200"),
    Pair("meta-llama/Llama-3.1-8B-Instruct", "MI300X"),
    Pair("Qwen/Qwen3-30B-A3B", "H100"),
    Pair("openai/gpt-oss-20b", "H100"),
]


def perf(pair: Pair) -> PerformanceModel:
    catalog = load_catalog()
    quant = "fp8" if pair.quantization == "fp8" else None
    return PerformanceModel(catalog.model(pair.model), catalog.gpu(pair.gpu), pair.gpus, quantization=quant)


def physical_bs1(p: PerformanceModel, context: int) -> float:
    """Bandwidth roofline plus, with tensor parallelism, the latency floor of two all-reduces per layer."""
    per_token = 1 / p.decode_roofline_tokens_per_s(context)
    if p.gpus > 1:
        nvlink = p.gpu.interconnect.kind.startswith(("nvlink", "infinity"))
        latency = p.c.allreduce_latency_s if nvlink else p.c.pcie_allreduce_latency_s
        per_token += 2 * p.model.layers * latency
    return 1 / per_token


def run_static(p: PerformanceModel, batch: int, prompt: int, output: int) -> tuple[float, float]:
    """All requests arrive at once (TRT-LLM style max-throughput runs): output tok/s and mean TTFT."""
    clock = ManualClock()
    sched = Scheduler(p, SchedulerConfig(max_num_seqs=max(256, batch), max_num_batched_tokens=8192))
    seqs = [
        Sequence(f"r{i}", [i * 1_000_003 + t for t in range(prompt)], ["x"] * output, "length", 0.0)
        for i in range(batch)
    ]
    for s in seqs:
        sched.add(s)
    while sched.has_work:
        plan = sched.schedule(clock.now())
        clock.advance(p.step_time(plan.shape))
        sched.complete(plan, clock.now())
    ttft = sum((s.first_token_time or 0.0) for s in seqs) / batch
    return batch * output / clock.now(), ttft


def run_closed_loop(
    p: PerformanceModel, concurrency: int, prompt: int, output: int
) -> tuple[float, float, float]:
    """``concurrency`` clients, each sending its next request when the last ends: tok/s, TTFT, ITL.

    Clients start staggered over one request's expected duration, as they would in a running service,
    so prefills do not all land in the same step.
    """
    clock = ManualClock()
    sched = Scheduler(p, SchedulerConfig(max_num_seqs=256))
    total = max(4 * concurrency, 16)
    made = 0
    done: list[Sequence] = []
    expected = output * p.step_time(StepShape(decode_seqs=concurrency, context_tokens=concurrency * prompt))
    starts = [i * expected / concurrency for i in range(concurrency)]

    def new() -> None:
        nonlocal made
        seq = Sequence(
            f"r{made}", [made * 1_000_003 + t for t in range(prompt)], ["x"] * output, "length", clock.now()
        )
        made += 1
        sched.add(seq)

    while starts or sched.has_work:
        while starts and starts[0] <= clock.now():
            starts.pop(0)
            new()
        if not sched.has_work:
            clock.set(starts[0])
            continue
        plan = sched.schedule(clock.now())
        clock.advance(p.step_time(plan.shape))
        for seq in sched.complete(plan, clock.now()):
            if seq.done:
                done.append(seq)
                if made < total:
                    new()
    measured = done[concurrency:] or done  # skip the cold start
    begin = min(s.arrival for s in measured)
    span = max(s.finished_time or 0.0 for s in measured) - begin
    tput = sum(s.num_output for s in measured) / span
    ttft = sum((s.first_token_time or 0.0) - s.arrival for s in measured) / len(measured)
    itl = sum(
        ((s.finished_time or 0.0) - (s.first_token_time or 0.0)) / (output - 1) for s in measured
    ) / len(measured)
    return tput, ttft, itl


QWEN_NVL = Pair("Qwen/Qwen2.5-Coder-32B-Instruct", "H100-NVL", quantization="fp8")
CLOSED_LOOP = "ref §6.2, vLLM by concurrency (closed loop; in/out not published, 512/256 assumed)"
PUBLISHED_THROUGHPUT = [
    # (pair, batch, in, out, published output tok/s per GPU, source)
    (Pair("EleutherAI/gpt-j-6b", "H100", quantization="fp8"), 64, 128, 128, 10_907, "TRT-LLM H100 vs A100"),
    (Pair("EleutherAI/gpt-j-6b", "A100-80GB"), 64, 128, 128, 3_679, "TRT-LLM H100 vs A100"),
    (
        Pair("meta-llama/Llama-2-13b-chat-hf", "H200", quantization="fp8"),
        1024,
        128,
        128,
        11_819,
        "TRT-LLM H200",
    ),
    (
        Pair("meta-llama/Llama-2-13b-chat-hf", "H200", quantization="fp8"),
        128,
        128,
        2048,
        4_750,
        "TRT-LLM H200",
    ),
    (
        Pair("meta-llama/Llama-2-13b-chat-hf", "H200", quantization="fp8"),
        64,
        2048,
        128,
        1_349,
        "TRT-LLM H200",
    ),
    (
        Pair("meta-llama/Llama-2-70b-chat-hf", "H200", quantization="fp8"),
        512,
        128,
        128,
        3_014,
        "TRT-LLM H200",
    ),
    (Pair("meta-llama/Llama-2-70b-chat-hf", "H200", quantization="fp8"), 64, 2048, 128, 341, "TRT-LLM H200"),
    (Pair("meta-llama/Llama-2-70b-chat-hf", "H200", quantization="fp8"), 32, 2048, 128, 303, "TRT-LLM H200"),
    (
        Pair("meta-llama/Llama-2-70b-chat-hf", "H200", 2, quantization="fp8"),
        512,
        128,
        2048,
        1_654 * 2,
        "TRT-LLM H200 (TP2, per-GPU x2)",
    ),
    (QWEN_NVL, 8, 512, 256, 595, CLOSED_LOOP),
    (QWEN_NVL, 32, 512, 256, 1_317, CLOSED_LOOP),
    (QWEN_NVL, 128, 512, 256, 4_715, CLOSED_LOOP),
]

CURVE_PAIRS = [
    *LLAMA_8B_PAIRS,
    Pair("Qwen/Qwen3-32B", "H100", gpus=2),
    Pair("meta-llama/Llama-3.3-70B-Instruct", "H100", gpus=4),
    Pair("Qwen/Qwen3-30B-A3B", "H100"),
]
CONCURRENCY = [1, 4, 16, 64, 256]


def batch1_rows(pairs: list[Pair], held: bool) -> tuple[list[str], int]:
    rows: list[str] = []
    failures = 0
    for pair in pairs:
        p = perf(pair)
        model_speed = 1 / p.step_time(StepShape(decode_seqs=1, context_tokens=128, attention_pairs=128))
        physical = physical_bs1(p, 128)
        reference = pair.published_bs1 if pair.published_bs1 is not None else physical
        error = model_speed / reference - 1
        ok = abs(error) <= TOLERANCE
        failures += held and not ok
        published = f"{pair.published_bs1:g} ({pair.source})" if pair.published_bs1 else "-"
        kind = "published" if pair.published_bs1 else "physical"
        verdict = ("yes" if ok else "NO") if held else "not held"
        rows.append(
            f"| {pair.label} | {physical:,.0f} | {published} | {model_speed:,.1f} | {kind} | "
            f"{error:+.0%} | {verdict} |"
        )
        print(f"bs1 {pair.label:60s} model {model_speed:8.1f}  ref {reference:8.1f}  {error:+.0%}")
    return rows, failures


def main() -> int:
    started = time.perf_counter()
    lines = [
        "# Engine calibration",
        "",
        "Generated by `benchmarks/engine_calibration.py`: the engine's scheduler and roofline on a manual "
        "clock (deterministic; no sockets).",
        "",
    ]
    header = [
        "| pair | roofline tok/s | published tok/s | model tok/s | reference | error | within 30% |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        "## Batch-1 decode",
        "",
        "Reference: the published batch-1 figure where the shared reference gives one, otherwise the "
        "physical ceiling (all memory bandwidth, no overheads; with tensor parallelism plus the latency "
        "floor of two all-reduces per layer). Context 128 tokens.",
        "",
        *header,
    ]
    rows, failures = batch1_rows(PAIRS, held=True)
    lines += rows
    lines += [
        "",
        "Overhead-bound pairs: the memory time of a step is only 2-3 ms, so fixed per-step costs "
        "(scheduling, sampling, kernel launches, MoE routing) weigh as much as the weights do, in real "
        "engines as in the model. Shown for completeness, not held to the roofline.",
        "",
        *header,
    ]
    rows, _ = batch1_rows(OVERHEAD_BOUND, held=False)
    lines += rows
    lines += [
        "",
        "## Published throughput points",
        "",
        "TRT-LLM rows are static batches (all requests at once, as in its max-throughput runs); the "
        "simulation batches continuously like vLLM and caps the batch at what the KV cache holds.",
        "",
        "| pair | batch | in / out | published tok/s | model tok/s | ratio | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for pair, batch, prompt, output, published, source in PUBLISHED_THROUGHPUT:
        p = perf(pair)
        if source == CLOSED_LOOP:
            tput = run_closed_loop(p, batch, prompt, output)[0]
        else:
            tput = run_static(p, batch, prompt, output)[0]
        lines.append(
            f"| {pair.label} | {batch} | {prompt} / {output} | {published:,} | {tput:,.0f} | "
            f"{tput / published:.2f} | {source} |"
        )
        print(f"tput {pair.label:60s} B={batch:5d} {prompt}/{output} model {tput:9.0f} published {published}")
    lines += [
        "",
        "## Time to first token, batch 1, 128-token prompt",
        "",
        "| pair | published | model |",
        "|---|---|---|",
        f"| GPT-J 6B fp8 on 1x H100 | 7.1 ms | {ttft_ms('H100', 'fp8'):.1f} ms |",
        f"| GPT-J 6B fp16 on 1x A100-80GB | 12.5 ms | {ttft_ms('A100-80GB', None):.1f} ms |",
    ]
    lines += [
        "",
        "## Throughput and latency against concurrency",
        "",
        "Closed loop: C clients, each sending its next request when the previous one ends (starts "
        "staggered); 512 prompt tokens, 256 output tokens, distinct prompts (no prefix hits), "
        "max_num_seqs 256. Cells: output tok/s (mean TTFT ms, mean inter-token ms).",
        "",
        "| pair | " + " | ".join(f"C={c}" for c in CONCURRENCY) + " |",
        "|---|" + "---|" * len(CONCURRENCY),
    ]
    for pair in CURVE_PAIRS:
        p = perf(pair)
        cells = []
        for c in CONCURRENCY:
            tput, ttft, itl = run_closed_loop(p, c, 512, 256)
            cells.append(f"{tput:,.0f} ({ttft * 1000:,.0f}, {itl * 1000:.1f})")
        lines.append(f"| {pair.label} (KV {p.kv_capacity_tokens:,} tokens) | " + " | ".join(cells) + " |")
        print(f"curve {pair.label:60s} " + "  ".join(cells))
    lines += [
        "",
        f"Batch-1 pairs held to ±30% and outside it: {failures}. "
        f"Run time {time.perf_counter() - started:.1f} s.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 1 if failures else 0


def ttft_ms(gpu: str, quantization: str | None) -> float:
    p = perf(Pair("EleutherAI/gpt-j-6b", gpu, quantization=quantization))
    _, ttft = run_static(p, 1, 128, 1)
    return ttft * 1000


if __name__ == "__main__":
    raise SystemExit(main())
