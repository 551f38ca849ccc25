"""API keys: stored as SHA-256 digests, looked up per request from `Authorization: Bearer` (or
`x-api-key`); a master key is admin and bypasses model lists and limits. With no key configured at
all, the gateway is open. Called by the app for every authenticated path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from infleet.gateway.config import GatewayConfig


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    admin: bool = False
    models: frozenset[str] | None = None  # None allows every model
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    priority: str = "standard"  # the highest x-infleet-priority honoured for this principal
    allowed_regions: frozenset[str] | None = None  # None: every region
    home_region: str | None = None

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


ANONYMOUS = Principal("anonymous")
_MASTER = Principal("master", admin=True, priority="critical")


class KeyStore:
    def __init__(self, keys: dict[str, Principal], master_digest: str | None) -> None:
        self._keys = keys
        self._master = master_digest
        self.open = not keys and master_digest is None

    @classmethod
    def from_config(cls, config: GatewayConfig) -> KeyStore:
        keys = {
            k.digest(): Principal(
                k.name,
                models=frozenset(k.models) if k.models is not None else None,
                rpm=k.rpm,
                tpm=k.tpm,
                max_parallel=k.max_parallel,
                priority=k.priority,
                allowed_regions=frozenset(k.allowed_regions) if k.allowed_regions is not None else None,
                home_region=k.home_region,
            )
            for k in config.keys
        }
        return cls(keys, config.master_digest())

    def authenticate(self, headers: list[tuple[bytes, bytes]]) -> Principal | None:
        """The caller's principal, or None when the key is missing or unknown."""
        if self.open:
            return ANONYMOUS
        token: bytes | None = None
        for name, value in headers:
            if name == b"authorization":
                scheme, _, rest = value.partition(b" ")
                token = rest.strip() if scheme.lower() == b"bearer" else value.strip()
                break
            if name in (b"x-api-key", b"api-key"):
                token = value.strip()
        if not token:
            return None
        digest = hashlib.sha256(token).hexdigest()
        if digest == self._master:
            return _MASTER
        return self._keys.get(digest)
