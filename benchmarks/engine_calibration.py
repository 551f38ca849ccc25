"""Calibration of the simulated engine's performance model against published measurements of real engines.

Runs the real scheduler and roofline on a manual clock (deterministic, no sockets, no sleeping) for every
published point in ``engine_points`` and writes benchmarks/results/engine_calibration.md: each point side
by side with the simulated figure and the ratio, the saturation concurrency of the NIM Llama-3.3-70B
curve, a monotonicity sweep of step time over batch size for every catalog model on every SKU, and
throughput-against-concurrency curves up to saturation. It also rewrites the calibration table in the
README's engine section. Exits 1 when a held target is missed.
"""

from __future__ import annotations

import re
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from engine_points import SOURCES, Point, Setup, Workload, all_points
from engine_runs import RunResult, closed_loop, offline
from infleet.api.catalog import load_catalog
from infleet.sim.engine.model.performance import (
    ModelDoesNotFitError,
    PerformanceModel,
    StepShape,
)

RESULTS = Path(__file__).parent / "results" / "engine_calibration.md"
README = Path(__file__).parent.parent / "README.md"
TOLERANCE = 1.5
SATURATION_TOLERANCE = 0.25
#: Sources shown for continuity but not held to the target, and why.
NOT_HELD = {
    "earlier": "2023 engine versions or an unpublished workload shape; the profiles follow current engines",
}
NIM_SATURATION = 920.12 * 0.0932  # running sequences at the plateau: throughput x ITL (Little's law)


def run(setup: Setup, w: Workload, cache: dict[tuple[Setup, Workload], RunResult]) -> RunResult:
    key = (setup, w)
    if key not in cache:
        p = setup.perf()
        if w.kind == "offline":
            kw = {"max_num_seqs": w.max_num_seqs, "max_batched": w.max_batched, "chunked": w.chunked}
            cache[key] = offline(p, w.size, w.prompt, w.output, **kw)  # type: ignore[arg-type]
        else:
            cache[key] = closed_loop(
                p, w.size, w.prompt, w.output, max_num_seqs=w.max_num_seqs, max_batched=w.max_batched
            )
    return cache[key]


def value(result: RunResult, point: Point) -> float:
    return {
        "output_tps": result.output_tps,
        "total_tps": result.total_tps,
        "ttft_ms": result.ttft_s * 1000,
        "tpot_ms": result.tpot_s * 1000,
        "itl_ms": result.itl_s * 1000,
    }[point.metric]


def physical_floor_ms(point: Point) -> float:
    """The least time a prompt's prefill takes: its FLOPs at 100% of the GPUs' peak, or the weights it
    touches read at 100% of their bandwidth, whichever is longer. No engine prefills faster."""
    p = point.setup.perf()
    m = p.model
    flops = 2 * (m.active_parameters_b or m.parameters_b) * 1e9 * point.workload.prompt
    compute = flops / (p.gpus * p.peak_flops)
    memory = p.weights_read(point.workload.prompt) / (p.gpus * p.gpu.memory_bandwidth_gbs * 1e9)
    return max(compute, memory) * 1000


def monotonicity() -> tuple[int, list[str]]:
    """Step time over decode batch 1..1024 and prefill 1..16k tokens for every model on every SKU."""
    catalog = load_catalog()
    checked, bad = 0, []
    for model in catalog.models:
        for gpu in catalog.gpus:
            for gpus in (1, 2, 4, 8):
                try:
                    p = PerformanceModel(model, gpu, gpus)
                except ModelDoesNotFitError:
                    continue
                checked += 1
                last = 0.0
                for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024):
                    t = p.step_time(
                        StepShape(decode_seqs=b, context_tokens=b * 1000, attention_pairs=b * 1000)
                    )
                    if t < last:
                        bad.append(f"{model.name} on {gpus}x {gpu.name}: decode batch {b}")
                    last = t
                break  # the smallest GPU count that fits
    return checked, bad


CURVES = [
    Setup("meta-llama/Llama-3.3-70B-Instruct", "H100", 2, "fp8", "fp8", engine="tensorrt-llm"),
    Setup("meta-llama/Llama-3.3-70B-Instruct", "H100", 2, "fp8", "auto", engine="tensorrt-llm"),
    Setup("meta-llama/Llama-3.3-70B-Instruct", "H100", 2, "fp8", "fp8"),
    Setup("meta-llama/Llama-3.1-8B-Instruct", "H100"),
    Setup("meta-llama/Llama-3.1-8B-Instruct", "H100", async_scheduling=True),
    Setup("openai/gpt-oss-20b", "H100"),
    Setup("Qwen/Qwen3-30B-A3B", "H100"),
]
CONCURRENCY = [1, 8, 32, 64, 100, 150, 250]


