"""The resource endpoint: every verb on a resource URL (collection, object, status, scale).

It decodes bodies and query parameters, calls the :class:`Cluster` verbs, and renders objects, lists,
Tables and watch streams. ``http_api`` routes requests here once the URL names a resource.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from infleet.apiserver import pod_subresources, request_params, scale
from infleet.apiserver.admission import duplicate_field_warnings, parse_field_validation
from infleet.apiserver.body_decoding import decode_body
from infleet.apiserver.cluster import Cluster
from infleet.apiserver.deletion import DeleteOptions
from infleet.apiserver.errors import StatusError, bad_request, method_not_allowed, unsupported_media_type
from infleet.apiserver.http_responses import (
    TABLE_MEDIA_TYPE,
    add_warnings,
    encoded_list_response,
    json_response,
    wants_table,
)
from infleet.apiserver.managed_fields import manager_from_user_agent
from infleet.apiserver.patches import APPLY_PATCH, apply_patch, decode_patch, patch_type
from infleet.apiserver.protobuf_bodies import PROTOBUF_MEDIA_TYPE, decode_protobuf_body
from infleet.apiserver.resources import ResourceType
from infleet.apiserver.routes import ResourcePath
from infleet.apiserver.selection import Selection
from infleet.apiserver.server_side_apply import apply_configuration
from infleet.apiserver.tables import build_table
from infleet.apiserver.watch_stream import WatchRequest, default_timeout, stream_events, validate_watch_list
from infleet.apiserver.write_rules import WriteOptions, WriteResult

MAX_BODY_BYTES = 3 * 1024 * 1024
_OBJECT_MEDIA_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()


class ResourceEndpoint:
    """Handles resource URLs for every cluster of the server."""

    def __init__(self, bookmark_interval: float = 60.0) -> None:
        self.bookmark_interval = bookmark_interval
        # Set when the server begins to stop: new watches are refused so shutdown is not held open.
        self.stopping = False

    async def _body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise StatusError(
                413, "RequestEntityTooLarge", f"the request body is larger than {MAX_BODY_BYTES} bytes"
            )
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise StatusError(
                    413, "RequestEntityTooLarge", f"the request body is larger than {MAX_BODY_BYTES} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def _object_body(
        self, request: Request, resource: ResourceType, options: WriteOptions
    ) -> tuple[Any, list[str]]:
        """The decoded object of a create, update or scale request, and warnings for the client."""
        raw = await self._body(request)
        if not raw.strip():
            raise bad_request("the request body is empty: send a JSON or YAML object")
        content_type = _media_type(request)
        if content_type == PROTOBUF_MEDIA_TYPE:
            # kubectl's create generators and client-go's typed clients send built-in kinds as protobuf.
            return decode_protobuf_body(raw, resource.api_version, resource.kind).value, []
        if content_type not in _OBJECT_MEDIA_TYPES:
            raise unsupported_media_type(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join((*_OBJECT_MEDIA_TYPES, PROTOBUF_MEDIA_TYPE))}"
            )
        decoded = decode_body(raw, content_type)
        return decoded.value, duplicate_field_warnings(resource, decoded, options.field_validation)

    async def _delete_body(self, request: Request) -> dict[str, Any] | None:
        """DeleteOptions are optional on DELETE; when sent they must be a JSON (or protobuf) object."""
        raw = await self._body(request)
        if not raw.strip():
            return None
        if _media_type(request) == PROTOBUF_MEDIA_TYPE:
            body = decode_protobuf_body(raw, "meta.k8s.io/v1", "DeleteOptions").value
        else:
            body = decode_body(raw, "application/json", what="DeleteOptions: the request body").value
        if not isinstance(body, dict):
            raise bad_request("DeleteOptions: the request body must be a JSON object")
        return body

    def _write_options(self, request: Request) -> WriteOptions:
        """Options of a write; without ``fieldManager`` the manager comes from the User-Agent."""
        query = request.query_params
        manager = query.get("fieldManager") or manager_from_user_agent(request.headers.get("user-agent", ""))
        return WriteOptions(
            field_manager=manager,
            field_validation=parse_field_validation(query.get("fieldValidation")),
            dry_run=request_params.dry_run(query),
        )

    def _render_object(
        self, request: Request, cluster: Cluster, resource: ResourceType, obj: dict[str, Any]
    ) -> Response:
        if wants_table(request):
            table = build_table(
                [obj],
                resource.columns,
                now=datetime.now(UTC),
                resource_version=obj["metadata"].get("resourceVersion", ""),
                include_object=request.query_params.get("includeObject", "Metadata"),
            )
            return json_response(table, media_type=TABLE_MEDIA_TYPE)
        return json_response(cluster.as_version(resource, obj))

    def _written(
        self,
        request: Request,
        cluster: Cluster,
        resource: ResourceType,
        result: WriteResult,
        decoding_warnings: list[str] = [],  # noqa: B006 - read only
    ) -> Response:
        response = json_response(cluster.as_version(resource, result.obj), 201 if result.created else 200)
        return add_warnings(response, [*decoding_warnings, *result.warnings])

    async def handle(self, cluster: Cluster, path: ResourcePath, request: Request) -> Response:
        """Serve one request for a resource URL of ``cluster``."""
        resource = cluster.resource(path.group, path.version, path.plural)
        if resource.namespaced is False and path.namespace is not None:
            raise StatusError(
                404, "NotFound", f"{resource.plural} is not namespaced: drop /namespaces/{path.namespace}"
            )
        if path.name is None:
            return await self._collection_verb(cluster, resource, path, request)
        if resource.storage_key == "pods" and path.subresource in resource.extra_subresources:
            return await pod_subresources.handle(
                cluster, path.namespace or "default", path.name, path.subresource, request
            )
        if path.subresource == "scale" and resource.scale is not None:
            return await self._scale(cluster, resource, path, request)
        if path.subresource not in (None, "status") or (
            path.subresource == "status" and not resource.has_status
        ):
            raise StatusError(404, "NotFound", f"{resource.plural} has no subresource {path.subresource!r}")
        return await self._object_verb(cluster, resource, path, request)

    async def _collection_verb(
        self, cluster: Cluster, resource: ResourceType, path: ResourcePath, request: Request
    ) -> Response:
        method = request.method
        if method == "GET":
            return await self._list_or_watch(cluster, resource, path, request)
        if method == "POST":
            options = self._write_options(request)
            body, warnings = await self._object_body(request, resource, options)
            result = await cluster.create(resource, path.namespace, body, options)
            return self._written(request, cluster, resource, result, warnings)
        if method == "DELETE":
            return await self._delete_collection(cluster, resource, path, request)
        raise method_not_allowed(f"{method} is not supported on {resource.plural}")

    async def _object_verb(
        self, cluster: Cluster, resource: ResourceType, path: ResourcePath, request: Request
    ) -> Response:
        assert path.name is not None
        method = request.method
        if method == "GET":
            return self._render_object(
                request, cluster, resource, cluster.get(resource, path.namespace, path.name)
            )
        if method == "PUT":
            options = self._write_options(request)
            body, warnings = await self._object_body(request, resource, options)
            result = await cluster.update(
                resource, path.namespace, path.name, body, options, path.subresource
            )
            return self._written(request, cluster, resource, result, warnings)
        if method == "PATCH":
            return await self._patch(cluster, resource, path, request)
        if method == "DELETE" and path.subresource is None:
            return await self._delete(cluster, resource, path, request)
        raise method_not_allowed(f"{method} is not supported on {resource.plural}/{path.subresource or ''}")

    async def _delete(
        self, cluster: Cluster, resource: ResourceType, path: ResourcePath, request: Request
    ) -> Response:
        assert path.name is not None
        options = DeleteOptions.parse(await self._delete_body(request), request.query_params)
        obj, finished = await cluster.delete(resource, path.namespace, path.name, options)
        # kube-apiserver answers a pod's deletion with the pod (clients decode it as one), others with
        # a Status once they are gone.
        if not finished or resource.storage_key == "pods":
            return json_response(cluster.as_version(resource, obj))
        return json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": path.name,
                    "group": resource.group,
                    "kind": resource.plural,
                    "uid": obj["metadata"].get("uid"),
                },
            }
        )

    async def _patch(
        self, cluster: Cluster, resource: ResourceType, path: ResourcePath, request: Request
    ) -> Response:
        assert path.name is not None
        media = patch_type(request.headers.get("content-type", ""), resource)
        options = self._write_options(request)
        decoded = decode_patch(media, await self._body(request))
        patch_body = decoded.value
        warnings = duplicate_field_warnings(resource, decoded, options.field_validation)
        force = request_params.go_bool(request.query_params, "force")
        if media == APPLY_PATCH:
            result = await self._apply(cluster, resource, path, request, patch_body, options, force)
        else:
            if force:
                raise bad_request("force: Forbidden: may not be specified for non-apply patch")
            result = await cluster.patch(
                resource,
                path.namespace,
                path.name,
                lambda current: apply_patch(resource, media, current or {}, patch_body),
                options,
                path.subresource,
            )
        return self._written(request, cluster, resource, result, warnings)

    async def _apply(
        self,
        cluster: Cluster,
        resource: ResourceType,
        path: ResourcePath,
        request: Request,
        patch_body: Any,
        options: WriteOptions,
        force: bool,
    ) -> WriteResult:
        """Server-side apply: creates the object when missing (not through a subresource)."""
        assert path.name is not None
        manager = request.query_params.get("fieldManager")
        if not manager:
            raise bad_request("fieldManager is required for apply requests: add ?fieldManager=<your-name>")
        if not isinstance(patch_body, dict):
            raise bad_request(f"{resource.kind} {path.name!r}: an apply body must be an object")
        now = cluster.now()

        def applier(live: dict[str, Any] | None) -> dict[str, Any]:
            return apply_configuration(
                resource,
                live,
                patch_body,
                manager=manager,
                subresource=path.subresource,
                force=force,
                now=now,
            )

        return await cluster.patch(
            resource,
            path.namespace,
            path.name,
            applier,
            replace(options, field_manager=manager, applied=True),
            path.subresource,
            create_if_missing=path.subresource is None,
        )

    async def _scale(
        self, cluster: Cluster, resource: ResourceType, path: ResourcePath, request: Request
    ) -> Response:
        assert path.name is not None
        if request.method == "GET":
            return json_response(scale.to_scale(resource, cluster.get(resource, path.namespace, path.name)))
        options = self._write_options(request)
        if request.method == "PUT":
            wanted, _ = await self._object_body(request, resource, options)
            result = await cluster.patch(
                resource,
                path.namespace,
                path.name,
                lambda current: scale.with_replicas(resource, current or {}, wanted),
                options,
                "scale",
            )
        elif request.method == "PATCH":
            media = patch_type(request.headers.get("content-type", ""), resource)
            patch_body = decode_patch(media, await self._body(request)).value

            def rescale(current: dict[str, Any] | None) -> dict[str, Any]:
                assert current is not None
                patched_scale = apply_patch(
                    resource,
                    media if media != APPLY_PATCH else "application/merge-patch+json",
                    scale.to_scale(resource, current),
                    patch_body,
                )
                return scale.with_replicas(resource, current, patched_scale)

            result = await cluster.patch(resource, path.namespace, path.name, rescale, options, "scale")
        else:
            raise method_not_allowed(f"{request.method} is not supported on {resource.plural}/scale")
        return json_response(scale.to_scale(resource, result.obj))

    def _selection(self, resource: ResourceType, path: ResourcePath, request: Request) -> Selection:
        query = request.query_params
        return Selection(
            namespace=path.namespace if resource.namespaced else None,
            labels=request_params.label_selector(query),
            fields=request_params.field_selector(query),
        )

    async def _list_or_watch(
        self, cluster: Cluster, resource: ResourceType, path: ResourcePath, request: Request
    ) -> Response:
        query = request.query_params
        selection = self._selection(resource, path, request)
        as_table = wants_table(request)
        if request_params.go_bool(query, "watch"):
            return self._watch(cluster, resource, selection, request, as_table)
        limit = request_params.non_negative_int(query, "limit") or 0
        result = cluster.list(resource, selection, limit, query.get("continue") or None)
        if as_table:
            table = build_table(
                result.items,
                resource.columns,
                now=datetime.now(UTC),
                resource_version=str(result.resource_version),
                continue_token=result.continue_token,
                include_object=query.get("includeObject", "Metadata"),
            )
            return json_response(table, media_type=TABLE_MEDIA_TYPE)
        metadata: dict[str, Any] = {"resourceVersion": str(result.resource_version)}
        if result.continue_token:
            metadata["continue"] = result.continue_token
            metadata["remainingItemCount"] = result.remaining
        envelope = {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": metadata}
        return encoded_list_response(envelope, result.encodings)

    def _watch(
        self, cluster: Cluster, resource: ResourceType, selection: Selection, request: Request, as_table: bool
    ) -> Response:
        if self.stopping:
            raise StatusError(503, "ServiceUnavailable", "the API server is shutting down; retry shortly")
        query = dict(request.query_params)
        send_initial = request_params.go_bool(query, "sendInitialEvents")
        bookmarks = request_params.go_bool(query, "allowWatchBookmarks")
        validate_watch_list(query, send_initial, bookmarks)
        timeout = request_params.non_negative_int(query, "timeoutSeconds")
        watch_request = WatchRequest(
            selection=selection,
            resource_version=request_params.resource_version(query),
            send_initial_events=send_initial,
            allow_bookmarks=bookmarks,
            timeout_seconds=float(timeout) if timeout else default_timeout(),
            bookmark_interval=self.bookmark_interval,
        )
        include_object = query.get("includeObject", "Metadata")

        def render(obj: dict[str, Any], first: bool) -> dict[str, Any]:
            if not as_table:
                return obj
            return build_table(
                [obj],
                resource.columns,
                now=datetime.now(UTC),
                resource_version=obj["metadata"].get("resourceVersion", ""),
                include_object=include_object,
                include_definitions=first,
            )

        media = TABLE_MEDIA_TYPE if as_table else "application/json"
        return StreamingResponse(stream_events(cluster, resource, watch_request, render), media_type=media)

    async def _delete_collection(
        self, cluster: Cluster, resource: ResourceType, path: ResourcePath, request: Request
    ) -> Response:
        options = DeleteOptions.parse(await self._delete_body(request), request.query_params)
        selection = self._selection(resource, path, request)
        deleted = []
        for obj in cluster.list(resource, selection).items:
            metadata = obj["metadata"]
            found, _ = await cluster.delete(resource, metadata.get("namespace"), metadata["name"], options)
            deleted.append(found)
        return json_response(
            {
                "kind": resource.list_kind,
                "apiVersion": resource.api_version,
                "metadata": {"resourceVersion": str(cluster.store.resource_version)},
                "items": deleted,
            }
        )
