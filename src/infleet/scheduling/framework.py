"""Plugin contracts of the scheduling framework: typed statuses and the Filter / Score / Pick / Reserve
extension points, generic over the request type R and the candidate type C.

Modelled on the kube-scheduler framework and the Gateway API Inference Extension endpoint picker.
Placement (workload -> cluster) and routing (request -> replica) both implement these protocols.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, cast

R_contra = TypeVar("R_contra", contravariant=True)
C = TypeVar("C")
C_contra = TypeVar("C_contra", contravariant=True)
R = TypeVar("R")
T = TypeVar("T")


class Code(enum.Enum):
    """Outcome of one plugin on one candidate, as in kube-scheduler's framework.Code."""

    SUCCESS = "Success"
    UNSCHEDULABLE = "Unschedulable"  # the candidate does not fit this request; others may
    # Waiting cannot fix it (a label or affinity mismatch, an untolerated taint): only a change to the
    # request or the candidate's labels can, so a placement need not be retried on capacity changes.
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"
    ERROR = "Error"  # the plugin failed; the candidate is left out and the error reported


@dataclass(frozen=True, slots=True)
class Status:
    """Why a plugin kept or rejected a candidate; `plugin` names who decided."""

    code: Code
    plugin: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.code is Code.SUCCESS


SUCCESS = Status(Code.SUCCESS)


@dataclass(slots=True)
class Environment:
    """What plugins may depend on besides their arguments: injected so tests are deterministic."""

    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.monotonic


class CycleState:
    """Values computed once per scheduling cycle and shared by its plugins, as kube-scheduler's
    CycleState: a filter's sizing reused by a scorer, a sorter's min and max. Lives as long as the
    request object that carries it, so nothing leaks between cycles."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[Hashable, object] = {}

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        if key not in self._values:
            self._values[key] = compute()
        return cast(T, self._values[key])


class FilterPlugin(Protocol[R_contra, C_contra]):
    """Keeps or rejects one candidate; returns `SUCCESS` to keep it."""

    name: str

    def filter(self, request: R_contra, candidate: C_contra) -> Status: ...


class ScorePlugin(Protocol[R_contra, C_contra]):
    """Scores every surviving candidate at once, each in [0, 1] (1 is best); weights live in profiles."""

    name: str

    def score(self, request: R_contra, candidates: Sequence[C_contra]) -> Sequence[float]: ...


class PickPlugin(Protocol[R_contra, C]):
    """Orders candidates by preference given their weighted total scores; first is the choice,
    the rest is the fallback order a caller walks on retry."""

    name: str

    def pick(self, request: R_contra, candidates: Sequence[C], scores: Sequence[float]) -> list[C]: ...


class ReservePlugin(Protocol[R_contra, C_contra]):
    """Told which candidate was finally used, so stateful plugins (affinity indexes) learn from it."""

    name: str

    def reserve(self, request: R_contra, candidate: C_contra) -> None: ...


@dataclass(slots=True)
class Decision(Generic[C]):
    """The result of one scheduling cycle: candidates in preference order and why others were left out."""

    ranked: list[C]
    rejected: list[tuple[C, Status]] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return bool(self.ranked)

    def reasons(self) -> dict[str, int]:
        """Rejection counts by plugin and reason, for error messages and metrics."""
        counts: dict[str, int] = {}
        for _, status in self.rejected:
            key = f"{status.plugin}: {status.reason}" if status.reason else status.plugin
            counts[key] = counts.get(key, 0) + 1
        return counts


@dataclass(slots=True)
class Evaluation(Generic[C]):
    """Filtered and scored candidates before picking: totals are weighted sums, `parts` each scorer's
    weighted contribution by plugin name (for explanations)."""

    feasible: list[C]
    rejected: list[tuple[C, Status]]
    totals: list[float]
    parts: dict[str, list[float]] = field(default_factory=dict)


@dataclass(slots=True)
class Selection(Generic[C]):
    """A subset chosen by a selecting picker (pick N), the feasible candidates it left out and why, and
    what is missing when it could not choose as many as asked (empty when fulfilled)."""

    selected: list[C]
    unselected: list[tuple[C, Status]] = field(default_factory=list)
    unfulfilled: str = ""


class SelectPlugin(Protocol[R_contra, C]):
    """A picker that chooses a subset (PickN, PickAll, PickFixed) from a whole evaluation."""

    name: str

    def select(self, request: R_contra, evaluation: Evaluation[C]) -> Selection[C]: ...
