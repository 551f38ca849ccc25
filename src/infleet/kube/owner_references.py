"""Owner references: make an owner the controller of an object, and ask who owns what.

Controllers set a controller reference on everything they create, so garbage collection removes it with
the owner and :meth:`infleet.kube.controller.Controller.watch_owned` maps its changes back to the owner.
"""

from __future__ import annotations

from typing import Any


class AlreadyOwnedError(ValueError):
    """The object already has a different controller owner."""


def controller_reference(owner: dict[str, Any]) -> dict[str, Any]:
    metadata = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((ref for ref in refs if ref.get("controller")), None)


def set_controller_reference(owner: dict[str, Any], obj: dict[str, Any]) -> None:
    """Make ``owner`` the controller of ``obj`` (in place); idempotent."""
    reference = controller_reference(owner)
    current = controller_of(obj)
    if current is not None and current.get("uid") != reference["uid"]:
        name = (obj.get("metadata") or {}).get("name")
        raise AlreadyOwnedError(
            f"{obj.get('kind')} {name!r} is already controlled by "
            f"{current.get('kind')} {current.get('name')!r}; "
            "an object has one controller: remove that owner reference first"
        )
    refs = obj.setdefault("metadata", {}).setdefault("ownerReferences", [])
    refs[:] = [ref for ref in refs if ref.get("uid") != reference["uid"]] + [reference]


def is_owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return uid is not None and any(ref.get("uid") == uid for ref in refs)
