"""SPDY/3.1 framing and the port-forward server behind ``kubectl port-forward``'s WebSocket tunnel."""

from __future__ import annotations

import asyncio
import zlib

import pytest

from infleet.sim.spdy_frames import (
    HEADER_DICTIONARY,
    Data,
    Ping,
    SpdyDecoder,
    SpdyEncoder,
    SpdyProtocolError,
    SynStream,
)
from infleet.sim.spdy_port_forward import PortForwardError, SpdyPortForward
from tests.sim.conftest import eventually


def test_header_dictionary_is_the_one_peers_check() -> None:
    # Go's zlib reader refuses a stream primed with any other dictionary (FDICT carries its Adler-32).
    assert len(HEADER_DICTIONARY) == 1423
    assert zlib.adler32(HEADER_DICTIONARY) == 0xE3C6A7C2


def test_frames_decode_from_any_split_and_share_one_header_context() -> None:
    client = SpdyEncoder()
    wire = (
        client.syn_stream(1, {"streamtype": ["error"], "port": ["8000"], "requestid": ["0"]})
        + client.syn_stream(3, {"streamtype": ["data"], "port": ["8000"], "requestid": ["0"]})
        + client.data(3, b"GET / HTTP/1.1\r\n\r\n", fin=True)
        + client.ping(7)
    )
    decoder = SpdyDecoder()
    frames = [frame for index in range(len(wire)) for frame in decoder.feed(wire[index : index + 1])]
    assert frames == [
        SynStream(1, {"streamtype": ["error"], "port": ["8000"], "requestid": ["0"]}),
        SynStream(3, {"streamtype": ["data"], "port": ["8000"], "requestid": ["0"]}),
        Data(3, b"GET / HTTP/1.1\r\n\r\n", fin=True),
        Ping(7),
    ]


def test_other_versions_are_refused() -> None:
    spdy2 = bytes([0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1])
    with pytest.raises(SpdyProtocolError, match="SPDY version 2"):
        SpdyDecoder().feed(spdy2)


class Peer:
    """The client end of a tunnel: encodes what kubectl sends and decodes what the server answers."""

    def __init__(self) -> None:
        self.encoder, self.decoder = SpdyEncoder(), SpdyDecoder()
        self.frames: list[object] = []

    async def receive(self, data: bytes) -> None:
        self.frames += self.decoder.feed(data)

    def data_on(self, stream: int) -> bytes:
        return b"".join(f.data for f in self.frames if isinstance(f, Data) and f.stream_id == stream)

    def finished(self, stream: int) -> bool:
        return any(isinstance(f, Data) and f.stream_id == stream and f.fin for f in self.frames)


async def echo_server() -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.read())  # answers once the client half-closes
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_connection_is_forwarded_and_half_closed_like_kubectl_expects() -> None:
    server, port = await echo_server()
    peer = Peer()

    async def dial(wanted: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        assert wanted == 8000
        return await asyncio.open_connection("127.0.0.1", port)

    forward = SpdyPortForward(peer.receive, dial, "default/engine-0")
    headers = {"port": ["8000"], "requestid": ["0"]}
    await forward.receive(peer.encoder.syn_stream(1, {"streamtype": ["error"], **headers}))
    await forward.receive(peer.encoder.data(1, b"", fin=True))
    await forward.receive(peer.encoder.syn_stream(3, {"streamtype": ["data"], **headers}))
    await forward.receive(peer.encoder.data(3, b"hello") + peer.encoder.data(3, b"", fin=True))
    await forward.receive(peer.encoder.ping(5))
    await eventually(lambda: peer.finished(3) and peer.finished(1))
    assert peer.data_on(3) == b"echo:hello"
    assert peer.data_on(1) == b""  # no error
    assert Ping(5) in peer.frames
    await forward.close()
    server.close()


async def test_a_refused_port_is_reported_on_the_error_stream() -> None:
    peer = Peer()

    async def dial(wanted: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        raise PortForwardError(f"failed to connect to localhost:{wanted} inside the pod: connection refused")

    forward = SpdyPortForward(peer.receive, dial, "default/engine-0")
    headers = {"port": ["9999"], "requestid": ["4"]}
    await forward.receive(peer.encoder.syn_stream(1, {"streamtype": ["error"], **headers}))
    await forward.receive(peer.encoder.syn_stream(3, {"streamtype": ["data"], **headers}))
    await eventually(lambda: peer.finished(1))
    assert peer.data_on(1).decode() == (
        "error forwarding port 9999 to pod default/engine-0: "
        "failed to connect to localhost:9999 inside the pod: connection refused"
    )
    assert peer.finished(3)
    await forward.close()
