"""The simulated kubelet's streaming endpoints: ``/exec``, ``/attach`` and ``/portForward`` over WebSocket.

The API server relays ``pods/exec``, ``pods/attach`` and ``pods/portforward`` here (the real kubelet's
paths). Exec and attach speak the channel protocols ``v5.channel.k8s.io`` and ``v4.channel.k8s.io``:
every binary message starts with its channel (0 stdin, 1 stdout, 2 stderr, 3 the closing ``Status``,
4 terminal resize; in v5, 255 closes a channel, as the client does for stdin). Port-forward speaks
SPDY/3.1 inside the WebSocket (``SPDY/3.1+portforward.k8s.io``), what kubectl uses since 1.30, or the
channel protocol (``v4.channel.k8s.io``) that other clients use. Exec and attach also speak
``SPDY/3.1+<version>``: the SPDY/3.1 session of a client that upgraded to SPDY at the API server, relayed
here in WebSocket messages (:mod:`~infleet.sim.spdy_remote_command`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from infleet.api.labels import GPU_RESOURCE
from infleet.sim.channel_port_forward import ChannelPortForward, parse_ports
from infleet.sim.channel_session import STDERR, STDOUT, ChannelSession, StreamSession
from infleet.sim.container_gpus import ContainerGpus
from infleet.sim.container_shell import ContainerShell, ShellIO
from infleet.sim.container_view import ContainerView, ObjectLookup, container_env, container_files
from infleet.sim.pod_logs import LogTail, PodLogs
from infleet.sim.spdy_frames import SpdyProtocolError
from infleet.sim.spdy_port_forward import Dial, PortForwardError, SpdyPortForward
from infleet.sim.spdy_remote_command import SPDY_CHANNEL_PROTOCOLS, SpdyRemoteCommand

log = logging.getLogger(__name__)
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
# exec and attach: the channel protocols, then SPDY sessions the API server relays for older clients.
REMOTE_COMMAND_PROTOCOLS = (*CHANNEL_PROTOCOLS, *SPDY_CHANNEL_PROTOCOLS)
PORT_FORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
# Port-forward's channel protocol; "" is a client that offers no subprotocol, which the kubelet also takes.
CHANNEL_PORT_FORWARD_PROTOCOLS = ("v4.channel.k8s.io", "")


@dataclass(frozen=True)
class PodProcess:
    """What the kubelet runs for one pod now."""

    pod: dict[str, Any]
    uid: str
    node: str
    ip: str
    running: bool
    # container port -> (host, port) where the simulated engine really listens
    ports: dict[int, tuple[str, int]]
    model: str | None
    # the node's nvidia.com/gpu.product and nvidia.com/gpu.memory (MiB) labels
    gpu_product: str = ""
    gpu_memory_mib: int = 0


ProcessLookup = Callable[[str, str], PodProcess | None]


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    """The ``Status`` a kubelet writes on the error channel when a command ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {command}, "
        f"exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


