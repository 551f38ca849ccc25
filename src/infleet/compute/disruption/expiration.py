"""Expiration: a NodeClaim older than its ``expireAfter`` (default 720h) is deleted so nodes are renewed
(new images, patched kernels); its pods are rescheduled and the provisioner makes room for any that
do not fit. Only budgets without ``reasons`` cap it, and the serving guard still applies. Infleet's
method, after Drift: Karpenter v1 expires claims outside the disruption loop, forcefully.
"""

from __future__ import annotations

from infleet.compute.disruption.budgets import EXPIRED
from infleet.compute.disruption.command import Command
from infleet.compute.disruption.pass_context import PassContext
from infleet.compute.durations import parse_duration


def expiration(ctx: PassContext) -> Command | None:
    command = Command("Expiration", EXPIRED, message="older than expireAfter")
    for state in ctx.screened.candidates:
        expire_after = parse_duration((state.claim.get("spec") or {}).get("expireAfter"))
        created = state.created_at()
        if expire_after is None or created is None or ctx.now_wall - created < expire_after:
            continue
        if ctx.guard(state, EXPIRED):
            ctx.book(state)
            command.delete.append(state)
    return None if command.empty else command
