"""``infleet engine-sim`` as a real process: the sync openai client works against it unchanged."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

import infleet


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(infleet.__file__).parent.parent)}
    return subprocess.Popen(
        [sys.executable, "-m", "infleet", "engine-sim", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def engine_url() -> Iterator[str]:
    port = free_port()
    proc = launch("--model", "mistralai/Mistral-7B-Instruct-v0.3", "--gpu", "A10G", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("engine-sim did not become healthy in 30 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sync_openai_client_chat_and_stream(engine_url: str) -> None:
    client = openai.OpenAI(base_url=engine_url + "/v1", api_key="unused", max_retries=0)
    models = client.models.list()
    assert [m.id for m in models.data] == ["mistral-7b-instruct-v0.3"]
    reply = client.chat.completions.create(
        model="mistral-7b-instruct-v0.3", messages=[{"role": "user", "content": "status?"}], max_tokens=6
    )
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 6
    chunks = list(
        client.chat.completions.create(
            model="mistral-7b-instruct-v0.3",
            messages=[{"role": "user", "content": "status?"}],
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == reply.choices[0].message.content


def test_bad_arguments_exit_with_a_message() -> None:
    proc = launch("--model", "llama-3.1-405b-instruct", "--gpu", "T4", "--port", str(free_port()))
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "does not fit" in out
    assert "--gpus" in out
    proc = launch("--model", "qwen3-8b", "--faults", "explode", "--port", str(free_port()))
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "unknown fault" in out