class KubeletStreams:
    """Serves the streaming endpoints of one simulated cluster's kubelet."""

    def __init__(
        self, processes: ProcessLookup, logs: PodLogs, lookup: ObjectLookup, token: str | None = None
    ) -> None:
        self.processes, self.logs, self.lookup, self.token = processes, logs, lookup, token
        self.follow_poll = 0.2

    def routes(self) -> list[BaseRoute]:
        return [
            WebSocketRoute("/exec/{namespace}/{pod}/{container}", self._exec),
            WebSocketRoute("/attach/{namespace}/{pod}/{container}", self._attach),
            WebSocketRoute("/portForward/{namespace}/{pod}", self._port_forward),
        ]

    # -- admission --------------------------------------------------------------------------------

    def _authorized(self, connection: HTTPConnection) -> bool:
        if self.token is None:
            return True
        scheme, _, credential = connection.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(credential.strip(), self.token)

    async def _admit(
        self, websocket: WebSocket, protocols: tuple[str, ...], container: str | None
    ) -> tuple[PodProcess, str] | None:
        """The pod's process and the chosen subprotocol, or None after answering an HTTP error."""
        namespace, name = websocket.path_params["namespace"], websocket.path_params["pod"]
        if not self._authorized(websocket):
            await websocket.send_denial_response(PlainTextResponse("Unauthorized", status_code=401))
            return None
        process = self.processes(namespace, name)
        spec = (process.pod.get("spec") or {}) if process else {}
        containers = [str(c.get("name")) for c in spec.get("containers") or []]
        if process is None or not process.running or (container is not None and container not in containers):
            what = (
                f'container not found ("{container}")'
                if container
                else f"pod {namespace}/{name} is not running"
            )
            await websocket.send_denial_response(PlainTextResponse(what, status_code=404))
            return None
        offered = list(websocket.scope.get("subprotocols") or [])
        chosen = next((p for p in offered if p in protocols), None if offered or "" not in protocols else "")
        if chosen is None:
            message = f"none of the offered protocols {offered} is supported; use one of {list(protocols)}"
            await websocket.send_denial_response(PlainTextResponse(message, status_code=400))
            return None
        return process, chosen

    # -- exec and attach ---------------------------------------------------------------------------

    async def _view(self, process: PodProcess, container_name: str) -> ContainerView:
        pod = process.pod
        container = next(c for c in pod["spec"]["containers"] if c.get("name") == container_name)
        hostname = str((pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"])
        return ContainerView(
            namespace=pod["metadata"]["namespace"],
            pod=hostname,
            container=container_name,
            node=process.node,
            pod_ip=process.ip,
            env=await container_env(pod, container, hostname, self.lookup),
            files=container_files(pod, hostname, process.ip, process.model),
            ports=process.ports,
            working_dir=str(container.get("workingDir") or "/"),
            gpus=ContainerGpus(
                count=_gpu_count(container),
                product=process.gpu_product,
                memory_mib=process.gpu_memory_mib,
                engine_running=bool(process.ports),
                node=process.node,
            ),
        )

    async def _exec(self, websocket: WebSocket) -> None:
        container = websocket.path_params["container"]
        admitted = await self._admit(websocket, REMOTE_COMMAND_PROTOCOLS, container)
        if admitted is None:
            return
        process, protocol = admitted
        query = websocket.query_params
        command = query.getlist("command")
        wants = _wanted_streams(websocket)
        view = await self._view(process, container)
        await websocket.accept(subprotocol=protocol)
        session = _session(websocket, protocol, wants)
        loop = asyncio.get_running_loop()
        reader = loop.create_task(session.read_client())
        stderr = session.writer(STDERR) if wants["stderr"] and not wants["tty"] else session.writer(STDOUT)
        io = ShellIO(session.writer(STDOUT), stderr, session.stdin, wants["tty"])
        shell: asyncio.Task[int] | None = None
        try:
            if not await session.ready():
                await websocket.close(1000)  # as the kubelet: the client never opened its streams
                return
            shell = loop.create_task(ContainerShell(view).run(command, io))
            await asyncio.wait({shell, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not shell.done():
                return  # the client went away while the command ran
            try:
                code = shell.result()
            except (WebSocketDisconnect, RuntimeError):
                raise
            except Exception:
                log.exception("exec %s in pod %s failed", command, process.pod["metadata"]["name"])
                await stderr(b"the simulated container failed to run the command; see the kubelet's log\n")
                code = 126
            await session.finish(exit_status(code, command))
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            if shell is not None:
                shell.cancel()
            reader.cancel()

    async def _attach(self, websocket: WebSocket) -> None:
        container = websocket.path_params["container"]
        admitted = await self._admit(websocket, REMOTE_COMMAND_PROTOCOLS, container)
        if admitted is None:
            return
        process, protocol = admitted
        await websocket.accept(subprotocol=protocol)
        session = _session(websocket, protocol, _wanted_streams(websocket))
        session.stdin = None  # the stdin stream is opened (attach -i) but unread: engines read no input
        reader = asyncio.get_running_loop().create_task(session.read_client())
        namespace, pod = process.pod["metadata"]["namespace"], process.pod["metadata"]["name"]
        tail = LogTail(self.logs.path(namespace, pod, process.uid, container))  # output from now on
        stdout = session.writer(STDOUT)
        try:
            if not await session.ready():
                await websocket.close(1000)
                return
            while not reader.done() and self._still_running(namespace, pod, process.uid):
                await asyncio.sleep(self.follow_poll)
                if chunk := tail.read():
                    await stdout(chunk)
            if not reader.done():
                await session.finish(exit_status(0, []))
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            reader.cancel()

    def _still_running(self, namespace: str, pod: str, uid: str) -> bool:
        process = self.processes(namespace, pod)
        return process is not None and process.uid == uid and process.running

    # -- port-forward --------------------------------------------------------------------------------

    async def _port_forward(self, websocket: WebSocket) -> None:
        protocols = (PORT_FORWARD_PROTOCOL, *CHANNEL_PORT_FORWARD_PROTOCOLS)
        admitted = await self._admit(websocket, protocols, None)
        if admitted is None:
            return
        process, protocol = admitted
        name = f"{process.pod['metadata']['namespace']}/{process.pod['metadata']['name']}"
        if protocol == PORT_FORWARD_PROTOCOL:
            await websocket.accept(subprotocol=protocol)
            await self._spdy_port_forward(
                websocket, SpdyPortForward(websocket.send_bytes, _dialer(process), name)
            )
            return
        try:
            ports = parse_ports(websocket.query_params.getlist("ports"))
        except ValueError as error:
            await websocket.send_denial_response(PlainTextResponse(str(error), status_code=400))
            return
        if not ports:
            message = "port-forward on the channel protocol needs the ports to forward: ?ports=8000"
            await websocket.send_denial_response(PlainTextResponse(message, status_code=400))
            return
        await websocket.accept(subprotocol=protocol or None)
        await self._channel_port_forward(
            websocket, ChannelPortForward(websocket.send_bytes, _dialer(process), name, ports)
        )

    @staticmethod
    async def _spdy_port_forward(websocket: WebSocket, session: SpdyPortForward) -> None:
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await session.receive(message.get("bytes") or (message.get("text") or "").encode())
        except SpdyProtocolError as error:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close(1002, str(error)[:120])
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            await session.close()

    @staticmethod
    async def _channel_port_forward(websocket: WebSocket, session: ChannelPortForward) -> None:
        async def read_client() -> None:
            try:
                while (message := await websocket.receive())["type"] != "websocket.disconnect":
                    session.receive(message.get("bytes") or b"")
            finally:
                session.end_of_input()

        loop = asyncio.get_running_loop()
        reader, forwarding = loop.create_task(read_client()), loop.create_task(session.run())
        try:
            await asyncio.wait({reader, forwarding}, return_when=asyncio.FIRST_COMPLETED)
            if forwarding.done() and not reader.done():
                await websocket.close(1000)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()
            forwarding.cancel()


def _wanted_streams(websocket: WebSocket) -> dict[str, bool]:
    query = websocket.query_params
    return {key: query.get(key, "").lower() in ("1", "true") for key in ("stdin", "stdout", "stderr", "tty")}


def _session(websocket: WebSocket, protocol: str, wants: dict[str, bool]) -> StreamSession:
    """The framing the chosen subprotocol names: SPDY/3.1 streams, or WebSocket channels."""
    if protocol in SPDY_CHANNEL_PROTOCOLS:
        return SpdyRemoteCommand(websocket, protocol, **wants)
    return ChannelSession(websocket, tty=wants["tty"], stdin=wants["stdin"])


def _gpu_count(container: dict[str, Any]) -> int:
    resources = container.get("resources") or {}
    for kind in ("limits", "requests"):
        value = str((resources.get(kind) or {}).get(GPU_RESOURCE, "")).strip()
        if value.isdigit():
            return int(value)
    return 0


def _dialer(process: PodProcess) -> Dial:
    """Connections to the pod's ports: the simulated engine's, or a refusal that lists them."""

    async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        target = process.ports.get(port)
        if target is None:
            listening = ", ".join(str(p) for p in sorted(process.ports)) or "none"
            raise PortForwardError(
                f"failed to connect to localhost:{port} inside the pod: connection refused "
                f"(ports the simulated container listens on: {listening})"
            )
        try:
            return await asyncio.open_connection(*target)
        except OSError as error:
            raise PortForwardError(f"failed to connect to localhost:{port} inside the pod: {error}") from None

    return dial
