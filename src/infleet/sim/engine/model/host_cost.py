"""The engine's CPU work per step: scheduling, input preparation, sampling bookkeeping, detokenization and
output processing.

It grows with the number of sequences in the step and does not shrink with tensor parallelism (one
process schedules for all GPUs). It is what makes small models on big GPUs host-bound: a step whose
GPU work takes 5 ms can spend as long again in Python. How much of it the GPU waits for depends on the
scheduling mode: synchronous (vLLM's default) adds it to every step; async scheduling (vLLM
``--async-scheduling``, TensorRT-LLM's overlap scheduler) prepares the next step while the GPU runs the
current one, so only the excess over the GPU time shows; multi-step scheduling (vLLM V0
``--num-scheduler-steps``) pays the scheduling share once per N steps.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HostCost:
    """CPU seconds per step: a fixed part and a part per scheduled sequence."""

    step_s: float = 0.0006
    per_seq_s: float = 0.000012
    schedulable_share: float = 0.7  # what multi-step amortizes: scheduling and output processing
    overlap_floor_s: float = 0.0001  # what async scheduling still pays per step (handoff, sync)

    def cpu_time(self, seqs: int) -> float:
        return self.step_s + self.per_seq_s * max(seqs, 1)


@dataclass(frozen=True)
class Scheduling:
    """The engine's scheduling mode: async (overlapped with the GPU) and/or multi-step."""

    async_scheduling: bool = False
    steps: int = 1

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"num_scheduler_steps must be >= 1, got {self.steps}")


def step_with_host(
    gpu_s: float, seqs: int, host: HostCost, mode: Scheduling, cpu_slowdown: float = 1.0
) -> float:
    """Wall time of a step whose GPU work takes ``gpu_s`` with ``seqs`` sequences scheduled, on a host
    whose CPU is ``cpu_slowdown`` times slower than the reference (an H100 node's)."""
    cpu = host.cpu_time(seqs) * cpu_slowdown
    if mode.steps > 1:
        cpu *= (1.0 - host.schedulable_share) + host.schedulable_share / mode.steps
    if mode.async_scheduling:
        return max(gpu_s, cpu) + host.overlap_floor_s
    return gpu_s + cpu


#: Host costs per engine generation. vLLM V0 (0.5, 0.6) did its per-sequence work in Python objects
#: per sequence group; 0.6 moved output processing off the critical path. V1 (0.8 on) schedules in a
#: separate engine-core process with detokenization in the front end. TensorRT-LLM runs in C++.
HOST_COSTS: dict[str, HostCost] = {
    "vllm-0.5": HostCost(step_s=0.0025, per_seq_s=0.000200, schedulable_share=0.7),
    "vllm-0.6": HostCost(step_s=0.0020, per_seq_s=0.000150, schedulable_share=0.75),
    "vllm-v1": HostCost(step_s=0.0006, per_seq_s=0.000012, schedulable_share=0.7),
    "tensorrt-llm": HostCost(step_s=0.0002, per_seq_s=0.000002, schedulable_share=0.7),
}
