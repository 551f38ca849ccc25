"""What the fleet contributes to the gateway's configuration, in order of precedence: models declared by
ModelRoutes first, then ModelDeployments no route claimed under their served names, then InferencePools;
and the keys GatewayKeys declare. A name already taken by an earlier source is not routed again, and
``merge_fleet`` puts the file's models and keys before all of these. Pure: ``FleetDiscovery`` calls
``fleet_config`` with its informers' objects, the app calls ``merge_fleet``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infleet.api.catalog import Catalog
from infleet.gateway.config import GatewayConfig, KeyConfig, ModelConfig
from infleet.gateway.declared_routes import KeyVerdict, RouteVerdict, Secrets, declared_keys, declared_routes
from infleet.gateway.fleet_routes import MemberFacts, deployed_models, member_facts, served_models
from infleet.gateway.pool_routes import pool_models
from infleet.scheduling.routing import BUILTIN_PROFILES

log = logging.getLogger("infleet.gateway")

Objects = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class FleetObjects:
    """The API objects the gateway follows; kinds a cluster does not serve stay empty."""

    deployments: Objects = ()
    members: Objects = ()
    routes: Objects = ()
    keys: Objects = ()
    secrets: Objects = ()
    pools: Objects = ()
    pods: Objects = ()
    nodes: Objects = ()


@dataclass(frozen=True)
class FleetConfig:
    models: list[ModelConfig] = field(default_factory=list)
    keys: list[KeyConfig] = field(default_factory=list)
    # What the gateway made of each ModelRoute and GatewayKey, for their status.
    route_verdicts: list[RouteVerdict] = field(default_factory=list)
    key_verdicts: list[KeyVerdict] = field(default_factory=list)


def fleet_config(objects: FleetObjects, catalog: Catalog, local_cluster: str = "") -> FleetConfig:
    members = member_facts(objects.members)
    deployed = deployed_models(objects.deployments, members, catalog, local_cluster)
    secrets = Secrets(objects.secrets)
    declared = declared_routes(objects.routes, deployed, secrets)
    unclaimed = [d for d in deployed if (d.namespace, d.name) not in declared.claimed]
    models: list[ModelConfig] = []
    taken: set[str] = set()
    local = members.get(local_cluster)
    local = local or MemberFacts()
    pools = pool_models(objects.pools, objects.pods, local_cluster, objects.nodes, local.region, local.cloud)
    for model in (*declared.models, *served_models(unclaimed), *pools):
        if model.name in taken:
            continue
        aliases = [a for a in model.aliases if a not in taken]
        taken.update((model.name, *aliases))
        models.append(model if aliases == model.aliases else model.model_copy(update={"aliases": aliases}))
    keys = declared_keys(objects.keys, secrets)
    return FleetConfig(models, keys.keys, declared.verdicts, keys.verdicts)


def merge_fleet(file: GatewayConfig, models: list[ModelConfig], keys: list[KeyConfig]) -> GatewayConfig:
    """The file's configuration plus the fleet's models and keys, the file winning: a fleet model whose
    name the file takes is left out (an alias the file takes is dropped); a key comes after the API's,
    so the file's entry wins when both hold the same secret."""
    if not models and not keys:
        return file
    taken = {name for model in file.models for name in (model.name, *model.aliases)}
    extra = []
    for model in models:
        if model.name in taken:
            continue
        update: dict[str, Any] = {}
        if any(a in taken for a in model.aliases):
            update["aliases"] = [a for a in model.aliases if a not in taken]
        if model.profile not in file.profiles and model.profile not in BUILTIN_PROFILES:
            log.warning("model %s: no routing profile %r; routed with default", model.name, model.profile)
            update["profile"] = "default"
        taken.update((model.name, *update.get("aliases", model.aliases)))
        extra.append(model.model_copy(update=update) if update else model)
    return file.model_copy(update={"models": [*file.models, *extra], "keys": [*keys, *file.keys]})
