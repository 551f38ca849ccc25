"""Sizing against a hand-checked table: GPUs per replica, TP/PP and max model length per (model, SKU)."""

from __future__ import annotations

import pytest

from infleet.api.aitoolchain_io.v1.model_deployment import ModelDeploymentSpec
from infleet.api.catalog import load_catalog
from infleet.api.offerings import Offering, provisionable_offerings
from infleet.api.sizing import SizingError, SizingRequest, request_for, size

# (model, SKU, GPUs per node, expected GPUs per replica, TP, PP, max model length).
# Rule: usable = memory x utilization (0.90; A10 0.82); weights/GPU = size x 1.02 / GPUs; overhead 2.3 GiB;
# KV/GPU = usable - weights/GPU - 2.3; tokens = GPUs x KV/GPU x 2^30 / bytes per token (/ TP for MLA);
# fits when tokens >= min(context, 8192); the smallest fitting GPU count is the cheapest on one SKU;
# max model length = context if it fits, else tokens rounded down to 1024. Worked rows:
# - Llama-3.1-8B on 1 x A100-80GB: 80 x 0.90 = 72.0; 14.96 x 1.02 = 15.26;
#   KV = 72.0 - 15.26 - 2.3 = 54.44 GiB; bytes/token = 2 x 8 KV heads x 128 x 32 layers x 2 = 131,072,
#   so 54.44 x 8192 = 445,979 tokens >= 131,072 context -> 1 GPU, max length 131,072.
# - Qwen2.5-32B on 1 x A100-80GB: 72.0 - 61.03 x 1.02 (62.25) - 2.3 = 7.45 GiB; 2 x 8 x 128 x 64 x 2 = 262,144
#   bytes/token -> 7.45 x 4096 = 30,512 tokens >= 8192 -> 1 GPU, max length 30,512 // 1024 x 1024 = 29,696.
# - Llama-3.3-70B on A100-80GB: 1 GPU leaves 72.0 - 134.05 < 0; 2 GPUs: 72.0 - 67.02 - 2.3 = 2.68 GiB each,
#   5.35 GiB x 2^30 / 327,680 = 17,536 tokens >= 8192 -> TP 2, max length 17,408.
# - DeepSeek-V3 (MLA) on 8 x H100 nodes: 8 GPUs need 641.3 x 1.02 / 8 = 81.8 GiB each > 72 -> two nodes,
#   TP 8 x PP 2: 72.0 - 40.88 - 2.3 = 28.82 GiB x 16 GPUs / (70,272 B x 8 TP copies) = 880,639 tokens.
# - Llama-3.3-70B on 1-GPU H200 nodes: 126.9 usable - 134.05 < 0 on one GPU -> PP 2 over two nodes.
TABLE = [
    ("Qwen/Qwen2-7B", "L4", 1, 1, 1, 1, 90112),  # kv/GPU 4.83 GiB, 90368 tokens
    ("Qwen/Qwen2-7B", "L40S", 2, 1, 1, 1, 131072),  # kv/GPU 26.43 GiB, 494819 tokens
    ("Qwen/Qwen2-7B", "A10", 2, 1, 1, 1, 54272),  # kv/GPU 2.91 GiB (utilization 0.82), 54417 tokens
    ("meta-llama/Llama-3.1-8B-Instruct", "L4", 1, 1, 1, 1, 32768),  # kv/GPU 4.04 GiB, 33102 tokens
    ("meta-llama/Llama-3.1-8B-Instruct", "A100-80GB", 1, 1, 1, 1, 131072),  # kv/GPU 54.44 GiB, 445979 tokens
    ("meta-llama/Llama-3.1-8B-Instruct", "T4", 4, 2, 2, 1, 72704),  # 1 GPU: 14.4 - 15.26 < 0
    ("mistralai/Mistral-7B-Instruct-v0.3", "L40S", 1, 1, 1, 1, 32768),  # kv/GPU 27.13 GiB, 222248 tokens
    ("microsoft/phi-4", "L40S", 1, 1, 1, 1, 16384),  # kv/GPU 13.04 GiB, 68387 tokens
    ("google/gemma-2-27b-it", "L40S", 4, 2, 2, 1, 8192),  # kv/GPU 15.04 GiB, 85726 tokens
    ("Qwen/Qwen2.5-32B-Instruct", "A100-80GB", 1, 1, 1, 1, 29696),  # kv/GPU 7.45 GiB, 30512 tokens
    ("Qwen/Qwen2.5-32B-Instruct", "L40S", 4, 2, 2, 1, 32768),  # kv/GPU 9.77 GiB, 80074 tokens
    ("Qwen/Qwen2.5-32B-Instruct", "A100-40GB", 8, 2, 2, 1, 20480),  # kv/GPU 2.57 GiB, 21091 tokens
    ("Qwen/Qwen3-32B", "H100", 8, 1, 1, 1, 29696),  # kv/GPU 7.46 GiB, 30554 tokens
    ("meta-llama/Llama-3.1-70B-Instruct", "H100", 8, 2, 2, 1, 17408),  # kv/GPU 2.68 GiB, 17536 tokens
    ("meta-llama/Llama-3.3-70B-Instruct", "A100-80GB", 4, 2, 2, 1, 17408),  # kv/GPU 2.68 GiB, 17536 tokens
    ("meta-llama/Llama-3.3-70B-Instruct", "H200", 1, 2, 1, 2, 131072),  # two 1-GPU nodes, 377328 tokens
    ("meta-llama/Llama-3.3-70B-Instruct", "L40S", 4, 4, 4, 1, 96256),  # kv/GPU 7.39 GiB, 96834 tokens
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "H100", 8, 2, 2, 1, 32768),  # kv/GPU 25.34 GiB, 415090 tokens
    ("openai/gpt-oss-120b", "H100", 1, 1, 1, 1, 111616),  # 60.8 GiB resident, kv/GPU 7.68 GiB
    ("openai/gpt-oss-20b", "L4", 1, 1, 1, 1, 131072),  # kv/GPU 6.19 GiB, 135288 tokens
    ("deepseek-ai/DeepSeek-V3-0324", "H100", 8, 16, 8, 2, 163840),  # two nodes, 880639 tokens
    ("deepseek-ai/DeepSeek-V3-0324", "H200", 8, 8, 8, 1, 163840),  # kv/GPU 42.83 GiB, 654498 tokens
    ("meta-llama/Llama-3.1-405B-Instruct", "H100", 8, 16, 8, 2, 131072),  # two nodes, 715861 tokens
    ("meta-llama/Llama-3.1-405B-Instruct", "A100-80GB", 8, 16, 8, 2, 131072),  # two nodes
]