def main() -> int:
    started = time.perf_counter()
    cache: dict[tuple[Setup, Workload], RunResult] = {}
    points = all_points()
    rows: list[str] = []
    per_source: dict[str, list[float]] = defaultdict(list)
    misses = 0
    for point in points:
        result = run(point.setup, point.workload, cache)
        simulated = value(result, point)
        ratio = simulated / point.published
        ok = 1 / TOLERANCE <= ratio <= TOLERANCE
        verdict = "yes" if ok else "NO"
        if point.metric == "ttft_ms" and point.published < physical_floor_ms(point):
            verdict = "not held: published TTFT is below the physical floor (prefix-cache hits?)"
        elif point.source in NOT_HELD:
            verdict = f"{verdict} (not held: {NOT_HELD[point.source]})"
        else:
            per_source[point.source].append(ratio)
            misses += not ok
        extra = (
            f"; {result.preemptions_per_request:.1f} preemptions/request"
            if result.preemptions_per_request
            else ""
        )
        rows.append(
            f"| {point.source} | {point.setup.label} | {point.workload.label} | {point.metric} | "
            f"{point.published:,.1f} | {simulated:,.1f} | {ratio:.2f} | {verdict}{extra} |"
        )
        print(f"{point.source:8s} {point.setup.label:48s} {point.workload.label:36s} {point.metric:10s} "
              f"pub {point.published:10.1f} sim {simulated:10.1f} {ratio:5.2f}")  # fmt: skip
    nim = run(CURVES[0], Workload("closed", 250, 5000, 500, max_num_seqs=512), cache)
    saturation_error = nim.running / NIM_SATURATION - 1
    misses += abs(saturation_error) > SATURATION_TOLERANCE
    checked, bad = monotonicity()
    misses += len(bad)

    lines = [
        "# Engine calibration",
        "",
        "Generated by `benchmarks/engine_calibration.py`: the simulated engine's scheduler and performance "
        "model on a manual clock (deterministic; no sockets). Every published point the calibration holds "
        f"is listed with the simulated figure and the ratio (simulated / published); target within "
        f"{TOLERANCE}x.",
        "",
        "## Sources",
        "",
        *(f"- **{key}**: {title} ({where})" for key, (title, where) in SOURCES.items()),
        "",
        "Assumptions where a source leaves the workload open: TensorRT-LLM runs with FP8 weights and FP8 KV "
        "cache (ModelOpt checkpoints), its overlap scheduler and its no-evict admission, at most "
        "2,000 requests per shape (steady state needs a few batches, not 30,000); as the perf overview's "
        "llm_options set them, decode steps replay CUDA graphs padded to the next captured batch size, and "
        "Qwen3-235B-A22B runs with expert parallelism and attention data parallelism (8,192 tokens per step "
        "per GPU). Closed loops open "
        "every client at once (AIPerf's concurrency mode without a ramp). NIM 1.8's Llama-3.3-70B FP8 "
        "TP2 profile is taken as TensorRT-LLM with an FP8 KV cache. ShareGPT is approximated as 220 "
        "prompt / 200 output tokens. Oracle's MI300X run is taken as vLLM 0.6 (V0). GPUStack's request "
        "count is taken as 1,000.",
        "",
        "## Published points",
        "",
        "| source | engine setup | workload | metric | published | simulated | ratio | within 1.5x |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "## Saturation of the NIM Llama-3.3-70B FP8 2x H100 5000/500 curve",
        "",
        "Saturation concurrency = sequences running at once on the plateau = throughput x ITL (Little's "
        f"law). Published: 920.12 tok/s x 93.2 ms = {NIM_SATURATION:.1f}. Simulated (C=250): "
        f"{nim.output_tps:,.0f} tok/s x {nim.tpot_s * 1000:.1f} ms = {nim.running:.1f} "
        f"({saturation_error:+.0%}; target within {SATURATION_TOLERANCE:.0%}).",
        "",
        "## Step time is monotone in batch size",
        "",
        f"Every catalog model on every catalog SKU (smallest TP that fits), decode batch 1..1024: "
        f"{checked} engines checked, {len(bad)} where a bigger batch ran faster"
        + (": " + "; ".join(bad[:10]) if bad else "."),
        "",
        "## Throughput against concurrency, up to saturation",
        "",
        "Closed loop, 5000 prompt / 500 output tokens (the NIM shape), max_num_seqs 512. Cells: output "
        "tok/s (mean TTFT ms, mean ITL ms).",
        "",
        "| engine setup | KV tokens | " + " | ".join(f"C={c}" for c in CONCURRENCY) + " |",
        "|---|---|" + "---|" * len(CONCURRENCY),
    ]
    for setup in CURVES:
        cells = []
        for c in CONCURRENCY:
            r = run(setup, Workload("closed", c, 5000, 500, max_num_seqs=512), cache)
            cells.append(f"{r.output_tps:,.0f} ({r.ttft_s * 1000:,.0f}, {r.tpot_s * 1000:.1f})")
        engine = "TensorRT-LLM" if setup.engine == "tensorrt-llm" else "vLLM"
        kv = f"{setup.perf().kv_capacity_tokens:,}"
        lines.append(f"| {setup.label} ({engine}) | {kv} | " + " | ".join(cells) + " |")
        print("curve", setup.label, cells)
    summary = summary_table(per_source, saturation_error)
    lines += ["", "## Held points outside 1.5x, and why", "", *(f"- {gap}" for gap in GAPS)]
    lines += [
        "",
        "## Summary",
        "",
        *summary,
        "",
        f"Held targets missed: {misses}. Run time {time.perf_counter() - started:.0f} s.",
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    update_readme(summary)
    print(f"wrote {RESULTS}; held targets missed: {misses}")
    return 1 if misses else 0


#: Why the held points outside 1.5x are outside; checked against the table on each run by hand.
GAPS = [
    "**tt-inference-server TTFT at 8,192 prompt tokens on A100** (1.7x slow): the published 227 ms is "
    "within 1% of the A100's physical floor once attention is counted: the prompt's GEMMs (2.7B active "
    "parameters without the embeddings, 141 ms) and its causal attention (85 ms) at 100% of the 312 TFLOPS "
    "bf16 peak take 225 ms. No engine prefills at 99% of peak (the model grants vLLM 55% for GEMMs and 70% "
    "for attention); a partly cached prompt is the likely cause, and fitting it would make every other "
    "prefill too fast. Two shorter-prompt TTFTs of that source are below the floor even without attention "
    "and are shown but not held.",
    "**LambdaLabs vLLM 0.6.0, 8B, one scheduler step, TPOT and ITL** (0.28x and 0.29x): the published "
    "latencies cannot be the engine's steps. A median gap of 179 ms between a stream's tokens (and a median "
    "TPOT of 196 ms) lets at most 256 sequences (max-num-seqs) produce about 1,400 tok/s, against the "
    "published 3,958 tok/s; by Little's law the figures imply 776 sequences in flight. The tokens reached "
    "the clients later than the engine produced them (5,000 streams open at once on one API server), which "
    "an engine model does not show whatever the prompt lengths. Its throughput and the multi-step rows are "
    "within 1.1x.",
    "**LambdaLabs vLLM 0.5.4/0.6.0, 70B BF16 TP4 and 405B FP8 TP8** (throughput 1.5-1.7x fast, TPOT 0.6x, "
    "a 10-step run's chunk gap 0.53-0.64x): V0's multi-GPU steps cost more than the model's host and "
    "communication terms. The gain from multi-step scheduling matches (published 1.55x and 1.29x from 1 to "
    "10 steps, simulated 1.48x and 1.29x), so the gap is in the base step. The same source's tensor-parallel "
    "table (FP8, 320 prompts, same version) is within 1.35x for 70B at TP2-8. A V0 cost per step for "
    "handing each step's inputs to the tensor-parallel workers was tried (8 ms plus 40 us per sequence): it "
    "brings five of these points within 1.5x but turns the listed 8B gain from TP1 to TP2 (1.08x published) "
    "into a loss (0.78x) and moves Oracle's MI300X 405B points to 0.76x, so it was not adopted.",
]


def summary_table(per_source: dict[str, list[float]], saturation_error: float) -> list[str]:
    out = [
        "| calibrated against | points held | within 1.5x | ratio range (simulated / published) |",
        "|---|---|---|---|",
    ]
    for key, ratios in per_source.items():
        inside = sum(1 / TOLERANCE <= r <= TOLERANCE for r in ratios)
        out.append(
            f"| {SOURCES[key][0]} | {len(ratios)} | {inside} | {min(ratios):.2f} - {max(ratios):.2f} |"
        )
    out.append(
        f"| NIM 70B saturation concurrency (throughput x ITL) | 1 | "
        f"{int(abs(saturation_error) <= SATURATION_TOLERANCE)} | {saturation_error:+.0%} |"
    )
    return out


def update_readme(summary: list[str]) -> None:
    start, end = "<!-- engine-calibration:start -->", "<!-- engine-calibration:end -->"
    text = README.read_text(encoding="utf-8")
    if start not in text:
        return
    block = "\n".join([start, *summary, end])
    README.write_text(
        re.sub(re.escape(start) + ".*?" + re.escape(end), block, text, flags=re.S), encoding="utf-8"
    )


if __name__ == "__main__":
    raise SystemExit(main())
