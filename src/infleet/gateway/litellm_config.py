"""Converts a LiteLLM proxy config (`model_list`, `router_settings`, `litellm_settings`,
`general_settings`) into the gateway's own configuration dict, so users switch with the file they have.
Called by `config.parse_config` when it sees `model_list`.
"""

from __future__ import annotations

from typing import Any

from infleet.gateway.config import ConfigError

_STRATEGIES = {
    "simple-shuffle": "random",
    "least-busy": "least-outstanding",
    "latency-based-routing": "load",
    "usage-based-routing": "least-outstanding",
    "usage-based-routing-v2": "least-outstanding",
    "cost-based-routing": "cost",
}


def _secret(value: Any, field: str) -> dict[str, str]:
    """LiteLLM writes `os.environ/NAME` for values read from the environment."""
    if value is None:
        return {}
    text = str(value)
    if text.startswith("os.environ/"):
        return {f"{field}_env": text.removeprefix("os.environ/")}
    return {field: text}


def _upstream_model(name: str) -> str:
    # "openai/gpt-4o", "hosted_vllm/org/model": the provider prefix is LiteLLM's, not the upstream's.
    provider, _, rest = name.partition("/")
    return (
        rest
        if rest and provider in {"openai", "hosted_vllm", "vllm", "text-completion-openai", "azure"}
        else name
    )


def convert_litellm(data: dict[str, Any], source: str) -> dict[str, Any]:
    router = data.get("router_settings") or {}
    settings = data.get("litellm_settings") or {}
    general = data.get("general_settings") or {}
    strategy = router.get("routing_strategy", "simple-shuffle")
    if strategy not in _STRATEGIES:
        raise ConfigError(
            f"{source}: router_settings.routing_strategy: unknown {strategy!r};"
            f" use one of {sorted(_STRATEGIES)}"
        )
    models = _models(data.get("model_list") or [], _STRATEGIES[strategy], source)
    out: dict[str, Any] = {"models": list(models.values())}
    for fallbacks in router.get("fallbacks") or settings.get("fallbacks") or []:
        for name, targets in dict(fallbacks).items():
            if name in models:
                models[name]["fallbacks"] = list(targets)
    out.update(_router_settings(router, settings))
    out.update(_secret(general.get("master_key"), "master_key"))
    return out


def _models(model_list: list[Any], profile: str, source: str) -> dict[str, dict[str, Any]]:
    """One model per `model_name`, each `model_list` entry a backend of it."""
    models: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(model_list):
        if not isinstance(entry, dict) or "model_name" not in entry:
            raise ConfigError(f"{source}: model_list[{i}]: each entry needs model_name and litellm_params")
        params = entry.get("litellm_params") or {}
        if "api_base" not in params:
            raise ConfigError(
                f"{source}: model_list[{i}].litellm_params.api_base: required (the upstream URL)"
            )
        name = entry["model_name"]
        model = models.setdefault(name, {"name": name, "backends": [], "profile": profile})
        model["backends"].append(_backend(entry, params, name))
        for limit in ("rpm", "tpm"):  # LiteLLM limits per deployment; here they add up per model
            if params.get(limit) is not None:
                model[limit] = model.get(limit, 0) + int(params[limit])
    return models


def _backend(entry: dict[str, Any], params: dict[str, Any], name: str) -> dict[str, Any]:
    backend: dict[str, Any] = {
        "url": params["api_base"],
        "model": _upstream_model(str(params.get("model", name))),
    }
    backend.update(_secret(params.get("api_key"), "api_key"))
    if params.get("region_name"):
        backend["region"] = params["region_name"]
    if (entry.get("model_info") or {}).get("id"):
        backend["name"] = str(entry["model_info"]["id"])
    backend["external"] = not str(params.get("model", "")).startswith(("hosted_vllm/", "vllm/"))
    return backend


def _router_settings(router: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Retries, the total timeout and cooldowns, from `router_settings` or else `litellm_settings`."""
    out: dict[str, Any] = {}
    retries = router.get("num_retries", settings.get("num_retries"))
    if retries is not None:
        out["retries"] = {"attempts": int(retries) + 1}
    timeout = router.get("timeout", settings.get("request_timeout"))
    if timeout is not None:
        out["timeouts"] = {"total": float(timeout)}
    outlier: dict[str, Any] = {}
    if router.get("allowed_fails") is not None:
        outlier["consecutive_failures"] = int(router["allowed_fails"])
    if router.get("cooldown_time") is not None:
        outlier["cooldown"] = float(router["cooldown_time"])
    if outlier:
        out["outlier"] = outlier
    return out
