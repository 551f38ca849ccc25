"""Simulated vLLM-compatible inference engine: OpenAI HTTP surface, vLLM metrics, roofline timing.

Public API for other packages (the simulated kubelet, tests, benchmarks):

- ``EngineSpec``: what to run (model, GPU SKU, GPU count, vLLM options, faults);
- ``EngineHost``: ``await host.start(spec, port=0) -> EngineAddress`` and ``await host.stop(address)``,
  many engines in the caller's event loop;
- ``SimEngine``, ``FaultSpec``: the engine itself and its fault spec, for direct use and inspection.

Two halves: ``model`` (what the engine computes and how long each step takes; pure, no event loop) and
``runtime`` (the model served on the event loop over HTTP). The model never imports the runtime.
"""

from infleet.sim.engine.model.performance import ModelDoesNotFitError, PerformanceModel
from infleet.sim.engine.model.sampling import SamplingParams
from infleet.sim.engine.model.spec import EngineSpec
from infleet.sim.engine.runtime.engine import SimEngine
from infleet.sim.engine.runtime.faults import FaultSpec, FaultSpecError
from infleet.sim.engine.runtime.host import EngineAddress, EngineHost

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
