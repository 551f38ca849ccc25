"""Configuration: validation errors name the field; LiteLLM proxy configs load as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from infleet.gateway.config import ConfigError, load_config, parse_config


def test_minimal_config_gets_defaults() -> None:
    config = parse_config({"models": [{"name": "m", "backends": [{"url": "http://h:8000"}]}]})
    assert config.models[0].profile == "default"
    assert config.retries.attempts == 3
    assert config.health.interval <= 0.5


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"models": []}, "models"),
        ({"models": [{"name": "m", "backends": [{"url": "ftp://x"}]}]}, "models.0.backends.0.url"),
        (
            {"models": [{"name": "m", "backends": [{"url": "http://h", "colour": 1}]}]},
            "models.0.backends.0.colour",
        ),
        (
            {"models": [{"name": "m", "profile": "fastest", "backends": [{"url": "http://h"}]}]},
            "models[0].profile",
        ),
        (
            {"models": [{"name": "m", "fallbacks": ["x"], "backends": [{"url": "http://h"}]}]},
            "models[0].fallbacks",
        ),
        (
            {
                "models": [
                    {"name": "m", "backends": [{"url": "http://h"}]},
                    {"name": "n", "aliases": ["m"], "backends": [{"url": "http://h"}]},
                ]
            },
            "already used",
        ),
        ({"models": [{"name": "m", "backends": [{"url": "http://h"}]}], "keys": [{"name": "k"}]}, "keys.0"),
        (
            {"models": [{"name": "m", "backends": [{"url": "http://h"}]}], "timeouts": {"connect": -1}},
            "timeouts.connect",
        ),
    ],
)
def test_errors_name_the_field(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "gw.yaml")
    assert fragment in str(err.value)
    assert str(err.value).startswith("gw.yaml")


LITELLM = """
model_list:
  - model_name: llama
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
      api_base: http://10.0.0.1:8000/v1
      rpm: 100
  - model_name: llama
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
      api_base: http://10.0.0.2:8000/v1
      rpm: 50
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: https://api.openai.com/v1
      api_key: os.environ/OPENAI_API_KEY
router_settings:
  routing_strategy: least-busy
  num_retries: 4
  allowed_fails: 2
  cooldown_time: 30
  fallbacks: [{"llama": ["gpt"]}]
general_settings:
  master_key: sk-1234
"""


def test_litellm_config_loads_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "litellm.yaml"
    path.write_text(LITELLM)
    config = load_config(path)
    llama, gpt = config.models
    assert [b.url for b in llama.backends] == ["http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"]
    assert llama.backends[0].model == "meta-llama/Llama-3.1-8B-Instruct"
    assert llama.rpm == 150
    assert llama.profile == "least-outstanding"
    assert llama.fallbacks == ["gpt"]
    assert gpt.backends[0].api_key_env == "OPENAI_API_KEY"
    assert gpt.backends[0].external
    assert config.retries.attempts == 5
    assert config.outlier.cooldown == 30
    assert config.master_digest() is not None


def test_litellm_unknown_strategy_is_named() -> None:
    with pytest.raises(ConfigError, match=r"routing_strategy"):
        parse_config({"model_list": [], "router_settings": {"routing_strategy": "psychic"}})


def test_missing_api_key_env_names_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from infleet.gateway.app import GatewayApp

    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    config = parse_config(
        {
            "models": [{"name": "m", "backends": [{"url": "https://x", "api_key_env": "NO_SUCH_KEY"}]}],
            "access_log": {"enabled": False},
        }
    )
    with pytest.raises(ConfigError, match=r"models\[0\]\.backends\[0\]\.api_key_env"):
        GatewayApp(config, background=False)
