"""``curl`` inside a simulated container: HTTP to the pod's own ports, which reach its simulated engine.

The options people use to poke an engine are understood (``-s``, ``-S``, ``-f``, ``-i``, ``-X``, ``-H``,
``-d``/``--data``/``--json``, ``-o /dev/null``, ``-w '%{http_code}'``, ``-m``); errors and exit codes are
curl's (6 unknown host, 7 refused, 22 HTTP error with ``-f``, 28 timeout). Hosts other than the pod
itself are out of reach: the simulated container has no cluster network.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from infleet.sim.container_view import ContainerView

Write = Callable[[bytes], Awaitable[None]]
_FLAGS_WITH_VALUE = {
    "-X",
    "--request",
    "-H",
    "--header",
    "-d",
    "--data",
    "--data-raw",
    "--json",
    "-o",
    "--output",
}
_FLAGS_WITH_VALUE |= {"-w", "--write-out", "-m", "--max-time", "--connect-timeout", "-A", "--user-agent"}


class CurlUsageError(ValueError):
    pass


@dataclass
class CurlRequest:
    url: str = ""
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    silent: bool = False
    show_error: bool = False
    fail: bool = False
    include: bool = False
    discard: bool = False
    write_out: str = ""
    timeout: float = 30.0


def _apply_option(request: CurlRequest, option: str, value: str) -> None:
    if option in ("-X", "--request"):
        request.method = value.upper()
    elif option in ("-H", "--header"):
        name, _, header_value = value.partition(":")
        request.headers[name.strip()] = header_value.strip()
    elif option in ("-d", "--data", "--data-raw", "--json"):
        request.body = value
        form = "application/json" if option == "--json" else "application/x-www-form-urlencoded"
        request.headers.setdefault("Content-Type", form)
    elif option in ("-o", "--output"):
        request.discard = value == "/dev/null"
    elif option in ("-w", "--write-out"):
        request.write_out = value
    elif option in ("-m", "--max-time", "--connect-timeout"):
        request.timeout = float(value)
    elif option in ("-A", "--user-agent"):
        request.headers["User-Agent"] = value


def parse_curl(args: list[str]) -> CurlRequest:
    request, index = CurlRequest(), 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg in _FLAGS_WITH_VALUE:
            if index >= len(args):
                raise CurlUsageError(f"option {arg}: requires parameter")
            _apply_option(request, arg, args[index])
            index += 1
            continue
        if arg.startswith("--"):
            flags = {"--silent": "s", "--show-error": "S", "--fail": "f", "--include": "i"}.get(arg, "")
        elif arg.startswith("-"):
            flags = arg[1:]
        else:
            request.url, flags = arg, ""
        request.silent |= "s" in flags
        request.show_error |= "S" in flags
        request.fail |= "f" in flags
        request.include |= "i" in flags
    if not request.url:
        raise CurlUsageError("no URL specified")
    return request


async def _write_response(request: CurlRequest, response: httpx.Response, stdout: Write) -> None:
    if request.include:
        head = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        await stdout(("\r\n".join(head) + "\r\n\r\n").encode())
    if not request.discard:
        await stdout(response.content)
    if request.write_out:
        written = request.write_out.replace("%{http_code}", str(response.status_code))
        await stdout(written.replace("\\n", "\n").encode())


async def curl(view: ContainerView, args: list[str], stdout: Write, stderr: Write) -> int:
    try:
        request = parse_curl(args)
    except (CurlUsageError, ValueError) as error:
        await stderr(f"curl: {error}\ncurl: try 'curl --help' for more information\n".encode())
        return 2

    async def fail(code: int, message: str) -> int:
        if not request.silent or request.show_error:
            await stderr(f"curl: ({code}) {message}\n".encode())
        return code

    url = request.url if "://" in request.url else f"http://{request.url}"
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    refused = f"Failed to connect to {host} port {port} after 0 ms: Couldn't connect to server"
    if host not in ("localhost", "127.0.0.1", "::1", view.pod, view.pod_ip):
        return await fail(6, f"Could not resolve host: {host} (a simulated container reaches only itself)")
    target = view.ports.get(port)
    if target is None:
        return await fail(7, refused)
    path = parts.path or "/"
    upstream = f"http://{target[0]}:{target[1]}{path}{'?' + parts.query if parts.query else ''}"
    method = request.method or ("POST" if request.body is not None else "GET")
    headers = {"User-Agent": "curl/8.5.0", "Accept": "*/*", **request.headers}
    try:
        async with httpx.AsyncClient(timeout=request.timeout) as client:
            response = await client.request(method, upstream, headers=headers, content=request.body)
    except httpx.TimeoutException:
        return await fail(28, f"Operation timed out after {int(request.timeout * 1000)} milliseconds")
    except httpx.HTTPError:
        return await fail(7, refused)
    if request.fail and response.status_code >= 400:
        return await fail(22, f"The requested URL returned error: {response.status_code}")
    await _write_response(request, response, stdout)
    return 0
