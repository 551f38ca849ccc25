"""The packaged catalog loads, covers the required SKUs and families, and agrees with published figures."""

from __future__ import annotations

import pytest

from infleet.api.catalog import CatalogError, load_catalog


def test_catalog_has_required_skus_and_models() -> None:
    catalog = load_catalog()
    names = {g.name for g in catalog.gpus}
    assert {"T4", "L4", "A10", "L40S", "A100-40GB", "A100-80GB", "H100", "H200", "B200", "MI300X"} <= names
    assert len(catalog.models) >= 30
    families = {m.family for m in catalog.models}
    assert {"llama", "qwen", "mistral", "mixtral", "phi", "gemma", "deepseek", "gpt-oss"} <= families


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", 131072),
        ("meta-llama/Llama-3.3-70B-Instruct", 327680),
        ("Qwen/Qwen2.5-7B-Instruct", 57344),
        ("Qwen/Qwen3-32B", 262144),
        ("microsoft/phi-4", 204800),
        ("deepseek-ai/DeepSeek-V3-0324", 70272),
        ("google/gemma-3-27b-it", 507904),
        ("openai/gpt-oss-120b", 73728),
    ],
)
def test_kv_bytes_per_token_match_published_values(model: str, expected: int) -> None:
    # Values from the KAITO catalog and the reference table (inference-engines.md §4).
    assert load_catalog().model(model).kv_bytes_per_token() == expected


def test_lookup_by_served_name_and_sku_alias() -> None:
    catalog = load_catalog()
    assert catalog.model("llama-3.1-8b-instruct").name == "meta-llama/Llama-3.1-8B-Instruct"
    assert catalog.gpu("a100").name == "A100-80GB"
    assert catalog.gpu("h100 nvl").memory_gib == 94


def test_unknown_entries_name_the_fix() -> None:
    catalog = load_catalog()
    with pytest.raises(CatalogError, match="not in the catalog"):
        catalog.model("no-such-model")
    with pytest.raises(CatalogError, match="pick one of"):
        catalog.gpu("V100")


def test_moe_and_mla_fields_are_consistent() -> None:
    for model in load_catalog().models:
        if model.active_parameters_b is not None:
            assert model.active_parameters_b < model.parameters_b
        assert model.kv_bytes_per_token() > 0
        assert model.head_dim * model.attention_heads >= model.hidden_size // 2
