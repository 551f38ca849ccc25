"""Fault injection for the simulated engine: the spec, its text form, and the per-engine fault state.

Set at start with ``--faults SPEC`` or at run time through ``POST /admin/faults``. SPEC is a
comma-separated list of ``key=value`` items (bare ``hang`` and ``crash`` mean true):

  error_rate=0.1        fraction of inference requests answered with HTTP 500
  spike=0.05@2.0        5% of requests wait an extra 2.0 s before they are queued
  hang                  the engine stops stepping; requests stall, /health still answers 200
  crash                 the engine is dead now: /health and inference answer 503, streams end with an error
  crash_after=30        the engine dies 30 s after the faults are applied
  slow_start=20         /health and inference answer 503 for the first 20 s (model still loading)
  degrade=0.5           the GPU runs at half speed (step times doubled)
  seed=7                seed of the fault dice (default 0)
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class FaultSpecError(ValueError):
    """A fault spec that cannot be parsed; the message names the item and the fix."""


class FaultSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    spike_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    spike_s: float = Field(default=0.0, ge=0.0)
    hang: bool = False
    crash: bool = False
    crash_after_s: float | None = Field(default=None, ge=0.0)
    slow_start_s: float = Field(default=0.0, ge=0.0)
    degrade: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int = 0

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """Parse the ``--faults`` text form (see the module docstring)."""
        values: dict[str, object] = {}
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if key in ("hang", "crash"):
                values[key] = value.strip().lower() not in ("0", "false", "no") if sep else True
            elif key == "spike":
                rate, at, seconds = value.partition("@")
                if not at:
                    raise FaultSpecError(
                        f"fault spec item {item!r}: write spike=RATE@SECONDS, e.g. spike=0.05@2"
                    )
                values["spike_rate"], values["spike_s"] = rate, seconds
            elif key in ("error_rate", "degrade", "seed"):
                values[key] = value
            elif key in ("crash_after", "slow_start"):
                values[f"{key}_s"] = value
            else:
                raise FaultSpecError(
                    f"fault spec item {item!r}: unknown fault {key!r}; use error_rate, spike, hang, crash, "
                    "crash_after, slow_start, degrade or seed"
                )
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise FaultSpecError(f"fault spec {text!r}: field {field}: {first['msg']}") from exc

    def to_text(self) -> str:
        parts: list[str] = []
        if self.error_rate:
            parts.append(f"error_rate={self.error_rate:g}")
        if self.spike_rate:
            parts.append(f"spike={self.spike_rate:g}@{self.spike_s:g}")
        if self.hang:
            parts.append("hang")
        if self.crash:
            parts.append("crash")
        if self.crash_after_s is not None:
            parts.append(f"crash_after={self.crash_after_s:g}")
        if self.slow_start_s:
            parts.append(f"slow_start={self.slow_start_s:g}")
        if self.degrade != 1.0:
            parts.append(f"degrade={self.degrade:g}")
        if self.seed:
            parts.append(f"seed={self.seed}")
        return ",".join(parts)


class FaultState:
    """The faults in force on one engine, with their own seeded dice and the time they were applied."""

    def __init__(self, spec: FaultSpec, applied_at: float) -> None:
        self.spec = spec
        self.applied_at = applied_at
        self._rng = random.Random(spec.seed)

    def starting(self, now: float) -> bool:
        return now < self.applied_at + self.spec.slow_start_s

    def crashed(self, now: float) -> bool:
        after = self.spec.crash_after_s
        return self.spec.crash or (after is not None and now >= self.applied_at + after)

    def roll_error(self) -> bool:
        return self.spec.error_rate > 0 and self._rng.random() < self.spec.error_rate

    def roll_spike(self) -> float:
        if self.spec.spike_rate > 0 and self._rng.random() < self.spec.spike_rate:
            return self.spec.spike_s
        return 0.0
