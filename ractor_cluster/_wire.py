"""Hand-rolled codecs of the hot frames: Cast, Call and CallReply inside a NetworkMessage.

The encoders write exactly what prost (and protobuf's own encoder) writes for these
messages: fields in ascending order, proto3 defaults omitted, ``optional`` fields written
whenever set. The decoder reads the same shapes; anything else it does not recognise (other
messages, unusual field orders, repeated fields, unknown fields) is left to the generated
protobuf classes, so it never decides differently from them. The tests compare both ways.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TypeAlias, TypeVar, cast

from . import _accel

__all__ = [
    "call_frame",
    "cast_frame",
    "decode_node",
    "decode_payload",
    "FrameItem",
    "encode_call",
    "encode_cast",
    "encode_reply",
    "py_call_frame",
    "py_cast_frame",
    "py_reply_frame",
    "reply_frame",
    "varint",
]

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
    value = operator.index(value)  # an int (or a bool, or what __index__ makes an int)
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
    # the caches are keyed by exact ints only: 1.0 == 1 must not find the field of 1
    field = _to_fields.get(to) if type(to) is int else None
    if field is None:
        field = b"\x08" + varint(to) if to else b""
        if type(to) is int and len(_to_fields) < _CACHE_LIMIT:
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


# The frame head of a small Cast: be64 length, NetworkMessage.node, its length, Cast, its
# length; for a Cast body of n < 126 bytes.
_CAST_HEADS = [(n + 4).to_bytes(8, "big") + bytes((0x12, n + 2, 0x0A, n)) for n in range(126)]
_WHAT_KEYS = [bytes((0x12, n)) for n in range(128)]
_CALL_HEADS = [(n + 4).to_bytes(8, "big") + bytes((0x12, n + 2, 0x12, n)) for n in range(126)]
_REPLY_HEADS = [(n + 4).to_bytes(8, "big") + bytes((0x12, n + 2, 0x1A, n)) for n in range(126)]
_REPLY_KEYS = [bytes((0x1A, n)) for n in range(128)]


def py_cast_frame(to: int, what: bytes, variant: str, metadata: bytes | None = None) -> bytes:
    """A whole Cast frame (length prefix included): ``encode_cast`` framed, in one step."""
    size = len(what)
    if metadata is None and size < 128:
        head = _to_fields.get(to) if type(to) is int else None
        if head is None:
            head = _to_field(to)
        tail = _cast_variants.get(variant)
        if tail is None:
            tail = _variant_field(_cast_variants, 0x1A, variant)
        body = len(head) + len(tail) + (size + 2 if size else 0)
        if body < 126:
            if size:
                return b"".join((_CAST_HEADS[body], head, _WHAT_KEYS[size], what, tail))
            return b"".join((_CAST_HEADS[body], head, tail))
    payload = encode_cast(to, what, variant, metadata)
    return len(payload).to_bytes(8, "big") + payload


def py_call_frame(
    to: int,
    what: bytes,
    tag: int,
    timeout_ms: int | None,
    variant: str,
    metadata: bytes | None = None,
) -> bytes:
    """A whole Call frame (length prefix included)."""
    size = len(what)
    if metadata is None and size < 128:
        head = _to_fields.get(to) if type(to) is int else None
        if head is None:
            head = _to_field(to)
        tail = _call_variants.get(variant)
        if tail is None:
            tail = _variant_field(_call_variants, 0x2A, variant)
        fields = [head]
        if size:
            fields += (_WHAT_KEYS[size], what)
        if tag:
            fields += (b"\x18", _SMALL[tag] if 0 <= tag < 0x80 else varint(tag))
        if timeout_ms is not None:
            fields += (b"\x20", _SMALL[timeout_ms] if 0 <= timeout_ms < 0x80
                       else varint(timeout_ms))
        fields.append(tail)
        body = b"".join(fields)
        if len(body) < 126:
            return _CALL_HEADS[len(body)] + body
    payload = encode_call(to, what, tag, timeout_ms, variant, metadata)
    return len(payload).to_bytes(8, "big") + payload


def py_reply_frame(to: int, tag: int, what: bytes) -> bytes:
    """A whole CallReply frame (length prefix included)."""
    size = len(what)
    if size < 128:
        head = _to_fields.get(to) if type(to) is int else None
        if head is None:
            head = _to_field(to)
        fields = [head]
        if tag:
            fields += (b"\x10", _SMALL[tag] if 0 <= tag < 0x80 else varint(tag))
        if size:
            fields += (_REPLY_KEYS[size], what)
        body = b"".join(fields)
        if len(body) < 126:
            return _REPLY_HEADS[len(body)] + body
    payload = encode_reply(to, tag, what)
    return len(payload).to_bytes(8, "big") + payload


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


# A decoded node message: (arm, to, what, variant, tag, timeout_ms, metadata); arm is
# "cast", "call" or "reply"; fields that the arm does not have are left at their defaults.
NodeFrame = tuple[str, int, bytes, str, int, "int | None", "bytes | None"]
FrameItem: TypeAlias = "bytes | NodeFrame"
"""A frame as the reader returns it: the payload, or the node message it decodes to."""


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


def _uvarint(d: bytes, pos: int) -> tuple[int, int]:
    """A varint of more than one byte (the caller read the first), at most 64 bits."""
    value = shift = 0
    while True:
        byte = d[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value >> 64:
                raise _Irregular
            return value, pos
        shift += 7
        if shift > 63:
            raise _Irregular


def _decode_node(d: bytes) -> NodeFrame | None:
    # The canonical shape only: NetworkMessage.node (2) holding one arm, its fields in
    # ascending order, each at most once. Lengths past two varint bytes (16 KiB) and every
    # other shape go to protobuf. Truncated input raises IndexError (the caller's None).
    end = len(d)
    if d[0] != 0x12:
        return None
    n = d[1]
    if n < 0x80:
        pos = 2
    else:
        b = d[2]
        if b >= 0x80:
            return None
        n = (n & 0x7F) | (b << 7)
        pos = 3
    if pos + n != end:
        return None
    arm = d[pos]
    n = d[pos + 1]
    if n < 0x80:
        pos += 2
    else:
        b = d[pos + 2]
        if b >= 0x80:
            return None
        n = (n & 0x7F) | (b << 7)
        pos += 3
    if pos + n != end:
        return None
    to = tag = 0
    what = b""
    variant = ""
    timeout_ms: int | None = None
    metadata: bytes | None = None
    key = d[pos] if pos < end else 0
    if key == 0x08:  # to (every arm's field 1)
        to = d[pos + 1]
        pos += 2
        if to >= 0x80:
            to, pos = _uvarint(d, pos - 2 + 1)
        key = d[pos] if pos < end else 0
    if arm == 0x0A:  # Cast: what=2, variant=3, metadata=6
        if key == 0x12:
            n = d[pos + 1]
            if n < 0x80:
                pos += 2
            else:
                b = d[pos + 2]
                if b >= 0x80:
                    return None
                n = (n & 0x7F) | (b << 7)
                pos += 3
            what = d[pos : pos + n]
            pos += n
            key = d[pos] if pos < end else 0
        if key == 0x1A:
            n = d[pos + 1]
            if n >= 0x80:
                return None
            pos += 2
            variant = d[pos : pos + n].decode()
            pos += n
            key = d[pos] if pos < end else 0
        if key == 0x32:
            n = d[pos + 1]
            if n >= 0x80:
                return None
            pos += 2
            metadata = d[pos : pos + n]
            pos += n
        if pos != end:
            return None
        return ("cast", to, what, variant, 0, None, metadata)
    if arm == 0x12:  # Call: what=2, tag=3, timeout_ms=4, variant=5, metadata=6
        if key == 0x12:
            n = d[pos + 1]
            if n < 0x80:
                pos += 2
            else:
                b = d[pos + 2]
                if b >= 0x80:
                    return None
                n = (n & 0x7F) | (b << 7)
                pos += 3
            what = d[pos : pos + n]
            pos += n
            key = d[pos] if pos < end else 0
        if key == 0x18:
            tag = d[pos + 1]
            pos += 2
            if tag >= 0x80:
                tag, pos = _uvarint(d, pos - 1)
            key = d[pos] if pos < end else 0
        if key == 0x20:
            timeout_ms = d[pos + 1]
            pos += 2
            if timeout_ms >= 0x80:
                timeout_ms, pos = _uvarint(d, pos - 1)
            key = d[pos] if pos < end else 0
        if key == 0x2A:
            n = d[pos + 1]
            if n >= 0x80:
                return None
            pos += 2
            variant = d[pos : pos + n].decode()
            pos += n
            key = d[pos] if pos < end else 0
        if key == 0x32:
            n = d[pos + 1]
            if n >= 0x80:
                return None
            pos += 2
            metadata = d[pos : pos + n]
            pos += n
        if pos != end:
            return None
        return ("call", to, what, variant, tag, timeout_ms, metadata)
    if arm == 0x1A:  # CallReply: tag=2, what=3
        if key == 0x10:
            tag = d[pos + 1]
            pos += 2
            if tag >= 0x80:
                tag, pos = _uvarint(d, pos - 1)
            key = d[pos] if pos < end else 0
        if key == 0x1A:
            n = d[pos + 1]
            if n >= 0x80:
                return None
            pos += 2
            what = d[pos : pos + n]
            pos += n
        if pos != end:
            return None
        return ("reply", to, what, "", tag, None, None)
    return None


def decode_payload(payload: bytes) -> NodeFrame | bytes:
    """``payload`` as ``decode_node`` reads it, or itself when that is None (for the Python
    splitter: what the compiled one returns per frame)."""
    try:
        frame = _decode_node(payload)
    except (_Irregular, IndexError, UnicodeDecodeError):
        return payload
    return payload if frame is None else frame


# ------------------------------------------------------------- the encoders in use

_F = TypeVar("_F", bound=Callable[..., bytes])


def _in_use(python: _F, compiled: Callable[..., bytes] | None) -> _F:
    """The compiled encoder when the accelerator is built (the same bytes, written in C;
    it hands what it does not write to ``python``), else ``python``: typed as ``python``."""
    return python if compiled is None else cast(_F, compiled)


if _accel.set_fallbacks is not None:
    _accel.set_fallbacks(py_cast_frame, py_call_frame, py_reply_frame)
cast_frame = _in_use(py_cast_frame, _accel.cast_frame)
"""A whole Cast frame (length prefix included)."""
call_frame = _in_use(py_call_frame, _accel.call_frame)
"""A whole Call frame (length prefix included)."""
reply_frame = _in_use(py_reply_frame, _accel.reply_frame)
"""A whole CallReply frame (length prefix included)."""
