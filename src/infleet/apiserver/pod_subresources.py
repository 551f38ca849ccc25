"""The Pod subresources a scheduler and ``kubectl logs`` need: ``pods/binding`` and ``pods/log``;
``pods/eviction`` is served by :mod:`~infleet.apiserver.pod_eviction`.

``exec``, ``attach`` and ``portforward`` are WebSockets or SPDY/3.1 upgrades (see
:mod:`~infleet.apiserver.pod_streams`); a plain request for them is checked and refused here.

``binding`` (POST a ``Binding``) sets ``spec.nodeName`` once, as kube-apiserver does; a second binding is
a 409. ``log`` is proxied to the kubelet of the pod's node, found the way kube-apiserver finds it: the
node's ``InternalIP`` address and ``status.daemonEndpoints.kubeletEndpoint.Port``, path
``/containerLogs/<ns>/<pod>/<container>``. Logs live where containers run, so the server keeps none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from infleet.apiserver import pod_eviction, pod_streams
from infleet.apiserver.cluster import Cluster
from infleet.apiserver.errors import StatusError, bad_request, conflict, method_not_allowed
from infleet.apiserver.pod_location import container_name, kubelet_address
from infleet.apiserver.write_rules import WriteOptions

_LOG_PARAMS = ("tailLines", "follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "limitBytes")


async def handle(cluster: Cluster, namespace: str, name: str, subresource: str, request: Request) -> Response:
    """Serve ``pods/<name>/<subresource>`` for binding and log; streams (WebSocket, SPDY) arrive elsewhere."""
    if subresource == "eviction":
        return await pod_eviction.handle(cluster, namespace, name, request)
    if subresource == "binding":
        if request.method != "POST":
            raise method_not_allowed(f"{request.method} is not supported on pods/binding; POST a Binding")
        return await _bind(cluster, namespace, name, await request.json())
    if subresource in pod_streams.STREAM_SUBRESOURCES:
        if request.method not in ("GET", "POST"):
            raise method_not_allowed(f"{request.method} is not supported on pods/{subresource}")
        upgrade = request.headers.get("upgrade", "")
        raise pod_streams.refuse_without_upgrade(
            cluster, namespace, name, subresource, request.query_params, upgrade
        )
    if request.method != "GET":
        raise method_not_allowed(f"{request.method} is not supported on pods/log")
    return await _log(cluster, namespace, name, request)


async def _bind(cluster: Cluster, namespace: str, name: str, body: Any) -> Response:
    target = body.get("target") if isinstance(body, dict) else None
    node = target.get("name") if isinstance(target, dict) else None
    if not node:
        raise bad_request(f"Binding of pod {name!r}: target.name must name the Node to bind to")
    pods = cluster.resource("", "v1", "pods")

    def bind(current: dict[str, Any] | None) -> dict[str, Any]:
        assert current is not None
        spec = current.setdefault("spec", {})
        assigned = spec.get("nodeName")
        if assigned:
            raise conflict("pods", name, detail=f"pod {name} is already assigned to node {assigned!r}")
        spec["nodeName"] = node
        return current

    await cluster.patch(pods, namespace, name, bind, WriteOptions(field_manager="binding"), "binding")
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    return Response(orjson.dumps(status), status_code=201, media_type="application/json")


async def _log(cluster: Cluster, namespace: str, name: str, request: Request) -> Response:
    pod = cluster.get(cluster.resource("", "v1", "pods"), namespace, name)
    container = container_name(pod, request.query_params.get("container"))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: not yet scheduled')
    node = cluster.store.get("nodes", "", node_name)
    address = kubelet_address(node) if node else None
    if address is None:
        raise StatusError(
            503, "ServiceUnavailable", f"node {node_name!r} of pod {name!r} publishes no kubelet endpoint"
        )
    params = {key: request.query_params[key] for key in _LOG_PARAMS if key in request.query_params}
    url = f"http://{address}/containerLogs/{namespace}/{name}/{container}"
    # The kubelet demands the API server's own credential (kube-apiserver's --kubelet-client-* flags).
    headers = {"Authorization": f"Bearer {cluster.kubelet_token}"} if cluster.kubelet_token else {}
    client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), headers=headers)
    try:
        upstream = await client.send(client.build_request("GET", url, params=params), stream=True)
    except httpx.HTTPError as error:
        await client.aclose()
        raise StatusError(
            502,
            "InternalError",
            f"the kubelet of node {node_name!r} did not answer for pod {name!r}: {error}",
        ) from None
    if upstream.status_code >= 400:
        text = (await upstream.aread()).decode("utf-8", "replace").strip()
        await upstream.aclose()
        await client.aclose()
        raise StatusError(
            upstream.status_code, "BadRequest", text or f"logs of pod {name!r} are not available"
        )

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()
            await client.aclose()

    return StreamingResponse(relay(), media_type="text/plain")
