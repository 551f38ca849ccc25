"""Gateway configuration as pydantic models, loaded from YAML. A file with a top-level `model_list`
is a LiteLLM proxy config and is converted (see `litellm_config`). Errors name the field and the fix.
Called by the CLI at start and by the reloader on SIGHUP or file change.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from infleet.gateway.transport import Origin
from infleet.scheduling import ProfileSpec
from infleet.scheduling.routing import BUILTIN_PROFILES


class ConfigError(ValueError):
    """The configuration file is unreadable or invalid; the message names the field and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendConfig(_Strict):
    """One replica URL (a vLLM-compatible engine) or an external OpenAI-compatible provider."""

    url: str
    name: str | None = None
    model: str | None = None  # name the upstream serves; defaults to the public model name
    region: str = ""
    cloud: str = ""
    cluster: str = ""
    gpu: str = ""
    cost: float = Field(default=0.0, ge=0)
    max_concurrency: int = Field(default=0, ge=0)
    adapters: list[str] = Field(default_factory=list)
    external: bool = False  # no /metrics scraping; health is judged from traffic only
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    api_key_file: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            Origin.parse(value)
        except ValueError as exc:
            raise ValueError(f"{exc}; use for example http://10.0.0.5:8000") from exc
        return value

    def resolve_api_key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            if value is None:
                raise ConfigError(
                    f"api_key_env: environment variable {self.api_key_env!r} is not set; export it"
                )
            return value
        if self.api_key_file:
            try:
                return Path(self.api_key_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"api_key_file: cannot read {self.api_key_file!r}: {exc}") from exc
        return None


class WakeTarget(_Strict):
    """A ModelDeployment the gateway wakes while its model has no ready replica (set by fleet discovery)."""

    namespace: str
    name: str
    # Member clusters holding copies (from a hub's status.clusters); empty: the copy discovery read.
    clusters: list[str] = Field(default_factory=list)


