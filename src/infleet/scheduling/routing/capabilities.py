"""What routing plugins declare about themselves, read once per profile so callers ask a capability
instead of knowing plugin names. A plugin declares one by a class attribute set to True:

``needs_prompt_hashes``
    it reads `RoutingRequest.prefix`, so the caller must hash the prompt (prefix-cache affinity).
``detects_saturation``
    a filter whose rejection means "full right now, free again soon", so the caller may queue the
    request instead of failing it (the concurrency cap).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from infleet.scheduling.framework import Status
from infleet.scheduling.profile import Profile


def _declares(plugin: object, capability: str) -> bool:
    return getattr(plugin, capability, False) is True


@dataclass(frozen=True, slots=True)
class RoutingCapabilities:
    """The capabilities of one built routing profile."""

    needs_prompt_hashes: bool = False
    saturation_filters: frozenset[str] = frozenset()  # names of the filters that detect saturation

    @classmethod
    def of(cls, profile: Profile[Any, Any]) -> RoutingCapabilities:
        return cls(
            needs_prompt_hashes=any(_declares(p, "needs_prompt_hashes") for p in profile.plugins()),
            saturation_filters=frozenset(
                f.name for f in profile.filters if _declares(f, "detects_saturation")
            ),
        )

    def saturated(self, rejected: Iterable[tuple[Any, Status]]) -> bool:
        """Whether a saturation filter rejected some candidate, so waiting could make it feasible."""
        filters = self.saturation_filters
        return bool(filters) and any(status.plugin in filters for _, status in rejected)
