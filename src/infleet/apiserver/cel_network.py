"""The Kubernetes CEL IP, CIDR and URL libraries: ``ip()``, ``cidr()``, ``url()`` and their methods.

Addresses are parsed with :mod:`ipaddress` and URLs split with :mod:`urllib.parse`; what those accept is
narrowed to what kube-apiserver's Go parsers (``netip.ParseAddr``, ``netip.ParsePrefix``,
``url.ParseRequestURI``) accept: no IPv4-mapped IPv6 addresses, no zones, absolute URLs or paths only.
Methods follow Go's ``netip.Addr`` semantics (private ranges count as global unicast).
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from infleet.apiserver.cel_opaque import CIDR, IP, URL, LibraryError, expect, payload, wrap

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

_LINK_LOCAL_MULTICAST_4 = ipaddress.ip_network("224.0.0.0/24")
_LINK_LOCAL_MULTICAST_6 = ipaddress.ip_network("ff02::/16")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def _q(text: str) -> str:
    """Go's ``%q``, as kube-apiserver's messages quote values."""
    return json.dumps(text)


# ---- IP addresses ------------------------------------------------------------------------------


def _parse_addr(text: str) -> Address:
    """``netip.ParseAddr`` without zones: the address, or ValueError with Go's reason."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    reason = "unable to parse IP"
    if "." in text and ":" not in text:
        fields = text.split(".")
        if any(not field.isdigit() for field in fields):
            reason = "unexpected character"
        elif any(len(field) > 1 and field.startswith("0") for field in fields):
            reason = "IPv4 field has octet with leading zero"
        elif any(int(field) > 255 for field in fields):
            reason = "IPv4 field has value >255"
        else:
            reason = "IPv4 address too short" if len(fields) < 4 else "IPv4 address too long"
    raise ValueError(f"ParseAddr({_q(text)}): {reason}")


def _address(text: str) -> Address:
    """An address as ``netip.ParseAddr`` reads it, refused where kube-apiserver refuses it."""
    bare, percent, _ = text.partition("%")
    try:
        address = _parse_addr(bare)
    except ValueError as error:
        raise LibraryError(
            f"IP Address {_q(text)} parse error during conversion from string: {error}"
        ) from None
    if percent:
        raise LibraryError(f"IP address {_q(text)} with zone value is not allowed")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise LibraryError(f"IPv4-mapped IPv6 address {_q(text)} is not allowed")
    return address


def _ip_of(value: Any, function: str) -> Address:
    return ipaddress.ip_address(payload(value, IP, function))


def ip(value: Any) -> dict[int, Any]:
    """``ip(string)`` parses an address; ``cidr.ip()`` is the address a CIDR was written with."""
    if isinstance(value, str):
        return wrap(IP, str(_address(value)))
    interface = _interface_of(value, "ip")
    return wrap(IP, str(interface.ip))


def is_ip(text: Any) -> bool:
    """``isIP(string)``: whether ``ip()`` would accept the text."""
    try:
        _address(expect(text, str, "isIP"))
    except LibraryError:
        return False
    return True


def ip_is_canonical(text: Any) -> bool:
    """``ip.isCanonical(string)``: whether the text is the address's canonical (RFC 5952) spelling."""
    written: str = expect(text, str, "ip.isCanonical")
    return str(_address(written)) == written


def family(value: Any) -> int:
    """``family()``: 4 or 6."""
    return _ip_of(value, "family").version


def is_unspecified(value: Any) -> bool:
    """``isUnspecified()``: 0.0.0.0 or ::."""
    return _ip_of(value, "isUnspecified").is_unspecified


def is_loopback(value: Any) -> bool:
    """``isLoopback()``: 127.0.0.0/8 or ::1."""
    return _ip_of(value, "isLoopback").is_loopback


def is_link_local_multicast(value: Any) -> bool:
    """``isLinkLocalMulticast()``: 224.0.0.0/24 or ff02::/16, as Go defines it."""
    address = _ip_of(value, "isLinkLocalMulticast")
    if address.version == 4:
        return address in _LINK_LOCAL_MULTICAST_4
    return address in _LINK_LOCAL_MULTICAST_6


def is_link_local_unicast(value: Any) -> bool:
    """``isLinkLocalUnicast()``: 169.254.0.0/16 or fe80::/10."""
    return _ip_of(value, "isLinkLocalUnicast").is_link_local


def is_global_unicast(value: Any) -> bool:
    """``isGlobalUnicast()`` as Go's netip defines it: private ranges included, unlike Python's is_global."""
    address = _ip_of(value, "isGlobalUnicast")
    return not (
        address.is_unspecified
        or address.is_loopback
        or address.is_multicast
        or address.is_link_local
        or address == _BROADCAST
    )


# ---- CIDRs -------------------------------------------------------------------------------------


_CIDR_FAILURE = "network address parse error during conversion from string: "


def _interface(text: str) -> Interface:
    """A prefix as ``netip.ParsePrefix`` reads it: host bits kept, prefix length required.

    kube-apiserver's message names the failure twice (its parser and its conversion both prefix it).
    """
    address, slash, bits = text.rpartition("/")
    where = f"netip.ParsePrefix({_q(text)}): "
    if not slash:
        raise LibraryError(_CIDR_FAILURE * 2 + where + "no '/'")
    if "%" in address:
        raise LibraryError(_CIDR_FAILURE * 2 + where + "IPv6 zones cannot be present in a prefix")
    try:
        parsed = _parse_addr(address)
    except ValueError as error:
        raise LibraryError(_CIDR_FAILURE * 2 + where + str(error)) from None
    if not bits.isdigit() or (len(bits) > 1 and bits.startswith("0")):
        raise LibraryError(_CIDR_FAILURE * 2 + where + f"bad bits after slash: {_q(bits)}")
    if int(bits) > parsed.max_prefixlen:
        raise LibraryError(_CIDR_FAILURE * 2 + where + "prefix length out of range")
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        raise LibraryError(f"{_CIDR_FAILURE}IPv4-mapped IPv6 address {_q(text)} is not allowed")
    return ipaddress.ip_interface(f"{parsed}/{int(bits)}")


