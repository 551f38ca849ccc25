"""Lightkube resource classes as :class:`~infleet.api.resource_kind.ResourceKind`.

Users of lightkube's typed built-ins (or ``create_namespaced_resource`` for CRDs) hand them to the
runtime through :func:`kind_of`; the runtime itself names kinds from :mod:`infleet.api.kubernetes`.
"""

from __future__ import annotations

from typing import Any

from lightkube.core.resource import NamespacedResource, api_info

from infleet.api.resource_kind import ResourceKind


def kind_of(resource: type[Any]) -> ResourceKind:
    """The kind of a lightkube resource class (``lightkube.resources.core_v1.Pod``, generic resources)."""
    info = api_info(resource)
    namespaced = issubclass(resource, NamespacedResource)
    return ResourceKind(
        info.resource.group, info.resource.version, info.resource.kind, info.plural, namespaced
    )
