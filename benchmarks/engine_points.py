"""Published measurements of real engines that the simulated engine is calibrated against.

Each point names the engine setup (model, GPUs, weight and KV dtypes, engine and version, scheduling),
the workload as the source ran it, the metric and the published figure. Where a source leaves part of
the workload open, the assumption is written next to the point and in the results file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from infleet.api.catalog import load_catalog
from infleet.sim.engine.model.efficiency import Engine
from infleet.sim.engine.model.host_cost import Scheduling
from infleet.sim.engine.model.performance import KvCacheDtype, PerformanceModel

Metric = Literal["output_tps", "total_tps", "ttft_ms", "tpot_ms", "itl_ms"]


@dataclass(frozen=True)
class Setup:
    """One engine as the source ran it."""

    model: str
    gpu: str
    gpus: int = 1
    quantization: Literal["fp8"] | None = None
    kv_cache_dtype: KvCacheDtype = "auto"
    engine: Engine = "vllm"
    version: str | None = None
    async_scheduling: bool = False
    scheduler_steps: int = 1
    expert_parallel: bool = False
    attention_data_parallel: bool = False
    cuda_graph_padding: bool = False

    def perf(self) -> PerformanceModel:
        catalog = load_catalog()
        return PerformanceModel(
            catalog.model(self.model),
            catalog.gpu(self.gpu),
            self.gpus,
            quantization=self.quantization,
            kv_cache_dtype=self.kv_cache_dtype,
            engine=self.engine,
            version=self.version,
            scheduling=Scheduling(
                self.async_scheduling or self.engine == "tensorrt-llm", self.scheduler_steps
            ),
            expert_parallel=self.expert_parallel,
            attention_data_parallel=self.attention_data_parallel,
            cuda_graph_batch_sizes=TRTLLM_CUDA_GRAPH_BATCH_SIZES if self.cuda_graph_padding else (),
        )

    @property
    def label(self) -> str:
        quant = " fp8" if self.quantization else ""
        kv = " kv-fp8" if self.kv_cache_dtype != "auto" else ""
        extra = " async" if self.async_scheduling else ""
        extra += f" steps={self.scheduler_steps}" if self.scheduler_steps > 1 else ""
        extra += " EP" if self.expert_parallel else ""
        extra += " attention-DP" if self.attention_data_parallel else ""
        return f"{self.model.rsplit('/', 1)[-1]}{quant}{kv} {self.gpus}x{self.gpu}{extra}"


@dataclass(frozen=True)
class Workload:
    kind: Literal["offline", "closed"]
    size: int  # requests queued at once (offline) or clients (closed loop)
    prompt: int
    output: int
    max_num_seqs: int = 256
    max_batched: int = 8192
    chunked: bool = True

    @property
    def label(self) -> str:
        what = f"{self.size} req at once" if self.kind == "offline" else f"C={self.size}"
        chunk = "" if self.chunked else ", no chunked prefill"
        return f"{self.prompt}/{self.output}, {what}{chunk}"


@dataclass(frozen=True)
class Point:
    source: str
    setup: Setup
    workload: Workload
    metric: Metric
    published: float
    note: str = ""


SOURCES = {
    "nim": (
        "NVIDIA NIM 1.8 (TensorRT-LLM backend), Llama-3.3-70B FP8 TP2",
        "https://docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance",
    ),
    "trtllm": (
        "TensorRT-LLM perf overview (PyTorch backend, v1.0)",
        "NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md",
    ),
    "gpustack": (
        "GPUStack performance lab, gpt-oss-20b on H100, vLLM 0.11.0",
        "https://docs.gpustack.ai/latest/performance-lab/gpt-oss-20b/h100",
    ),
    "oracle": (
        "Oracle OCI blog, Llama-3.1-405B FP8 on 8x MI300X, vLLM (ROCm, 2024)",
        "https://blogs.oracle.com/cloud-infrastructure/post/serving-llama-31-405b-model-with-amd-mi300x-gpus",
    ),
    "tt": (
        "tenstorrent/tt-inference-server issue 340, Qwen3-30B-A3B on A100 (vLLM)",
        "https://github.com/tenstorrent/tt-inference-server/issues/340",
    ),
    "lambda": (
        "LambdaLabsML/vllm-benchmark, vLLM 0.5.4 and 0.6.0 on H100 / A100",
        "LambdaLabsML/vllm-benchmark benchmark_v0.md",
    ),
    "earlier": (
        "Earlier reference points: TensorRT-LLM 2023 blogs (H100 vs A100, H200 launch), vLLM on H100 NVL",
        "shared reference inference-engines.md section 6",
    ),
}


def _nim() -> list[Point]:
    setup = Setup("meta-llama/Llama-3.3-70B-Instruct", "H100", 2, "fp8", "fp8", engine="tensorrt-llm")
    rows = [  # concurrency, TTFT ms, ITL ms, output tok/s
        (1, 406.77, 18.58, 51.67),
        (5, 546.7, 21.83, 218.48),
        (25, 688.69, 38.75, 623.4),
        (50, 834.51, 59.73, 814.37),
        (100, 7996.25, 92.91, 917.26),
        (150, 34794.22, 92.86, 920.9),
        (200, 61680.22, 93.06, 920.54),
        (250, 88605.32, 93.2, 920.12),
    ]
    points = []
    for c, ttft, itl, tps in rows:
        w = Workload("closed", c, 5000, 500, max_num_seqs=512)
        points += [
            Point("nim", setup, w, "output_tps", tps),
            Point("nim", setup, w, "tpot_ms", itl),
            Point("nim", setup, w, "ttft_ms", ttft),
        ]
    return points


_SHAPES = ["128/128", "128/2048", "128/4096", "500/2000", "1000/1000", "1000/2000", "2048/128", "2048/2048",
           "5000/500", "20000/2000"]  # fmt: skip
_REQUESTS = {"128/128": 30000, "128/2048": 3000, "128/4096": 1500, "500/2000": 3000, "1000/1000": 3000,
             "1000/2000": 1500, "2048/128": 3000, "2048/2048": 1500, "5000/500": 1500,
             "20000/2000": 1000}  # fmt: skip
_TRTLLM = {  # (model, gpu, tp, expert parallel): figures per shape, None where not published
    ("meta-llama/Llama-3.1-8B-Instruct", "H200", 1, False): [27911, 26221, 18027, 20770, 17744, 16828, 3538,
                                                             12194, 3902, 1804],
    ("meta-llama/Llama-3.1-8B-Instruct", "H100", 1, False): [28312, 22714, 14325, 17660, 15220, 13899, 3450,
                                                             9305, 3459, 1351],
    ("meta-llama/Llama-3.3-70B-Instruct", "H200", 1, False): [3803, 4336, 2872, 3666, 2909, 2994, 442, 2003,
                                                              566, 283],
    ("meta-llama/Llama-3.3-70B-Instruct", "H100", 2, False): [6378, 6651, 4199, 5222, 4205, 4146, 762, 3082,
                                                              898, 437],
    ("meta-llama/Llama-3.1-405B-Instruct", "H200", 8, False): [3814, 5348, 4741, 4724, 3330, 3722, 456, 2948,
                                                               650, 505],
    ("meta-llama/Llama-3.1-405B-Instruct", "H100", 8, False): [3627, 4340, 3116, 3994, 2919, 2895, 453, 2296,
                                                               610, 345],
    ("Qwen/Qwen3-235B-A22B", "H200", 8, True): [30429, 42821, 26852, 28026, 23789, 22061, 3331, 16672, 3623,
                                                1876],
    ("Qwen/Qwen3-235B-A22B", "H100", 8, True): [None, 19658, 12447, 18351, 14898, 15136, None, 9924, 3225,
                                                None],
}  # fmt: skip
#: The perf overview's llm_options: CUDA graphs captured at these decode batch sizes, with padding.
TRTLLM_CUDA_GRAPH_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192)
# Requests per shape are cut to keep the run short: steady state needs a few times the batch, not 30,000.
TRTLLM_REQUEST_CAP = 2000


def _trtllm() -> list[Point]:
    points = []
    for (model, gpu, tp, ep), figures in _TRTLLM.items():
        # As the source's llm_options set it: CUDA graphs with padding; for the MoE, experts split over
        # the GPUs (--ep) and enable_attention_dp, each GPU running attention for its own requests.
        setup = Setup(model, gpu, tp, "fp8", "fp8", engine="tensorrt-llm", cuda_graph_padding=True)
        setup = replace(setup, expert_parallel=ep, attention_data_parallel=ep)
        for shape, figure in zip(_SHAPES, figures, strict=True):
            if figure is None:
                continue
            prompt, output = (int(x) for x in shape.split("/"))
            n = min(_REQUESTS[shape], TRTLLM_REQUEST_CAP)
            # With attention data parallelism max_num_tokens is per GPU: each schedules its own batch.
            budget = 8192 * (tp if ep else 1)
            w = Workload("offline", n, prompt, output, max_num_seqs=2048, max_batched=budget)
            points.append(Point("trtllm", setup, w, "output_tps", figure))
    return points


def _gpustack() -> list[Point]:
    note = "num-prompts not published: 1000 assumed (vllm bench serve default); request rate inf"
    points = []
    for shape, baseline, tuned in [
        ((32000, 100), 29730.30, 29718.21),
        ((4000, 200), 33236.17, 33823.34),
        ((2000, 100), 32113.65, 33149.54),
        ((128, 4), 28032.23, 32611.91),
    ]:
        w = Workload("offline", 1000, *shape, max_num_seqs=256, max_batched=8192)
        base = Setup("openai/gpt-oss-20b", "H100", version="0.11.0")
        fast = Setup("openai/gpt-oss-20b", "H100", version="0.11.0", async_scheduling=True)
        points += [Point("gpustack", base, w, "total_tps", baseline, note)]
        points += [Point("gpustack", fast, w, "total_tps", tuned, note)]
    return points


def _oracle() -> list[Point]:
    setup = Setup("meta-llama/Llama-3.1-405B-Instruct", "MI300X", 8, "fp8", version="0.6.0")
    rows = [(1, 36), (2, 71), (4, 137), (8, 258), (16, 468), (32, 798), (64, 1184), (128, 1585), (256, 1846)]
    note = "benchmark_latency: one static batch, 128 in / 128 out; vLLM 0.6 (V0) assumed for October 2024"
    return [
        Point(
            "oracle",
            setup,
            Workload("offline", b, 128, 128, max_num_seqs=max(256, b)),
            "output_tps",
            tps,
            note,
        )
        for b, tps in rows
    ]


def _tt() -> list[Point]:
    setup = Setup("Qwen/Qwen3-30B-A3B", "A100-80GB")
    rows = [  # ISL, OSL, TTFT ms, TPOT ms at concurrency 1
        (128, 128, 35.7, 9.6),
        (128, 1024, 27.0, 9.7),
        (1024, 128, 70.3, 9.8),
        (2048, 128, 81.0, 9.9),
        (3072, 128, 90.2, 10.1),
        (4096, 128, 75.2, 10.3),
        (8192, 128, 227.0, 10.6),
    ]
    points = []
    for isl, osl, ttft, tpot in rows:
        w = Workload("closed", 1, isl, osl)
        points += [Point("tt", setup, w, "tpot_ms", tpot), Point("tt", setup, w, "ttft_ms", ttft)]
    return points


_SHAREGPT = "ShareGPT approximated as 220 in / 200 out"


def _lambda() -> list[Point]:
    points = []
    # model, tp, quantization, requests, then per version (0.5.4, 0.6 step 1, 0.6 step 10): output tok/s,
    # median TPOT ms, median ITL ms (a gap between stream chunks: a multi-step run streams N tokens at once)
    versions = [
        ("meta-llama/Llama-3.1-8B-Instruct", 1, None, 5000, (3032.04, 3958.40, 8088.35),
         (64.06, 196.24, 25.57), (48.28, 179.17, 243.76)),
        ("meta-llama/Llama-3.1-70B-Instruct", 4, None, 5000, (1491.93, 2291.0, 3542.88),
         (125.78, 102.99, 61.10), (74.22, 63.54, 574.07)),
        ("meta-llama/Llama-3.1-405B-Instruct", 8, "fp8", 1280, (1220.26, 1331.25, 1714.07),
         (182.72, 163.52, 112.20), (144.06, 114.42, 1036.33)),
    ]  # fmt: skip
    note = f"{_SHAREGPT}; requests cut to 1,500 for run time"
    for model, tp, quant, requests, tps, tpot, itl in versions:
        n = min(requests, 1500)
        runs = [
            (
                Setup(model, "H100", tp, quant, version="0.5.4"),
                Workload("offline", n, 220, 200, 256, 512, True),
            ),
            (
                Setup(model, "H100", tp, quant, version="0.6.0"),
                Workload("offline", n, 220, 200, 256, 2048, False),
            ),
            (
                Setup(model, "H100", tp, quant, version="0.6.0", scheduler_steps=10),
                Workload("offline", n, 220, 200, 256, 2048, False),
            ),
        ]
        for (setup, w), figure, latency, gap in zip(runs, tps, tpot, itl, strict=True):
            points += [Point("lambda", setup, w, "output_tps", figure, note)]
            points += [Point("lambda", setup, w, "tpot_ms", latency, note)]
            points += [Point("lambda", setup, w, "itl_ms", gap, note)]
    tp_note = f"{_SHAREGPT}; 320 prompts at once; vLLM 0.5.4 chunked prefill (512-token budget)"
    scaling = {  # (model, gpu): output tok/s at TP 1, 2, 4, 8
        ("meta-llama/Llama-3.1-8B-Instruct", "H100"): (3400.4, 3688.64, 3475.27, 3931.83),
        ("meta-llama/Llama-3.1-8B-Instruct", "A100-80GB"): (1517.54, 1854.27, 1899.76, 1972.26),
        ("meta-llama/Llama-3.1-70B-Instruct", "H100"): (None, 1727.69, 2242.99, 2572.8),
        ("meta-llama/Llama-3.1-70B-Instruct", "A100-80GB"): (None, 662.64, 956.53, 1162.78),
    }
    for (model, gpu), figures in scaling.items():
        for tp, figure in zip((1, 2, 4, 8), figures, strict=True):
            if figure is None:
                continue  # the 70B at TP1 ran with a 4k context only; its KV cache is too small to compare
            setup = Setup(model, gpu, tp, "fp8", version="0.5.4")
            w = Workload("offline", 320, 220, 200, 256, 512, True)
            points.append(Point("lambda", setup, w, "output_tps", figure, tp_note))
    return points


def _earlier() -> list[Point]:
    """The points the engine was calibrated against before: static batches of TensorRT-LLM 2023 and a
    vLLM closed loop whose shape was not published (512/256 assumed)."""
    gptj_fp8 = Setup("EleutherAI/gpt-j-6b", "H100", quantization="fp8", engine="tensorrt-llm")
    gptj = Setup("EleutherAI/gpt-j-6b", "A100-80GB", engine="tensorrt-llm")
    l13 = Setup("meta-llama/Llama-2-13b-chat-hf", "H200", quantization="fp8", engine="tensorrt-llm")
    l70 = Setup("meta-llama/Llama-2-70b-chat-hf", "H200", quantization="fp8", engine="tensorrt-llm")
    l70tp2 = Setup("meta-llama/Llama-2-70b-chat-hf", "H200", 2, "fp8", engine="tensorrt-llm")
    qwen = Setup("Qwen/Qwen2.5-Coder-32B-Instruct", "H100-NVL", quantization="fp8")

    def static(batch: int, prompt: int, output: int) -> Workload:
        return Workload("offline", batch, prompt, output, max_num_seqs=batch)

    return [
        Point("earlier", gptj_fp8, static(1, 128, 128), "tpot_ms", 1000 / 185, "batch 1: 185 tok/s"),
        Point("earlier", gptj, static(1, 128, 128), "tpot_ms", 1000 / 111, "batch 1: 111 tok/s"),
        Point("earlier", gptj_fp8, static(1, 128, 1), "ttft_ms", 7.1),
        Point("earlier", gptj, static(1, 128, 1), "ttft_ms", 12.5),
        Point("earlier", gptj_fp8, static(64, 128, 128), "output_tps", 10_907),
        Point("earlier", gptj, static(64, 128, 128), "output_tps", 3_679),
        Point("earlier", l13, static(1024, 128, 128), "output_tps", 11_819),
        Point("earlier", l13, static(128, 128, 2048), "output_tps", 4_750),
        Point("earlier", l13, static(64, 2048, 128), "output_tps", 1_349),
        Point("earlier", l70, static(512, 128, 128), "output_tps", 3_014),
        Point("earlier", l70, static(64, 2048, 128), "output_tps", 341),
        Point("earlier", l70, static(32, 2048, 128), "output_tps", 303),
        Point("earlier", l70tp2, static(512, 128, 2048), "output_tps", 1_654 * 2, "per-GPU figure x2"),
        Point("earlier", qwen, Workload("closed", 1, 512, 256), "tpot_ms", 1000 / 46, "batch 1: 46 tok/s"),
        Point("earlier", qwen, Workload("closed", 8, 512, 256), "output_tps", 595, "512/256 assumed"),
        Point("earlier", qwen, Workload("closed", 32, 512, 256), "output_tps", 1_317, "512/256 assumed"),
        Point("earlier", qwen, Workload("closed", 128, 512, 256), "output_tps", 4_715, "512/256 assumed"),
    ]


def all_points() -> list[Point]:
    return [*_nim(), *_trtllm(), *_gpustack(), *_oracle(), *_tt(), *_lambda(), *_earlier()]
