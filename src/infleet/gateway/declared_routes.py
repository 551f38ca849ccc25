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
from dataclasses import dataclass
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
class DeclaredRoutes:
    models: list[ModelConfig]
    claimed: frozenset[ObjectKey]  # ModelDeployments some route took


class Secrets:
    """The Secrets the gateway can read, by namespace and name; values decoded on demand."""

    def __init__(self, secrets: Iterable[Mapping[str, Any]]) -> None:
        self._data: dict[ObjectKey, Mapping[str, Any]] = {}
        for secret in secrets:
            metadata = secret.get("metadata") or {}
            key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
            self._data[key] = secret

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
    claimed: set[ObjectKey] = set()
    taken: set[str] = set()
    for obj in sorted(routes, key=_key):
        namespace, name = _key(obj)
        try:
            spec = ModelRouteSpec.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            log.warning("ModelRoute %s/%s is invalid and not routed: %s", namespace, name, exc)
            continue
        if spec.model in taken:
            log.warning("ModelRoute %s/%s: model %r is routed already", namespace, name, spec.model)
            continue
        mine = _selected(spec, namespace, deployed)
        claimed.update((d.namespace, d.name) for d in mine)
        backends = [b for d in mine for b in d.backends]
        backends += [b for p in spec.providers or () if (b := _provider(p, spec, namespace, secrets))]
        aliases = [a for a in spec.aliases or () if a not in taken and a != spec.model]
        taken.update((spec.model, *aliases))
        models.append(
            ModelConfig(
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
        )
    return DeclaredRoutes(models, frozenset(claimed))


def declared_keys(keys: Iterable[Mapping[str, Any]], secrets: Secrets) -> list[KeyConfig]:
    """Each GatewayKey whose Secret holds its key, hashed; the plain key is not kept."""
    configs = []
    for obj in sorted(keys, key=_key):
        namespace, name = _key(obj)
        try:
            spec = GatewayKeySpec.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            log.warning("GatewayKey %s/%s is invalid and not accepted: %s", namespace, name, exc)
            continue
        plain = secrets.value(namespace, spec.secret_ref)
        if not plain:
            log.warning(
                "GatewayKey %s/%s: Secret %s has no key %r; create it to enable the key",
                namespace,
                name,
                spec.secret_ref.name,
                spec.secret_ref.key,
            )
            continue
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
    return configs


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
    provider: Provider, spec: ModelRouteSpec, namespace: str, secrets: Secrets
) -> BackendConfig | None:
    api_key: SecretStr | None = None
    if provider.api_key_secret_ref is not None:
        value = secrets.value(namespace, provider.api_key_secret_ref)
        if not value:
            log.warning(
                "ModelRoute %s: provider %s: Secret %s has no key %r; the provider is left out until it does",
                spec.model,
                provider.name,
                provider.api_key_secret_ref.name,
                provider.api_key_secret_ref.key,
            )
            return None
        api_key = SecretStr(value)
    try:
        return BackendConfig(
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
        return None


def _key(obj: Mapping[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
