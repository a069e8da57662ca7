"""Hand-rolled codecs of the hot frames: Cast, Call and CallReply inside a NetworkMessage.

The encoders write exactly what prost (and protobuf's own encoder) writes for these
messages: fields in ascending order, proto3 defaults omitted, ``optional`` fields written
whenever set. The decoder reads the same shapes; anything else it does not recognise (other
messages, unusual field orders, repeated fields, unknown fields) is left to the generated
protobuf classes, so it never decides differently from them. The tests compare both ways.
"""

from __future__ import annotations

__all__ = ["decode_node", "encode_call", "encode_cast", "encode_reply", "varint"]

_SMALL = [bytes((i,)) for i in range(128)]
_CACHE_LIMIT = 4096
_to_fields: dict[int, bytes] = {}
_cast_variants: dict[str, bytes] = {}
_call_variants: dict[str, bytes] = {}


def varint(value: int) -> bytes:
    """Base-128 varint of an unsigned integer (below 2**64).

    Raises:
        ValueError: the value is negative or does not fit in 64 bits.
    """
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0 or value >> 64:
        raise ValueError(f"{value} is not a u64")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _to_field(to: int) -> bytes:
    field = _to_fields.get(to)
    if field is None:
        field = b"\x08" + varint(to) if to else b""
        if len(_to_fields) < _CACHE_LIMIT:
            _to_fields[to] = field
    return field


def _variant_field(cache: dict[str, bytes], tag: int, variant: str) -> bytes:
    field = cache.get(variant)
    if field is None:
        data = variant.encode("utf-8")
        field = bytes((tag,)) + varint(len(data)) + data if data else b""
        if len(cache) < _CACHE_LIMIT:
            cache[variant] = field
    return field


def _wrap(node_arm: bytes, body: bytes) -> bytes:
    node = node_arm + varint(len(body)) + body  # NodeMessage.<arm>
    return b"\x12" + varint(len(node)) + node  # NetworkMessage.node = 2


def encode_cast(to: int, what: bytes, variant: str, metadata: bytes | None = None) -> bytes:
    """``NetworkMessage{node{cast{to, what, variant, metadata}}}`` as bytes."""
    body = _to_field(to)
    if what:
        body += b"\x12" + varint(len(what)) + what
    body += _variant_field(_cast_variants, 0x1A, variant)
    if metadata is not None:
        body += b"\x32" + varint(len(metadata)) + metadata
    return _wrap(b"\x0a", body)


def encode_call(
    to: int,
    what: bytes,
    tag: int,
    timeout_ms: int | None,
    variant: str,
    metadata: bytes | None = None,
) -> bytes:
    """``NetworkMessage{node{call{to, what, tag, timeout_ms, variant, metadata}}}`` as bytes."""
    body = _to_field(to)
    if what:
        body += b"\x12" + varint(len(what)) + what
    if tag:
        body += b"\x18" + varint(tag)
    if timeout_ms is not None:
        body += b"\x20" + varint(timeout_ms)
    body += _variant_field(_call_variants, 0x2A, variant)
    if metadata is not None:
        body += b"\x32" + varint(len(metadata)) + metadata
    return _wrap(b"\x12", body)


def encode_reply(to: int, tag: int, what: bytes) -> bytes:
    """``NetworkMessage{node{reply{to, tag, what}}}`` as bytes."""
    body = _to_field(to)
    if tag:
        body += b"\x10" + varint(tag)
    if what:
        body += b"\x1a" + varint(len(what)) + what
    return _wrap(b"\x1a", body)


# ------------------------------------------------------------------------- decoding


class _Irregular(Exception):
    """The frame is not of the simple shapes decoded here (the caller falls back)."""


def _read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    byte = data[pos] if pos < end else -1
    if 0 <= byte < 0x80:
        return byte, pos + 1
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Irregular
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value >> 64:
                raise _Irregular
            return value, pos
        shift += 7


def _length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    size, pos = _read_varint(data, pos, end)
    if size > end - pos:
        raise _Irregular
    return size, pos


# A decoded node message: (arm, to, what, variant, tag, timeout_ms, metadata); arm is
# "cast", "call" or "reply"; fields that the arm does not have are left at their defaults.
NodeFrame = tuple[str, int, bytes, str, int, "int | None", "bytes | None"]


def decode_node(payload: bytes) -> NodeFrame | None:
    """Read a NetworkMessage holding one Cast, Call or CallReply; None means "not simple".

    None is returned for any other message and for any input this reader does not fully
    understand (including malformed bytes): the caller then uses the generated classes,
    which decide what the bytes mean, or reject them.
    """
    try:
        return _decode_node(payload)
    except (_Irregular, IndexError, UnicodeDecodeError):
        return None


def _decode_node(data: bytes) -> NodeFrame | None:
    end = len(data)
    if end < 2 or data[0] != 0x12:
        return None
    size, pos = _length(data, 1, end)
    if pos + size != end or size < 2:
        return None
    arm_tag = data[pos]
    arm = {0x0A: "cast", 0x12: "call", 0x1A: "reply"}.get(arm_tag)
    if arm is None:
        return None
    size, pos = _length(data, pos + 1, end)
    if pos + size != end:
        return None
    to = tag = 0
    what = b""
    variant = ""
    timeout_ms: int | None = None
    metadata: bytes | None = None
    seen = 0
    while pos < end:
        key = data[pos]
        pos += 1
        if key >= 0x80:
            raise _Irregular  # a field number above 15: not one of ours
        bit = 1 << (key >> 3)
        if seen & bit:
            raise _Irregular  # repeated field: protobuf's merge rules apply, not ours
        seen |= bit
        wire = key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos, end)
        elif wire == 2:
            length, pos = _length(data, pos, end)
            chunk = data[pos : pos + length]
            pos += length
        else:
            raise _Irregular
        if arm == "cast":
            if key == 0x08:
                to = value
            elif key == 0x12:
                what = chunk
            elif key == 0x1A:
                variant = chunk.decode("utf-8")
            elif key == 0x32:
                metadata = chunk
            else:
                raise _Irregular
        elif arm == "call":
            if key == 0x08:
                to = value
            elif key == 0x12:
                what = chunk
            elif key == 0x18:
                tag = value
            elif key == 0x20:
                timeout_ms = value
            elif key == 0x2A:
                variant = chunk.decode("utf-8")
            elif key == 0x32:
                metadata = chunk
            else:
                raise _Irregular
        else:
            if key == 0x08:
                to = value
            elif key == 0x10:
                tag = value
            elif key == 0x1A:
                what = chunk
            else:
                raise _Irregular
    return (arm, to, what, variant, tag, timeout_ms, metadata)
