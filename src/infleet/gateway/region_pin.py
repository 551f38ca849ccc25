"""Region pins: the regions a request may be served in are its model's ``allowed_regions`` intersected
with its key's. A pin is never broken: when no replica in those regions can answer, the request gets a
503 that names the regions and what was left out, never a silent move. Called by the retry policy per
request (the intersection, two None checks when nothing is pinned) and by the proxy for the answer.
"""

from __future__ import annotations

from infleet.gateway.auth import Principal
from infleet.gateway.routing_table import ModelRoute


def allowed_regions(route: ModelRoute, principal: Principal) -> frozenset[str] | None:
    """None allows every region."""
    key = principal.allowed_regions
    if key is None or principal.admin:
        return route.allowed_regions
    if route.allowed_regions is None:
        return key
    return route.allowed_regions & key


def no_replica_message(route: ModelRoute, principal: Principal) -> str:
    """Why no replica could take the request: with a pin, which regions it allows and what lies outside."""
    allowed = allowed_regions(route, principal)
    if allowed is None:
        return f"no healthy replica can serve {route.name!r} now"
    key_pinned = principal.allowed_regions is not None and not principal.admin
    whose = "this key may use" if key_pinned else f"{route.name} may be served in"
    regions = ", ".join(sorted(allowed)) or "none: the key's and the model's regions do not overlap"
    message = f"no replica of {route.name} in the regions {whose} ({regions}) can take the request now"
    elsewhere = sum(1 for replica in route.replicas if replica.region not in allowed)
    if elsewhere:
        noun = "replica elsewhere is" if elsewhere == 1 else "replicas elsewhere are"
        message += f"; {elsewhere} {noun} not allowed"
    return message
