"""Registry of plugin factories keyed by plugin name; profiles name plugins, the registry builds them.

Called by `Profile.build` and by packages that contribute plugins (routing, placement).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from infleet.scheduling.framework import Environment

PluginFactory = Callable[[Mapping[str, Any], Environment], Any]


class RegistryError(ValueError):
    """A profile names a plugin that is not registered, or gives it arguments it rejects."""


class Registry:
    """Maps a plugin name to the factory that builds it from its arguments."""

    def __init__(self) -> None:
        self._factories: dict[str, PluginFactory] = {}

    def register(self, name: str, factory: PluginFactory) -> None:
        if name in self._factories:
            raise RegistryError(f"plugin {name!r} is already registered")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def build(self, name: str, args: Mapping[str, Any], env: Environment, where: str) -> Any:
        """Builds plugin `name`; `where` locates it in configuration for the error message."""
        factory = self._factories.get(name)
        if factory is None:
            known = ", ".join(self.names())
            raise RegistryError(f"{where}: unknown plugin {name!r}; use one of: {known}")
        try:
            return factory(args, env)
        except (TypeError, ValueError, KeyError) as exc:
            raise RegistryError(
                f"{where}: plugin {name!r} rejected its arguments {dict(args)}: {exc}"
            ) from exc
