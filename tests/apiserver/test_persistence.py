"""Durability: a restarted server keeps every object, and SIGKILL after a 2xx loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from infleet.apiserver.http_protocol import CoalescingTransport
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from tests.apiserver_harness import ServerThread, subprocess_env

CM = "/api/v1/namespaces/default/configmaps"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    kubeconfig = data_dir / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infleet",
            "apiserver",
            "--no-tls",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--kubeconfig-out",
            str(kubeconfig),
            "--cluster",
            "hub",
        ],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not kubeconfig.exists():
        assert process.poll() is None, "apiserver exited during start-up"
        assert time.monotonic() < deadline, "apiserver did not start"
        time.sleep(0.05)
    return process


def test_restart_keeps_objects_and_resource_versions_keep_increasing(tmp_path: Path) -> None:
    with (
        ServerThread(tmp_path, clusters=("hub", "member")) as server,
        httpx.Client(base_url=server.url("hub")) as api,
    ):
        created = api.post(
            CM,
            json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}, "data": {"k": "v"}},
        ).json()
        last_rv = int(api.get(CM).json()["metadata"]["resourceVersion"])
        kubeconfig = yaml.safe_load(server.kubeconfig.read_text())
    port = int(kubeconfig["clusters"][0]["cluster"]["server"].split(":")[2].split("/")[0])
    with (
        ServerThread(tmp_path, clusters=("hub", "member"), port=port) as again,
        httpx.Client(base_url=again.url("hub")) as api,
    ):
        kept = api.get(f"{CM}/keep").json()
        assert kept["metadata"]["uid"] == created["metadata"]["uid"]
        assert kept["data"] == {"k": "v"}
        updated = api.put(f"{CM}/keep", json={**kept, "data": {"k": "w"}}).json()
        assert int(updated["metadata"]["resourceVersion"]) > last_rv
        member = httpx.get(again.url("member") + CM).json()
        assert "keep" not in {item["metadata"]["name"] for item in member["items"]}


@pytest.mark.timeout(90)
def test_sigkill_after_a_successful_write_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    process = start_process(tmp_path, port)
    acknowledged: list[str] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/clusters/hub", timeout=10) as api:
            for index in range(200):
                name = f"cm-{index}"
                response = api.post(
                    CM, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
                )
                assert response.status_code == 201
                acknowledged.append(name)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    process = start_process(tmp_path, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/clusters/hub", timeout=10) as api:
            stored = {item["metadata"]["name"] for item in api.get(CM).json()["items"]}
        assert set(acknowledged) <= stored
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0


def test_sigterm_stops_the_server_with_open_watches(tmp_path: Path) -> None:
    port = free_port()
    process = start_process(tmp_path, port)
    with (
        httpx.Client(base_url=f"http://127.0.0.1:{port}/clusters/hub", timeout=30) as api,
        api.stream("GET", CM, params={"watch": "true"}) as response,
    ):
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        list(response.iter_lines())
    assert process.wait(10) == 0
    assert time.monotonic() - started < 8


async def test_listening_socket_is_tcp_so_responses_are_not_delayed(tmp_path: Path) -> None:
    """asyncio sets TCP_NODELAY only on TCP-proto sockets; without it each response stalls ~40 ms."""
    server = EmbeddedAPIServer(APIServerSettings(port=0, data_dir=tmp_path, tls=False))
    await server.start()
    try:
        assert server._server is not None
        listening = server._server.servers[0].sockets[0]
        assert listening.proto == socket.IPPROTO_TCP
        async with httpx.AsyncClient(base_url=server.cluster_url("hub")) as client:
            response = await client.get("/api/v1/namespaces/default")
            assert response.status_code == 200
    finally:
        await server.stop()


async def test_coalescing_transport_joins_writes_of_one_iteration() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.writes.append(data)

        def is_closing(self) -> bool:
            return False

        def get_write_buffer_size(self) -> int:
            return 0

    recorder = Recorder()
    transport = CoalescingTransport(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert recorder.writes == []
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
    await asyncio.sleep(0)
    assert recorder.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"later")
    await asyncio.sleep(0)
    assert recorder.writes[-1] == b"later"
