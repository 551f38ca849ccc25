"""Container logs of the simulated kubelet: files on disk, and the kubelet endpoint that serves them.

Files follow the kubelet's layout, ``<log_dir>/<namespace>_<pod>_<uid>/<container>.log``. The API server
proxies ``pods/log`` to :class:`KubeletLogServer` at ``/containerLogs/<ns>/<pod>/<container>`` (the real
kubelet's path), with ``tailLines`` and ``follow``. One server serves every node of a simulated cluster;
it also carries the streaming endpoints (exec, attach, port-forward) of :mod:`~infleet.sim.kubelet_streams`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

# (namespace, pod) -> uid of the pod running now, or None
UidLookup = Callable[[str, str], str | None]


# Each stored line starts with the time it was written, as the CRI's log files do; ``kubectl logs`` shows
# it only with ``--timestamps``.
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class LogOptions:
    """The kubelet's log query (``sinceSeconds``/``sinceTime``, ``timestamps``, ``previous``...)."""

    since: datetime | None = None
    timestamps: bool = False
    previous: bool = False
    limit_bytes: int | None = None


def _stamp(line: str) -> datetime | None:
    head = line.split(" ", 1)[0]
    try:
        moment = datetime.fromisoformat(head)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def strip_stamp(line: str) -> str:
    """The line as the container wrote it."""
    head, space, rest = line.partition(" ")
    return rest if space and _stamp(head) is not None else line


def log_options(params: Mapping[str, str]) -> LogOptions:
    """Read the log query parameters; a ValueError names the one that is wrong."""
    since = None
    if params.get("sinceSeconds"):
        seconds = params["sinceSeconds"]
        if not seconds.isdigit() or int(seconds) < 1:
            raise ValueError(f"sinceSeconds: {seconds!r} must be a positive whole number of seconds")
        since = datetime.now(UTC) - timedelta(seconds=int(seconds))
    elif params.get("sinceTime"):
        since = _stamp(params["sinceTime"])
        if since is None:
            raise ValueError(f"sinceTime: {params['sinceTime']!r} is not an RFC 3339 time")
    limit = params.get("limitBytes")
    if limit is not None and (not limit.isdigit() or int(limit) < 1):
        raise ValueError(f"limitBytes: {limit!r} must be a positive number of bytes")
    return LogOptions(
        since=since,
        timestamps=params.get("timestamps", "").lower() in ("true", "1"),
        previous=params.get("previous", "").lower() in ("true", "1"),
        limit_bytes=int(limit) if limit else None,
    )


class LogTail:
    """What a container writes from now on (``kubectl logs -f``, ``kubectl attach``)."""

    def __init__(self, path: Path, timestamps: bool = False) -> None:
        self.path = path
        self.timestamps = timestamps
        self._offset = path.stat().st_size if path.exists() else 0

    def read(self) -> bytes:
        """The lines written since the last read (empty when none), stamps dropped unless asked for."""
        if not self.path.exists() or self.path.stat().st_size <= self._offset:
            return b""
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        if self.timestamps:
            return chunk
        lines = chunk.decode("utf-8", "replace").splitlines(keepends=True)
        return "".join(map(strip_stamp, lines)).encode()


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


