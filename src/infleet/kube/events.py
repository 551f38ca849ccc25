"""Recording core/v1 Events about objects, as ``kubectl describe`` shows them.

Repeats of the same (object, type, reason, message) within this recorder increase ``count`` and move
``lastTimestamp`` on the existing Event instead of creating another. Events are best effort: failures
are logged, never raised into a reconcile.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx2

from infleet.api.kubernetes import EVENT
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import timestamp

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"


def involved_object(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    reference = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "uid": metadata.get("uid"),
        "resourceVersion": metadata.get("resourceVersion"),
    }
    return {key: value for key, value in reference.items() if value}


class EventRecorder:
    """Writes Events from ``component`` into one cluster."""

    def __init__(self, client: ClusterClient, component: str, clock: Clock | None = None) -> None:
        self.client = client
        self.component = component
        self.clock: Clock = clock or SystemClock()
        self._seen: dict[tuple[str, str, str, str], tuple[str, str, int]] = {}

    async def record(
        self, obj: dict[str, Any], type_: str, reason: str, message: str
    ) -> dict[str, Any] | None:
        """Create (or count again) an Event; returns it, or None when the API refused."""
        involved = involved_object(obj)
        namespace = involved.get("namespace") or "default"
        now = timestamp(self.clock.wall())
        key = (str(involved.get("uid") or involved.get("name")), type_, reason, message)
        try:
            if key in self._seen:
                name, event_namespace, count = self._seen[key]
                try:
                    patch = {"count": count + 1, "lastTimestamp": now}
                    event = await self.client.patch(EVENT, name, patch, event_namespace)
                    self._seen[key] = (name, event_namespace, count + 1)
                    return event
                except KubeAPIError as error:
                    if not error.not_found:
                        raise
            body = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{involved.get('name')}.{secrets.token_hex(8)}",
                    "namespace": namespace,
                },
                "involvedObject": involved,
                "type": type_,
                "reason": reason,
                "message": message,
                "count": 1,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "source": {"component": self.component},
                "reportingComponent": self.component,
            }
            event = await self.client.create(EVENT, body)
            self._seen[key] = (event["metadata"]["name"], namespace, 1)
            return event
        except (KubeAPIError, httpx2.HTTPError, OSError) as error:
            log.warning(
                "event %s on %s %s not recorded: %s", reason, obj.get("kind"), involved.get("name"), error
            )
            return None
