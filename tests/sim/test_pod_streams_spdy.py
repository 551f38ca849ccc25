"""exec, attach, cp and port-forward over SPDY/3.1, as kubectl before 1.30 (or with WebSockets off) does."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from urllib.parse import urlencode

import httpx
import orjson
import pytest

from infleet.api.kubernetes import DEPLOYMENT
from infleet.sim.spdy_frames import Data, RstStream, SpdyDecoder, SpdyEncoder
from tests.apiserver_harness import Kubectl
from tests.sim.conftest import RunningSim, deployment
from tests.sim.test_pod_streams import (
    attach_and_read,
    engine_deployment,
    forward,
    forward_error,
    interactive_session,
    run,
    running_pod,
    stop,
)

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(180)]


@pytest.fixture(autouse=True)
def spdy_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """kubectl's switches back to SPDY (kubectl/pkg/cmd/util: IsDisabled when set to "false")."""
    monkeypatch.setenv("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")
    monkeypatch.setenv("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")


async def test_kubectl_exec_over_spdy(cluster: RunningSim, kubectl: Kubectl) -> None:
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")

    # kubectl logs the upgrade it sends at -v=8: the request really is SPDY/3.1, not a WebSocket.
    env = await run(kubectl, "exec", "-v=8", pod, "--", "env")
    assert env.returncode == 0, env.stderr
    assert "Upgrade: SPDY/3.1" in env.stderr
    assert "Sec-Websocket" not in env.stderr
    # kubectl 1.36 offers v5.channel.k8s.io first over SPDY too (there it is v4, stdin closed by FIN).
    assert 'status="101 Switching Protocols"' in env.stderr
    assert "X-Stream-Protocol-Version: v5.channel.k8s.io" in env.stderr.split("101 Switching Protocols")[1]
    assert f"HOSTNAME={pod}" in env.stdout.splitlines()

    script = await run(kubectl, "exec", pod, "--", "sh", "-c", "echo $HOSTNAME && cat /nope || exit 3")
    assert script.stdout == f"{pod}\n"
    assert "cat: /nope: No such file or directory" in script.stderr
    assert script.returncode == 3
    assert "command terminated with exit code 3" in script.stderr

    piped = await run(kubectl, "exec", "-i", pod, "--", "cat", stdin="from stdin\nover SPDY\n")
    assert (piped.returncode, piped.stdout) == (0, "from stdin\nover SPDY\n")
    shell = await run(kubectl, "exec", "-i", pod, "--", "sh", stdin="echo one\nexit 4\necho never\n")
    assert (shell.stdout, shell.returncode) == ("one\n", 4)

    missing = await run(kubectl, "exec", "nope", "--", "env")
    assert 'Error from server (NotFound): pods "nope" not found' in missing.stderr


async def test_kubectl_exec_with_a_terminal_over_spdy(cluster: RunningSim, kubectl: Kubectl) -> None:
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")
    command = kubectl.command("exec", "-it", pod, "--", "sh")
    code, output = await asyncio.to_thread(interactive_session, command, [b"echo hi\r", b"exit 5\r"])
    assert f"root@{pod}:/# echo hi\r\nhi\r\nroot@{pod}:/# exit 5\r\n" in output
    assert code == 5


async def test_kubectl_cp_and_attach_over_spdy(cluster: RunningSim, kubectl: Kubectl, tmp_path: Path) -> None:
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")
    target = str(tmp_path / "resolv.conf")
    copied = await run(kubectl, "cp", f"{pod}:/etc/resolv.conf", target)
    assert copied.returncode == 0, copied.stderr
    assert "nameserver" in (tmp_path / "resolv.conf").read_text()

    assert "GET /ready 200" in await attach_and_read(cluster, kubectl, pod, "GET /ready 200")