class PodLogs:
    """Appends and reads container log files."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    def path(self, namespace: str, pod: str, uid: str, container: str, previous: bool = False) -> Path:
        name = f"{container}.previous.log" if previous else f"{container}.log"
        return self.log_dir / f"{namespace}_{pod}_{uid}" / name

    def write(self, namespace: str, pod: str, uid: str, container: str, *lines: str) -> None:
        path = self.path(namespace, pod, uid, container)
        # Owner-only, as the rest of the state: engine logs can carry prompts and errors with data.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
        with open(path, "a", encoding="utf-8", opener=_private_opener) as handle:
            for line in lines:
                handle.write(f"{stamp} {line}\n")

    def rotate(self, namespace: str, pod: str, uid: str, containers: list[str]) -> None:
        """A container restarts: its log so far becomes what ``kubectl logs --previous`` shows."""
        for container in containers:
            current = self.path(namespace, pod, uid, container)
            if current.exists():
                current.replace(self.path(namespace, pod, uid, container, previous=True))

    def read(
        self,
        namespace: str,
        pod: str,
        uid: str,
        container: str,
        tail: int | None = None,
        options: LogOptions | None = None,
    ) -> str | None:
        """The container's log as ``kubectl logs`` shows it; None when ``--previous`` has none."""
        options = options or LogOptions()
        path = self.path(namespace, pod, uid, container, options.previous)
        if not path.exists():
            return None if options.previous else ""
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        if options.since is not None:
            lines = [line for line in lines if (_stamp(line) or options.since) >= options.since]
        if tail is not None and tail >= 0:
            lines = lines[-tail:] if tail else []
        text = "".join(line if options.timestamps else strip_stamp(line) for line in lines)
        if options.limit_bytes is not None:
            text = text.encode()[: options.limit_bytes].decode("utf-8", "ignore")
        return text

    def remove(self, namespace: str, pod: str, uid: str) -> None:
        folder = self.log_dir / f"{namespace}_{pod}_{uid}"
        if folder.is_dir():
            for file in folder.iterdir():
                file.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class KubeletLogServer:
    """The kubelet's ``/containerLogs`` endpoint for one simulated cluster; a Runnable."""

    def __init__(
        self,
        logs: PodLogs,
        uid_of: UidLookup,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        extra_routes: Sequence[BaseRoute] = (),
    ) -> None:
        self.logs = logs
        self.extra_routes = list(extra_routes)  # the streaming endpoints (exec, attach, port-forward)
        self.token = token
        self.uid_of = uid_of
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))  # bound now so Node objects can publish the port
        self.port: int = self._socket.getsockname()[1]
        self.follow_poll = 0.2
        self._routes: list[Route] = []

    def add_route(self, path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        """Serve another kubelet endpoint (``/metrics/resource``) behind the same credential check."""

        async def authorized(request: Request) -> Response:
            if not self._authorized(request):
                return PlainTextResponse("Unauthorized", status_code=401)
            return await endpoint(request)

        self._routes.append(Route(path, authorized))

    def app(self) -> Starlette:
        route = Route("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        return Starlette(routes=[route, *self.extra_routes, *self._routes])

    def _authorized(self, request: Request) -> bool:
        if self.token is None:
            return True
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(credential.strip(), self.token)

    async def _container_logs(self, request: Request) -> Response:
        if not self._authorized(request):
            # As a kubelet: only the API server (its credential) may read logs; clients go through it.
            return PlainTextResponse("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        namespace, pod = request.path_params["namespace"], request.path_params["pod"]
        container = request.path_params["container"]
        uid = self.uid_of(namespace, pod)
        if uid is None:
            return PlainTextResponse(f"pod {namespace}/{pod} does not run on this node", status_code=404)
        params = request.query_params
        tail_text = params.get("tailLines")
        tail = int(tail_text) if tail_text and tail_text.lstrip("-").isdigit() else None
        try:
            options = log_options(params)
        except ValueError as error:
            return PlainTextResponse(str(error), status_code=400)
        text = self.logs.read(namespace, pod, uid, container, tail, options)
        if text is None:
            message = f'previous terminated container "{container}" in pod "{pod}" not found'
            return PlainTextResponse(message, status_code=400)
        if options.previous or params.get("follow", "").lower() not in ("true", "1"):
            return PlainTextResponse(text)
        follow = self._follow(namespace, pod, uid, container, text, options.timestamps)
        return StreamingResponse(follow, media_type="text/plain")

    async def _follow(
        self, namespace: str, pod: str, uid: str, container: str, first: str, timestamps: bool
    ) -> AsyncIterator[bytes]:
        yield first.encode()
        tail = LogTail(self.logs.path(namespace, pod, uid, container), timestamps)
        while self.uid_of(namespace, pod) == uid:  # ends when the pod goes away
            await asyncio.sleep(self.follow_poll)
            if chunk := tail.read():
                yield chunk

    async def run(self, stop: asyncio.Event) -> None:
        self._socket.listen(128)
        self._socket.setblocking(False)
        # wsproto: it accepts port-forward's subprotocol "SPDY/3.1+portforward.k8s.io"; websockets does not.
        config = uvicorn.Config(
            self.app(), log_level="warning", access_log=False, lifespan="off", ws="wsproto"
        )
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[self._socket]))
        await stop.wait()
        server.should_exit = True
        server.force_exit = True  # follow streams would otherwise hold shutdown open
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
