"""Runs schemathesis-generated requests for every operation of an OpenAPI document.

The operations are walked here rather than through schemathesis' pytest plugin, so one test covers a
whole server and reports every failing operation at once, with the number of requests sent.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get("INFLEET_FUZZ_EXAMPLES", "4"))

Check = Callable[[Any, Any], None]  # (case, response) -> raises AssertionError


@dataclass
class FuzzReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(self.statuses.items()))
        return f"{self.requests} requests ({codes})"


def fuzz(
    document: dict[str, Any],
    base_url: str,
    check: Check,
    examples: int = EXAMPLES,
    headers: dict[str, str] | None = None,
) -> FuzzReport:
    """Send ``examples`` generated requests per operation of ``document`` and ``check`` each answer."""
    report = FuzzReport()
    schema = schemathesis.openapi.from_dict(document)
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            report.requests += 1
            report.statuses[response.status_code] += 1
            check(case, response)

        try:
            run()
        except AssertionError as exc:
            report.failures.append(f"{operation.label}: {exc}")
    return report
