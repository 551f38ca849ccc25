"""Routing filters: healthy (unless the model is in panic), serves the model and adapter, region
allow-list, not cooling down, below its concurrency cap. Each keeps or rejects one `Endpoint` for one
`RoutingRequest`.
"""

from __future__ import annotations

from infleet.scheduling.framework import SUCCESS, Code, Status
from infleet.scheduling.routing.endpoint import Endpoint, RoutingRequest


class HealthyFilter:
    """Keeps replicas that pass health checks; every replica while the request's model is in panic."""

    name = "healthy"
    _REJECT = Status(Code.UNSCHEDULABLE, name, "failing health checks")

    def filter(self, request: RoutingRequest, candidate: Endpoint) -> Status:
        return SUCCESS if candidate.healthy or request.panic else self._REJECT


class ServesModelFilter:
    name = "serves-model"

    def filter(self, request: RoutingRequest, candidate: Endpoint) -> Status:
        if request.model not in candidate.models:
            return Status(Code.UNSCHEDULABLE, self.name, f"does not serve model {request.model!r}")
        if request.adapter is not None and request.adapter not in candidate.adapters:
            return Status(Code.UNSCHEDULABLE, self.name, f"has no adapter {request.adapter!r}")
        return SUCCESS


class RegionFilter:
    """Keeps replicas in the allowed regions: the profile's list and the request's, when given. With
    `request_region_only`, also only the request's region (x-infleet-region, else the gateway's own):
    data residency or "nearest region only", never spilling to another region."""

    name = "region-allow"

    def __init__(
        self, regions: frozenset[str] | None, request_region_only: bool = False, home_region: str = ""
    ) -> None:
        self._regions = regions
        self._request_region_only = request_region_only
        self._home = home_region

    def filter(self, request: RoutingRequest, candidate: Endpoint) -> Status:
        for allowed in (self._regions, request.allowed_regions):
            if allowed is not None and candidate.region not in allowed:
                return Status(Code.UNSCHEDULABLE, self.name, f"region {candidate.region!r} not allowed")
        if self._request_region_only:
            own = request.region or self._home
            # A request from nowhere in particular is not restricted: there is no region to keep it in.
            if own and candidate.region != own:
                return Status(Code.UNSCHEDULABLE, self.name, f"region {candidate.region!r} is not {own!r}")
        return SUCCESS


class CooldownFilter:
    name = "not-cooling-down"
    _REJECT = Status(Code.UNSCHEDULABLE, name, "cooling down after failures")

    def filter(self, request: RoutingRequest, candidate: Endpoint) -> Status:
        return SUCCESS if candidate.cooldown_until <= request.now else self._REJECT


class ConcurrencyCapFilter:
    name = "below-concurrency-cap"
    detects_saturation = True  # a capped replica frees a slot when a request ends
    _REJECT = Status(Code.UNSCHEDULABLE, name, "at its concurrency cap")

    def filter(self, request: RoutingRequest, candidate: Endpoint) -> Status:
        cap = candidate.max_concurrency
        return SUCCESS if not cap or candidate.outstanding < cap else self._REJECT
