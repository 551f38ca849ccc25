"""Request bodies in ``application/vnd.kubernetes.protobuf``, decoded into the JSON objects the server stores.

kubectl's ``create`` generators and client-go's typed clients send built-in kinds this way: the
four bytes ``k8s\\0``, then a ``runtime.Unknown`` message holding the ``apiVersion``/``kind`` and the
bytes of the typed message. The typed message is read with :mod:`protobuf_table` and rendered as
Go's JSON encoder renders the same struct, so the server sees what the client would have sent as
JSON: a zero value of an ``omitempty`` field is dropped, a pointer's zero is kept, inline structs
merge into their parent, ``Time`` is RFC 3339, ``Secret.data`` base64, ``IntOrString`` a number or a
string. Fields the table does not know are dropped, as kube-apiserver drops unknown protobuf fields.

Kinds outside the table (custom resources, ``CustomResourceDefinition``) are refused with 415 naming
the kind; kube-apiserver also refuses protobuf for custom resources.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from infleet.apiserver.body_decoding import Decoded, ShapeError, check_shape
from infleet.apiserver.errors import StatusError, bad_request, unsupported_media_type
from infleet.apiserver.protobuf_table import FieldSpec, FieldTable, FieldType, field_table
from infleet.apiserver.protobuf_wire import (
    FIXED32,
    FIXED64,
    LENGTH_DELIMITED,
    VARINT,
    WireError,
    double,
    fields,
    packed_varints,
    signed,
)

PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
# Messages nest this deep at most (the deepest built-in kind nests about 15); a RawExtension that
# holds another envelope counts its levels too.
MAX_MESSAGE_DEPTH = 64
_VARINT_TYPES = {"bool", "int32", "int64", "uint32", "uint64"}


def decode_protobuf_body(raw: bytes, api_version: str, kind: str) -> Decoded:
    """A protobuf body as the JSON object it stands for, refused with 400 when no object may hold it.
    ``api_version``/``kind`` (the URL's resource) stand in when the body names none."""
    try:
        obj = _Decoder(field_table()).envelope(raw, api_version, kind, depth=0)
    except WireError as exc:
        raise bad_request(f"the request body is not a valid Kubernetes protobuf message: {exc}") from None
    except RecursionError:  # JSON in a RawExtension nested past what the parser follows
        raise bad_request("the request body nests too deeply: flatten the object") from None
    try:
        check_shape(obj)
    except ShapeError as exc:
        raise bad_request(f"the request body is not a valid object at {exc.path}: {exc}") from None
    return Decoded(obj)


class _Decoder:
    def __init__(self, table: FieldTable) -> None:
        self.table = table

    def envelope(self, raw: bytes, api_version: str, kind: str, depth: int) -> dict[str, Any]:
        if not raw.startswith(MAGIC):
            raise WireError("it does not start with the k8s\\0 prefix of runtime.Unknown")
        parts: dict[int, bytes] = {}
        for number, wire_type, value in fields(raw[len(MAGIC) :]):
            if wire_type == LENGTH_DELIMITED and isinstance(value, bytes):
                parts[number] = value
        type_meta = dict((n, v) for n, _, v in fields(parts.get(1, b"")) if isinstance(v, bytes))
        sent_version = _text(type_meta.get(1, b""))
        sent_kind = _text(type_meta.get(2, b""))
        api_version, kind = (sent_version, sent_kind) if sent_kind else (api_version, kind)
        encoding = _text(parts.get(3, b""))
        if encoding:
            raise _refused(kind, api_version, f"its content encoding {encoding!r} is not supported")
        message = self.table.message_of(api_version, kind)
        if message is None:
            raise _refused(kind, api_version, "the server has no protobuf schema for this kind")
        obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
        obj.update(self.message(message, parts.get(2, b""), depth + 1))
        return obj

    def message(self, name: str, data: bytes, depth: int) -> dict[str, Any]:
        if depth > MAX_MESSAGE_DEPTH:
            raise WireError(f"messages nest deeper than {MAX_MESSAGE_DEPTH} levels")
        specs = self.table.messages[name]
        out: dict[str, Any] = {}
        singular: list[FieldSpec] = []
        for number, wire_type, value in fields(data):
            spec = specs.get(number)
            if spec is None:
                continue
            if spec.inline:
                out.update(self.message(_ref(spec), _bytes(value, spec), depth + 1))
            elif spec.repeated:
                self._add_repeated(out, spec, wire_type, value, depth)
            else:
                out[spec.json_name] = self.value(spec.type, wire_type, value, spec, depth)
                singular.append(spec)
        for spec in singular:
            if spec.json_name in out and _omitted(spec, out[spec.json_name]):
                del out[spec.json_name]
        return out

    def _add_repeated(
        self, out: dict[str, Any], spec: FieldSpec, wire_type: int, value: int | bytes, depth: int
    ) -> None:
        if isinstance(spec.type, tuple) and spec.type[0] == "map":
            entry = {n: (t, v) for n, t, v in fields(_bytes(value, spec))}
            key = self._entry_value(spec.type[1], entry.get(1), spec, depth)
            out.setdefault(spec.json_name, {})[str(key)] = self._entry_value(
                spec.type[2], entry.get(2), spec, depth
            )
            return
        items = out.setdefault(spec.json_name, [])
        if spec.type in _VARINT_TYPES and wire_type == LENGTH_DELIMITED:  # a packed list
            items.extend(
                self.value(spec.type, VARINT, v, spec, depth) for v in packed_varints(_bytes(value, spec))
            )
        else:
            items.append(self.value(spec.type, wire_type, value, spec, depth))

    def _entry_value(
        self, field_type: FieldType, sent: tuple[int, int | bytes] | None, spec: FieldSpec, depth: int
    ) -> Any:
        """A map entry's key or value; one left out is its type's zero value, as protobuf has it."""
        if sent is None:
            sent = (VARINT, 0) if field_type in _VARINT_TYPES else (LENGTH_DELIMITED, b"")
        return self.value(field_type, sent[0], sent[1], spec, depth)

    def value(
        self, field_type: FieldType, wire_type: int, value: int | bytes, spec: FieldSpec, depth: int
    ) -> Any:
        if isinstance(field_type, tuple):
            if field_type[0] == "items":
                return [
                    self.value(field_type[1], t, v, spec, depth + 1)
                    for n, t, v in fields(_bytes(value, spec))
                    if n == 1
                ]
            raise WireError(f"{spec.json_name}: a map inside a map is not a Kubernetes field")
        if field_type.startswith("@"):
            return self.message(field_type[1:], _bytes(value, spec), depth + 1)
        if wire_type == LENGTH_DELIMITED:
            return self._length_delimited(field_type, _bytes(value, spec), spec, depth)
        if not isinstance(value, int):
            raise WireError(f"{spec.json_name}: not a number")
        return _number(field_type, wire_type, value, spec)

    def _length_delimited(self, field_type: str, data: bytes, spec: FieldSpec, depth: int) -> Any:
        if field_type == "string":
            return _text(data, spec.json_name)
        if field_type == "bytes":
            return base64.b64encode(data).decode("ascii")
        special = {n: v for n, _, v in fields(data)}
        if field_type in ("time", "microtime"):
            return _timestamp(data, special, micro=field_type == "microtime")
        if field_type == "duration":
            return go_duration(signed(_int(special.get(1, 0)), 64))
        if field_type == "quantity":
            return _text(_raw(special.get(1, b"")), spec.json_name)
        if field_type == "intorstring":
            if _int(special.get(1, 0)) == 1:
                return _text(_raw(special.get(3, b"")), spec.json_name)
            return signed(_int(special.get(2, 0)), 32)
        if field_type == "rawjson":
            return self._raw_json(_raw(special.get(1, b"")), spec, depth)
        raise WireError(f"{spec.json_name}: a {field_type} field sent as bytes")

    def _raw_json(self, data: bytes, spec: FieldSpec, depth: int) -> Any:
        """A RawExtension or FieldsV1: JSON bytes, or an object in its own protobuf envelope."""
        if not data:
            return None
        if data.startswith(MAGIC):
            return self.envelope(data, "", "", depth)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise WireError(f"{spec.json_name}: the embedded object is not JSON ({exc})") from None


def _number(field_type: str, wire_type: int, value: int, spec: FieldSpec) -> Any:
    if field_type in ("float64", "float32") and wire_type in (FIXED64, FIXED32):
        return double(value, wire_type)
    if wire_type != VARINT:
        raise WireError(f"{spec.json_name}: wire type {wire_type} for a {field_type} field")
    if field_type == "bool":
        return value != 0
    if field_type == "int32":
        return signed(value, 32)
    if field_type == "int64":
        return signed(value, 64)
    if field_type == "uint32":
        return value & 0xFFFFFFFF
    if field_type == "uint64":
        return value
    raise WireError(f"{spec.json_name}: a {field_type} field sent as a number")


def _omitted(spec: FieldSpec, value: Any) -> bool:
    """Whether Go's JSON encoder would leave this field out (or write null, which reads the same)."""
    if value is None:
        return True
    if spec.pointer:
        return False
    if isinstance(value, dict):
        return spec.omitzero and not value
    if spec.type == "intorstring":
        # kube-apiserver treats 0 and "" as unset (e.g. a Service port's targetPort defaults then).
        return (spec.omitempty or spec.omitzero) and value in (0, "")
    if spec.type == "quantity":
        return False
    return (spec.omitempty or spec.omitzero) and value in ("", 0, False, [])


def _timestamp(data: bytes, parts: dict[int, int | bytes], micro: bool) -> str | None:
    """``metav1.Time`` / ``MicroTime``: an empty message is the zero time, written as null."""
    if not data:
        return None
    seconds = signed(_int(parts.get(1, 0)), 64)
    nanos = signed(_int(parts.get(2, 0)), 32)
    try:
        moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=max(nanos, 0) // 1000)
    except (OverflowError, OSError, ValueError):
        raise WireError(f"the time {seconds}s is out of range") from None
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def go_duration(nanoseconds: int) -> str:
    """A ``metav1.Duration`` as Go's ``time.Duration.String`` writes it (``1h0m0s``, ``1.5s``, ``250ms``)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    left = abs(nanoseconds)
    if left < 1_000:
        return f"{sign}{left}ns"
    if left < 1_000_000:
        return f"{sign}{_decimal(left, 3)}µs"
    if left < 1_000_000_000:
        return f"{sign}{_decimal(left, 6)}ms"
    text = f"{_decimal(left % 60_000_000_000, 9)}s"
    minutes = left // 60_000_000_000
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes >= 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _decimal(value: int, digits: int) -> str:
    whole, fraction = divmod(value, 10**digits)
    return f"{whole}.{fraction:0{digits}d}".rstrip("0") if fraction else str(whole)


def _refused(kind: str, api_version: str, why: str) -> StatusError:
    what = f"{kind} ({api_version})" if kind else "an object that names no kind"
    return unsupported_media_type(
        f"the protobuf body holds {what}, which this server cannot decode from protobuf: {why}. "
        f"Send it as JSON or YAML instead (kubectl create -f object.yaml)"
    )


def _ref(spec: FieldSpec) -> str:
    message = spec.message
    if message is None:
        raise WireError(f"{spec.json_name}: an inline field that is not a message")
    return message


def _bytes(value: int | bytes, spec: FieldSpec) -> bytes:
    if not isinstance(value, bytes):
        raise WireError(f"{spec.json_name or 'an inline field'}: expected a length-delimited field")
    return value


def _raw(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise WireError("expected a length-delimited field")
    return value


def _int(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise WireError("expected a number")
    return value


def _text(data: bytes, where: str = "typeMeta") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"{where}: a string that is not UTF-8") from None