def _interface_of(value: Any, function: str) -> Interface:
    return ipaddress.ip_interface(payload(value, CIDR, function))


def cidr(text: Any) -> dict[int, Any]:
    """``cidr(string)``: a network written as address/length (host bits allowed)."""
    return wrap(CIDR, str(_interface(expect(text, str, "cidr"))))


def is_cidr(text: Any) -> bool:
    """``isCIDR(string)``: whether ``cidr()`` would accept the text."""
    try:
        _interface(expect(text, str, "isCIDR"))
    except LibraryError:
        return False
    return True


def contains_ip(value: Any, other: Any) -> bool:
    """``containsIP(ip | string)``: whether the address lies in the network."""
    network = _interface_of(value, "containsIP").network
    address = _address(other) if isinstance(other, str) else _ip_of(other, "containsIP")
    return address.version == network.version and address in network


def contains_cidr(value: Any, other: Any) -> bool:
    """``containsCIDR(cidr | string)``: whether the other network lies wholly in this one."""
    network = _interface_of(value, "containsCIDR").network
    inner = _interface(other) if isinstance(other, str) else _interface_of(other, "containsCIDR")
    return inner.version == network.version and inner.network.subnet_of(network)  # type: ignore[arg-type]


def prefix_length(value: Any) -> int:
    """``prefixLength()``: the number of network bits."""
    return _interface_of(value, "prefixLength").network.prefixlen


def masked(value: Any) -> dict[int, Any]:
    """``masked()``: the CIDR with its host bits cleared."""
    return wrap(CIDR, str(_interface_of(value, "masked").network))


def as_string(value: Any) -> str:
    """``string(ip)`` and ``string(cidr)``: the canonical spelling."""
    try:
        return str(payload(value, IP, "string"))
    except LibraryError:
        return str(payload(value, CIDR, "string"))


# ---- URLs --------------------------------------------------------------------------------------

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH_SAFE = "/!$&'()*+,;=:@-._~%"


URL_FAILURE = "URL parse error during conversion from string: "


def parse_request_uri(text: str) -> str:
    """``text`` when ``url.ParseRequestURI`` accepts it: an absolute URL or an absolute path."""
    failure = f"{URL_FAILURE}parse {_q(text)}: "
    if _CONTROL.search(text):
        raise LibraryError(failure + "net/url: invalid control character in URL")
    if not text.startswith("/") and not _SCHEME.match(text):
        raise LibraryError(failure + "invalid URI for request")
    try:
        parts = urlsplit(text, allow_fragments=False)
        parts.port  # noqa: B018 - reading the port validates it
    except ValueError:
        port = urlsplit(text, allow_fragments=False).netloc.rpartition("@")[2].rpartition(":")[2]
        raise LibraryError(failure + f"invalid port {_q(':' + port)} after host") from None
    if " " in parts.netloc:
        raise LibraryError(failure + 'invalid character " " in host name')
    return text


def url(text: Any) -> dict[int, Any]:
    """``url(string)``: an absolute URL or path, as ``url.ParseRequestURI`` accepts it."""
    return wrap(URL, parse_request_uri(expect(text, str, "url")))


def is_url(text: Any) -> bool:
    """``isURL(string)``: whether ``url()`` would accept the text."""
    try:
        parse_request_uri(expect(text, str, "isURL"))
    except LibraryError:
        return False
    return True


def _split(value: Any, function: str) -> Any:
    # Validated as a request URI, read as a URL: a "#fragment" is not part of the path or query.
    return urlsplit(payload(value, URL, function))


def get_scheme(value: Any) -> str:
    """``getScheme()``: the scheme, empty for a path."""
    return str(_split(value, "getScheme").scheme)


def get_host(value: Any) -> str:
    """``getHost()``: host and port as written, IPv6 addresses in brackets."""
    netloc = str(_split(value, "getHost").netloc)
    return netloc.rpartition("@")[2]


def get_hostname(value: Any) -> str:
    """``getHostname()``: the host without port or IPv6 brackets."""
    host = get_host(value)
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.partition(":")[0]


def get_port(value: Any) -> str:
    """``getPort()``: the port as a string, empty when none is written."""
    host = get_host(value)
    tail = host[host.find("]") + 1 :] if host.startswith("[") else host
    return tail.partition(":")[2]


def get_escaped_path(value: Any) -> str:
    """``getEscapedPath()``: the path, escaped where it was not already validly escaped."""
    path = str(_split(value, "getEscapedPath").path)
    if all(char in _PATH_SAFE or (char.isalnum() and char.isascii()) for char in path):
        return path
    return quote(unquote(path), safe=_PATH_SAFE.replace("%", ""))


def get_query(value: Any) -> dict[str, list[str]]:
    """``getQuery()``: the query as a map of names to their values, in order."""
    query = str(_split(value, "getQuery").query)
    return parse_qs(query, keep_blank_values=True)
