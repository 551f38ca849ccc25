"""Routes and keys declared as API objects (``ModelRoute``, ``GatewayKey``) turned into the gateway's
``ModelConfig``s and ``KeyConfig``s. A route naming ModelDeployments (by name or labels) takes their
discovered backends under its public name and settings, and claims them: plain discovery no longer
routes them under their served name, so a route's region pin cannot be walked around. Secrets are read
here (provider keys, API keys hashed like the file's). Pure: ``fleet_config`` feeds it the API's objects.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr, ValidationError

from infleet.api.gateway_aitoolchain_io.v1alpha1.gateway_key import GatewayKeySpec
from infleet.api.gateway_aitoolchain_io.v1alpha1.model_route import (
    ModelRouteSpec,
    Provider,
    SecretKeySelector,
)
from infleet.gateway.config import BackendConfig, KeyConfig, ModelConfig, hash_key
from infleet.gateway.fleet_routes import DeployedModel

log = logging.getLogger("infleet.gateway")

ObjectKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class Finding:
    """One condition's verdict: its reason and a message naming the field and the fix when not ok."""

    ok: bool
    reason: str
    message: str


@dataclass(frozen=True)
class RouteVerdict:
    """What the gateway made of one ModelRoute; `model` is None when its spec is invalid."""

    namespace: str
    name: str
    generation: int | None
    accepted: Finding
    refs: Finding
    model: ModelConfig | None = None
    deployments: int = 0  # ModelDeployments it resolved


@dataclass(frozen=True)
class KeyVerdict:
    namespace: str
    name: str
    generation: int | None
    accepted: Finding
    refs: Finding


@dataclass(frozen=True)
class DeclaredRoutes:
    models: list[ModelConfig]
    claimed: frozenset[ObjectKey]  # ModelDeployments some route took
    verdicts: list[RouteVerdict] = field(default_factory=list)


@dataclass(frozen=True)
class DeclaredKeys:
    keys: list[KeyConfig]
    verdicts: list[KeyVerdict] = field(default_factory=list)


_ACCEPTED = Finding(True, "Accepted", "")
_RESOLVED = Finding(True, "ResolvedRefs", "every ModelDeployment and Secret it names was found")


