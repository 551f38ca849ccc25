"""Running the embedded API server: clusters, TLS, token, kubeconfig and the HTTP listener.

``EmbeddedAPIServer`` is what ``infleet apiserver`` and ``infleet up`` start. It binds first (port 0
picks a free port), then writes the kubeconfig, so the file always names a listening address.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import secrets
import socket
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from infleet.apiserver.cluster import Cluster
from infleet.apiserver.http_api import APIServerApp
from infleet.apiserver.http_protocol import CoalescingHttpToolsProtocol
from infleet.apiserver.kubeconfig import build_kubeconfig, write_kubeconfig
from infleet.apiserver.object_meta import name_causes
from infleet.apiserver.private_files import private_directory, private_file, write_private
from infleet.apiserver.tls import ensure_serving_certificate

log = logging.getLogger(__name__)


@dataclass
class APIServerSettings:
    host: str = "127.0.0.1"
    port: int = 6443
    data_dir: Path | None = None
    clusters: Sequence[str] = ("hub",)
    kubeconfig_out: Path | None = None
    tls: bool = True
    bookmark_interval: float = 60.0
    # Events kept for watches to resume from; older resourceVersions get 410 Expired.
    watch_window: int = 20_000
    # How long an idle keep-alive connection stays open: kube-apiserver's 90 s. A server that closes
    # sooner than its clients' pools let connections idle (aiohttp 15 s, client-go 90 s) races them: a
    # request sent on a connection the server is closing fails with "Server disconnected".
    idle_timeout: int = 90
    extra_names: list[str] = field(default_factory=list)
    # Serving without TLS (so without a token) on an address other hosts reach: refused unless set.
    allow_insecure_remote: bool = False

    @property
    def insecure_remote(self) -> bool:
        return not self.tls and not is_loopback(self.host)

    def validate(self) -> None:
        if self.insecure_remote and not self.allow_insecure_remote:
            raise ValueError(
                f"--no-tls --host {self.host}: without TLS there is no token, so every cluster's objects, "
                "Secrets included, would be open to the network; listen on 127.0.0.1, drop --no-tls, or "
                "pass --insecure-allow-remote to accept that"
            )
        if not self.clusters:
            raise ValueError("--cluster: name at least one cluster, e.g. --cluster hub")
        for name in self.clusters:
            if name_causes("Namespace", name):
                raise ValueError(
                    f"--cluster {name!r}: cluster names must be lowercase RFC 1123 labels (e.g. us-east)"
                )
        if len(set(self.clusters)) != len(self.clusters):
            raise ValueError("--cluster: each cluster name may be given once")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner (which stops watches first)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class EmbeddedAPIServer:
    """Serves the configured logical clusters until :meth:`stop`."""

    def __init__(self, settings: APIServerSettings) -> None:
        settings.validate()
        self.settings = settings
        self.clusters: dict[str, Cluster] = {}
        self.token: str | None = None
        self.port = settings.port
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._app: APIServerApp | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.settings.tls else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.settings.host}:{self.port}"

    def cluster_url(self, name: str) -> str:
        return f"{self.base_url}/clusters/{name}"

    def _token(self) -> str:
        data_dir = self.settings.data_dir
        if data_dir is None:
            return secrets.token_urlsafe(32)
        path = data_dir / "token"
        if path.exists():
            private_file(path)
            return path.read_text(encoding="utf-8").strip()
        token = secrets.token_urlsafe(32)
        write_private(path, token.encode())
        return token

    async def start(self) -> None:
        settings = self.settings
        if settings.insecure_remote:
            log.warning(
                "serving plain http without a token on %s: anyone who reaches it is cluster admin",
                settings.host,
            )
        sock = _listening_socket(settings.host, settings.port)  # first: a taken port opens nothing
        if settings.data_dir is not None:
            private_directory(settings.data_dir)
        ssl_options: dict[str, str] = {}
        ca_pem = None
        if settings.tls:
            certificate_dir = (settings.data_dir or Path(".")) / "pki"
            certificate = ensure_serving_certificate(certificate_dir)
            ssl_options = {
                "ssl_certfile": str(certificate.cert_path),
                "ssl_keyfile": str(certificate.key_path),
            }
            ca_pem = certificate.ca_pem()
            self.token = self._token()
        for name in settings.clusters:
            path = settings.data_dir / "clusters" / f"{name}.db" if settings.data_dir else None
            cluster = Cluster(name, path, watch_window=settings.watch_window)
            cluster.root_ca_pem = ca_pem.decode() if ca_pem is not None else None
            await cluster.start()
            self.clusters[name] = cluster
        sock.listen(2048)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        for cluster in self.clusters.values():
            cluster.kubelet_token = self.token
        app = self._app = APIServerApp(
            self.clusters,
            token=self.token,
            server_address=f"{settings.host}:{self.port}",
            bookmark_interval=settings.bookmark_interval,
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=3,
            timeout_keep_alive=settings.idle_timeout,
            http=CoalescingHttpToolsProtocol,
            # wsproto, not websockets: kubectl's port-forward offers the subprotocol
            # "SPDY/3.1+portforward.k8s.io", which websockets refuses as an invalid header token.
            ws="wsproto",
            **ssl_options,  # type: ignore[arg-type]
        )
        self._server = _QuietServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task
            await asyncio.sleep(0.01)
        if settings.kubeconfig_out is not None:
            config_data = build_kubeconfig(self.base_url, list(settings.clusters), self.token, ca_pem)
            write_kubeconfig(settings.kubeconfig_out, config_data)

    def set_cluster_reachable(self, name: str, reachable: bool) -> None:
        """A fault switch: an unreachable cluster answers 503 and its open watches are closed."""
        if name not in self.clusters:
            raise ValueError(
                f"cluster {name!r} is not served here; known: {', '.join(sorted(self.clusters))}"
            )
        if self._app is None:
            raise RuntimeError("start the API server before switching a cluster's reachability")
        if reachable:
            self._app.unreachable.discard(name)
        else:
            self._app.unreachable.add(name)
            self.clusters[name].hub.close_all()

    async def stop(self) -> None:
        """Close every watch, stop listening, then flush and close storage."""
        if self._app is not None:
            self._app.stopping = True
        for cluster in self.clusters.values():
            cluster.hub.close_all()
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for cluster in self.clusters.values():
            await cluster.stop()


def _listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``; a taken port raises EADDRINUSE naming the address."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without
    # it Nagle and delayed ACKs add ~40 ms to every response written in two parts.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise OSError(error.errno, f"{host}:{port} is already in use") from None
        raise
    return sock
