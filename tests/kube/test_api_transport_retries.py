"""A request whose connection the server closes under it: a GET is sent once more on a new connection,
as client-go does (aiohttp resends idempotent requests once, RFC 9112 section 9.3.1); a write is not,
since the server may have carried it out. This is why the embedded API server must not close idle
connections sooner than clients' pools keep them (docs/apiserver.md, "Connections")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from lightkube.config.kubeconfig import KubeConfig

from infleet.kube.api_transport import APIConnectionError, APITransport

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


@dataclass
class ClosingServer:
    """Closes the first `drop` connections once a request has arrived on them, answers the others."""

    drop: int
    connections: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        dropping = self.connections <= self.drop
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                if dropping:
                    return
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[ClosingServer]:
    closing = ClosingServer(drop=1)
    listening = await asyncio.start_server(closing.handle, "127.0.0.1", 0)
    closing.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield closing


def transport(port: int) -> APITransport:
    config = KubeConfig.from_dict(
        {
            "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )
    context = config.get()
    assert context is not None
    return APITransport(context)


async def test_a_get_whose_connection_is_closed_under_it_is_sent_again(server: ClosingServer) -> None:
    api = transport(server.port)
    try:
        assert await api.request("GET", "/api/v1/namespaces") == (200, b"{}")
    finally:
        await api.close()
    assert server.connections == 2


async def test_a_write_whose_connection_is_closed_under_it_is_not_resent(server: ClosingServer) -> None:
    api = transport(server.port)
    try:
        with pytest.raises(APIConnectionError, match=r"PATCH .*ServerDisconnected"):
            await api.request("PATCH", "/api/v1/namespaces/a", content=b"{}")
    finally:
        await api.close()
    assert server.connections == 1


async def test_a_get_is_sent_again_only_once(server: ClosingServer) -> None:
    server.drop = 2
    api = transport(server.port)
    try:
        with pytest.raises(APIConnectionError, match="GET"):
            await api.request("GET", "/api/v1/namespaces")
    finally:
        await api.close()
    assert server.connections == 2