def offering(sku: str, per_node: int) -> Offering:
    return Offering(load_catalog().gpu(sku), per_node, "provisionable", node_selector={})


@pytest.mark.parametrize(("model", "sku", "per_node", "gpus", "tp", "pp", "max_len"), TABLE)
def test_sizing_table(model: str, sku: str, per_node: int, gpus: int, tp: int, pp: int, max_len: int) -> None:
    chosen = size(SizingRequest(load_catalog().model(model)), [offering(sku, per_node)])
    assert (chosen.gpus, chosen.tensor_parallel, chosen.pipeline_parallel) == (gpus, tp, pp)
    assert chosen.max_model_len == max_len
    assert chosen.nodes == pp


def test_cheapest_fit_across_skus_and_cluster_nodes_before_provisionable() -> None:
    catalog = load_catalog()
    model = catalog.model("qwen2-7b")
    assert size(SizingRequest(model), provisionable_offerings(catalog)).offering.gpu.name == "L4"
    present = Offering(catalog.gpu("H100"), 2, "cluster", nodes=3, node_selector={"x": "y"})
    chosen = size(SizingRequest(model, gpus=2), [present, *provisionable_offerings(catalog)])
    assert (chosen.offering.source, chosen.tensor_parallel) == ("cluster", 2)
    assert chosen.cost_per_hour == pytest.approx(2 * 2.49)


