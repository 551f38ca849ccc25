"""Disruption budgets: counts, percentages rounded up, cron windows with a duration, reasons, and the
most restrictive active budget winning."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infleet.api.karpenter_sh.v1.node_pool import Budget, NodePoolSpec
from infleet.compute.disruption.budgets import BudgetLedger, allowed, is_active, node_limit, validate
from infleet.compute.durations import parse_duration


def pool(*budgets: Budget) -> NodePoolSpec:
    template = {"spec": {"nodeClassRef": {"group": "g", "kind": "k", "name": "n"}}}
    return NodePoolSpec.model_validate(
        {"template": template, "disruption": {"budgets": [b.to_wire() for b in budgets]}}
    )


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


NOON = at("2026-03-02T12:00:00")  # a Monday


def test_count_and_percent_round_up_as_karpenter_does() -> None:
    assert node_limit(Budget(nodes="3"), 100) == 3
    assert node_limit(Budget(nodes="10%"), 19) == 2
    assert node_limit(Budget(nodes="10%"), 9) == 1  # a small pool can still shrink
    assert node_limit(Budget(nodes="0%"), 9) == 0
    assert node_limit(Budget(nodes="0"), 9) == 0


def test_default_budget_is_ten_percent_and_disrupting_nodes_count() -> None:
    spec = NodePoolSpec.model_validate(
        {"template": {"spec": {"nodeClassRef": {"group": "g", "kind": "k", "name": "n"}}}}
    )
    assert allowed(spec, "Empty", 30, 0, NOON) == 3
    assert allowed(spec, "Empty", 30, 2, NOON) == 1
    assert allowed(spec, "Empty", 30, 5, NOON) == 0


def test_the_most_restrictive_active_budget_wins() -> None:
    assert allowed(pool(Budget(nodes="50%"), Budget(nodes="2")), "Underutilized", 10, 0, NOON) == 2


def test_schedule_window_is_active_only_for_its_duration() -> None:
    business_hours = Budget(nodes="0", schedule="0 9 * * 1-5", duration="8h")
    assert is_active(business_hours, NOON)
    assert is_active(business_hours, at("2026-03-02T09:00:00"))
    assert not is_active(business_hours, at("2026-03-02T17:00:01"))
    assert not is_active(business_hours, at("2026-03-01T12:00:00"))  # Sunday
    spec = pool(Budget(nodes="100%"), business_hours)
    assert allowed(spec, "Empty", 10, 0, NOON) == 0
    assert allowed(spec, "Empty", 10, 0, at("2026-03-02T20:00:00")) == 10


def test_reasons_filter_which_budgets_apply() -> None:
    spec = pool(Budget(nodes="0", reasons=["Underutilized"]), Budget(nodes="5"))
    assert allowed(spec, "Underutilized", 10, 0, NOON) == 0
    assert allowed(spec, "Empty", 10, 0, NOON) == 5
    # Expiration is no Karpenter reason: only budgets without reasons cap it.
    assert allowed(spec, "Expired", 10, 0, NOON) == 5


def test_ledger_charges_within_a_pass() -> None:
    ledger = BudgetLedger({"gpu": pool(Budget(nodes="2"))}, {"gpu": (10, 1)}, NOON)
    assert ledger.remaining("gpu", "Empty") == 1
    ledger.charge("gpu")
    assert ledger.remaining("gpu", "Empty") == 0
    assert ledger.remaining("missing", "Empty") == 0


def test_validation_names_the_field() -> None:
    assert validate(Budget(nodes="10%")) is None
    assert "nodes" in (validate(Budget(nodes="ten")) or "")
    assert "schedule" in (validate(Budget(nodes="1", schedule="not cron", duration="1h")) or "")
    assert "duration" in (validate(Budget(nodes="1", schedule="0 9 * * *")) or "")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("720h", 2_592_000.0), ("1h30m", 5400.0), ("10s", 10.0), ("500ms", 0.5), ("0", 0.0), ("Never", None)],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_malformed_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="Go's form"):
        parse_duration("10 minutes")
