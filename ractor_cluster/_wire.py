"""Hand-rolled encoders of the hot frames: Cast, Call and CallReply inside a NetworkMessage.

They write exactly what prost (and protobuf's own encoder) writes for these messages: fields
in ascending order, proto3 defaults omitted, ``optional`` fields written whenever set. The
tests compare them with the generated modules. Everything else goes through the generated
protobuf classes.
"""

from __future__ import annotations

__all__ = ["encode_call", "encode_cast", "encode_reply", "varint"]


def varint(value: int) -> bytes:
    """Base-128 varint of an unsigned integer."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _bytes_field(tag: int, data: bytes) -> bytes:
    return bytes((tag,)) + varint(len(data)) + data


def _wrap(node_arm: int, body: bytes) -> bytes:
    node = bytes((node_arm,)) + varint(len(body)) + body  # NodeMessage.<arm>
    return b"\x12" + varint(len(node)) + node  # NetworkMessage.node = 2


def encode_cast(to: int, what: bytes, variant: str, metadata: bytes | None = None) -> bytes:
    """``NetworkMessage{node{cast{to, what, variant, metadata}}}`` as bytes."""
    parts = []
    if to:
        parts.append(b"\x08" + varint(to))
    if what:
        parts.append(_bytes_field(0x12, what))
    if variant:
        parts.append(_bytes_field(0x1A, variant.encode("utf-8")))
    if metadata is not None:
        parts.append(_bytes_field(0x32, metadata))
    return _wrap(0x0A, b"".join(parts))


def encode_call(
    to: int,
    what: bytes,
    tag: int,
    timeout_ms: int | None,
    variant: str,
    metadata: bytes | None = None,
) -> bytes:
    """``NetworkMessage{node{call{to, what, tag, timeout_ms, variant, metadata}}}`` as bytes."""
    parts = []
    if to:
        parts.append(b"\x08" + varint(to))
    if what:
        parts.append(_bytes_field(0x12, what))
    if tag:
        parts.append(b"\x18" + varint(tag))
    if timeout_ms is not None:
        parts.append(b"\x20" + varint(timeout_ms))
    if variant:
        parts.append(_bytes_field(0x2A, variant.encode("utf-8")))
    if metadata is not None:
        parts.append(_bytes_field(0x32, metadata))
    return _wrap(0x12, b"".join(parts))


def encode_reply(to: int, tag: int, what: bytes) -> bytes:
    """``NetworkMessage{node{reply{to, tag, what}}}`` as bytes."""
    parts = []
    if to:
        parts.append(b"\x08" + varint(to))
    if tag:
        parts.append(b"\x10" + varint(tag))
    if what:
        parts.append(_bytes_field(0x1A, what))
    return _wrap(0x1A, b"".join(parts))