class Secrets:
    """The Secrets the gateway can read, by namespace and name; values decoded on demand."""

    def __init__(self, secrets: Iterable[Mapping[str, Any]]) -> None:
        self._data: dict[ObjectKey, Mapping[str, Any]] = {}
        for secret in secrets:
            metadata = secret.get("metadata") or {}
            key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
            self._data[key] = secret

    def has(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self._data

    def value(self, namespace: str, ref: SecretKeySelector) -> str | None:
        secret = self._data.get((namespace, ref.name))
        if secret is None:
            return None
        plain = (secret.get("stringData") or {}).get(ref.key)
        if plain is not None:
            return str(plain).strip()
        encoded = (secret.get("data") or {}).get(ref.key)
        if encoded is None:
            return None
        try:
            return base64.b64decode(encoded, validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            return None


def declared_routes(
    routes: Iterable[Mapping[str, Any]], deployed: list[DeployedModel], secrets: Secrets
) -> DeclaredRoutes:
    """One model per route; the first route (by namespace, name) to take a public name or alias keeps it."""
    models: list[ModelConfig] = []
    verdicts: list[RouteVerdict] = []
    claimed: set[ObjectKey] = set()
    taken: dict[str, ObjectKey] = {}  # public names and aliases -> the route that took them
    for obj in sorted(routes, key=_key):
        namespace, name = _key(obj)
        generation = (obj.get("metadata") or {}).get("generation")
        try:
            spec = ModelRouteSpec.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            log.warning("ModelRoute %s/%s is invalid and not routed: %s", namespace, name, exc)
            invalid = Finding(False, "Invalid", f"spec is invalid, so it is not routed: {_first_error(exc)}")
            verdicts.append(RouteVerdict(namespace, name, generation, invalid, invalid))
            continue
        owner = taken.get(spec.model)
        if owner is not None:
            log.warning("ModelRoute %s/%s: model %r is routed already", namespace, name, spec.model)
            conflict = Finding(
                False,
                "ModelNameTaken",
                f"spec.model {spec.model!r} is routed by ModelRoute {owner[0]}/{owner[1]} already (the first "
                "by namespace/name keeps a name): rename spec.model or delete the other route",
            )
            verdicts.append(RouteVerdict(namespace, name, generation, conflict, _RESOLVED))
            continue
        mine = _selected(spec, namespace, deployed)
        claimed.update((d.namespace, d.name) for d in mine)
        backends = [b for d in mine for b in d.backends]
        problems = _missing_deployments(spec, namespace, mine)
        for i, provider in enumerate(spec.providers or ()):
            backend, problem = _provider(provider, spec, namespace, secrets, i)
            if backend is not None:
                backends.append(backend)
            if problem:
                problems.append(problem)
        aliases = [a for a in spec.aliases or () if a not in taken and a != spec.model]
        dropped = [a for a in spec.aliases or () if a in taken]
        taken.update((n, (namespace, name)) for n in (spec.model, *aliases))
        model = ModelConfig(
            name=spec.model,
            aliases=aliases,
            backends=backends,
            profile=spec.profile,
            fallbacks=list(spec.fallbacks or ()),
            rpm=spec.rpm,
            tpm=spec.tpm,
            allowed_regions=spec.allowed_regions,
            # No ready replica behind the route: wake its deployments (scale from zero).
            wake=[] if backends else [d.wake for d in mine if d.wake is not None],
        )
        models.append(model)
        accepted = _ACCEPTED
        if dropped:
            message = f"spec.aliases {dropped} are routed by other ModelRoutes already and left out"
            accepted = Finding(True, "Accepted", message)
        refs = Finding(False, problems[0][0], "; ".join(m for _, m in problems)) if problems else _RESOLVED
        verdicts.append(RouteVerdict(namespace, name, generation, accepted, refs, model, len(mine)))
    return DeclaredRoutes(models, frozenset(claimed), verdicts)


def _missing_deployments(
    spec: ModelRouteSpec, namespace: str, found: list[DeployedModel]
) -> list[tuple[str, str]]:
    """(reason, message) for each named ModelDeployment that does not exist and an empty selector."""
    have = {(d.namespace, d.name) for d in found}
    problems = []
    for i, ref in enumerate(spec.deployments or ()):
        where = (ref.namespace or namespace, ref.name)
        if where not in have:
            problems.append(
                (
                    "DeploymentNotFound",
                    f"spec.deployments[{i}]: ModelDeployment {where[0]}/{where[1]} does not exist; "
                    "create it or fix the name",
                )
            )
    selector = spec.deployment_selector
    if selector is not None and not any(
        d.namespace == namespace and selector.matches(d.labels) for d in found
    ):
        problems.append(
            (
                "DeploymentNotFound",
                f"spec.deploymentSelector matches no ModelDeployment in namespace {namespace}; "
                "label one or fix the selector",
            )
        )
    return problems


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"spec.{where}: {error['msg']}" if where else str(error["msg"])


def declared_keys(keys: Iterable[Mapping[str, Any]], secrets: Secrets) -> DeclaredKeys:
    """Each GatewayKey whose Secret holds its key, hashed; the plain key is not kept."""
    configs = []
    verdicts = []
    for obj in sorted(keys, key=_key):
        namespace, name = _key(obj)
        generation = (obj.get("metadata") or {}).get("generation")
        try:
            spec = GatewayKeySpec.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            log.warning("GatewayKey %s/%s is invalid and not accepted: %s", namespace, name, exc)
            invalid = Finding(
                False, "Invalid", f"spec is invalid, so the key is refused: {_first_error(exc)}"
            )
            verdicts.append(KeyVerdict(namespace, name, generation, invalid, invalid))
            continue
        ref = spec.secret_ref
        plain = secrets.value(namespace, ref)
        if not plain:
            log.warning(
                "GatewayKey %s/%s: Secret %s has no key %r; create it to enable the key",
                namespace,
                name,
                ref.name,
                ref.key,
            )
            missing = (
                Finding(
                    False,
                    "SecretNotFound",
                    f"spec.secretRef: Secret {namespace}/{ref.name} does not exist or cannot be read; create "
                    f"it with the API key under {ref.key!r}",
                )
                if not secrets.has(namespace, ref.name)
                else Finding(
                    False,
                    "SecretKeyNotFound",
                    f"spec.secretRef: Secret {namespace}/{ref.name} has no key {ref.key!r} (or it is "
                    "empty); add the API key under it",
                )
            )
            verdicts.append(KeyVerdict(namespace, name, generation, _ACCEPTED, missing))
            continue
        verdicts.append(
            KeyVerdict(
                namespace,
                name,
                generation,
                _ACCEPTED,
                Finding(True, "ResolvedRefs", "its Secret holds the key"),
            )
        )
        configs.append(
            KeyConfig(
                name=f"{namespace}/{name}",
                hash=f"sha256:{hash_key(plain)}",
                models=spec.models,
                rpm=spec.rpm,
                tpm=spec.tpm,
                max_parallel=spec.max_parallel,
                priority=spec.priority,
                allowed_regions=spec.allowed_regions,
                home_region=spec.home_region,
            )
        )
    return DeclaredKeys(configs, verdicts)


def _selected(spec: ModelRouteSpec, namespace: str, deployed: list[DeployedModel]) -> list[DeployedModel]:
    named = {(ref.namespace or namespace, ref.name) for ref in spec.deployments or ()}
    selector = spec.deployment_selector
    return [
        d
        for d in deployed
        if (d.namespace, d.name) in named
        or (selector is not None and d.namespace == namespace and selector.matches(d.labels))
    ]


def _provider(
    provider: Provider, spec: ModelRouteSpec, namespace: str, secrets: Secrets, index: int
) -> tuple[BackendConfig | None, tuple[str, str] | None]:
    """The provider's backend, or None and the (reason, message) saying why it is left out."""
    api_key: SecretStr | None = None
    if provider.api_key_secret_ref is not None:
        ref = provider.api_key_secret_ref
        value = secrets.value(namespace, ref)
        if not value:
            log.warning(
                "ModelRoute %s: provider %s: Secret %s has no key %r; the provider is left out until it does",
                spec.model,
                provider.name,
                ref.name,
                ref.key,
            )
            where = f"spec.providers[{index}].apiKeySecretRef: Secret {namespace}/{ref.name}"
            fix = f"the provider's API key under {ref.key!r} (provider {provider.name} is left out till then)"
            if secrets.has(namespace, ref.name):
                reason, message = "SecretKeyNotFound", f"{where} has no key {ref.key!r}; add {fix}"
            else:
                reason, message = "SecretNotFound", f"{where} does not exist; create it with {fix}"
            return None, (reason, message)
        api_key = SecretStr(value)
    try:
        backend = BackendConfig(
            url=provider.url,
            name=provider.name,
            model=provider.model or spec.model,
            region=provider.region or "",
            cost=provider.cost or 0.0,
            max_concurrency=provider.max_concurrency or 0,
            external=True,
            api_key=api_key,
        )
    except ValidationError as exc:
        log.warning("ModelRoute %s: provider %s is left out: %s", spec.model, provider.name, exc)
        message = (
            f"spec.providers[{index}].url: {exc.errors()[0]['msg']}; provider {provider.name} is left out"
        )
        return None, ("InvalidProvider", message)
    return backend, None


def _key(obj: Mapping[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
