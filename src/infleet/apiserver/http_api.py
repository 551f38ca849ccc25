"""The ASGI application: authentication, routing, content negotiation and error mapping.

Discovery, OpenAPI and health are answered here; resource URLs go to :class:`ResourceEndpoint`. Every
failure leaves as a Kubernetes ``Status`` with the right code, and an unexpected exception is logged and
answered with 500 InternalError instead of dropping the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from infleet.apiserver import access_reviews, discovery, metrics_resources, pod_streams
from infleet.apiserver.cluster import Cluster
from infleet.apiserver.cluster_tokens import Credentials
from infleet.apiserver.errors import (
    StatusError,
    internal_error,
    method_not_allowed,
    unauthorized,
)
from infleet.apiserver.http_responses import json_response, status_response
from infleet.apiserver.metrics_api import MetricsAPI
from infleet.apiserver.resource_endpoint import ResourceEndpoint
from infleet.apiserver.routes import ResourcePath, parse_resource_path, split_cluster

log = logging.getLogger(__name__)

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-infleet",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-11-01T00:00:00Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


class APIServerApp:
    """Serves every logical cluster of one process under ``/clusters/<name>``."""

    def __init__(
        self,
        clusters: Mapping[str, Cluster],
        *,
        token: str | None,
        server_address: str,
        default_cluster: str | None = None,
        bookmark_interval: float = 60.0,
    ) -> None:
        self.clusters = clusters
        self.token = token
        self.credentials = Credentials(token, clusters)
        self.server_address = server_address
        self.default_cluster = default_cluster
        self.resources = ResourceEndpoint(bookmark_interval)
        self.metrics = MetricsAPI()
        # Clusters a fault made unreachable (see cluster_reachability); their requests get 503.
        self.unreachable: set[str] = set()

    @property
    def stopping(self) -> bool:
        return self.resources.stopping

    @stopping.setter
    def stopping(self, value: bool) -> None:
        self.resources.stopping = value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(WebSocket(scope, receive, send))
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self.dispatch(request)
        except StatusError as error:
            response = status_response(error)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            response = status_response(internal_error("an internal error occurred; see the server log"))
        await response(scope, receive, send)

    async def _websocket(self, websocket: WebSocket) -> None:
        """Pod streams (exec, attach, port-forward); anything else is refused as an HTTP error."""
        try:
            cluster, path = self._resolve(websocket.url.path, websocket.headers.get("authorization", ""))
            if (
                path is None
                or (path.group, path.plural) != ("", "pods")
                or path.name is None
                or path.subresource not in pod_streams.STREAM_SUBRESOURCES
            ):
                raise StatusError(
                    400,
                    "BadRequest",
                    "WebSocket and SPDY/3.1 upgrades are served for pods/exec, pods/attach and "
                    "pods/portforward",
                )
            namespace = path.namespace or "default"
            params = websocket.query_params
            target = pod_streams.kubelet_target(cluster, namespace, path.name, path.subresource, params)
            await pod_streams.relay(websocket, target, cluster.kubelet_token)
        except StatusError as error:
            if websocket.application_state == WebSocketState.CONNECTING:
                await websocket.send_denial_response(pod_streams.refusal(error))
        except Exception:
            log.exception("WebSocket %s failed", websocket.url.path)
            if websocket.application_state == WebSocketState.CONNECTING:
                failure = internal_error("an internal error occurred; see the server log")
                await websocket.send_denial_response(status_response(failure))

    def _resolve(self, path: str, authorization: str) -> tuple[Cluster, ResourcePath | None]:
        """The cluster a resource path names and the path inside it, checking the caller's token."""
        authorized, token_cluster = self.credentials.check(authorization)
        cluster_name, inner = split_cluster(path, self.default_cluster or token_cluster)
        if not authorized:
            raise unauthorized()
        return self._reachable_cluster(cluster_name), parse_resource_path(inner)

    def _reachable_cluster(self, name: str) -> Cluster:
        """The cluster called ``name``: 404 when there is none, 503 while a fault makes it unreachable."""
        cluster = self.clusters.get(name)
        if cluster is None:
            known = ", ".join(sorted(self.clusters))
            raise StatusError(404, "NotFound", f'cluster "{name}" not found: known clusters are {known}')
        if name in self.unreachable:
            raise StatusError(503, "ServiceUnavailable", f'cluster "{name}" is unreachable (a fault)')
        return cluster

    async def dispatch(self, request: Request) -> Response:
        path = request.url.path
        if path in ("/healthz", "/livez", "/readyz"):
            return PlainTextResponse("ok")
        authorized, token_cluster = self.credentials.check(request.headers.get("authorization", ""))
        # A path without /clusters/<name> (kubectl proxy strips it) goes to the cluster the token names.
        cluster_name, inner = split_cluster(path, self.default_cluster or token_cluster)
        if inner in ("/healthz", "/livez", "/readyz"):
            # An unreachable cluster (a fault) fails its health checks too, as a lost cluster's would.
            if cluster_name in self.unreachable:
                raise StatusError(
                    503, "ServiceUnavailable", f'cluster "{cluster_name}" is unreachable (a fault)'
                )
            return PlainTextResponse("ok")
        if inner not in _PUBLIC_PATHS and not authorized:
            raise unauthorized()
        cluster = self._reachable_cluster(cluster_name)
        if inner == "/version":
            return json_response(VERSION_INFO)
        if inner.startswith("/openapi/"):
            return self._openapi(cluster, inner)
        return await self._cluster_path(cluster, inner, request)

    async def _cluster_path(self, cluster: Cluster, inner: str, request: Request) -> Response:
        """Discovery, a self review (answered, never stored), metrics or a resource of ``cluster``."""
        resource_path = parse_resource_path(inner)
        if resource_path is None:
            return self._discovery(cluster, inner, request)
        if access_reviews.is_review(resource_path):
            return await access_reviews.handle(resource_path, request)
        if resource_path.group == metrics_resources.GROUP:
            return await self.metrics.handle(cluster, resource_path, request)
        return await self.resources.handle(cluster, resource_path, request)

    # -- discovery and OpenAPI ------------------------------------------------------------------

    def _discovery(self, cluster: Cluster, path: str, request: Request) -> Response:
        if request.method != "GET":
            raise method_not_allowed(f"{request.method} is not supported on {path}")
        segments = [s for s in path.split("/") if s]
        aggregated = "as=APIGroupDiscoveryList" in request.headers.get("accept", "")
        if segments == ["api"]:
            if aggregated:
                return json_response(
                    discovery.aggregated(cluster.index, core=True), media_type=discovery.AGGREGATED_MEDIA_TYPE
                )
            return json_response(discovery.api_versions(self.server_address))
        if segments == ["apis"]:
            if aggregated:
                return json_response(
                    discovery.aggregated(cluster.index, core=False),
                    media_type=discovery.AGGREGATED_MEDIA_TYPE,
                )
            return json_response(discovery.api_group_list(cluster.index))
        if segments == ["api", "v1"]:
            return json_response(discovery.resource_list(cluster.index, "", "v1"))
        if len(segments) == 2 and segments[0] == "apis":
            group = discovery.api_group(cluster.index, segments[1])
            if group is not None:
                return json_response(group)
        if (
            len(segments) == 3
            and segments[0] == "apis"
            and segments[2] in cluster.index.group_versions().get(segments[1], [])
        ):
            return json_response(discovery.resource_list(cluster.index, segments[1], segments[2]))
        raise StatusError(404, "NotFound", f"the server could not find the requested resource: {path}")

    def _openapi(self, cluster: Cluster, path: str) -> Response:
        segments = [s for s in path.split("/") if s]
        if segments == ["openapi", "v3"]:
            return json_response(cluster.openapi.root())
        served = set(cluster.openapi.group_versions())
        if len(segments) == 4 and segments[2] == "api" and ("", segments[3]) in served:
            return Response(cluster.openapi.document("", segments[3]), media_type="application/json")
        if len(segments) == 5 and segments[2] == "apis" and (segments[3], segments[4]) in served:
            return Response(cluster.openapi.document(segments[3], segments[4]), media_type="application/json")
        raise StatusError(404, "NotFound", f"the server could not find the requested resource: {path}")
