"""Parsing, model resolution and sizing errors as conditions name the field and the fix."""

from __future__ import annotations

import pytest

from infleet.api.aitoolchain_io.v1.model_deployment import ModelDeploymentSpec
from infleet.api.catalog import load_catalog
from infleet.api.offerings import Offering, provisionable_offerings
from infleet.models.spec_phase import SpecError, parse_spec, resolve_model, size_replica


def test_invalid_fields_are_named_with_their_wire_path() -> None:
    with pytest.raises(SpecError, match=r"spec\.resources\.gpu: Input should be greater than or equal to 1"):
        parse_spec({"spec": {"model": "x", "resources": {"gpu": 0}}})


def test_unknown_model_suggests_catalog_names_or_hf_with_gpus() -> None:
    with pytest.raises(SpecError, match=r"spec\.model: model 'llama-9' is not in the catalog") as caught:
        resolve_model(load_catalog(), ModelDeploymentSpec(model="llama-9"))
    assert caught.value.reason == "UnknownModel"
    assert "hf:org/name together with spec.resources.gpu" in str(caught.value)


def test_engines_that_cannot_span_nodes_are_refused_for_multi_node_models() -> None:
    catalog = load_catalog()
    spec = ModelDeploymentSpec.model_validate(
        {"model": "meta-llama/Llama-3.1-405B-Instruct", "engine": "tgi"}
    )
    h100 = [o for o in provisionable_offerings(catalog) if o.gpu.name == "H100"]
    with pytest.raises(SpecError, match=r"spec\.engine: tgi cannot span nodes") as caught:
        size_replica(spec, catalog.model(spec.model), h100, None)
    assert caught.value.reason == "EngineUnsupported"


def test_uncatalogued_model_takes_the_cheapest_node_type_with_enough_gpus() -> None:
    catalog = load_catalog()
    spec = ModelDeploymentSpec.model_validate({"model": "hf:acme/x", "resources": {"gpu": 2}})
    offers = [
        Offering(catalog.gpu("H100"), 8, "cluster", nodes=1),
        Offering(catalog.gpu("L40S"), 2, "cluster", nodes=1),
        Offering(catalog.gpu("L4"), 1, "cluster", nodes=5),
    ]
    sizing = size_replica(spec, None, offers, None)
    assert (sizing.sku, sizing.gpus_per_replica, sizing.tensor_parallel) == ("L40S", 2, 2)