class ModelConfig(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    # Empty only for a model fleet discovery found with no ready replica yet (scaled to zero, starting).
    backends: list[BackendConfig] = Field(default_factory=list)
    # Only while backends is empty: the deployments to wake, so requests wait instead of failing.
    wake: list[WakeTarget] = Field(default_factory=list)
    profile: str = "default"
    fallbacks: list[str] = Field(default_factory=list)
    rpm: int | None = Field(default=None, ge=0)
    tpm: int | None = Field(default=None, ge=0)
    allowed_regions: list[str] | None = None


class TimeoutsConfig(_Strict):
    connect: float = Field(default=5.0, gt=0)
    first_token: float = Field(default=120.0, gt=0)  # until response headers arrive
    total: float = Field(default=600.0, gt=0)


class RetryConfig(_Strict):
    attempts: int = Field(default=3, ge=1)  # including the first try
    budget_ratio: float = Field(default=0.2, ge=0)  # retries allowed per request, on average
    budget_min_per_second: float = Field(default=10.0, ge=0)


class HealthConfig(_Strict):
    enabled: bool = True
    interval: float = Field(default=0.5, gt=0)
    timeout: float = Field(default=0.5, gt=0)
    path: str = "/health"
    unhealthy_after: int = Field(default=1, ge=1)
    healthy_after: int = Field(default=1, ge=1)
    # Percent of a model's replicas that must pass their checks for the checks to be trusted; below it
    # the model routes across all its replicas (see panic). 0 disables; Envoy's default is 50 as well.
    panic_threshold: float = 50.0

    @field_validator("panic_threshold")
    @classmethod
    def _percent(cls, value: float) -> float:
        if not 0 <= value <= 100:
            raise ValueError(
                f"{value:g} is not a percent of a model's replicas; use 0 to 100 (default 50, 0 disables)"
            )
        return value


class ScrapeConfig(_Strict):
    enabled: bool = True
    interval: float = Field(default=0.2, gt=0)
    timeout: float = Field(default=0.5, gt=0)
    stale_after: float = Field(default=2.0, gt=0)


class OutlierConfig(_Strict):
    consecutive_failures: int = Field(default=3, ge=1)
    cooldown: float = Field(default=5.0, ge=0)
    cooldown_on_429: float = Field(default=1.0, ge=0)


class ServerConfig(_Strict):
    """How long a client may take, and how many may be connected: a slow or idle client holds a
    connection, so each phase of a request is bounded."""

    header_timeout: float = Field(
        default=10.0, gt=0
    )  # from connecting (or the previous answer) to the headers
    body_timeout: float = Field(default=60.0, gt=0)  # from the headers to the end of the body
    idle_timeout: float = Field(default=75.0, gt=0)  # a kept-alive connection with no request
    max_connections: int = Field(default=8192, ge=1)  # more are answered 503 with Retry-After and closed


class AdmissionConfig(_Strict):
    queue_size: int = Field(default=1024, ge=0)  # critical and standard requests waiting for capacity
    queue_timeout: float = Field(default=30.0, gt=0)
    queue_threshold: float = Field(default=5.0, ge=0)  # engine waiting queue that counts as saturated
    kv_threshold: float = Field(default=0.9, gt=0, le=1)


class ScaleFromZeroConfig(_Strict):
    """Requests for a model scaled to zero wait, per model, while the gateway wakes its ModelDeployment."""

    queue_size: int = Field(default=256, ge=0)  # held requests per model; more get 503
    timeout: float = Field(default=120.0, gt=0)  # how long one request waits for a ready replica
    rewake_after: float = Field(default=15.0, gt=0)  # a wake older than this with no replica is sent again
    retry_after: int = Field(default=5, ge=1)  # the Retry-After of its 503s, in seconds


class KeyConfig(_Strict):
    """An API key, stored hashed: `hash: sha256:<hex>`, or read from `key_env` / `key_file` and hashed."""

    name: str
    hash: str | None = None
    key_env: str | None = None
    key_file: str | None = None
    models: list[str] | None = None  # None allows every model
    rpm: int | None = Field(default=None, ge=0)
    tpm: int | None = Field(default=None, ge=0)
    max_parallel: int | None = Field(default=None, ge=0)
    # The highest x-infleet-priority this key may ask for; a higher one is lowered to it.
    priority: Literal["critical", "standard", "sheddable"] = "standard"
    # Regions this key's requests may be served in, intersected with each model's; never broken.
    allowed_regions: list[str] | None = None
    home_region: str | None = None  # preferred region when a request sends no x-infleet-region

    @model_validator(mode="after")
    def _one_source(self) -> KeyConfig:
        if sum(x is not None for x in (self.hash, self.key_env, self.key_file)) != 1:
            raise ValueError("set exactly one of hash (sha256:<hex>), key_env or key_file")
        if self.hash is not None and not (self.hash.startswith("sha256:") and len(self.hash) == 71):
            raise ValueError("hash must look like sha256:<64 hex digits>; compute it with sha256sum")
        return self

    def digest(self) -> str:
        if self.hash is not None:
            return self.hash.removeprefix("sha256:").lower()
        if self.key_env is not None:
            plain = os.environ.get(self.key_env)
            if plain is None:
                raise ConfigError(
                    f"keys[{self.name}].key_env: environment variable {self.key_env!r} is not set"
                )
        else:
            assert self.key_file is not None
            try:
                plain = Path(self.key_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"keys[{self.name}].key_file: cannot read {self.key_file!r}: {exc}"
                ) from exc
        return hash_key(plain)


class AccessLogConfig(_Strict):
    enabled: bool = True
    path: str | None = None  # None writes to stderr


class TracingConfig(_Strict):
    otlp_endpoint: str | None = None  # e.g. http://collector:4318/v1/traces; None disables tracing
    service_name: str = "infleet-gateway"


class GatewayConfig(_Strict):
    region: str = ""
    # Empty when fleet discovery supplies the models (``infleet gateway --context``).
    models: list[ModelConfig] = Field(default_factory=list)
    profiles: dict[str, ProfileSpec] = Field(default_factory=dict)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    retries: RetryConfig = Field(default_factory=RetryConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    scrape: ScrapeConfig = Field(default_factory=ScrapeConfig)
    outlier: OutlierConfig = Field(default_factory=OutlierConfig)
    admission: AdmissionConfig = Field(default_factory=AdmissionConfig)
    scale_from_zero: ScaleFromZeroConfig = Field(default_factory=ScaleFromZeroConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    # Answers name replicas by name only; debug adds upstream addresses and errors, for operators.
    debug: bool = False
    keys: list[KeyConfig] = Field(default_factory=list)
    master_key_hash: str | None = None
    master_key_env: str | None = None
    master_key: SecretStr | None = None  # accepted for LiteLLM configs; prefer the hash
    keepalive_interval: float = Field(default=10.0, gt=0)  # SSE comment while an upstream is silent
    access_log: AccessLogConfig = Field(default_factory=AccessLogConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)

    @model_validator(mode="after")
    def _references(self) -> GatewayConfig:
        seen: dict[str, str] = {}
        for i, model in enumerate(self.models):
            for name in (model.name, *model.aliases):
                if name in seen:
                    raise ValueError(f"models[{i}]: name or alias {name!r} is already used by {seen[name]!r}")
                seen[name] = model.name
        for i, model in enumerate(self.models):
            for fb in model.fallbacks:
                if fb not in seen:
                    raise ValueError(
                        f"models[{i}].fallbacks: unknown model {fb!r}; list one of {sorted(seen)}"
                    )
            if model.profile not in self.profiles and model.profile not in BUILTIN_PROFILES:
                known = sorted({*self.profiles, *BUILTIN_PROFILES})
                raise ValueError(
                    f"models[{i}].profile: unknown profile {model.profile!r}; use one of {known}"
                )
        return self

    def master_digest(self) -> str | None:
        if self.master_key_hash:
            return self.master_key_hash.removeprefix("sha256:").lower()
        if self.master_key_env:
            plain = os.environ.get(self.master_key_env)
            if plain is None:
                raise ConfigError(f"master_key_env: environment variable {self.master_key_env!r} is not set")
            return hash_key(plain)
        if self.master_key is not None:
            return hash_key(self.master_key.get_secret_value())
        return None

    def profile_spec(self, name: str) -> ProfileSpec:
        return self.profiles.get(name) or BUILTIN_PROFILES[name]


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def parse_config(data: Any, source: str = "<config>", discovery: bool = False) -> GatewayConfig:
    """A configuration from parsed YAML. Without fleet ``discovery`` it must list every model's backends."""
    config = _validate(data, source)
    if not discovery:
        require_backends(config, source)
    return config


def _validate(data: Any, source: str) -> GatewayConfig:
    from infleet.gateway.litellm_config import convert_litellm

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    if "model_list" in data:
        data = convert_litellm(data, source)
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


def load_config(path: str | Path, discovery: bool = False) -> GatewayConfig:
    """The configuration in ``path``. Without fleet ``discovery`` it must list every model's backends."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
    return parse_config(data, str(path), discovery)


def require_backends(config: GatewayConfig, source: str) -> None:
    """A gateway that discovers nothing needs its models, and their backends, written out."""
    if not config.models:
        raise ConfigError(
            f"{source}: models: list at least one model with its backends, "
            "or run with --context to discover the fleet's models"
        )
    for i, model in enumerate(config.models):
        if not model.backends:
            raise ConfigError(
                f"{source}: models[{i}].backends: list at least one backend url for {model.name!r}"
            )
