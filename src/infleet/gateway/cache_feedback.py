"""Prefix-cache feedback: the cached prompt tokens an engine reports in an answer's usage
(``usage.prompt_tokens_details.cached_tokens``, vLLM under ``--enable-prompt-tokens-details``) settle
what the routing's prefix index believed the replica held (see ``PrefixIndex.settle``). Reads the usage
object the proxy already parsed for token metrics, so no body is parsed twice. Called by the proxy
when a request ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infleet.gateway.metrics import GatewayMetrics
from infleet.scheduling.routing import CacheClaim


def cached_prompt_tokens(usage: Mapping[str, Any]) -> int | None:
    """The reported cached prompt tokens; None when the answer carries no count."""
    details = usage.get("prompt_tokens_details")
    if not isinstance(details, dict):
        return None
    cached = details.get("cached_tokens")
    return cached if isinstance(cached, int) and not isinstance(cached, bool) and cached >= 0 else None


def settle_claim(claim: CacheClaim, usage: Mapping[str, Any], metrics: GatewayMetrics) -> None:
    prompt = usage.get("prompt_tokens")
    if not isinstance(prompt, int) or prompt <= 0:
        return
    verdict = claim.settle(prompt, cached_prompt_tokens(usage))
    if verdict != "unknown":
        metrics.prefix_feedback(verdict)
