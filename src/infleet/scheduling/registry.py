"""Registry of plugin factories keyed by plugin name; profiles name plugins, the registry builds them.

Called by `Profile.build` and by packages that contribute plugins (routing, placement).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from infleet.scheduling.framework import Environment

PluginFactory = Callable[[Mapping[str, Any], Environment], Any]
A = TypeVar("A", bound="PluginArgs")


class PluginArgs(BaseModel):
    """Base of a plugin's typed arguments: validated when the profile is built, unknown keys refused,
    so a typo in a profile fails at load time instead of being silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'args'}: {error['msg']}" for error in exc.errors()
    )


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

    def register_typed(self, name: str, args_type: type[A], factory: Callable[[A, Environment], Any]) -> None:
        """Registers a plugin whose arguments are the pydantic model `args_type`."""

        def build(args: Mapping[str, Any], env: Environment) -> Any:
            try:
                parsed = args_type.model_validate(dict(args))
            except ValidationError as exc:
                raise ValueError(_describe(exc)) from None
            return factory(parsed, env)

        self.register(name, build)

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
