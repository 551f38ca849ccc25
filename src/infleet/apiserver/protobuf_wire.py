"""The protobuf wire format: a message's bytes as a sequence of (field number, wire type, value).

Written by hand rather than with the ``protobuf`` runtime: the runtime decodes only messages it has
descriptors for, and turning the field table into descriptors would still leave the JSON mapping of
Kubernetes (omitempty, inline structs, IntOrString, Time...) to write. The format itself is four
wire types and a varint, documented at https://protobuf.dev/programming-guides/encoding/.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
_UINT64 = (1 << 64) - 1


class WireError(ValueError):
    """Bytes that are not a protobuf message."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it."""
    if pos < len(data) and data[pos] < 0x80:  # most keys, lengths and small numbers: one byte
        return data[pos], pos + 1
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise WireError("a varint runs past the end of the message")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & _UINT64, pos
        shift += 7
        if shift >= 70:
            raise WireError("a varint is longer than 10 bytes")


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Each field of a message: varints and fixed values as unsigned ints, the rest as bytes."""
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("a field numbered 0")
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
            yield number, wire_type, value
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(data, pos)
            if pos + length > end:
                raise WireError(f"field {number} runs past the end of the message")
            yield number, wire_type, data[pos : pos + length]
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if pos + size > end:
                raise WireError(f"field {number} runs past the end of the message")
            yield number, wire_type, int.from_bytes(data[pos : pos + size], "little")
            pos += size
        else:
            raise WireError(f"field {number} has wire type {wire_type}, which Kubernetes types never use")


def packed_varints(data: bytes) -> list[int]:
    """The varints of a packed repeated field."""
    values = []
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        values.append(value)
    return values


def signed(value: int, bits: int) -> int:
    """A varint read as unsigned, as the two's complement integer of ``bits`` bits it encodes."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def double(value: int, wire_type: int) -> float:
    """A fixed64 (double) or fixed32 (float) field's number."""
    if wire_type == FIXED64:
        return float(struct.unpack("<d", value.to_bytes(8, "little"))[0])
    return float(struct.unpack("<f", value.to_bytes(4, "little"))[0])
