"""The name a ModelDeployment is served under: ``spec.servedModelName``, else the catalog model's served
name, else the last part of an uncatalogued ``hf:org/name`` in lower case. The models controller passes it
to the engine; gateways route it (clients send it as ``model``), so both read it here.
"""

from __future__ import annotations

from infleet.api.aitoolchain_io.v1.model_deployment import ModelDeploymentSpec
from infleet.api.catalog import Catalog, CatalogError


def served_model_name(spec: ModelDeploymentSpec, catalog: Catalog) -> str:
    if spec.served_model_name:
        return spec.served_model_name
    try:
        return catalog.model(spec.model.removeprefix("hf:")).served_name
    except CatalogError:
        return spec.model.rsplit("/")[-1].lower()
