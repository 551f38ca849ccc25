"""JSON Patch (RFC 6902) for ``application/json-patch+json`` PATCH requests, on top of ``jsonpatch``.

The PATCH handler calls :func:`apply_json_patch`. A body that is not a well-formed operation list is a
400 BadRequest; an operation that cannot be applied (failed ``test``, missing path, bad index) is a 422
Invalid, as kube-apiserver answers.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from infleet.apiserver.errors import Cause, StatusError, bad_request, invalid

_REQUIRED = {
    "add": ("path", "value"),
    "remove": ("path",),
    "replace": ("path", "value"),
    "move": ("from", "path"),
    "copy": ("from", "path"),
    "test": ("path", "value"),
}


def _check_operations(operations: Any) -> list[dict[str, Any]]:
    if not isinstance(operations, list):
        raise bad_request(
            f"the JSON patch body must be a list of operation objects, got {type(operations).__name__}"
        )
    for i, op in enumerate(operations):
        if not isinstance(op, dict):
            raise bad_request(f"JSON patch operation {i} must be an object, got {type(op).__name__}")
        name = op.get("op")
        if name not in _REQUIRED:
            raise bad_request(
                f"JSON patch operation {i} has unknown op {name!r}; use one of {', '.join(sorted(_REQUIRED))}"
            )
        for member in _REQUIRED[str(name)]:
            if member not in op:
                raise bad_request(f'JSON patch operation {i} ("{name}") is missing "{member}"')
        for member in ("path", "from"):
            if member in op and not isinstance(op[member], str):
                raise bad_request(f'JSON patch operation {i} ("{name}"): "{member}" must be a string')
            if member in op and op[member] and not op[member].startswith("/"):
                raise bad_request(
                    f'JSON patch operation {i} ("{name}"): "{member}" {op[member]!r} must be a JSON pointer '
                    "starting with '/'"
                )
    return operations


def _short(exc: Exception) -> str:
    # jsonpointer quotes the whole document in some messages; keep Status messages readable.
    text = str(exc)
    return text if len(text) <= 160 else text[:157] + "..."


def apply_json_patch(target: dict[str, Any], operations: Any, *, kind: str, name: str) -> dict[str, Any]:
    """Apply ``operations`` to a copy of ``target``; raise :class:`StatusError` (400 or 422) on failure."""
    ops = _check_operations(operations)
    document: Any = copy.deepcopy(target)
    for i, op in enumerate(ops):
        try:
            document = jsonpatch.JsonPatch([op]).apply(document, in_place=True)
        except StatusError:
            raise
        except jsonpatch.JsonPatchTestFailed as exc:
            raise invalid(
                kind,
                name,
                [Cause("FieldValueInvalid", f"JSON patch test failed at operation {i}: {_short(exc)}")],
            ) from exc
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise invalid(
                kind,
                name,
                [
                    Cause(
                        "FieldValueInvalid",
                        f"JSON patch operation {i} ({op['op']} {op['path']}) failed: {_short(exc)}",
                    )
                ],
            ) from exc
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise invalid(
                kind,
                name,
                [
                    Cause(
                        "FieldValueInvalid",
                        f"JSON patch operation {i} ({op['op']} {op['path']}) cannot be applied: "
                        f"{_short(exc)}",
                    )
                ],
            ) from exc
    if not isinstance(document, dict):
        raise invalid(
            kind, name, [Cause("FieldValueInvalid", "the JSON patch must leave an object at the root")]
        )
    return document
