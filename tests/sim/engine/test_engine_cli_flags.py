"""``infleet engine-sim`` flags that shape the performance model reach the engine's spec and model."""

from __future__ import annotations

import pytest

from infleet.api.catalog import load_catalog
from infleet.cli.engine_command import spec_from_args
from infleet.cli.main import build_parser
from infleet.sim.engine.model.engine_model import EngineModel
from infleet.sim.engine.model.spec import EngineSpec


def parse(*flags: str) -> EngineSpec:
    return spec_from_args(
        build_parser().parse_args(["engine-sim", "--model", "llama-3.3-70b-instruct", *flags])
    )


def test_kv_cache_dtype_fp8_doubles_the_kv_cache_of_the_engine() -> None:
    catalog = load_catalog()
    specs = [parse("--gpus", "2", "--quantization", "fp8", "--kv-cache-dtype", kv) for kv in ("auto", "fp8")]
    auto, fp8 = (EngineModel.build(s, catalog.model(s.model), catalog.gpu(s.gpu), "e") for s in specs)
    assert specs[1].kv_cache_dtype == "fp8"
    assert fp8.perf.kv_capacity_tokens == pytest.approx(2 * auto.perf.kv_capacity_tokens, rel=0.001)


def test_scheduling_flags_reach_the_spec() -> None:
    spec = parse("--no-enable-chunked-prefill", "--async-scheduling", "--engine-version", "0.6.0")
    assert spec.enable_chunked_prefill is False
    assert spec.async_scheduling is True
    assert spec.version == "0.6.0"


def test_unknown_kv_cache_dtype_is_refused_by_the_cli() -> None:
    with pytest.raises(SystemExit):
        parse("--kv-cache-dtype", "int3")
