"""Clients for Kubernetes clusters, built from a kubeconfig context: one per cluster, many per process.

Why lightkube (1.0.1): maintained, async, typed models for built-ins, generic resources for CRDs and
first-class server-side apply, and its kubeconfig loader handles TLS, tokens and exec plugins. It serves
two ways here: ``ClusterClient.typed`` is the lightkube ``AsyncClient`` for typed work, and the
``ClusterClient`` methods speak JSON dicts (over :mod:`infleet.kube.api_transport`, with lightkube's
reading of the kubeconfig), because the runtime is kind-agnostic (dicts in caches and patches) and
informers need control lightkube's ``watch`` does not give (``allowWatchBookmarks``, relist on 410
instead of a silent re-watch from "now").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import orjson
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig, SingleConfig

from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.api_transport import APITransport

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class ObjectList:
    """The items of a list and the resourceVersion to watch from."""

    items: list[dict[str, Any]]
    resource_version: str


class ClusterClient:
    """JSON-level access to one cluster; ``name`` is how the runtime labels it (Request.cluster)."""

    def __init__(self, name: str, config: SingleConfig, timeout: float = 10.0) -> None:
        self.name = name
        self.config = config
        self._http = APITransport(config, timeout)
        self.typed = AsyncClient(config, timeout=httpx2.Timeout(timeout))

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str, name: str | None = None) -> ClusterClient:
        """A client for ``context`` of the kubeconfig at ``path``; ``name`` defaults to the context name."""
        config = KubeConfig.from_file(path).get(context)
        assert config is not None  # get() raises ConfigError naming the context when it is missing
        return cls(name or context, config)

    async def close(self) -> None:
        await self._http.close()
        await self.typed.close()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        content = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        status, raw = await self._http.request(method, path, params=params, content=content, headers=headers)
        data: dict[str, Any] = orjson.loads(raw) if raw else {}
        if status >= 400:
            raise KubeAPIError.from_status(data, status)
        return data

    async def get(self, kind: ResourceKind, name: str, namespace: str | None = None) -> dict[str, Any]:
        return await self._request("GET", kind.path(namespace, name))

    async def get_path(self, path: str) -> dict[str, Any]:
        """GET a non-resource path that answers JSON: discovery (``/api/v1``, ``/apis/<group>/<version>``)."""
        return await self._request("GET", path)

    async def probe(self, path: str = "/readyz") -> str:
        """GET a health endpoint (plain text); raises :class:`KubeAPIError` unless the answer is 2xx."""
        status, raw = await self._http.request(
            "GET", path, headers={"Accept": "text/plain, application/json"}
        )
        text = raw.decode("utf-8", "replace")
        if status >= 400:
            try:
                answer = orjson.loads(raw)
            except orjson.JSONDecodeError:
                answer = {"message": text.strip()}
            raise KubeAPIError.from_status(answer if isinstance(answer, dict) else {}, status)
        return text

    async def list(
        self,
        kind: ResourceKind,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> ObjectList:
        """All matching objects, following ``continue`` tokens, with the list's resourceVersion."""
        params: dict[str, str] = {"limit": str(page_size)}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        items: list[dict[str, Any]] = []
        while True:
            page = await self._request("GET", kind.path(namespace), params=params)
            for item in page.get("items") or []:
                # Lists omit kind/apiVersion on items; caches and handlers want whole objects.
                item.setdefault("kind", kind.kind)
                item.setdefault("apiVersion", kind.api_version)
                items.append(item)
            metadata = page.get("metadata") or {}
            token = metadata.get("continue")
            if not token:
                return ObjectList(items, str(metadata.get("resourceVersion") or ""))
            params["continue"] = token

    async def watch(
        self,
        kind: ResourceKind,
        resource_version: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Events ``(type, object)`` after ``resource_version`` until the server closes the stream.

        BOOKMARK events are yielded too (the caller records their resourceVersion); an ERROR event raises
        :class:`KubeAPIError` (410 means list again).
        """
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        async with self._http.stream(kind.path(namespace), params, timeout_seconds + 30.0) as (status, lines):
            if status >= 400:
                body = b"".join([line async for line in lines])
                raise KubeAPIError.from_status(orjson.loads(body) if body else {}, status)
            async for line in lines:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event.get("type") == "ERROR":
                    raise KubeAPIError.from_status(event.get("object") or {})
                yield event["type"], event["object"]

    async def create(
        self, kind: ResourceKind, obj: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        namespace = namespace or (obj.get("metadata") or {}).get("namespace")
        return await self._request("POST", kind.path(namespace), body=obj)

    async def create_subresource(
        self,
        kind: ResourceKind,
        name: str,
        subresource: str,
        body: dict[str, Any],
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """POST to a subresource, e.g. a ``Binding`` to ``pods/<name>/binding``."""
        return await self._request("POST", kind.path(namespace, name, subresource), body=body)

    async def replace(
        self, kind: ResourceKind, obj: dict[str, Any], subresource: str | None = None
    ) -> dict[str, Any]:
        """PUT; the object's ``metadata.resourceVersion`` is the optimistic-concurrency precondition."""
        metadata = obj["metadata"]
        return await self._request(
            "PUT", kind.path(metadata.get("namespace"), metadata["name"], subresource), body=obj
        )

    async def patch(
        self,
        kind: ResourceKind,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        json_patch: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """A JSON merge patch (a dict), or with ``json_patch=True`` an RFC 6902 list of operations."""
        content_type = JSON_PATCH if json_patch else MERGE_PATCH
        return await self._request(
            "PATCH", kind.path(namespace, name, subresource), body=patch, content_type=content_type
        )

    async def delete(
        self,
        kind: ResourceKind,
        name: str,
        namespace: str | None = None,
        *,
        missing_ok: bool = False,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """DELETE with ``options`` as DeleteOptions (``gracePeriodSeconds``, ``preconditions``...); with
        ``missing_ok`` an object already gone (404) is success, for cleanup paths."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", **(options or {})}
        try:
            return await self._request("DELETE", kind.path(namespace, name), body=body)
        except KubeAPIError as error:
            if missing_ok and error.not_found:
                return {}
            raise


class ClientFactory:
    """One :class:`ClusterClient` per kubeconfig context, created on first use and closed together."""

    def __init__(self, kubeconfig: str | Path) -> None:
        self._config = KubeConfig.from_file(kubeconfig)
        self._clients: dict[str, ClusterClient] = {}

    def client(self, context: str, name: str | None = None) -> ClusterClient:
        """The client of ``context``; ``name`` (default: the context) is the cluster name in Requests."""
        key = name or context
        if key not in self._clients:
            config = self._config.get(context)
            assert config is not None
            self._clients[key] = ClusterClient(key, config)
        return self._clients[key]

    @property
    def contexts(self) -> list[str]:
        return sorted(self._config.contexts)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
