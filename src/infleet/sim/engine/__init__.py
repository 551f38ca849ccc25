"""Simulated vLLM-compatible inference engine: OpenAI HTTP surface, vLLM metrics, roofline timing.

Public API for other packages (the simulated kubelet, tests, benchmarks):

- ``EngineSpec``: what to run (model, GPU SKU, GPU count, vLLM options, faults);
- ``EngineHost``: ``await host.start(spec, port=0) -> EngineAddress`` and ``await host.stop(address)``,
  many engines in the caller's event loop;
- ``SimEngine``, ``FaultSpec``: the engine itself and its fault spec, for direct use and inspection.
"""

from infleet.sim.engine.engine import SamplingParams, SimEngine
from infleet.sim.engine.faults import FaultSpec, FaultSpecError
from infleet.sim.engine.host import EngineAddress, EngineHost
from infleet.sim.engine.performance import ModelDoesNotFitError, PerformanceModel
from infleet.sim.engine.spec import EngineSpec

__all__ = [
    "EngineAddress",
    "EngineHost",
    "EngineSpec",
    "FaultSpec",
    "FaultSpecError",
    "ModelDoesNotFitError",
    "PerformanceModel",
    "SamplingParams",
    "SimEngine",
]
