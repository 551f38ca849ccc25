"""The official openai client (sync, async, streaming, errors) against `infleet gateway` run as a real
process in front of fake engines, also real processes, on loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

import infleet
from tests.gateway.conftest import free_port

SRC = str(Path(infleet.__file__).resolve().parents[1])
ENGINE = str(Path(__file__).resolve().parents[2] / "benchmarks" / "fake_engine.py")


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.03)
    raise RuntimeError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONPATH": SRC, "GATEWAY_TEST_KEY": "sk-test"}
    try:
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            proc = subprocess.Popen(
                [sys.executable, ENGINE, "--port", str(port), "--model", "m", "--name", f"e{i}"]
            )
            procs.append(proc)
            wait_port(port, proc)
        config = tmp_path_factory.mktemp("gw") / "gateway.yaml"
        backends = "\n".join(f"      - {{url: 'http://127.0.0.1:{p}', model: m}}" for p in ports)
        config.write_text(
            "access_log: {enabled: false}\n"
            "master_key_env: GATEWAY_TEST_KEY\n"
            "models:\n  - name: llama\n    backends:\n" + backends + "\n"
        )
        gw_port = free_port()
        gw = subprocess.Popen(
            [sys.executable, "-m", "infleet", "gateway", "--config", str(config), "--port", str(gw_port)],
            env=env,
        )
        procs.append(gw)
        wait_port(gw_port, gw)
        yield f"http://127.0.0.1:{gw_port}/v1"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


MESSAGES = [{"role": "user", "content": "hello"}]


def test_sync_client_chat_completions_and_models(gateway_url: str) -> None:
    client = openai.OpenAI(base_url=gateway_url, api_key="sk-test", max_retries=0)
    reply = client.chat.completions.create(model="llama", messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.choices[0].message.content
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 5
    raw = client.chat.completions.with_raw_response.create(model="llama", messages=MESSAGES)  # type: ignore[arg-type]
    assert float(raw.headers["x-infleet-overhead-ms"]) < 100
    assert [m.id for m in client.models.list()] == ["llama"]
    completion = client.completions.create(model="llama", prompt="hi")
    assert completion.choices[0].text
    embedding = client.embeddings.create(model="llama", input="hi")
    assert embedding.data[0].embedding == [0.1, 0.2]


def test_sync_streaming(gateway_url: str) -> None:
    client = openai.OpenAI(base_url=gateway_url, api_key="sk-test", max_retries=0)
    stream = client.chat.completions.create(
        model="llama",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Hello from")
    assert chunks[-1].usage is not None


async def test_async_client_and_streaming(gateway_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=gateway_url, api_key="sk-test", max_retries=0)
    reply = await client.chat.completions.create(model="llama", messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.choices[0].finish_reason == "stop"
    stream = await client.chat.completions.create(model="llama", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    pieces = [c.choices[0].delta.content async for c in stream if c.choices]
    assert len(pieces) > 3
    await client.close()


def test_errors_surface_as_openai_exceptions(gateway_url: str) -> None:
    client = openai.OpenAI(base_url=gateway_url, api_key="sk-test", max_retries=0)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=MESSAGES)  # type: ignore[arg-type]
    assert "llama" in str(missing.value)
    wrong_key = openai.OpenAI(base_url=gateway_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong_key.chat.completions.create(model="llama", messages=MESSAGES)  # type: ignore[arg-type]
