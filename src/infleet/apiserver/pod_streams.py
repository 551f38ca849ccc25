"""``pods/exec``, ``pods/attach`` and ``pods/portforward``: checked here, then relayed to the pod's kubelet.

The checks and their answers are kube-apiserver's: 404 for a missing pod, 400 for an unknown container
or a pod with no node, 400 for an exec with no command or no stream. A WebSocket request is then relayed
message by message to the kubelet's ``/exec/<ns>/<pod>/<container>``, ``/attach/...`` or
``/portForward/<ns>/<pod>``, offering the client's subprotocols, so the kubelet picks the protocol
(``v5.channel.k8s.io``, ``SPDY/3.1+portforward.k8s.io``, ...) and frames pass unchanged.

An ``Upgrade: SPDY/3.1`` request arrives here as a WebSocket too (see :mod:`.spdy_upgrade`), offering
each ``X-Stream-Protocol-Version`` it names as the subprotocol ``SPDY/3.1+<protocol>``. After the same
checks the protocol is negotiated as kube's ``httpstream.Handshake`` does (400 when none is named, 403
listing the accepted ones when none fits) and the raw SPDY session is relayed to the kubelet in WebSocket
messages; the kubelet serves it. Any other request to these subresources gets 400.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from infleet.apiserver.cluster import Cluster
from infleet.apiserver.errors import StatusError, bad_request
from infleet.apiserver.http_responses import status_response
from infleet.apiserver.pod_location import container_name, kubelet_address
from infleet.apiserver.spdy_upgrade import EXTENSION as SPDY_EXTENSION
from infleet.apiserver.spdy_upgrade import TUNNEL_PREFIX

STREAM_SUBRESOURCES = ("exec", "attach", "portforward")
_KUBELET_PATHS = {"exec": "exec", "attach": "attach", "portforward": "portForward"}
_FORWARDED_PARAMS = ("command", "stdin", "stdout", "stderr", "tty", "ports")
_CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
# The WebSocket subprotocols the kubelet speaks, per subresource ("" for a client that offers none).
SUBPROTOCOLS = {
    "exec": _CHANNEL_PROTOCOLS,
    "attach": _CHANNEL_PROTOCOLS,
    "portforward": ("SPDY/3.1+portforward.k8s.io", "v4.channel.k8s.io", ""),
}
# The stream protocols an SPDY/3.1 upgrade may name in X-Stream-Protocol-Version, as the kubelet accepts
# them (over SPDY, v5 is v4: closing stdin is the stream's own FIN).
_REMOTE_COMMAND_VERSIONS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
)
SPDY_STREAM_PROTOCOLS = {
    "exec": _REMOTE_COMMAND_VERSIONS,
    "attach": _REMOTE_COMMAND_VERSIONS,
    "portforward": ("portforward.k8s.io",),
}


class UnsupportedStreamProtocolError(StatusError):
    """403 for an SPDY upgrade naming no stream protocol the server speaks; lists the accepted ones."""

    def __init__(self, offered: list[str], accepted: tuple[str, ...]) -> None:
        message = (
            f"unable to upgrade: unable to negotiate protocol: client supports [{' '.join(offered)}], "
            f"server accepts [{' '.join(accepted)}]"
        )
        super().__init__(403, "Forbidden", message)
        self.accepted = accepted


def refusal(error: StatusError) -> Response:
    """The HTTP answer to a stream refused before it starts: its Status, and the protocols accepted."""
    response = status_response(error)
    if isinstance(error, UnsupportedStreamProtocolError):
        for protocol in error.accepted:
            response.raw_headers.append((b"x-accepted-stream-protocol-versions", protocol.encode()))
    return response


@dataclass(frozen=True)
class KubeletTarget:
    url: str
    node: str
    pod: str
    subresource: str


def _truthy(params: QueryParams, key: str) -> bool:
    return params.get(key, "").lower() in ("1", "true")


def _check_running(pod: dict[str, Any], container: str) -> None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    state = next((s.get("state") or {} for s in statuses if s.get("name") == container), {})
    if "running" not in state:
        waiting = (state.get("waiting") or {}).get("reason") or (
            "terminated" if "terminated" in state else ""
        )
        detail = f": it is not running ({waiting})" if waiting else ": it has not started"
        raise bad_request(f'container not found ("{container}"){detail}')


def kubelet_target(
    cluster: Cluster, namespace: str, name: str, subresource: str, params: QueryParams
) -> KubeletTarget:
    """Check the request as kube-apiserver does and find the kubelet endpoint that serves it."""
    pod = cluster.get(cluster.resource("", "v1", "pods"), namespace, name)
    path = f"/portForward/{quote(namespace)}/{quote(name)}"
    if subresource != "portforward":
        container = container_name(pod, params.get("container"))
        if subresource == "exec" and not params.getlist("command"):
            raise bad_request(
                f"exec into pod {name!r}: give the command to run, e.g. kubectl exec {name} -- env"
            )
        if not any(_truthy(params, key) for key in ("stdin", "stdout", "stderr")):
            raise bad_request("you must specify at least 1 of stdin, stdout, stderr")
        path = f"/{_KUBELET_PATHS[subresource]}/{quote(namespace)}/{quote(name)}/{quote(container)}"
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise bad_request(f"pod {name} does not have a host assigned")
    if subresource != "portforward":
        _check_running(pod, container)
    node = cluster.store.get("nodes", "", node_name)
    address = kubelet_address(node) if node else None
    if address is None:
        raise StatusError(
            503, "ServiceUnavailable", f"node {node_name!r} of pod {name!r} publishes no kubelet endpoint"
        )
    query = urlencode([(k, v) for k, v in params.multi_items() if k in _FORWARDED_PARAMS])
    return KubeletTarget(f"ws://{address}{path}{'?' + query if query else ''}", node_name, name, subresource)


def check_subprotocols(subresource: str, scope: Mapping[str, Any], params: QueryParams) -> None:
    """Refuse, before reaching the kubelet, a stream whose protocols it cannot speak."""
    offered = list(scope.get("subprotocols") or [])
    spdy = (scope.get("extensions") or {}).get(SPDY_EXTENSION)
    if spdy is not None:
        accepted = SPDY_STREAM_PROTOCOLS[subresource]
        if not spdy["offered"]:
            raise bad_request(
                f"unable to upgrade: X-Stream-Protocol-Version is required; pods/{subresource} accepts "
                f"{', '.join(accepted)}"
            )
        if not any(protocol in accepted for protocol in spdy["offered"]):
            raise UnsupportedStreamProtocolError(spdy["offered"], accepted)
        return
    supported = SUBPROTOCOLS[subresource]
    chosen = next((p for p in offered if p in supported), None if offered or "" not in supported else "")
    if chosen is None:
        names = ", ".join(p for p in supported if p)
        raise bad_request(
            f"pods/{subresource}: none of the offered subprotocols {offered} is served; use {names}"
        )
    if subresource == "portforward" and chosen != supported[0] and not params.get("ports"):
        raise bad_request(
            "pods/portforward on the channel protocol needs the ports to forward, e.g. ?ports=8000"
        )


def _kubelet_subprotocols(subresource: str, scope: Mapping[str, Any]) -> list[str]:
    """What the kubelet is offered: the client's subprotocols, or for SPDY the accepted ones as tunnels."""
    spdy = (scope.get("extensions") or {}).get(SPDY_EXTENSION)
    if spdy is None:
        return list(scope.get("subprotocols") or [])
    accepted = SPDY_STREAM_PROTOCOLS[subresource]
    return [TUNNEL_PREFIX + protocol for protocol in spdy["offered"] if protocol in accepted]


