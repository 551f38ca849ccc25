"""Reading the protobuf bodies kubectl sends for self reviews (``kubectl auth can-i``, ``auth whoami``).

kubectl's typed clients send these as ``application/vnd.kubernetes.protobuf``: the ``k8s\\0`` envelope
around a ``runtime.Unknown`` whose ``raw`` bytes are the review. Only the review's spec matters (the
answer echoes it), and it is a handful of string fields, so this reads the protobuf wire format
directly rather than carrying generated message classes for the whole Kubernetes API.
"""

from __future__ import annotations

from typing import Any

PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"
_RESOURCE_ATTRIBUTES = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
_NON_RESOURCE_ATTRIBUTES = ("path", "verb")


class ProtobufError(ValueError):
    """A body that is not a well-formed protobuf review."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> dict[int, bytes]:
    """The length-delimited fields of one message by number (the last one of a number wins)."""
    found: dict[int, bytes] = {}
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(data, at)
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise ProtobufError("truncated field")
            found[number] = data[at : at + size]
            at += size
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return found


def _strings(data: bytes, names: tuple[str, ...]) -> dict[str, str]:
    fields = _fields(data)
    return {name: fields[i + 1].decode() for i, name in enumerate(names) if i + 1 in fields}


def decode_review(body: bytes, kind: str) -> dict[str, Any]:
    """The review of ``kind`` in ``body`` as JSON-shaped data: its spec, as kubectl sent it."""
    if not body.startswith(_MAGIC):
        raise ProtobufError("the body does not start with the k8s protobuf envelope")
    try:
        unknown = _fields(body[len(_MAGIC) :])
        review = _fields(unknown.get(2, b""))
        spec_bytes = review.get(2, b"")
        if kind == "SelfSubjectRulesReview":
            return {"spec": _strings(spec_bytes, ("namespace",))}
        if kind != "SelfSubjectAccessReview":
            return {}
        spec = _fields(spec_bytes)
        decoded: dict[str, Any] = {}
        if 1 in spec:
            decoded["resourceAttributes"] = _strings(spec[1], _RESOURCE_ATTRIBUTES)
        if 2 in spec:
            decoded["nonResourceAttributes"] = _strings(spec[2], _NON_RESOURCE_ATTRIBUTES)
    except (UnicodeDecodeError, ProtobufError) as exc:
        raise ProtobufError(str(exc)) from None
    return {"spec": decoded}
