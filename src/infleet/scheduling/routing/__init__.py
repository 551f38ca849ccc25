"""The routing profile of the scheduling framework: request -> model replica.

`build_routing_registry` registers every routing plugin; `BUILTIN_PROFILES` names the strategies
(default load+prefix, round-robin, least-outstanding, random, power-of-two, cost).
"""

from infleet.scheduling.routing.capabilities import RoutingCapabilities
from infleet.scheduling.routing.endpoint import Endpoint, RoutingRequest, SaturationPolicy
from infleet.scheduling.routing.prefill_work import uncached_prompt_bytes
from infleet.scheduling.routing.prefix import CacheClaim, PrefixIndex, prefix_blocks
from infleet.scheduling.routing.profiles import BUILTIN_PROFILES, build_routing_registry

__all__ = [
    "BUILTIN_PROFILES",
    "CacheClaim",
    "Endpoint",
    "PrefixIndex",
    "RoutingCapabilities",
    "RoutingRequest",
    "SaturationPolicy",
    "build_routing_registry",
    "prefix_blocks",
    "uncached_prompt_bytes",
]
