"""Profiles: which filters, weighted scorers and picker run, as data (`ProfileSpec`), and the built
`Profile` that runs one scheduling cycle. Called by the gateway per request and by placement per workload.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from infleet.scheduling.framework import (
    Code,
    Decision,
    Environment,
    Evaluation,
    FilterPlugin,
    PickPlugin,
    ReservePlugin,
    ScorePlugin,
    Selection,
    Status,
)
from infleet.scheduling.registry import Registry, RegistryError

C = TypeVar("C")
R = TypeVar("R")


class PluginRef(BaseModel):
    """One plugin in a profile: its registered name, its weight (scorers only) and its arguments."""

    model_config = ConfigDict(extra="forbid")

    name: str
    weight: float = Field(default=1.0, ge=0.0)
    args: dict[str, Any] = Field(default_factory=dict)


class ProfileSpec(BaseModel):
    """A named profile as configuration data."""

    model_config = ConfigDict(extra="forbid")

    name: str = "default"
    filters: list[PluginRef] = Field(default_factory=list)
    scorers: list[PluginRef] = Field(default_factory=list)
    picker: PluginRef = Field(default_factory=lambda: PluginRef(name="max-score"))
    reserve: list[PluginRef] = Field(default_factory=list)


class Profile(Generic[R, C]):
    """Filter -> weighted score -> pick -> reserve, with plugins built from a spec."""

    def __init__(
        self,
        name: str,
        filters: Sequence[FilterPlugin[R, C]],
        scorers: Sequence[tuple[ScorePlugin[R, C], float]],
        picker: PickPlugin[R, C],
        reserve: Sequence[ReservePlugin[R, C]] = (),
    ) -> None:
        self.name = name
        self.filters = list(filters)
        self.scorers = [(s, w) for s, w in scorers if w > 0]
        self.picker = picker
        self.reservers = list(reserve)

    @classmethod
    def build(cls, spec: ProfileSpec, registry: Registry, env: Environment) -> Profile[R, C]:
        where = f"profile {spec.name!r}"
        filters = [registry.build(p.name, p.args, env, f"{where} filters") for p in spec.filters]
        scorers = [(registry.build(p.name, p.args, env, f"{where} scorers"), p.weight) for p in spec.scorers]
        picker = registry.build(spec.picker.name, spec.picker.args, env, f"{where} picker")
        reservers = [registry.build(p.name, p.args, env, f"{where} reserve") for p in spec.reserve]
        # A scorer that also learns from picks (prefix affinity) reserves without being listed twice.
        for scorer, _ in scorers:
            if hasattr(scorer, "reserve") and scorer not in reservers:
                reservers.append(scorer)
        for plugin, kind, method in (
            *((f, "filter", "filter") for f in filters),
            *((s, "scorer", "score") for s, _ in scorers),
            (picker, "picker", "select" if hasattr(picker, "select") else "pick"),
        ):
            if not callable(getattr(plugin, method, None)):
                raise RegistryError(f"{where}: plugin {plugin.name!r} cannot be used as a {kind}")
        return cls(spec.name, filters, scorers, picker, reservers)

    def plugins(self) -> list[Any]:
        """Every distinct plugin of the profile, for callers that read what plugins declare."""
        seen: list[Any] = []
        for plugin in (*self.filters, *(s for s, _ in self.scorers), self.picker, *self.reservers):
            if not any(plugin is known for known in seen):
                seen.append(plugin)
        return seen

    def schedule(self, request: R, candidates: Sequence[C]) -> Decision[C]:
        """Runs one cycle; an empty `ranked` means nothing was feasible (see `Decision.rejected`)."""
        feasible, rejected = self._filter(request, candidates)
        if not feasible:
            return Decision([], rejected)
        totals = [0.0] * len(feasible)
        if len(feasible) > 1:
            for scorer, weight in self.scorers:
                scores = scorer.score(request, feasible)
                for i, value in enumerate(scores):
                    # Clamp rather than trust: a scorer outside [0, 1] would silently outweigh the others.
                    totals[i] += weight * (0.0 if value < 0.0 else 1.0 if value > 1.0 else value)
        return Decision(self.picker.pick(request, feasible, totals), rejected)

    def _filter(self, request: R, candidates: Sequence[C]) -> tuple[list[C], list[tuple[C, Status]]]:
        """The candidates every filter keeps, and each rejected one with the first refusal."""
        feasible: list[C] = []
        rejected: list[tuple[C, Status]] = []
        filters = self.filters
        for candidate in candidates:
            for plugin in filters:
                try:
                    status = plugin.filter(request, candidate)
                except Exception as exc:  # a broken plugin must not fail the request path or the cycle
                    status = Status(Code.ERROR, plugin.name, repr(exc))
                if status.code is not Code.SUCCESS:
                    rejected.append((candidate, status))
                    break
            else:
                feasible.append(candidate)
        return feasible, rejected

    def evaluate(self, request: R, candidates: Sequence[C]) -> Evaluation[C]:
        """Filters and scores without picking, keeping each scorer's part, for callers that explain
        their choices (placement). Routing's `schedule` stays the lean path: no parts, no extra lists."""
        feasible, rejected = self._filter(request, candidates)
        totals = [0.0] * len(feasible)
        parts: dict[str, list[float]] = {}
        if feasible:
            for scorer, weight in self.scorers:
                part = [weight * min(1.0, max(0.0, v)) for v in scorer.score(request, feasible)]
                parts[scorer.name] = part
                totals = [t + p for t, p in zip(totals, part, strict=True)]
        return Evaluation(feasible, rejected, totals, parts)

    def select(self, request: R, candidates: Sequence[C]) -> tuple[Evaluation[C], Selection[C]]:
        """Evaluates, then lets the picker choose a subset; a plain picker's whole order is selected."""
        evaluation = self.evaluate(request, candidates)
        select = getattr(self.picker, "select", None)
        if select is not None:
            selection: Selection[C] = select(request, evaluation)
            return evaluation, selection
        ranked = (
            self.picker.pick(request, evaluation.feasible, evaluation.totals) if evaluation.feasible else []
        )
        return evaluation, Selection(ranked)

    def reserve(self, request: R, candidate: C) -> None:
        for plugin in self.reservers:
            plugin.reserve(request, candidate)
