"""Engine launch contracts: image, command and arguments for vLLM, SGLang, TGI, transformers and the sim.

Each engine is told the same things in its own dialect (model, served name, port 5000, parallelism, max
model length, memory fraction, quantization, LoRA adapters). Flags follow each engine's documented CLI:
``vllm serve``, ``python -m sglang.launch_server``, ``text-generation-launcher``, ``transformers serve``
and ``infleet engine-sim``. ``workload`` puts the result into pod templates.
"""

from __future__ import annotations

from dataclasses import dataclass

PORT = 5000
RAY_PORT = 6379
SGLANG_DIST_PORT = 20000
MODEL_DIR = "/models"
ADAPTER_DIR = "/mnt/adapters"

IMAGES = {
    "vllm": ("vllm/vllm-openai", "v0.11.0"),
    "sglang": ("lmsysorg/sglang", "v0.5.4"),
    "tgi": ("ghcr.io/huggingface/text-generation-inference", "3.3.6"),
    "transformers": ("huggingface/transformers-pytorch-gpu", "4.57.1"),
    "sim": ("ghcr.io/infleet/engine-sim", "0.1.0"),
}
#: Engines that can spread one replica over several nodes.
MULTI_NODE = frozenset({"vllm", "sglang"})
#: Path of the health endpoint each engine serves on PORT.
HEALTH_PATH = {
    "vllm": "/health",
    "sglang": "/health",
    "tgi": "/health",
    "transformers": "/health",
    "sim": "/health",
}


@dataclass(frozen=True)
class EngineLaunch:
    """What one replica must run: model, shape and serving options, engine-agnostic."""

    engine: str
    model: str
    served_name: str
    sku: str
    tensor_parallel: int
    pipeline_parallel: int = 1
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    quantization: str | None = None
    kv_cache_dtype: str | None = None  # vLLM's values: auto, fp8, fp8_e4m3, fp8_e5m2
    adapters: tuple[tuple[str, str], ...] = ()  # (name, path or hub id)
    extra_args: tuple[str, ...] = ()
    leader_address: str | None = None  # DNS name of the group's first pod, multi-node only


@dataclass(frozen=True)
class Container:
    image: str
    command: list[str]
    args: list[str]


def image(engine: str, version: str | None = None, override: str | None = None) -> str:
    if override:
        return override
    repository, default = IMAGES[engine]
    return f"{repository}:{version or default}"


def _vllm(launch: EngineLaunch) -> list[str]:
    # `vllm serve` takes the model as its first positional argument.
    args = [launch.model, "--served-model-name", launch.served_name]
    args += ["--host", "0.0.0.0", "--port", str(PORT)]
    args += ["--tensor-parallel-size", str(launch.tensor_parallel)]
    if launch.pipeline_parallel > 1:
        args += [
            "--pipeline-parallel-size",
            str(launch.pipeline_parallel),
            "--distributed-executor-backend",
            "ray",
        ]
    if launch.max_model_len:
        args += ["--max-model-len", str(launch.max_model_len)]
    if launch.gpu_memory_utilization:
        args += ["--gpu-memory-utilization", f"{launch.gpu_memory_utilization:g}"]
    if launch.quantization:
        args += ["--quantization", launch.quantization]
    if launch.kv_cache_dtype:
        args += ["--kv-cache-dtype", launch.kv_cache_dtype]
    args += ["--download-dir", MODEL_DIR]
    # Cached prompt tokens in every answer's usage: the gateway's prefix routing learns evictions from it.
    args += ["--enable-prompt-tokens-details"]
    if launch.adapters:
        args += ["--enable-lora", "--max-loras", str(len(launch.adapters)), "--lora-modules"]
        args += [f"{name}={path}" for name, path in launch.adapters]
    return args