def refuse_without_upgrade(
    cluster: Cluster, namespace: str, name: str, subresource: str, params: QueryParams, upgrade: str
) -> StatusError:
    """The answer to a request that is not a WebSocket upgrade, once the pod checks passed."""
    kubelet_target(cluster, namespace, name, subresource, params)
    if upgrade:
        return bad_request(
            f"pods/{subresource} over {upgrade} is not served: upgrade to websocket or SPDY/3.1"
        )
    return bad_request("Upgrade request required")


async def _connect(
    target: KubeletTarget, websocket: WebSocket, token: str | None, session: aiohttp.ClientSession
) -> aiohttp.ClientWebSocketResponse:
    offered = _kubelet_subprotocols(target.subresource, websocket.scope)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return await session.ws_connect(
            target.url, protocols=offered, headers=headers, compress=0, max_msg_size=0, autoping=True
        )
    except aiohttp.WSServerHandshakeError as error:
        reason = {400: "BadRequest", 404: "NotFound"}.get(error.status)
        message = f"the kubelet of node {target.node!r} refused the stream of pod {target.pod!r}"
        if reason is None:
            raise StatusError(502, "InternalError", f"{message} ({error.status})") from None
        raise StatusError(
            error.status, reason, f"{message}: the pod or its container is not running"
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        message = f"the kubelet of node {target.node!r} did not answer for pod {target.pod!r}: {error}"
        raise StatusError(502, "InternalError", message) from None


async def relay(websocket: WebSocket, target: KubeletTarget, token: str | None) -> None:
    """Accept the client's WebSocket with the kubelet's protocol and carry messages both ways.

    Raises StatusError before accepting when the kubelet refuses or does not answer.
    """
    check_subprotocols(target.subresource, websocket.scope, websocket.query_params)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)) as session:
        upstream = await _connect(target, websocket, token, session)
        await websocket.accept(subprotocol=upstream.protocol)
        await _carry(websocket, upstream)


async def _to_kubelet(websocket: WebSocket, upstream: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is not None:
            await upstream.send_bytes(data)
        else:
            await upstream.send_str(message.get("text") or "")


async def _to_client(websocket: WebSocket, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async for message in upstream:
        if message.type == aiohttp.WSMsgType.BINARY:
            await websocket.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.TEXT:
            await websocket.send_text(message.data)


async def _carry(websocket: WebSocket, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Both directions until either side closes; the kubelet's close code goes to the client."""
    tasks = [
        asyncio.ensure_future(_to_kubelet(websocket, upstream)),
        asyncio.ensure_future(_to_client(websocket, upstream)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(
                asyncio.CancelledError, aiohttp.ClientError, WebSocketDisconnect, RuntimeError
            ):
                await task
        await upstream.close()
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(upstream.close_code or 1000)
