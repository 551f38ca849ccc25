"""Owner references: one controller per object, idempotent, ownership checks."""

from __future__ import annotations

from typing import Any

import pytest

from infleet.kube.owner_references import (
    AlreadyOwnedError,
    controller_of,
    is_owned_by,
    set_controller_reference,
)


def obj(kind: str, name: str, uid: str) -> dict[str, Any]:
    return {"apiVersion": "aitoolchain.io/v1", "kind": kind, "metadata": {"name": name, "uid": uid}}


def test_set_controller_reference_is_idempotent_and_exclusive() -> None:
    owner, other = obj("ModelDeployment", "m", "u1"), obj("ModelDeployment", "n", "u2")
    child = obj("Deployment", "m-engine", "c1")
    set_controller_reference(owner, child)
    set_controller_reference(owner, child)
    assert child["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "aitoolchain.io/v1",
            "kind": "ModelDeployment",
            "name": "m",
            "uid": "u1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert is_owned_by(child, owner)
    assert not is_owned_by(child, other)
    assert controller_of(child) is not None
    with pytest.raises(AlreadyOwnedError, match="already controlled by ModelDeployment 'm'"):
        set_controller_reference(other, child)