def test_cluster_nodes_that_hold_every_replica_win_over_cheaper_ones_that_cannot() -> None:
    catalog = load_catalog()
    model = catalog.model("qwen2-7b")
    a100 = Offering(catalog.gpu("A100-80GB"), 2, "cluster", nodes=2, node_selector={"p": "a100"})
    h100 = Offering(catalog.gpu("H100"), 8, "cluster", nodes=1, node_selector={"p": "h100"})
    # Two 2-GPU A100 nodes hold two replicas of 2 GPUs; the 8-GPU H100 node holds four.
    assert size(SizingRequest(model, gpus=2, replicas=2), [a100, h100]).offering.gpu.name == "A100-80GB"
    assert size(SizingRequest(model, gpus=2, replicas=3), [a100, h100]).offering.gpu.name == "H100"
    assert size(SizingRequest(model, gpus=2, replicas=5), [a100, h100]).offering.gpu.name == "A100-80GB"


def test_previous_choice_is_kept_while_it_fits() -> None:
    catalog = load_catalog()
    model = catalog.model("qwen2-7b")
    cheap, dear = offering("L4", 1), offering("A100-80GB", 1)
    assert (
        size(SizingRequest(model), [cheap, dear], previous=("A100-80GB", 1, 1)).offering.gpu.name
        == "A100-80GB"
    )
    assert size(SizingRequest(model), [cheap, dear], previous=("H200", 1, 1)).offering.gpu.name == "L4"


def test_fixed_gpu_count_that_cannot_fit_names_the_numbers_and_the_fix() -> None:
    catalog = load_catalog()
    request = SizingRequest(catalog.model("meta-llama/Llama-3.3-70B-Instruct"), gpus=1, skus=("H100",))
    with pytest.raises(SizingError) as caught:
        size(request, provisionable_offerings(catalog))
    message = str(caught.value)
    assert "134.0 GiB of weights" in message
    assert "1 x H100 give 72.0 GiB usable per GPU (80 GiB x 0.90)" in message
    assert "set spec.resources.gpu to 2" in message


def test_fp8_quantization_halves_weights_and_max_model_len_is_honoured() -> None:
    catalog = load_catalog()
    model = catalog.model("meta-llama/Llama-3.3-70B-Instruct")
    chosen = size(SizingRequest(model, quantization="fp8"), [offering("H100", 8)])
    assert chosen.gpus == 1  # 131.42 / 2 x 1.02 = 67.0 GiB on one 72 GiB GPU
    with pytest.raises(SizingError, match="maxModelLen=131072"):
        size(SizingRequest(model, gpus=1, quantization="fp8", max_model_len=131072), [offering("H100", 8)])


def test_an_fp8_kv_cache_holds_twice_the_tokens_and_sizes_the_context_from_them() -> None:
    model = load_catalog().model("Qwen/Qwen2.5-32B-Instruct")
    a100 = [offering("A100-80GB", 1)]
    bf16 = size(SizingRequest(model), a100)
    fp8 = size(SizingRequest(model, kv_cache_dtype="fp8_e4m3"), a100)
    assert fp8.kv_bytes_per_token * 2 == bf16.kv_bytes_per_token
    assert abs(fp8.kv_cache_tokens - 2 * bf16.kv_cache_tokens) <= 1  # 7.45 GiB at 131,072 B/token
    # bf16: 30,512 tokens, a 29,696-token context; fp8: 61,024 tokens, the model's whole 32,768.
    assert (bf16.max_model_len, fp8.max_model_len) == (29696, 32768)


def test_a_model_deployments_kv_cache_dtype_reaches_sizing() -> None:
    model = load_catalog().model("Qwen/Qwen2.5-32B-Instruct")
    spec = ModelDeploymentSpec.model_validate({"model": model.name, "engineArgs": {"kvCacheDtype": "fp8"}})
    assert request_for(spec, model).kv_bytes_per_token == model.kv_bytes_per_token(1.0)
    assert (
        request_for(ModelDeploymentSpec.model_validate({"model": model.name}), model).kv_cache_dtype is None
    )
