"""The routing table: public model name (or alias) -> replicas, routing profile and fallbacks.

`RoutingTable` is an immutable snapshot built from a `GatewayConfig` (the file's models merged with those
fleet discovery found, see `GatewayApp`). Replica state carries over from the previous snapshot, so
reloads and discovery updates drop nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from infleet.gateway.config import ConfigError, GatewayConfig, WakeTarget
from infleet.gateway.replica import Replica
from infleet.gateway.transport import Origin
from infleet.scheduling import Environment, Profile, Registry, RegistryError
from infleet.scheduling.routing import Endpoint, RoutingCapabilities, RoutingRequest


@dataclass(slots=True)
class ModelRoute:
    name: str
    replicas: list[Replica]
    profile: Profile[RoutingRequest, Endpoint]
    fallbacks: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    allowed_regions: frozenset[str] | None = None
    aliases: tuple[str, ...] = ()
    adapters: frozenset[str] = frozenset()  # LoRA adapter names served by some replica of this model
    capabilities: RoutingCapabilities = field(default_factory=RoutingCapabilities)  # what plugins declare
    # ModelDeployments with no ready replica behind a route with no replica: requests wait for a wake.
    wake: tuple[WakeTarget, ...] = ()


@dataclass(slots=True)
class RoutingTable:
    """One consistent view; requests keep the snapshot they started with."""

    routes: dict[str, ModelRoute]  # by public name and by alias
    version: int = 0
    _replicas: list[Replica] = field(default_factory=list)

    def lookup(self, model: str) -> ModelRoute | None:
        return self.routes.get(model)

    def models(self) -> list[ModelRoute]:
        seen: dict[str, ModelRoute] = {}
        for route in self.routes.values():
            seen.setdefault(route.name, route)
        return list(seen.values())

    def replicas(self) -> list[Replica]:
        """Every distinct replica, for the health checker and the scraper."""
        return self._replicas


def build_table(
    config: GatewayConfig,
    registry: Registry,
    env: Environment,
    previous: RoutingTable | None = None,
) -> RoutingTable:
    """Builds a snapshot from configuration, reusing live replica state from `previous`."""
    old = {r.key: r for r in previous.replicas()} if previous else {}
    replicas: dict[tuple[str, str], Replica] = {}
    routes: dict[str, ModelRoute] = {}
    for i, model in enumerate(config.models):
        try:
            profile: Profile[RoutingRequest, Endpoint] = Profile.build(
                config.profile_spec(model.profile), registry, env
            )
        except RegistryError as exc:
            raise ConfigError(f"models[{i}].profile: {exc}") from exc
        members: list[Replica] = []
        for j, backend in enumerate(model.backends):
            upstream = backend.model or model.name
            try:
                api_key = backend.resolve_api_key()
            except ConfigError as exc:
                raise ConfigError(f"models[{i}].backends[{j}].{exc}") from exc
            replica = Replica(
                # Names reach clients (x-infleet-backend, error messages): no address in them.
                name=backend.name or f"{model.name}/{j}",
                origin=Origin.parse(backend.url),
                upstream_model=upstream,
                models=frozenset((model.name, *model.aliases)),
                region=backend.region,
                cluster=backend.cluster,
                gpu=backend.gpu,
                cost=backend.cost,
                max_concurrency=backend.max_concurrency,
                cloud=backend.cloud,
                adapters=frozenset(backend.adapters),
                external=backend.external,
                api_key=api_key,
            )
            existing = replicas.get(replica.key)
            if existing is not None:  # the same engine listed under two public names serves both
                existing.models = existing.models | replica.models
                members.append(existing)
                continue
            if replica.key in old:
                replica.adopt_state(old[replica.key])
            replicas[replica.key] = replica
            members.append(replica)
        route = ModelRoute(
            name=model.name,
            replicas=members,
            profile=profile,
            fallbacks=tuple(model.fallbacks),
            rpm=model.rpm,
            tpm=model.tpm,
            allowed_regions=frozenset(model.allowed_regions) if model.allowed_regions is not None else None,
            aliases=tuple(model.aliases),
            adapters=frozenset(a for b in model.backends for a in b.adapters),
            capabilities=RoutingCapabilities.of(profile),
            wake=tuple(model.wake) if not members else (),
        )
        for name in (model.name, *model.aliases):
            routes[name] = route
        for adapter in route.adapters:
            routes.setdefault(adapter, route)
    version = previous.version + 1 if previous else 1
    return RoutingTable(routes, version, list(replicas.values()))


def fallback_chain(table: RoutingTable, route: ModelRoute) -> Iterable[ModelRoute]:
    """The route, then its fallbacks in order (each model at most once)."""
    seen = {route.name}
    yield route
    for name in route.fallbacks:
        fb = table.lookup(name)
        if fb is not None and fb.name not in seen:
            seen.add(fb.name)
            yield fb
