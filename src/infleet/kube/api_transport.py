"""The HTTP transport under :class:`~infleet.kube.cluster_client.ClusterClient`: JSON requests and watch
streams to one API server, over aiohttp.

Why aiohttp rather than lightkube's httpx client, which the typed client keeps: every controller call
goes through here, and against the embedded API server httpx spent 0.48-0.64 ms of client CPU per
request where aiohttp (C HTTP parser, a connection pool that does not scan every open watch) spends
0.08-0.18 ms. With 1,000 placements the hub spent about 40% of its CPU in the HTTP stack. What a
kubeconfig means is still lightkube's: the server, its CA and the client certificate
(``verify_cluster``) and the credentials (``user_auth``: token, token file, exec plugin, basic), so
every kubeconfig the typed client accepts works here too.

Watches get their own connection pool, without a limit: a process holds one long-lived stream per
informer, and they must never starve the requests (bounded) of connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Mapping

import aiohttp
import httpx2
from lightkube.config import client_adapter
from lightkube.config.kubeconfig import SingleConfig

#: Connections for requests per API server; a request waits when all are busy.
MAX_REQUEST_CONNECTIONS = 64


class APIConnectionError(OSError):
    """The API server could not be reached, or the connection broke or timed out mid-request.
    An ``OSError``, so callers that already treat network failures as transient keep doing so."""


class _Credentials:
    """The ``Authorization`` header lightkube's auth for the kubeconfig user would send. Computed once
    and again only after a 401, which is when lightkube's own flows refresh (re-read a token file,
    re-run an exec plugin)."""

    def __init__(self, auth: httpx2.Auth | None) -> None:
        self._auth = auth
        self._header: str | None = None
        self._known = False
        self._lock = asyncio.Lock()

    async def header(self) -> str | None:
        if not self._known:
            async with self._lock:
                if not self._known:
                    self._header = await self._flow(rejected=False)
                    self._known = True
        return self._header

    async def refresh(self, rejected: str | None) -> bool:
        """After a 401 answered ``rejected``: whether new credentials are worth a retry."""
        if self._auth is None:
            return False
        async with self._lock:
            if self._header == rejected:
                self._header = await self._flow(rejected=True)
            return self._header != rejected

    async def _flow(self, rejected: bool) -> str | None:
        if self._auth is None:
            return None
        request = httpx2.Request("GET", "https://kubernetes.invalid/")
        flow = self._auth.async_auth_flow(request)
        request = await flow.__anext__()
        if rejected:
            with contextlib.suppress(StopAsyncIteration):
                request = await flow.asend(httpx2.Response(401, request=request))
        await flow.aclose()
        return request.headers.get("Authorization")


class APITransport:
    """Requests and watch streams to the server of one kubeconfig context. Sessions belong to the event
    loop that first used them and are made again under another loop (tests run one loop per test)."""

    def __init__(self, config: SingleConfig, timeout: float = 10.0) -> None:
        assert config.user is not None, "a kubeconfig context names a user"
        self._base = config.cluster.server.rstrip("/")
        self._ssl: ssl.SSLContext | None = None
        if self._base.startswith("https:"):
            self._ssl = client_adapter.verify_cluster(config.cluster, config.user, config.abs_file)
        self._credentials = _Credentials(client_adapter.user_auth(config.user))
        self._proxy = _env_proxy(self._base)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._requests: aiohttp.ClientSession | None = None
        self._watches: aiohttp.ClientSession | None = None

    def _sessions(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        loop = asyncio.get_running_loop()
        if self._requests is None or self._watches is None or self._loop is not loop:
            self._loop = loop
            self._requests = self._session(MAX_REQUEST_CONNECTIONS)
            self._watches = self._session(0)
        return self._requests, self._watches

    def _session(self, limit: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=limit, ssl=self._ssl if self._ssl is not None else True)
        # No trust_env: it looks up netrc and the proxy in a thread on every request (two thread hops,
        # more than the request itself); the proxy is read from the environment once instead.
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def close(self) -> None:
        for session in (self._requests, self._watches):
            if session is not None and not session.closed:
                with contextlib.suppress(RuntimeError):  # its loop is gone: nothing left to close
                    await session.close()
        self._requests = self._watches = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """The status and body of one request; raises :class:`APIConnectionError` when there is none."""
        session, _ = self._sessions()
        for attempt in range(2):
            sent = await self._headers(headers)
            try:
                async with session.request(
                    method,
                    self._base + path,
                    params=params,
                    data=content,
                    headers=sent,
                    timeout=self._timeout,
                    proxy=self._proxy,
                ) as response:
                    body = await response.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                raise APIConnectionError(f"{method} {self._base}{path}: {error!r}") from error
            if (
                response.status != 401
                or attempt
                or not await self._credentials.refresh(sent.get("Authorization"))
            ):
                return response.status, body
        raise AssertionError("unreachable")  # the second attempt always returns

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, params: Mapping[str, str], read_timeout: float
    ) -> AsyncIterator[tuple[int, AsyncIterator[bytes]]]:
        """A GET whose body arrives line by line (a watch): the status and the lines."""
        _, session = self._sessions()
        timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout.total, sock_read=read_timeout)
        try:
            async with session.get(
                self._base + path,
                params=params,
                headers=await self._headers(None),
                timeout=timeout,
                proxy=self._proxy,
            ) as response:
                yield response.status, _lines(response)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise APIConnectionError(f"watch {self._base}{path}: {error!r}") from error

    async def _headers(self, headers: Mapping[str, str] | None) -> dict[str, str]:
        sent = dict(headers or {})
        authorization = await self._credentials.header()
        if authorization:
            sent["Authorization"] = authorization
        return sent


def _env_proxy(url: str) -> str | None:
    """The proxy ``HTTPS_PROXY``/``HTTP_PROXY`` name for ``url`` unless ``NO_PROXY`` exempts its host,
    as lightkube's httpx client (``trust_env``) would use."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname is None or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body's lines, whatever their length (aiohttp's own line reader refuses lines over 128 KiB,
    and one watch event carries a whole object: a resource snapshot can be a megabyte)."""
    parts: list[bytes] = []
    async for chunk in response.content.iter_any():
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            parts.append(chunk[start:end])
            yield b"".join(parts)
            parts.clear()
            start = end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    if parts:
        yield b"".join(parts)
