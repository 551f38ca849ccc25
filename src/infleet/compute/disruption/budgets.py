"""Disruption budgets (Karpenter's ``spec.disruption.budgets``): per pool and reason, how many nodes may
be disrupting at once. Each budget is a count or a percentage of the pool's nodes, rounded up as
Karpenter and PDBs' maxUnavailable do (10% of 9 nodes is 1, so a small pool can still shrink); active
always or from each cron ``schedule`` firing for ``duration``; for the listed ``reasons`` (all when
none). The most restrictive active budget wins; nodes already disrupting count against it. Cron is
parsed with croniter (schedules in UTC, as Karpenter evaluates them).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from croniter import croniter

from infleet.api.karpenter_sh.v1.node_pool import Budget, NodePoolSpec
from infleet.compute.durations import parse_duration

#: Karpenter's default when a pool lists no budgets.
DEFAULT_BUDGET = Budget(nodes="10%")

EMPTY, UNDERUTILIZED, DRIFTED = "Empty", "Underutilized", "Drifted"
#: Not one of Karpenter's budget reasons: only budgets without ``reasons`` cap it.
EXPIRED = "Expired"


def is_active(budget: Budget, now_wall: float) -> bool:
    """Always, without a schedule; else while the last firing of ``schedule`` is under ``duration`` old."""
    if budget.schedule is None:
        return True
    duration = parse_duration(budget.duration) or 0.0
    # A hair past now, so a schedule firing exactly now counts as its own last firing.
    now = datetime.fromtimestamp(now_wall, UTC) + timedelta(microseconds=1)
    last: datetime = croniter(budget.schedule, now).get_prev(datetime)
    return (now - last).total_seconds() < duration


def node_limit(budget: Budget, pool_nodes: int) -> int:
    text = budget.nodes.strip()
    if text.endswith("%"):
        return math.ceil(float(text[:-1]) / 100.0 * pool_nodes)
    return int(text)


def applies(budget: Budget, reason: str) -> bool:
    return budget.reasons is None or reason in budget.reasons


def allowed(pool: NodePoolSpec, reason: str, pool_nodes: int, disrupting: int, now_wall: float) -> int:
    """How many more of the pool's nodes may start disrupting for ``reason`` now."""
    budgets = (pool.disruption.budgets if pool.disruption else None) or [DEFAULT_BUDGET]
    limits = [
        node_limit(budget, pool_nodes)
        for budget in budgets
        if applies(budget, reason) and is_active(budget, now_wall)
    ]
    if not limits:
        return max(0, pool_nodes - disrupting)
    return max(0, min(limits) - disrupting)


def validate(budget: Budget) -> str | None:
    """What is wrong with a budget, for an event naming the field; None when it is usable."""
    text = budget.nodes.strip()
    if not (text.rstrip("%").isdigit()):
        return f"budgets[].nodes {budget.nodes!r}: use a count such as 2 or a percentage such as 10%"
    if budget.schedule is not None and not croniter.is_valid(budget.schedule):
        return (
            f"budgets[].schedule {budget.schedule!r}: use a five-field cron expression such as '0 9 * * 1-5'"
        )
    if budget.schedule is not None and budget.duration is None:
        return "budgets[].duration: a budget with a schedule needs a duration such as 8h"
    return None


class BudgetLedger:
    """The allowance of each pool and reason for one pass, charged as commands are built."""

    def __init__(
        self, pools: dict[str, NodePoolSpec], counts: dict[str, tuple[int, int]], now_wall: float
    ) -> None:
        #: pool -> (nodes in the pool, nodes already disrupting)
        self.pools = pools
        self.counts = counts
        self.now_wall = now_wall
        self._charged: dict[str, int] = {}

    def remaining(self, pool_name: str, reason: str) -> int:
        pool = self.pools.get(pool_name)
        if pool is None:
            return 0
        total, disrupting = self.counts.get(pool_name, (0, 0))
        return allowed(pool, reason, total, disrupting + self._charged.get(pool_name, 0), self.now_wall)

    def charge(self, pool_name: str, nodes: int = 1) -> None:
        self._charged[pool_name] = self._charged.get(pool_name, 0) + nodes

    def fork(self) -> BudgetLedger:
        """A copy to try charges on without spending this ledger's allowance."""
        copied = BudgetLedger(self.pools, self.counts, self.now_wall)
        copied._charged = dict(self._charged)
        return copied