def _sglang(launch: EngineLaunch) -> list[str]:
    # SGLang spans nodes with tensor parallelism over all GPUs of the group.
    gpus = launch.tensor_parallel * launch.pipeline_parallel
    args = ["--model-path", launch.model, "--served-model-name", launch.served_name]
    args += ["--host", "0.0.0.0", "--port", str(PORT), "--tp-size", str(gpus), "--enable-metrics"]
    if launch.pipeline_parallel > 1:
        args += ["--nnodes", str(launch.pipeline_parallel), "--node-rank", "$(POD_INDEX)"]
        args += ["--dist-init-addr", f"{launch.leader_address}:{SGLANG_DIST_PORT}"]
    if launch.max_model_len:
        args += ["--context-length", str(launch.max_model_len)]
    if launch.gpu_memory_utilization:
        args += ["--mem-fraction-static", f"{launch.gpu_memory_utilization:g}"]
    if launch.quantization:
        args += ["--quantization", launch.quantization]
    if launch.kv_cache_dtype and launch.kv_cache_dtype != "auto":
        # SGLang names the FP8 variants only; plain fp8 is e4m3 in vLLM too.
        kv = "fp8_e4m3" if launch.kv_cache_dtype == "fp8" else launch.kv_cache_dtype
        args += ["--kv-cache-dtype", kv]
    if launch.adapters:
        args += ["--enable-lora", "--lora-paths", *(f"{name}={path}" for name, path in launch.adapters)]
    return args


def _tgi(launch: EngineLaunch) -> list[str]:
    args = ["--model-id", launch.model, "--hostname", "0.0.0.0", "--port", str(PORT)]
    args += ["--num-shard", str(launch.tensor_parallel), "--huggingface-hub-cache", MODEL_DIR]
    if launch.max_model_len:
        args += [
            "--max-total-tokens",
            str(launch.max_model_len),
            "--max-input-tokens",
            str(launch.max_model_len - 1),
        ]
    if launch.quantization:
        args += ["--quantize", launch.quantization]
    if launch.adapters:
        args += ["--lora-adapters", ",".join(f"{name}={path}" for name, path in launch.adapters)]
    return args


def _transformers(launch: EngineLaunch) -> list[str]:
    return ["--host", "0.0.0.0", "--port", str(PORT), "--force-model", launch.model]


def _sim(launch: EngineLaunch) -> list[str]:
    args = ["--model", launch.model, "--served-model-name", launch.served_name, "--gpu", launch.sku]
    args += ["--gpus", str(launch.tensor_parallel * launch.pipeline_parallel)]
    args += ["--host", "0.0.0.0", "--port", str(PORT), "--enable-prompt-tokens-details"]
    if launch.max_model_len:
        args += ["--max-model-len", str(launch.max_model_len)]
    if launch.quantization == "fp8":
        args += ["--quantization", "fp8"]
    if launch.kv_cache_dtype:
        args += ["--kv-cache-dtype", launch.kv_cache_dtype]
    return args


_COMMANDS = {
    "vllm": (["vllm", "serve"], _vllm),
    "sglang": (["python3", "-m", "sglang.launch_server"], _sglang),
    "tgi": (["text-generation-launcher"], _tgi),
    "transformers": (["transformers", "serve"], _transformers),
    "sim": (["infleet", "engine-sim"], _sim),
}


def container(
    launch: EngineLaunch, version: str | None = None, image_override: str | None = None
) -> Container:
    """Image, command and arguments of the engine container (the group leader for multi-node vLLM)."""
    command, build = _COMMANDS[launch.engine]
    args = build(launch) + list(launch.extra_args)
    return Container(image(launch.engine, version, image_override), list(command), args)


def vllm_group_script(launch: EngineLaunch, serve_args: list[str]) -> list[str]:
    """vLLM across nodes (Ray): pod 0 starts the Ray head then serves; the others join the head and block."""
    quoted = " ".join(_shell_quote(arg) for arg in serve_args)
    script = (
        f'if [ "$POD_INDEX" = "0" ]; then ray start --head --port={RAY_PORT} && exec vllm serve {quoted}; '
        f"else exec ray start --address={launch.leader_address}:{RAY_PORT} --block; fi"
    )
    return ["bash", "-c", script]


def _shell_quote(arg: str) -> str:
    safe = all(ch.isalnum() or ch in "-_./=:@,+" for ch in arg)
    return arg if safe and arg else "'" + arg.replace("'", "'\\''") + "'"