async def test_kubectl_port_forward_over_spdy(cluster: RunningSim, kubectl: Kubectl) -> None:
    await cluster.client.create(DEPLOYMENT, engine_deployment())
    pod = await running_pod(cluster, "qwen")
    process, port = await forward(kubectl, f"pod/{pod}", 8000, verbosity="-v=8")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(3):  # each request a new connection, so new streams in the same session
                response = await http.get("/v1/models", headers={"Connection": "close"})
                assert response.status_code == 200
                assert response.json()["data"][0]["id"] == "qwen"
            completion = await http.post(
                "/v1/chat/completions",
                json={"model": "qwen", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
            )
            assert completion.json()["usage"]["completion_tokens"] > 0
    finally:
        await stop(process)
    assert process.stderr is not None
    log = (await process.stderr.read()).decode()
    assert "Upgrade: SPDY/3.1" in log
    assert "X-Stream-Protocol-Version: portforward.k8s.io" in log

    assert "ports the simulated container listens on: 8000" in await forward_error(kubectl, pod, 9999)


class RawSpdyClient:
    """A bare SPDY/3.1 client: the upgrade request, then frames, as client-go's SPDY executor sends them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.encoder, self.decoder = SpdyEncoder(), SpdyDecoder()

    @classmethod
    async def upgrade(
        cls, cluster: RunningSim, path: str, protocols: list[str], token: str | None = None
    ) -> tuple[RawSpdyClient, int, dict[str, list[str]], bytes]:
        """Send the upgrade; returns the client, the status, the headers and what followed them."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        host, port = "127.0.0.1", cluster.server.port
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        lines = [
            f"POST /clusters/member{path} HTTP/1.1",
            f"Host: {host}:{port}",
            f"Authorization: Bearer {cluster.server.token if token is None else token}",
            "Connection: Upgrade",
            "Upgrade: SPDY/3.1",
            *(f"X-Stream-Protocol-Version: {protocol}" for protocol in protocols),
            "Content-Length: 0",
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *header_lines = head.decode().split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in filter(None, header_lines):
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        body = b""
        if int(status_line.split()[1]) != 101:
            body = await asyncio.wait_for(reader.read(), 10)
        return cls(reader, writer), int(status_line.split()[1]), headers, body

    async def streams_until_closed(self) -> dict[int, bytes]:
        """Every stream's data until the server closes the connection; a reset stream is an error."""
        received: dict[int, bytes] = {}
        async with asyncio.timeout(30):
            while chunk := await self.reader.read(65536):
                for frame in self.decoder.feed(chunk):
                    assert not isinstance(frame, RstStream), frame
                    if isinstance(frame, Data):
                        received[frame.stream_id] = received.get(frame.stream_id, b"") + frame.data
        self.writer.close()
        return received


def exec_path(pod: str, script: str) -> str:
    query = urlencode([("command", "sh"), ("command", "-c"), ("command", script), ("stdout", "1")])
    return f"/api/v1/namespaces/default/pods/{pod}/exec?{query}&stderr=1"


async def test_older_stream_protocol_versions_are_negotiated(cluster: RunningSim) -> None:
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")
    path = exec_path(pod, "echo out && cat /nope || exit 3")
    for version, json_status in (("v4.channel.k8s.io", True), ("v2.channel.k8s.io", False)):
        offered = ["v9.channel.k8s.io", version]
        client, status, headers, _ = await RawSpdyClient.upgrade(cluster, path, offered)
        assert status == 101
        assert headers["x-stream-protocol-version"] == [version]
        for stream_id, stream_type in ((1, "error"), (3, "stdout"), (5, "stderr")):
            client.writer.write(client.encoder.syn_stream(stream_id, {"streamtype": [stream_type]}))
        received = await client.streams_until_closed()
        assert received[3] == b"out\n"
        assert b"No such file or directory" in received[5]
        if json_status:
            failure = orjson.loads(received[1])
            assert failure["reason"] == "NonZeroExitCode"
            assert failure["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
        else:  # before v4, the error stream carries the message alone
            assert received[1].startswith(b"command terminated with non-zero exit code")
            assert received[1].endswith(b"exit code 3")


async def test_unsupported_stream_protocols_are_refused_with_the_accepted_ones(cluster: RunningSim) -> None:
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")
    path = exec_path(pod, "env")
    _, status, headers, body = await RawSpdyClient.upgrade(cluster, path, ["v9.channel.k8s.io"])
    assert status == 403
    refusal = orjson.loads(body)
    assert refusal["reason"] == "Forbidden"
    assert refusal["message"] == (
        "unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io], server "
        "accepts [v5.channel.k8s.io v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]"
    )
    assert "v4.channel.k8s.io" in headers["x-accepted-stream-protocol-versions"]

    forward_path = f"/api/v1/namespaces/default/pods/{pod}/portforward"
    _, status, headers, body = await RawSpdyClient.upgrade(cluster, forward_path, ["v4.channel.k8s.io"])
    assert status == 403
    assert headers["x-accepted-stream-protocol-versions"] == ["portforward.k8s.io"]

    _, status, _, body = await RawSpdyClient.upgrade(cluster, path, [])
    assert status == 400
    assert "X-Stream-Protocol-Version is required" in orjson.loads(body)["message"]

    # The pod checks come first, as kube-apiserver makes them before the kubelet negotiates.
    _, status, _, body = await RawSpdyClient.upgrade(cluster, exec_path("nope", "env"), ["v4.channel.k8s.io"])
    assert (status, orjson.loads(body)["message"]) == (404, 'pods "nope" not found')
    _, status, _, body = await RawSpdyClient.upgrade(cluster, path, ["v4.channel.k8s.io"], token="wrong")
    assert (status, orjson.loads(body)["reason"]) == (401, "Unauthorized")
    pods = "/api/v1/namespaces/default/pods"
    _, status, _, body = await RawSpdyClient.upgrade(cluster, pods, ["v4.channel.k8s.io"])
    assert status == 400
    assert "served for pods/exec, pods/attach and pods/portforward" in orjson.loads(body)["message"]
