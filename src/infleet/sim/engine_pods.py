"""The simulated kubelet's engine hook backed by the simulated vLLM engine (:mod:`infleet.sim.engine`).

Each engine pod gets an engine that models its catalog model on its node's GPU SKU, with the vLLM
flags of its container (``--served-model-name``, ``--max-model-len``, ``--max-num-seqs``,
``--tensor-parallel-size``, ``--quantization``, ``--kv-cache-dtype``, ``--[no-]enable-chunked-prefill``,
``--async-scheduling``, ``--num-scheduler-steps``, ``--enable-expert-parallel``,
``--enable-prompt-tokens-details``). A pod whose model is not in the catalog, or does not fit its GPUs,
falls back to the minimal responder so arbitrary images still become Ready.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from infleet.api.catalog import CatalogError, load_catalog
from infleet.sim.engine import EngineAddress, EngineHost, ModelDoesNotFitError
from infleet.sim.engine import EngineSpec as SimEngineSpec
from infleet.sim.engine_launcher import EngineEndpoint, EngineLauncher, EngineSpec
from infleet.sim.node_pools import catalog_sku

log = logging.getLogger(__name__)
DEFAULT_SKU = "H100"
# How often a stream's tokens are flushed: one chunk per 50 ms keeps thousands of streams cheap.
STREAM_FLUSH_INTERVAL_S = 0.05


def flag(args: Sequence[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in an argument list."""
    for index, word in enumerate(args):
        if word == name and index + 1 < len(args):
            return args[index + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def switch(args: Sequence[str], name: str, default: bool) -> bool:
    """A vLLM boolean flag: ``--name``, ``--no-name`` or ``--name=true|false``."""
    value = default
    for word in args:
        if word == name:
            value = True
        elif word == "--no-" + name[2:]:
            value = False
        elif word.startswith(name + "="):
            value = word.split("=", 1)[1].lower() in ("1", "true", "yes")
    return value


KV_CACHE_DTYPES = ("auto", "fp8", "fp8_e4m3", "fp8_e5m2")


def engine_spec(spec: EngineSpec) -> SimEngineSpec:
    """Translate a pod's engine container into the simulated engine's spec."""
    args = spec.args
    tensor_parallel = flag(args, "--tensor-parallel-size") or flag(args, "--tp")
    max_model_len = flag(args, "--max-model-len") or flag(args, "--context-length")
    max_num_seqs = flag(args, "--max-num-seqs")
    quantization = flag(args, "--quantization")
    kv_cache_dtype = flag(args, "--kv-cache-dtype") or "auto"
    if kv_cache_dtype not in KV_CACHE_DTYPES:
        raise ValueError(f"--kv-cache-dtype {kv_cache_dtype!r} is not one of {', '.join(KV_CACHE_DTYPES)}")
    scheduler_steps = flag(args, "--num-scheduler-steps")
    return SimEngineSpec(
        model=spec.model,
        gpu=catalog_sku(spec.gpu_product) if spec.gpu_product else DEFAULT_SKU,
        gpus=int(tensor_parallel) if tensor_parallel else max(1, spec.gpus),
        served_model_name=flag(args, "--served-model-name"),
        max_model_len=int(max_model_len) if max_model_len else None,
        max_num_seqs=int(max_num_seqs) if max_num_seqs else 256,
        quantization="fp8" if quantization == "fp8" else None,
        kv_cache_dtype=kv_cache_dtype,
        enable_chunked_prefill=switch(args, "--enable-chunked-prefill", True),
        async_scheduling=switch(args, "--async-scheduling", False),
        num_scheduler_steps=int(scheduler_steps) if scheduler_steps else 1,
        enable_expert_parallel=switch(args, "--enable-expert-parallel", False),
        stream_flush_interval_s=STREAM_FLUSH_INTERVAL_S,
        enable_prompt_tokens_details="--enable-prompt-tokens-details" in args,
    )


class SimulatedEngineLauncher:
    """An :class:`~infleet.sim.engine_launcher.EngineLauncher` running simulated vLLM engines in-process."""

    def __init__(self, fallback: EngineLauncher, host: EngineHost | None = None) -> None:
        self._host = host or EngineHost(catalog=load_catalog(), tune_gc=True)
        self._fallback = fallback
        self._running: dict[str, EngineAddress] = {}

    async def start(self, spec: EngineSpec) -> EngineEndpoint:
        try:
            translated = engine_spec(spec)
            address = await self._host.start(translated, port=spec.port, host=spec.host)
        except (CatalogError, ModelDoesNotFitError, ValueError) as exc:
            log.info("pod %s/%s: %s; serving it with the minimal responder", spec.namespace, spec.pod, exc)
            return await self._fallback.start(spec)
        self._running[spec.uid] = address
        return EngineEndpoint(address.host, address.port)

    async def stop(self, uid: str) -> None:
        address = self._running.pop(uid, None)
        if address is None:
            await self._fallback.stop(uid)
            return
        await self._host.stop(address)

    async def close(self) -> None:
        self._running.clear()
        await self._host.close()
        await self._fallback.close()
